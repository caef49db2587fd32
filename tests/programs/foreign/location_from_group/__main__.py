"""Locations as many public examples set them: `location=group.location`, the group's own location
left to the stack's `azure-native:location`."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("app", tags=TAGS)
azure_native.storage.StorageAccount(
    "appstore",
    resource_group_name=group.name,
    location=group.location,
    kind="StorageV2",
    sku={"name": "Standard_GRS"},
    public_network_access="Disabled",
    allow_blob_public_access=False,
    allow_shared_key_access=False,
    minimum_tls_version="TLS1_2",
    tags=TAGS,
)
azure_native.network.VirtualNetwork(
    "appnet",
    resource_group_name=group.name,
    location=group.location,
    address_space={"address_prefixes": ["10.40.0.0/16"]},
    tags=TAGS,
)
