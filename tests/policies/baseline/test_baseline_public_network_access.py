"""baseline-public-network-access: one compliant props dict per type, each setting flipped in turn."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules._props import get
from policies.rules.baseline.public_network_access import RULE
from policies.testing import DELETE, changed, details, judge

COMPLIANT: dict[str, dict[str, Any]] = {
    "azure-native:iothub:IotHubResource": {"properties": {"publicNetworkAccess": "Disabled"}},
    "azure-native:deviceprovisioningservices:IotDpsResource": {"properties": {"publicNetworkAccess": "Disabled"}},
    "azure-native:eventhub:Namespace": {"publicNetworkAccess": "Disabled"},
    "azure-native:servicebus:Namespace": {"publicNetworkAccess": "Disabled"},
    "azure-native:cosmosdb:DatabaseAccount": {"publicNetworkAccess": "Disabled"},
    "azure-native:storage:StorageAccount": {"publicNetworkAccess": "Disabled", "allowBlobPublicAccess": False},
    "azure-native:containerservice:ManagedCluster": {"apiServerAccessProfile": {"enablePrivateCluster": True}},
    "azure-native:keyvault:Vault": {"properties": {"publicNetworkAccess": "disabled"}},
}
SETTINGS = [
    ("azure-native:iothub:IotHubResource", "properties.publicNetworkAccess", "Enabled"),
    ("azure-native:deviceprovisioningservices:IotDpsResource", "properties.publicNetworkAccess", "Enabled"),
    ("azure-native:eventhub:Namespace", "publicNetworkAccess", "Enabled"),
    ("azure-native:servicebus:Namespace", "publicNetworkAccess", "Enabled"),
    ("azure-native:cosmosdb:DatabaseAccount", "publicNetworkAccess", "Enabled"),
    ("azure-native:storage:StorageAccount", "publicNetworkAccess", "Enabled"),
    ("azure-native:storage:StorageAccount", "allowBlobPublicAccess", True),
    ("azure-native:containerservice:ManagedCluster", "apiServerAccessProfile.enablePrivateCluster", False),
    ("azure-native:keyvault:Vault", "properties.publicNetworkAccess", "enabled"),
]


def test_accepts_private_services(eu: RuleContext) -> None:
    assert judge(RULE, [ResourceView.of(t, p, name=t) for t, p in COMPLIANT.items()], eu) == []


@pytest.mark.parametrize(("type_", "path", "value"), SETTINGS, ids=[f"{t.split(':')[1]}-{p}" for t, p, _ in SETTINGS])
def test_refuses_public_access_enabled(eu: RuleContext, type_: str, path: str, value: object) -> None:
    found = details(RULE, ResourceView.of(type_, changed(COMPLIANT[type_], path, value)), eu)
    assert found == [f"{path} is {value!r}, which allows public access (allowed: {get(COMPLIANT[type_], path)!r})"]


@pytest.mark.parametrize(("type_", "path", "value"), SETTINGS, ids=[f"{t.split(':')[1]}-{p}" for t, p, _ in SETTINGS])
def test_refuses_missing_setting(eu: RuleContext, type_: str, path: str, value: object) -> None:
    assert details(RULE, ResourceView.of(type_, changed(COMPLIANT[type_], path, DELETE)), eu) == [
        f"{path} is not set, which allows public access (allowed: {get(COMPLIANT[type_], path)!r})"
    ]


def test_relaxed_by_policy_config_reports_advisory(eu: RuleContext) -> None:
    relaxed = dataclasses.replace(eu, relaxed=frozenset({RULE.name}))
    view = ResourceView.of("azure-native:eventhub:Namespace", {"publicNetworkAccess": "Enabled"})
    assert [v.enforcement for v in judge(RULE, view, relaxed)] == ["advisory"]
    assert [v.enforcement for v in judge(RULE, view, eu)] == ["mandatory"]
