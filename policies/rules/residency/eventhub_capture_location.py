"""Event Hubs Capture writes only to storage inside the boundary.

Capture copies every event to a storage account (or Data Lake account); that account must be one
this stack declares, in a boundary location. An account outside the stack cannot be verified.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import EVENTHUB, STORAGE_ACCOUNT, StackIndex, arm_name, location_of
from policies.facts.props import get, show
from policies.model import ResourceView, RuleContext, StackRule


def _targets(destination: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for key in ("storageAccountResourceId", "dataLakeAccountName"):
        value = destination.get(key)
        if isinstance(value, str) and value:
            found.append((key, arm_name(value)))
    return found


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    for hub in (r for r in resources if r.type == EVENTHUB):
        destination = get(hub.props, "captureDescription.destination")
        if not isinstance(destination, Mapping):
            continue
        targets = _targets(destination)
        if not targets:
            yield hub.urn, "captureDescription.destination names no storage account, so it cannot be verified"
        for key, name in targets:
            account = index.find([STORAGE_ACCOUNT], name)
            if account is None:
                yield (
                    hub.urn,
                    (
                        f"capture {key} '{name}' is not a storage account of this stack, so its location cannot "
                        f"be verified (allowed: a storage account of this stack in {ctx.allowed()})"
                    ),
                )
                continue
            location = location_of(account)
            if not isinstance(location, str) or not ctx.in_boundary(location):
                yield (
                    hub.urn,
                    (
                        f"capture {key} '{name}' is in {show(location)}, outside the {ctx.region} boundary "
                        f"(allowed: {ctx.allowed()})"
                    ),
                )


RULE = StackRule(
    name="residency-eventhub-capture-location",
    description="Event Hubs Capture destinations are storage accounts inside the region's boundary.",
    remediation="Capture to a storage account the EventStreaming component creates in the profile's primary location.",
    validate=validate,
)
