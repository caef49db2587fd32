"""Event Hubs geo-disaster-recovery pairs only with a namespace inside the boundary.

Geo-DR replicates namespace metadata (and, with geo-replication, data) to the partner, so the partner
must be a namespace of this stack whose location is in the boundary. A partner outside the stack
cannot be verified and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.azure import EVENTHUB_DR, EVENTHUB_NAMESPACE, Locations, StackIndex, arm_name
from policies.facts.props import get, show
from policies.model import ResourceView, RuleContext, StackRule, each


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    locations = Locations(resources)

    def judge(dr: ResourceView) -> Iterator[str]:
        partner = get(dr.props, "partnerNamespace")
        if not isinstance(partner, str) or not partner:
            yield f"partnerNamespace is {show(partner)}, so the DR partner cannot be verified"
            return
        target = index.find([EVENTHUB_NAMESPACE], arm_name(partner))
        if target is None:
            yield (
                f"partnerNamespace '{arm_name(partner)}' is not a namespace of this stack, so its location "
                f"cannot be verified (allowed: a namespace of this stack in {ctx.allowed()})"
            )
            return
        problem = locations.judge(target, f"partnerNamespace '{target.name}' is", ctx)
        if problem is not None:
            yield problem

    yield from each((r for r in resources if r.type == EVENTHUB_DR), judge)


RULE = StackRule(
    name="residency-eventhub-geo-dr-partner",
    description="Event Hubs geo-DR partner namespaces are inside the region's boundary.",
    remediation="Pair with a namespace declared in the same stack in the profile's secondary location.",
    validate=validate,
)
