"""The workload `bench_check.py` measures: N azure-native resources of five types, as a Pulumi
program for `autocloud check` and as an ARM template for Checkov, declaring the same resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

PROGRAM = '''"""Generated benchmark workload: {count} resources of five types in one resource group."""

import pulumi_azure_native as azure_native

TAGS = {tags!r}
COUNT = {count}
group = azure_native.resources.ResourceGroup("bench", location="westeurope", tags=TAGS)
for index in range(COUNT - 1):
    kind = index % 5
    name = f"r{{index}}"
    if kind == 0:
        azure_native.storage.StorageAccount(
            name, resource_group_name=group.name, location="westeurope", kind="StorageV2",
            sku={{"name": "Standard_ZRS"}}, public_network_access="Disabled", allow_blob_public_access=False,
            allow_shared_key_access=False, minimum_tls_version="TLS1_2", tags=TAGS)
    elif kind == 1:
        azure_native.eventhub.Namespace(
            name, resource_group_name=group.name, location="westeurope", sku={{"name": "Standard"}},
            public_network_access="Disabled", disable_local_auth=True, minimum_tls_version="1.2", tags=TAGS)
    elif kind == 2:
        azure_native.iothub.IotHubResource(
            name, resource_group_name=group.name, location="westeurope", sku={{"name": "S1", "capacity": 1}},
            properties={{"publicNetworkAccess": "Enabled", "disableDeviceSAS": True, "disableModuleSAS": True,
                        "minTlsVersion": "1.2"}},
            tags=TAGS)
    elif kind == 3:
        azure_native.cosmosdb.DatabaseAccount(
            name, resource_group_name=group.name, location="westeurope", database_account_offer_type="Standard",
            locations=[{{"locationName": "westeurope", "failoverPriority": 0, "isZoneRedundant": True}}],
            public_network_access="Disabled", disable_local_auth=True, minimal_tls_version="Tls12", tags=TAGS)
    else:
        azure_native.keyvault.Vault(
            name, resource_group_name=group.name, location="westeurope",
            properties={{"tenantId": "11111111-1111-1111-1111-111111111111",
                        "sku": {{"family": "A", "name": "standard"}},
                        "publicNetworkAccess": "Disabled", "enableRbacAuthorization": True}}, tags=TAGS)
'''


def write_program(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: bench-{count}\nruntime: python\n", encoding="utf-8")
    (folder / "__main__.py").write_text(PROGRAM.format(count=count, tags=TAGS), encoding="utf-8")
    return folder


_ARM_TYPES = (
    (
        "Microsoft.Storage/storageAccounts",
        "2023-01-01",
        {
            "kind": "StorageV2",
            "sku": {"name": "Standard_ZRS"},
            "properties": {
                "publicNetworkAccess": "Disabled",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "minimumTlsVersion": "TLS1_2",
            },
        },
    ),
    (
        "Microsoft.EventHub/namespaces",
        "2024-01-01",
        {
            "sku": {"name": "Standard"},
            "properties": {"publicNetworkAccess": "Disabled", "disableLocalAuth": True, "minimumTlsVersion": "1.2"},
        },
    ),
    (
        "Microsoft.Devices/IotHubs",
        "2023-06-30",
        {
            "sku": {"name": "S1", "capacity": 1},
            "properties": {
                "publicNetworkAccess": "Enabled",
                "disableDeviceSAS": True,
                "disableModuleSAS": True,
                "minTlsVersion": "1.2",
            },
        },
    ),
    (
        "Microsoft.DocumentDB/databaseAccounts",
        "2024-05-15",
        {
            "properties": {
                "databaseAccountOfferType": "Standard",
                "publicNetworkAccess": "Disabled",
                "disableLocalAuth": True,
                "minimalTlsVersion": "Tls12",
                "locations": [{"locationName": "westeurope", "failoverPriority": 0, "isZoneRedundant": True}],
            }
        },
    ),
    (
        "Microsoft.KeyVault/vaults",
        "2023-07-01",
        {
            "properties": {
                "tenantId": "11111111-1111-1111-1111-111111111111",
                "sku": {"family": "A", "name": "standard"},
                "publicNetworkAccess": "Disabled",
                "enableRbacAuthorization": True,
            }
        },
    ),
)


def write_arm_template(folder: Path, count: int) -> Path:
    """The same resources as one ARM template (the group itself is the deployment's scope)."""
    folder.mkdir(parents=True, exist_ok=True)
    resources: list[dict[str, Any]] = []
    for index in range(count - 1):
        type_, api, body = _ARM_TYPES[index % 5]
        resources.append(
            {
                "type": type_,
                "apiVersion": api,
                "name": f"r{index}",
                "location": "westeurope",
                "tags": TAGS,
                **json.loads(json.dumps(body)),
            }
        )
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": resources,
    }
    path = folder / "azuredeploy.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path
