"""A brand's consumer identity may receive its own brand's telemetry hub and no wider Event Hubs scope.

With brands, each scale unit's namespace holds one event hub per brand, ``telemetry-<brand>``, which IoT
Hub routes only that brand's vehicles to (``components.telemetry.device_prefix_condition``). Event Hubs
data roles are scoped like this, narrowest first
(https://learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory, "Resource scope"):
"Event hub: Role assignment applies to the Event Hub entity and the consumer group under it"; "Namespace:
Role assignment spans the entire topology of Event Hubs under the namespace"; "Resource group: ... all the
Event Hubs resources under the resource group"; "Subscription: ... all the Event Hubs resources in all of
the resource groups". An event hub's ARM id is its namespace's followed by ``/eventhubs/<name>`` (REST
path ``.../providers/Microsoft.EventHub/namespaces/{namespaceName}/eventhubs/{eventHubName}``,
https://learn.microsoft.com/rest/api/eventhub/event-hubs/create-or-update). So a role assignment whose
principal is a brand's identity (tagged ``brand``, ``brand_state_scope.brand_principals``) must, where its
scope is Event Hubs', be that brand's own hub or something beneath it (a consumer group); a namespace or
cluster scope, a resource group or a subscription reaches every brand's telemetry, and another brand's
hub is another brand's data.

A scope or principal only deployment knows (a namespace not yet created) cannot be judged and is reported
as not verifiable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from platform_model.vocabulary import brand_telemetry
from policies.facts.azure import ROLE_ASSIGNMENT
from policies.facts.brands import brand_assignment_problems
from policies.model import ResourceView, RuleContext, StackRule

SOURCE = "learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory"
EVENT_HUBS_PROVIDER = "microsoft.eventhub"


def scope_problem(scope: object, brand: str) -> str | None:
    """Why ``scope`` gives ``brand``'s identity more than its own telemetry hub (None: it does not).

    ARM ids compare case-insensitively; scopes of other providers (the brand's Cosmos DB container) are not
    this rule's business."""
    own = brand_telemetry(brand)
    if not isinstance(scope, str) or not scope.strip("/"):
        return f"brand {brand!r}'s identity has a role with scope {scope!r} (allowed: .../eventhubs/{own})"
    parts = [p.lower() for p in scope.strip("/").split("/")]
    if "providers" not in parts or parts.index("providers") == 0:
        return (
            f"brand {brand!r}'s identity has a role scoped to {scope!r}, a subscription, resource group or "
            "management group: it "
            f"reaches every namespace and every brand's telemetry hub beneath (allowed: only .../eventhubs/{own}; "
            f"source: {SOURCE})"
        )
    at = parts.index("providers")
    if parts[at + 1 : at + 2] != [EVENT_HUBS_PROVIDER]:
        return None
    below = parts[at + 2 :]
    if len(below) >= 4 and below[2] == "eventhubs":
        if below[3] == own:
            return None
        return (
            f"brand {brand!r}'s identity has a role on event hub {below[3]!r}, another tenant's telemetry "
            f"(allowed: only {own}; source: {SOURCE})"
        )
    return (
        f"brand {brand!r}'s identity has a role scoped to {scope!r}, which covers every brand's telemetry hub "
        f"in it (allowed: only .../eventhubs/{own}; source: {SOURCE})"
    )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    yield from brand_assignment_problems(resources, ROLE_ASSIGNMENT, scope_problem)


RULE = StackRule(
    name="residency-brand-stream-scope",
    description=(
        "A brand's consumer identity holds Azure roles on Event Hubs only on its own telemetry-<brand> hub, "
        "never on the namespace, a resource group, the subscription or another brand's hub."
    ),
    remediation=(
        "Scope the brand writer's Event Hubs Data Receiver assignment to <namespace id>/eventhubs/telemetry-<brand> "
        "(EventStreaming.brand_hub_scopes)."
    ),
    validate=validate,
)
