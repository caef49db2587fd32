"""residency-eventhub-capture-location (stack rule: resolves the capture storage account)."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.residency.eventhub_capture_location import RULE
from policies.testing import DELETE, changed, details, judge

STORAGE = "azure-native:storage:StorageAccount"
HUB = "azure-native:eventhub:EventHub"
ACCOUNT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/aceucapture1"
HUB_PROPS = {
    "namespaceName": "fleet-ns",
    "captureDescription": {
        "enabled": True,
        "encoding": "Avro",
        "destination": {"name": "EventHubArchive.AzureBlockBlob", "storageAccountResourceId": ACCOUNT_ID},
    },
}


def stack(account_location: str = "westeurope", hub_props: dict[str, Any] | None = None) -> list[ResourceView]:
    return [
        ResourceView.of(STORAGE, {"location": account_location, "accountName": "aceucapture1"}, name="capture"),
        ResourceView.of(HUB, HUB_PROPS if hub_props is None else hub_props, name="telemetry"),
        ResourceView.of(HUB, {"namespaceName": "fleet-ns"}, name="no-capture"),
    ]


def test_accepts_capture_inside_boundary(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_refuses_capture_storage_outside_boundary(eu: RuleContext) -> None:
    found = judge(RULE, stack(account_location="eastus"), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::telemetry")
    assert "'aceucapture1' is in 'eastus'" in found[0].message


def test_refuses_capture_storage_not_in_stack(eu: RuleContext) -> None:
    props = changed(HUB_PROPS, "captureDescription.destination.storageAccountResourceId", "/x/storageAccounts/other")
    assert "'other' is not a storage account of this stack" in details(RULE, stack(hub_props=props), eu)[0]


def test_refuses_data_lake_outside_boundary(eu: RuleContext) -> None:
    props = changed(HUB_PROPS, "captureDescription.destination.storageAccountResourceId", DELETE)
    props = changed(props, "captureDescription.destination.dataLakeAccountName", "aceucapture1")
    assert "dataLakeAccountName" in details(RULE, stack(account_location="eastus", hub_props=props), eu)[0]


def test_refuses_destination_without_account(eu: RuleContext) -> None:
    props = changed(HUB_PROPS, "captureDescription.destination.storageAccountResourceId", DELETE)
    assert "names no storage account" in details(RULE, stack(hub_props=props), eu)[0]
