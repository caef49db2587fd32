"""Somebody can query a Log Analytics workspace.

Source: https://learn.microsoft.com/azure/azure-monitor/logs/private-link-security: with
``publicNetworkAccessForQuery: Disabled`` only networks connected through an Azure Monitor Private
Link Scope (AMPLS) that contains the workspace can query it. Without such a scope in the stack nobody
can read the logs (Container insights included).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.azure import arm_name, physical_names
from policies.facts.props import get
from policies.model import ResourceView, RuleContext, StackRule

WORKSPACE = "azure-native:operationalinsights:Workspace"
SCOPED_RESOURCE = "azure-native:monitor:PrivateLinkScopedResource"
SOURCE = "learn.microsoft.com/azure/azure-monitor/logs/private-link-security"


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    scoped = {
        arm_name(str(get(view.props, "linkedResourceId")))
        for view in resources
        if view.type == SCOPED_RESOURCE and get(view.props, "linkedResourceId")
    }
    for workspace in (view for view in resources if view.type == WORKSPACE):
        query = get(workspace.props, "publicNetworkAccessForQuery")
        if not (isinstance(query, str) and query.lower() == "disabled"):
            continue
        if physical_names(workspace) & scoped:
            continue
        yield (
            workspace.urn,
            "publicNetworkAccessForQuery is 'Disabled' and no Azure Monitor Private Link Scope of this stack "
            "holds the workspace, so nobody can query it (allowed: 'Enabled' with Entra ID RBAC, or a "
            f"monitor:PrivateLinkScopedResource linking it; source: {SOURCE})",
        )


RULE = StackRule(
    name="deployability-log-analytics-query",
    description="A Log Analytics workspace closed to public queries is reachable through an Azure Monitor "
    "Private Link Scope of the stack.",
    remediation="Keep publicNetworkAccessForQuery 'Enabled' (access by Azure RBAC, local auth off) or add an "
    "Azure Monitor Private Link Scope with the workspace as a scoped resource.",
    validate=validate,
)
