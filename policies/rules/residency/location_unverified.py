"""Resources whose location cannot be known before deployment, said so instead of passed or failed.

A resource in an existing resource group (one the program looks up rather than declares) or with a
location that is an output of another resource lands wherever that turns out to be; the check can
only say it could not verify it. Advisory: the stack is not refused, but the reviewer is told.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.azure import Locations, is_located
from policies.model import ResourceView, RuleContext, StackRule


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    locations = Locations(resources)
    for view in resources:
        if is_located(view):
            placed = locations.of(view)
            if placed.unverifiable is not None:
                yield view.urn, f"cannot verify the location: {placed.unverifiable} (allowed: {ctx.allowed()})"


RULE = StackRule(
    name="residency-location-unverified",
    description="Resources whose location is not known before deployment are reported as unverified.",
    remediation="Declare the resource group in the program, or set `location` to a plain string from the "
    "region profile, so the location can be checked before anything is deployed.",
    validate=validate,
    enforcement="advisory",
)
