"""baseline-local-auth-disabled."""

from __future__ import annotations

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.baseline.local_auth_disabled import RULE
from policies.testing import DELETE, changed, details, judge

COMPLIANT = {
    "azure-native:iothub:IotHubResource": ("properties.disableLocalAuth", True),
    "azure-native:eventhub:Namespace": ("disableLocalAuth", True),
    "azure-native:servicebus:Namespace": ("disableLocalAuth", True),
    "azure-native:cosmosdb:DatabaseAccount": ("disableLocalAuth", True),
    "azure-native:storage:StorageAccount": ("allowSharedKeyAccess", False),
    "azure-native:maps:Account": ("properties.disableLocalAuth", True),
    "azure-native:containerservice:ManagedCluster": ("disableLocalAccounts", True),
}


def props(type_: str) -> dict:
    path, value = COMPLIANT[type_]
    return changed({}, path, value)


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
