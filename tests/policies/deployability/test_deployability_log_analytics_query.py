"""deployability-log-analytics-query."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.deployability.log_analytics_query import RULE
from policies.testing import details

WORKSPACE = "azure-native:operationalinsights:Workspace"
SCOPED = "azure-native:monitor:PrivateLinkScopedResource"
OPEN = {"publicNetworkAccessForQuery": "Enabled", "features": {"disableLocalAuth": True}}
CLOSED = {"publicNetworkAccessForQuery": "Disabled"}
LINK = {
    "linkedResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/logs"
}


def test_accepts_workspace_open_to_rbac_queries(eu: RuleContext) -> None:
    assert details(RULE, [ResourceView.of(WORKSPACE, OPEN, name="logs")], eu) == []


def test_accepts_closed_workspace_in_a_private_link_scope(eu: RuleContext) -> None:
    views = [ResourceView.of(WORKSPACE, CLOSED, name="logs"), ResourceView.of(SCOPED, LINK, name="scoped")]
    assert details(RULE, views, eu) == []


def test_refuses_closed_workspace_without_a_scope(eu: RuleContext) -> None:
    found = details(RULE, [ResourceView.of(WORKSPACE, CLOSED, name="logs")], eu)
    assert len(found) == 1 and found[0].startswith("publicNetworkAccessForQuery is 'Disabled' and no Azure Monitor")
    assert "private-link-security" in found[0]
