"""baseline-public-network-access: a storage account open to the internet."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

azure_native.storage.StorageAccount(
    "capture",
    resource_group_name="rg-eu",
    account_name="aceucapture1",
    location="westeurope",
    kind="StorageV2",
    sku={"name": "Standard_ZRS"},
    public_network_access="Enabled",
    allow_blob_public_access=False,
    allow_shared_key_access=False,
    minimum_tls_version="TLS1_2",
    tags=TAGS,
)
