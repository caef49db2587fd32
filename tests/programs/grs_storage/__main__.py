"""residency-storage-redundancy: GRS in France Central replicates to France South, outside the EU boundary."""

import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

azure_native.storage.StorageAccount(
    "archive",
    resource_group_name="rg-eu",
    account_name="aceuarchive1",
    location="francecentral",
    kind="StorageV2",
    sku={"name": "Standard_GRS"},
    public_network_access="Disabled",
    allow_blob_public_access=False,
    allow_shared_key_access=False,
    minimum_tls_version="TLS1_2",
    tags=TAGS,
)
