"""deployability-naming-rules: one valid name per type, then each rule broken in turn."""

from __future__ import annotations

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.naming_rules import NAME_RULES, RULE
from policies.testing import details

VALID = {
    "azure-native:resources:ResourceGroup": "rg-eu_(1).x",
    "azure-native:storage:StorageAccount": "aceucapture1abc",
    "azure-native:keyvault:Vault": "kv-eu-1",
    "azure-native:iothub:IotHubResource": "eu-telemetry-1",
    "azure-native:deviceprovisioningservices:IotDpsResource": "eu-dps",
    "azure-native:eventhub:Namespace": "eu-streaming-1",
    "azure-native:eventhub:EventHub": "telemetry",
    "azure-native:cosmosdb:DatabaseAccount": "eu-state",
    "azure-native:containerservice:ManagedCluster": "eu_aks-1",
    "azure-native:operationalinsights:Workspace": "eu-logs",
    "azure-native:network:VirtualNetwork": "eu.vnet_",
    "azure-native:maps:Account": "eu.maps",
    "azure-native:containerregistry:Registry": "aceuimages0123abcd",
}
#: type, explicit name that breaks the rule, and which part of the message names the problem.
INVALID = [
    ("azure-native:storage:StorageAccount", "ac-eu-capture", "characters"),
    ("azure-native:storage:StorageAccount", "a" * 25, "25 characters long"),
    ("azure-native:keyvault:Vault", "kv--eu", "characters"),
    ("azure-native:keyvault:Vault", "1kv", "characters"),
    ("azure-native:iothub:IotHubResource", "eu-telemetry-", "characters"),
    ("azure-native:eventhub:Namespace", "eu-1", "4 characters long"),
    ("azure-native:cosmosdb:DatabaseAccount", "EU-state", "characters"),
    ("azure-native:containerservice:ManagedCluster", "-aks", "characters"),
    ("azure-native:resources:ResourceGroup", "rg.", "characters"),
    ("azure-native:containerregistry:Registry", "ac-eu-images", "characters"),
    ("azure-native:containerregistry:Registry", "acr1", "4 characters long"),
    ("azure-native:containerregistry:Registry", "a" * 51, "51 characters long"),
]


def test_every_type_has_a_valid_example() -> None:
    assert set(VALID) == set(NAME_RULES)


@pytest.mark.parametrize("type_", list(VALID))
def test_accepts_valid_explicit_names(eu: RuleContext, type_: str) -> None:
    view = ResourceView.of(type_, {NAME_RULES[type_].key: VALID[type_]}, name="x")
    assert details(RULE, view, eu) == []


@pytest.mark.parametrize(("type_", "name", "problem"), INVALID, ids=[f"{t.split(':')[-1]}-{n}" for t, n, _ in INVALID])
def test_refuses_names_azure_rejects(eu: RuleContext, type_: str, name: str, problem: str) -> None:
    found = details(RULE, ResourceView.of(type_, {NAME_RULES[type_].key: name}, name="x"), eu)
    assert len(found) == 1 and problem in found[0]
    assert found[0].startswith(f"{NAME_RULES[type_].key} {name!r}")
    assert "resource-name-rules" in found[0]


def test_refuses_autonamed_logical_name_too_long_with_its_suffix(eu: RuleContext) -> None:
    view = ResourceView.of("azure-native:cosmosdb:DatabaseAccount", {}, name="e" * 40)
    assert details(RULE, view, eu) == [
        f"autonamed {'e' * 40!r} (+8 random characters) is 48 characters long (allowed: 3-44 lowercase letters, "
        "digits and hyphens, not starting with '-'; source: "
        "learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)"
    ]
