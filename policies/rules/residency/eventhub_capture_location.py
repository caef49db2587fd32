"""Event Hubs Capture writes only to storage inside the boundary.

Capture copies every event to a storage account (or Data Lake account); that account must be one
this stack declares, in a boundary location. An account outside the stack cannot be verified.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import EVENTHUB, STORAGE_ACCOUNT, Locations, StackIndex, arm_name
from policies.facts.props import get
from policies.model import ResourceView, RuleContext, StackRule, each


def _targets(destination: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for key in ("storageAccountResourceId", "dataLakeAccountName"):
        value = get(destination, key)
        if isinstance(value, str) and value:
            found.append((key, arm_name(value)))
    return found


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    index = StackIndex(resources)
    locations = Locations(resources)

    def judge(hub: ResourceView) -> Iterator[str]:
        destination = get(hub.props, "captureDescription.destination")
        if not isinstance(destination, Mapping):
            return
        targets = _targets(destination)
        if not targets:
            yield "captureDescription.destination names no storage account, so it cannot be verified"
        for key, name in targets:
            account = index.find([STORAGE_ACCOUNT], name)
            if account is None:
                yield (
                    f"capture {key} '{name}' is not a storage account of this stack, so its location cannot "
                    f"be verified (allowed: a storage account of this stack in {ctx.allowed()})"
                )
                continue
            problem = locations.judge(account, f"capture {key} '{name}' is", ctx)
            if problem is not None:
                yield problem

    yield from each((r for r in resources if r.type == EVENTHUB), judge)


RULE = StackRule(
    name="residency-eventhub-capture-location",
    description="Event Hubs Capture destinations are storage accounts inside the region's boundary.",
    remediation="Capture to a storage account the EventStreaming component creates in the profile's primary location.",
    validate=validate,
)
