"""baseline-public-network-access: one compliant props dict per type, each setting flipped in turn."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from policies.facts.props import get
from policies.model import ResourceView, RuleContext
from policies.rules.baseline.public_network_access import RULE
from policies.testing import DELETE, changed, details, judge

IOT_HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
EVENTHUB = "azure-native:eventhub:Namespace"
EVENTHUB_RULES = "azure-native:eventhub:NamespaceNetworkRuleSet"
STORAGE = "azure-native:storage:StorageAccount"
SELECTS_NOTHING = {"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []}
SELECTS_NODES = SELECTS_NOTHING | {"virtualNetworkRules": [{"subnet": {"id": "/x/subnets/nodes"}}]}
COMPLIANT: dict[str, dict[str, Any]] = {
    EVENTHUB: {"publicNetworkAccess": "Disabled"},
    "azure-native:servicebus:Namespace": {"publicNetworkAccess": "Disabled"},
    "azure-native:cosmosdb:DatabaseAccount": {"publicNetworkAccess": "Disabled"},
    STORAGE: {"publicNetworkAccess": "Disabled", "allowBlobPublicAccess": False},
    "azure-native:containerservice:ManagedCluster": {"apiServerAccessProfile": {"enablePrivateCluster": True}},
    "azure-native:keyvault:Vault": {"properties": {"publicNetworkAccess": "disabled"}},
    "azure-native:containerregistry:Registry": {"publicNetworkAccess": "Disabled"},
}
SETTINGS = [
    ("azure-native:cosmosdb:DatabaseAccount", "publicNetworkAccess", "Enabled"),
    (STORAGE, "allowBlobPublicAccess", True),
    ("azure-native:containerservice:ManagedCluster", "apiServerAccessProfile.enablePrivateCluster", False),
    ("azure-native:keyvault:Vault", "properties.publicNetworkAccess", "enabled"),
    ("azure-native:containerregistry:Registry", "publicNetworkAccess", "Enabled"),
]
NAMESPACE_MESSAGE = (
    "publicNetworkAccess is {value}, which allows public access (allowed: 'Disabled', or 'Enabled' with a network "
    "rule set of defaultAction 'Deny', no IP rule and at least one virtual-network rule)"
)
STORAGE_MESSAGE = (
    "publicNetworkAccess is {value}, which allows public access (allowed: 'Disabled', or 'Enabled' with a network "
    "rule set of defaultAction 'Deny' and no IP rule)"
)
CLOSABLE = {
    EVENTHUB: NAMESPACE_MESSAGE,
    "azure-native:servicebus:Namespace": NAMESPACE_MESSAGE,
    STORAGE: STORAGE_MESSAGE,
}
#: A public hub that vehicles reach with X.509 only.
PUBLIC_HUB = {"properties": {"publicNetworkAccess": "Enabled", "disableDeviceSAS": True, "disableModuleSAS": True}}


def test_accepts_private_services(eu: RuleContext) -> None:
    assert judge(RULE, [ResourceView.of(t, p, name=t) for t, p in COMPLIANT.items()], eu) == []


def test_accepts_private_aks_with_public_network_access_enabled(eu: RuleContext) -> None:
    """A private API server is what makes AKS private; publicNetworkAccess Disabled blocks more (Azure/AKS#4220)."""
    aks = "azure-native:containerservice:ManagedCluster"
    view = ResourceView.of(aks, changed(COMPLIANT[aks], "publicNetworkAccess", "Enabled"))
    assert details(RULE, view, eu) == []


@pytest.mark.parametrize(("type_", "path", "value"), SETTINGS, ids=[f"{t.split(':')[1]}-{p}" for t, p, _ in SETTINGS])
def test_refuses_public_access_enabled(eu: RuleContext, type_: str, path: str, value: object) -> None:
    found = details(RULE, ResourceView.of(type_, changed(COMPLIANT[type_], path, value)), eu)
    assert found == [f"{path} is {value!r}, which allows public access (allowed: {get(COMPLIANT[type_], path)!r})"]


@pytest.mark.parametrize(("type_", "path", "value"), SETTINGS, ids=[f"{t.split(':')[1]}-{p}" for t, p, _ in SETTINGS])
def test_refuses_missing_setting(eu: RuleContext, type_: str, path: str, value: object) -> None:
    assert details(RULE, ResourceView.of(type_, changed(COMPLIANT[type_], path, DELETE)), eu) == [
        f"{path} is not set, which allows public access (allowed: {get(COMPLIANT[type_], path)!r})"
    ]


@pytest.mark.parametrize("type_", list(CLOSABLE))
def test_refuses_back_end_public_access_enabled(eu: RuleContext, type_: str) -> None:
    view = ResourceView.of(type_, changed(COMPLIANT[type_], "publicNetworkAccess", "Enabled"))
    assert details(RULE, view, eu) == [CLOSABLE[type_].format(value="'Enabled'")]


@pytest.mark.parametrize("type_", list(CLOSABLE))
def test_refuses_back_end_public_access_missing(eu: RuleContext, type_: str) -> None:
    view = ResourceView.of(type_, changed(COMPLIANT[type_], "publicNetworkAccess", DELETE))
    assert details(RULE, view, eu) == [CLOSABLE[type_].format(value="not set")]


def test_accepts_storage_on_selected_networks_that_select_nothing(eu: RuleContext) -> None:
    storage = changed(COMPLIANT[STORAGE], "publicNetworkAccess", "Enabled") | {"networkRuleSet": SELECTS_NOTHING}
    assert details(RULE, ResourceView.of(STORAGE, storage), eu) == []


@pytest.mark.parametrize(
    ("path", "value"), [("defaultAction", "Allow"), ("ipRules", [{"iPAddressOrRange": "1.2.3.4"}])]
)
def test_refuses_storage_rules_that_let_networks_in(eu: RuleContext, path: str, value: object) -> None:
    rules = changed(SELECTS_NOTHING, path, value)
    storage = changed(COMPLIANT[STORAGE], "publicNetworkAccess", "Enabled") | {"networkRuleSet": rules}
    assert details(RULE, ResourceView.of(STORAGE, storage), eu) == [STORAGE_MESSAGE.format(value="'Enabled'")]


def test_accepts_namespace_on_selected_private_networks(eu: RuleContext) -> None:
    namespace = ResourceView.of(EVENTHUB, {"publicNetworkAccess": "Enabled", "namespaceName": "fleet"}, name="ns")
    rules = ResourceView.of(EVENTHUB_RULES, {"namespaceName": "fleet", **SELECTS_NODES}, name="ns-rules")
    assert details(RULE, [namespace, rules], eu) == []


def test_refuses_namespace_rule_set_without_any_network_rule(eu: RuleContext) -> None:
    """Event Hubs lets everyone in when a Deny rule set has no IP and no VNet rule."""
    namespace = ResourceView.of(EVENTHUB, {"publicNetworkAccess": "Enabled", "namespaceName": "fleet"}, name="ns")
    rules = ResourceView.of(EVENTHUB_RULES, {"namespaceName": "fleet", **SELECTS_NOTHING}, name="ns-rules")
    assert details(RULE, [namespace, rules], eu) == [NAMESPACE_MESSAGE.format(value="'Enabled'")]


def test_refuses_namespace_rule_set_with_an_ip_rule(eu: RuleContext) -> None:
    namespace = ResourceView.of(EVENTHUB, {"publicNetworkAccess": "Enabled", "namespaceName": "fleet"}, name="ns")
    ip_rule = [{"ipMask": "203.0.113.0/24", "action": "Allow"}]
    rules = ResourceView.of(
        EVENTHUB_RULES, {"namespaceName": "fleet", **changed(SELECTS_NODES, "ipRules", ip_rule)}, name="ns-rules"
    )
    assert details(RULE, [namespace, rules], eu) == [NAMESPACE_MESSAGE.format(value="'Enabled'")]


def test_accepts_public_iot_hub_with_x509_only_and_public_dps(eu: RuleContext) -> None:
    dps = ResourceView.of(DPS, {"properties": {"publicNetworkAccess": "Enabled"}}, name="dps")
    assert details(RULE, [ResourceView.of(IOT_HUB, PUBLIC_HUB, name="hub"), dps], eu) == []


@pytest.mark.parametrize("path", ["properties.disableDeviceSAS", "properties.disableModuleSAS"])
def test_refuses_public_iot_hub_with_sas(eu: RuleContext, path: str) -> None:
    found = details(RULE, ResourceView.of(IOT_HUB, changed(PUBLIC_HUB, path, False)), eu)
    assert len(found) == 1 and f"while {path} is not True" in found[0]
    assert "X.509-only device auth" in found[0]


def test_accepts_private_iot_hub_with_sas(eu: RuleContext) -> None:
    hub = changed(
        changed(PUBLIC_HUB, "properties.publicNetworkAccess", "Disabled"), "properties.disableDeviceSAS", False
    )
    assert details(RULE, ResourceView.of(IOT_HUB, hub), eu) == []


def test_relaxed_by_policy_config_reports_advisory(eu: RuleContext) -> None:
    relaxed = dataclasses.replace(eu, relaxed=frozenset({RULE.name}))
    view = ResourceView.of("azure-native:eventhub:Namespace", {"publicNetworkAccess": "Enabled"})
    assert [v.enforcement for v in judge(RULE, view, relaxed)] == ["advisory"]
    assert [v.enforcement for v in judge(RULE, view, eu)] == ["mandatory"]
