"""Reads what lookups return and what Azure computes, as static-site and key-vault examples do."""

import pulumi
import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

client = azure_native.authorization.get_client_config()
group = azure_native.resources.ResourceGroup("site", location="westeurope", tags=TAGS)
account = azure_native.storage.StorageAccount(
    "sitestore",
    resource_group_name=group.name,
    location="westeurope",
    kind="StorageV2",
    sku={"name": "Standard_ZRS"},
    public_network_access="Disabled",
    allow_blob_public_access=False,
    allow_shared_key_access=False,
    minimum_tls_version="TLS1_2",
    tags=TAGS,
)
keys = azure_native.storage.list_storage_account_keys_output(resource_group_name=group.name, account_name=account.name)
primary_key = keys.apply(lambda result: result.keys[0].value)
direct = azure_native.storage.list_storage_account_keys(resource_group_name="site", account_name="sitestore")
connection = f"AccountName=sitestore;AccountKey={direct.keys[0].value};Tenant={client.tenant_id}"
pulumi.export("web", account.primary_endpoints.web)
pulumi.export("key", pulumi.Output.secret(primary_key))
pulumi.export("connection", pulumi.Output.secret(connection))
