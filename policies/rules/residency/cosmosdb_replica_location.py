"""Cosmos DB keeps every replica and failover region inside the boundary.

`locations[]` is the account's full replica set, failover priorities included, so checking each
`locationName` covers read replicas and failover targets alike. An empty set is refused because
it cannot be verified.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.facts.azure import COSMOS_ACCOUNT
from policies.facts.props import get, mappings, show
from policies.model import ResourceRule, ResourceView, RuleContext, Unverified, is_unknown


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    replicas = list(mappings(get(view.props, "locations")))
    if not replicas:
        yield f"locations is not set, so the replica set cannot be verified (allowed: {ctx.allowed()})"
        return
    for index, replica in enumerate(replicas):
        name = replica.get("locationName")
        if is_unknown(name):
            yield Unverified(
                f"cannot verify locations[{index}].locationName: it is only known at deployment "
                f"(allowed: {ctx.allowed()})"
            )
        elif not isinstance(name, str) or not ctx.in_boundary(name):
            priority = replica.get("failoverPriority")
            yield (
                f"locations[{index}].locationName is {show(name)} (failoverPriority {show(priority)}), "
                f"outside the {ctx.region} boundary (allowed: {ctx.allowed()})"
            )


RULE = ResourceRule(
    name="residency-cosmosdb-replica-location",
    description="Cosmos DB replica and failover locations are inside the region's boundary.",
    remediation="List only boundary locations in `locations` (the profile's primary and secondary).",
    resource_types=frozenset({COSMOS_ACCOUNT}),
    validate=validate,
)
