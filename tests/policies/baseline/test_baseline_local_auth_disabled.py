"""baseline-local-auth-disabled."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.baseline.local_auth_disabled import RULE
from policies.testing import DELETE, changed, details, judge

IOT_HUB = "azure-native:iothub:IotHubResource"
COMPLIANT = {
    IOT_HUB: ("properties.disableDeviceSAS", True),
    "azure-native:eventhub:Namespace": ("disableLocalAuth", True),
    "azure-native:servicebus:Namespace": ("disableLocalAuth", True),
    "azure-native:cosmosdb:DatabaseAccount": ("disableLocalAuth", True),
    "azure-native:storage:StorageAccount": ("allowSharedKeyAccess", False),
    "azure-native:maps:Account": ("properties.disableLocalAuth", True),
    "azure-native:containerservice:ManagedCluster": ("disableLocalAccounts", True),
    "azure-native:containerregistry:Registry": ("adminUserEnabled", False),
}


def props(type_: str) -> dict[str, Any]:
    path, value = COMPLIANT[type_]
    result = changed({}, path, value)
    # IoT Hub keeps shared access for the DPS link; vehicles are X.509 only (device and module SAS off).
    return changed(result, "properties.disableModuleSAS", True) if type_ == IOT_HUB else result


def test_accepts_entra_only(eu: RuleContext) -> None:
    assert judge(RULE, [ResourceView.of(t, props(t), name=t) for t in COMPLIANT], eu) == []


@pytest.mark.parametrize("type_", list(COMPLIANT))
def test_refuses_local_auth_on(eu: RuleContext, type_: str) -> None:
    path, value = COMPLIANT[type_]
    found = details(RULE, ResourceView.of(type_, changed(props(type_), path, not value)), eu)
    assert found == [f"{path} is {not value!r}, which leaves key/local authentication on (allowed: {value})"]


@pytest.mark.parametrize("type_", list(COMPLIANT))
def test_refuses_missing_setting(eu: RuleContext, type_: str) -> None:
    path, _ = COMPLIANT[type_]
    assert "is not set" in details(RULE, ResourceView.of(type_, changed(props(type_), path, DELETE)), eu)[0]


def test_iot_hub_may_keep_shared_access_for_the_dps_link(eu: RuleContext) -> None:
    hub = changed(props(IOT_HUB), "properties.disableLocalAuth", False)
    assert details(RULE, ResourceView.of(IOT_HUB, hub), eu) == []


def test_refuses_module_sas_on_iot_hub(eu: RuleContext) -> None:
    hub = changed(props(IOT_HUB), "properties.disableModuleSAS", False)
    assert details(RULE, ResourceView.of(IOT_HUB, hub), eu) == [
        "properties.disableModuleSAS is False, which leaves key/local authentication on (allowed: True)"
    ]
