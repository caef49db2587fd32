"""Complies with every policy: a tagged EU resource group, a private ZRS storage account, a labelled namespace."""

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as kubernetes

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("platform", location="westeurope", tags=TAGS)
azure_native.storage.StorageAccount(
    "capture",
    resource_group_name=group.name,
    account_name="aceucapture1",
    location="westeurope",
    kind="StorageV2",
    sku={"name": "Standard_ZRS"},
    public_network_access="Disabled",
    allow_blob_public_access=False,
    allow_shared_key_access=False,
    minimum_tls_version="TLS1_2",
    tags=TAGS,
)
kubernetes.core.v1.Namespace("region", metadata={"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}})
pulumi.export("group", group.name)
