"""residency-diagnostic-setting-destination (stack rule: resolves each destination of a diagnostic setting)."""

from __future__ import annotations

from typing import Any

from policies.model import ResourceView, RuleContext
from policies.rules.residency.diagnostic_setting_destination import RULE, namespace_of_rule
from policies.testing import DELETE, changed, details, judge

WORKSPACE = "azure-native:operationalinsights:Workspace"
STORAGE = "azure-native:storage:StorageAccount"
NAMESPACE = "azure-native:eventhub:Namespace"
SETTING = "azure-native:monitor:DiagnosticSetting"
PROVIDERS = "/subscriptions/s/resourceGroups/rg/providers"
WORKSPACE_ID = f"{PROVIDERS}/Microsoft.OperationalInsights/workspaces/eu-monitoring-logs"
HUB_ID = f"{PROVIDERS}/Microsoft.Devices/IotHubs/eu-telemetry-1-iothub"
SETTING_PROPS = {
    "name": "region-workspace",
    "resourceUri": HUB_ID,
    "workspaceId": WORKSPACE_ID,
    "logs": [{"categoryGroup": "allLogs", "enabled": True}],
}


def stack(workspace_location: str = "westeurope", setting: dict[str, Any] | None = None) -> list[ResourceView]:
    return [
        ResourceView.of(WORKSPACE, {"location": workspace_location}, name="eu-monitoring-logs"),
        ResourceView.of(STORAGE, {"location": "eastus", "accountName": "acuslogs1"}, name="us-logs"),
        ResourceView.of(NAMESPACE, {"location": "westeurope", "namespaceName": "ac-eu-stream-1"}, name="stream"),
        ResourceView.of(SETTING, SETTING_PROPS if setting is None else setting, name="eu-monitoring-telemetry-1"),
    ]


def test_accepts_the_regions_own_workspace(eu: RuleContext) -> None:
    assert judge(RULE, stack(), eu) == []


def test_refuses_workspace_outside_boundary(eu: RuleContext) -> None:
    found = judge(RULE, stack(workspace_location="eastus"), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::eu-monitoring-telemetry-1")
    assert "workspace 'eu-monitoring-logs' in 'eastus', outside the eu boundary" in found[0].message


def test_refuses_workspace_not_in_stack(eu: RuleContext) -> None:
    props = changed(SETTING_PROPS, "workspaceId", f"{PROVIDERS}/Microsoft.OperationalInsights/workspaces/us-logs")
    assert (
        "'us-logs', which is not a Log Analytics workspace of this stack" in details(RULE, stack(setting=props), eu)[0]
    )


def test_refuses_storage_destination_outside_boundary(eu: RuleContext) -> None:
    props = changed(SETTING_PROPS, "storageAccountId", f"{PROVIDERS}/Microsoft.Storage/storageAccounts/acuslogs1")
    assert details(RULE, stack(setting=props), eu) == [
        "storageAccountId points at storage account 'acuslogs1' in 'eastus', outside the eu boundary "
        f"(allowed: {eu.allowed()})"
    ]


def test_resolves_event_hub_destination_by_its_namespace(eu: RuleContext) -> None:
    rule_id = f"{PROVIDERS}/Microsoft.EventHub/namespaces/ac-eu-stream-1/authorizationrules/RootManageSharedAccessKey"
    props = changed(SETTING_PROPS, "eventHubAuthorizationRuleId", rule_id)
    assert judge(RULE, stack(setting=props), eu) == []
    other = changed(props, "eventHubAuthorizationRuleId", rule_id.replace("ac-eu-stream-1", "elsewhere"))
    assert "'elsewhere', which is not a Event Hubs namespace" in details(RULE, stack(setting=other), eu)[0]


def test_refuses_partner_destination(eu: RuleContext) -> None:
    props = changed(SETTING_PROPS, "marketplacePartnerId", f"{PROVIDERS}/Microsoft.Datadog/monitors/dd")
    assert "partner resource 'dd'" in details(RULE, stack(setting=props), eu)[0]


def test_missing_destination_is_not_a_residency_matter(eu: RuleContext) -> None:
    props = changed(SETTING_PROPS, "workspaceId", DELETE)
    assert judge(RULE, stack(setting=props), eu) == []


def test_judges_the_older_insights_token_too(eu: RuleContext) -> None:
    views = stack(workspace_location="eastus")
    views[-1] = ResourceView.of("azure-native:insights:DiagnosticSetting", SETTING_PROPS, name="old")
    assert len(judge(RULE, views, eu)) == 1


def test_china_boundary(cn: RuleContext) -> None:
    assert len(judge(RULE, stack(workspace_location="westeurope"), cn)) == 1
    assert judge(RULE, stack(workspace_location="chinanorth3"), cn) == []


def test_namespace_of_rule() -> None:
    assert namespace_of_rule("/s/x/providers/Microsoft.EventHub/namespaces/NS1/authorizationRules/r") == "ns1"
    assert namespace_of_rule("/s/x/providers/Microsoft.EventHub/namespaces/ns2") == "ns2"
