"""Event Hubs geo-disaster-recovery pairs only with a namespace inside the boundary.

Geo-DR replicates namespace metadata (and, with geo-replication, data) to the partner, so the partner
must be a namespace of this stack whose location is in the boundary. A partner outside the stack
cannot be verified and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.azure import EVENTHUB_DR, EVENTHUB_NAMESPACE, StackIndex, arm_name, location_of
from policies.facts.props import get, show
from policies.model import ResourceView, RuleContext, StackRule


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    for dr in (r for r in resources if r.type == EVENTHUB_DR):
        partner = get(dr.props, "partnerNamespace")
        if not isinstance(partner, str) or not partner:
            yield dr.urn, f"partnerNamespace is {show(partner)}, so the DR partner cannot be verified"
            continue
        target = index.find([EVENTHUB_NAMESPACE], arm_name(partner))
        if target is None:
            yield (
                dr.urn,
                (
                    f"partnerNamespace '{arm_name(partner)}' is not a namespace of this stack, so its location "
                    f"cannot be verified (allowed: a namespace of this stack in {ctx.allowed()})"
                ),
            )
            continue
        location = location_of(target)
        if not isinstance(location, str) or not ctx.in_boundary(location):
            yield (
                dr.urn,
                (
                    f"partnerNamespace '{target.name}' is in {show(location)}, outside the {ctx.region} boundary "
                    f"(allowed: {ctx.allowed()})"
                ),
            )


RULE = StackRule(
    name="residency-eventhub-geo-dr-partner",
    description="Event Hubs geo-DR partner namespaces are inside the region's boundary.",
    remediation="Pair with a namespace declared in the same stack in the profile's secondary location.",
    validate=validate,
)
