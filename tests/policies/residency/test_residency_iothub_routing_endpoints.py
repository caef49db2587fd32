"""residency-iothub-routing-endpoints (stack rule: resolves every endpoint to a stack resource)."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.residency.iothub_routing_endpoints import RULE, target_name
from policies.testing import DELETE, changed, details, judge

HUB = "azure-native:iothub:IotHubResource"
NAMESPACE = "azure-native:eventhub:Namespace"
STORAGE = "azure-native:storage:StorageAccount"
COSMOS = "azure-native:cosmosdb:DatabaseAccount"
SECRET = "DefaultEndpointsProtocol=https;AccountName=aceuupload1;AccountKey=c2VjcmV0"

HUB_PROPS = {
    "location": "westeurope",
    "properties": {
        "routing": {
            "endpoints": {
                "eventHubs": [
                    {"name": "telemetry", "endpointUri": "sb://fleet-ns.servicebus.windows.net", "entityPath": "t"}
                ],
                "storageContainers": [
                    {
                        "name": "archive",
                        "endpointUri": "https://aceuupload1.blob.core.windows.net/",
                        "containerName": "a",
                    }
                ],
                "cosmosDBSqlContainers": [
                    {
                        "name": "state",
                        "endpointUri": "https://fleet-state.documents.azure.com:443/",
                        "databaseName": "d",
                    }
                ],
            },
            "routes": [{"name": "telemetry", "source": "DeviceMessages", "endpointNames": ["telemetry"]}],
        },
        "storageEndpoints": {"$default": {"connectionString": SECRET, "containerName": "uploads"}},
    },
}


def stack(hub_props: dict[str, Any] | None = None, namespace_location: str = "westeurope") -> list[ResourceView]:
    return [
        ResourceView.of(NAMESPACE, {"location": namespace_location}, name="fleet-ns"),
        ResourceView.of(STORAGE, {"location": "westeurope", "accountName": "aceuupload1"}, name="uploads"),
        ResourceView.of(COSMOS, {"location": "northeurope", "accountName": "fleet-state"}, name="state"),
        ResourceView.of(HUB, HUB_PROPS if hub_props is None else hub_props, name="hub"),
    ]


def test_accepts_endpoints_inside_boundary(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_accepts_hub_without_custom_endpoints(eu: RuleContext) -> None:
    assert judge(RULE, stack(hub_props=changed(HUB_PROPS, "properties", DELETE)), eu) == []


def test_refuses_endpoint_outside_boundary(eu: RuleContext) -> None:
    found = judge(RULE, stack(namespace_location="eastus"), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::hub")
    assert "routing endpoint 'telemetry' (eventHubs) points at 'fleet-ns' in 'eastus'" in found[0].message


def test_refuses_endpoint_not_in_stack(eu: RuleContext) -> None:
    props = changed(
        HUB_PROPS, "properties.routing.endpoints.eventHubs.0.endpointUri", "sb://other-ns.servicebus.windows.net"
    )
    assert "points at 'other-ns', which is not a resource of this stack" in details(RULE, stack(props), eu)[0]


def test_refuses_endpoint_without_target(eu: RuleContext) -> None:
    props = changed(HUB_PROPS, "properties.routing.endpoints.storageContainers.0.endpointUri", DELETE)
    assert "routing endpoint 'archive' (storageContainers) points at not set" in details(RULE, stack(props), eu)[0]


def test_refuses_upload_storage_not_in_stack_without_quoting_the_key(eu: RuleContext) -> None:
    props = changed(
        HUB_PROPS, "properties.storageEndpoints.$default.connectionString", "AccountName=elsewhere;AccountKey=c2VjcmV0"
    )
    found = details(RULE, stack(props), eu)
    assert "file-upload storage endpoint '$default' points at 'elsewhere'" in found[0]
    assert "c2VjcmV0" not in found[0]


def test_target_name_from_uri_or_connection_string() -> None:
    assert target_name({"endpointUri": "sb://Fleet-NS.servicebus.chinacloudapi.cn/"}) == "fleet-ns"
    assert target_name({"connectionString": "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=x"}) == "ns1"
    assert (
        target_name({"connectionString": "AccountEndpoint=https://acc.documents.azure.com:443/;AccountKey=k"}) == "acc"
    )
    assert target_name({"name": "nothing"}) is None
