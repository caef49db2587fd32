"""Diagnostic settings send resource logs only to destinations inside the boundary.

Resource logs carry vehicle data (device ids, connection events, request details), and a diagnostic
setting may send them to a Log Analytics workspace in any region: Azure asks the same region of a
resource only for storage accounts and event hubs ("Storage accounts must be in the same region as the
resource that you're monitoring if the resource is regional"; "Event hubs must be in the same region ...";
nothing of the kind for workspaces: https://learn.microsoft.com/azure/azure-monitor/platform/diagnostic-settings,
"Destinations"). So each destination (``workspaceId``, ``storageAccountId``, the namespace of
``eventHubAuthorizationRuleId`` or the legacy ``serviceBusRuleId``) must resolve to a resource of this
stack whose location is in the boundary; one that resolves to nothing cannot be verified and is refused.
A partner solution (``marketplacePartnerId``) hands the logs to a non-Microsoft platform, whose location
no Azure property shows: refused as unverifiable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.azure import (
    EVENTHUB_NAMESPACE,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
    WORKSPACE,
    Locations,
    StackIndex,
    arm_name,
)
from policies.facts.props import get
from policies.model import ResourceView, RuleContext, StackRule, each

DIAGNOSTIC_SETTINGS = frozenset({"azure-native:monitor:DiagnosticSetting", "azure-native:insights:DiagnosticSetting"})
"""The v3 token and the module the same resource had before (an alias the SDK itself registers)."""

#: destination property -> (what it names, the types it may resolve to).
_DESTINATIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("workspaceId", "Log Analytics workspace", (WORKSPACE,)),
    ("storageAccountId", "storage account", (STORAGE_ACCOUNT,)),
    ("eventHubAuthorizationRuleId", "Event Hubs namespace", (EVENTHUB_NAMESPACE,)),
    ("serviceBusRuleId", "namespace", (SERVICEBUS_NAMESPACE, EVENTHUB_NAMESPACE)),
)


def namespace_of_rule(rule_id: str) -> str:
    """The namespace in an authorization rule id (``.../namespaces/<ns>/authorizationrules/<rule>``),
    or the id's last segment when it names no rule."""
    parts = [p for p in rule_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "namespaces" in lowered:
        index = lowered.index("namespaces")
        if index + 1 < len(parts):
            return parts[index + 1].lower()
    return arm_name(rule_id)


def _target(key: str, reference: str) -> str:
    return (
        namespace_of_rule(reference)
        if key in ("eventHubAuthorizationRuleId", "serviceBusRuleId")
        else arm_name(reference)
    )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    locations = Locations(resources)

    def judge(setting: ResourceView) -> Iterator[str]:
        partner = get(setting.props, "marketplacePartnerId")
        if isinstance(partner, str) and partner:
            yield (
                f"marketplacePartnerId sends resource logs to the partner resource '{arm_name(partner)}', whose "
                f"location cannot be verified (allowed: a workspace of this stack in {ctx.allowed()})"
            )
        for key, what, types in _DESTINATIONS:
            reference = get(setting.props, key)
            if not isinstance(reference, str) or not reference:
                continue
            name = _target(key, reference)
            target = index.find(types, name)
            if target is None:
                yield (
                    f"{key} points at '{name}', which is not a {what} of this stack, so its location cannot be "
                    f"verified (allowed: a {what} of this stack in {ctx.allowed()})"
                )
                continue
            problem = locations.judge(target, f"{key} points at {what} '{name}'", ctx)
            if problem is not None:
                yield problem

    yield from each((r for r in resources if r.type in DIAGNOSTIC_SETTINGS), judge)


RULE = StackRule(
    name="residency-diagnostic-setting-destination",
    description="Diagnostic settings send resource logs only to workspaces, storage accounts and event hubs "
    "inside the region's boundary.",
    remediation="Send resource logs to the region's own Log Analytics workspace (RegionalMonitoring), which the "
    "RegionalPlatform places in the profile's primary location.",
    validate=validate,
)
