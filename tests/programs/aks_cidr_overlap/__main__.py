"""deployability-network-cidrs: AKS without a serviceCidr in a 10.0.0.0/16 VNet (AKS's default service range)."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

vnet = azure_native.network.VirtualNetwork(
    "vnet",
    resource_group_name="rg-eu",
    location="westeurope",
    address_space={"address_prefixes": ["10.0.0.0/16"]},
    tags=TAGS,
)
azure_native.containerservice.ManagedCluster(
    "aks",
    resource_group_name="rg-eu",
    location="westeurope",
    dns_prefix="fleet",
    disable_local_accounts=True,
    api_server_access_profile={"enable_private_cluster": True},
    network_profile={"network_plugin": "azure", "network_plugin_mode": "overlay"},
    tags=TAGS,
)
