"""Every Azure resource with a location sits inside the region's boundary.

Resource groups count (their location holds metadata), a tracked type without an explicit location
counts (Azure would silently inherit the group's), and `global` is only accepted for services that
have no region at all, such as private DNS zones. DPS linked-hub locations are checked too.
"""

from __future__ import annotations

from collections.abc import Iterator

from autocloud.locations import normalise_location
from policies.model import ResourceRule, ResourceView, RuleContext
from policies.rules._azure import AZURE_NATIVE_PROVIDER, DPS, GLOBAL_TYPES, TRACKED_TYPES, is_located
from policies.rules._props import get, mappings, show


def _check(location: object, what: str, ctx: RuleContext, global_ok: bool) -> Iterator[str]:
    if not isinstance(location, str) or not location.strip():
        yield f"{what} {show(location)} is not a location name (allowed: {ctx.allowed()})"
        return
    name = normalise_location(location)
    if name == "global":
        if not global_ok:
            yield (
                f"{what} 'global' is only allowed for inherently global services such as private DNS "
                f"zones (allowed: {ctx.allowed()})"
            )
        return
    if name not in ctx.boundary:
        yield f"{what} '{location}' is outside the {ctx.region} boundary (allowed: {ctx.allowed()})"


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not (is_located(view) or view.type == AZURE_NATIVE_PROVIDER):
        return
    location = get(view.props, "location")
    if location is None:
        if view.type in TRACKED_TYPES:
            yield (
                "location is not set, so Azure would inherit the resource group's; set it explicitly "
                f"(allowed: {ctx.allowed()})"
            )
    else:
        what = "default location" if view.type == AZURE_NATIVE_PROVIDER else "location"
        yield from _check(location, what, ctx, view.type in GLOBAL_TYPES)
    if view.type == DPS:
        for index, hub in enumerate(mappings(get(view.props, "properties.iotHubs"))):
            yield from _check(hub.get("location"), f"linked IoT hub [{index}] location", ctx, False)


RULE = ResourceRule(
    name="residency-resource-location",
    description="Every Azure resource with a location (resource groups included) is inside the region's boundary.",
    remediation="Set `location` to a location of the region profile's residency.boundary, as a plain string "
    "from the profile (never an Output such as resource_group.location).",
    resource_types=frozenset(),
    validate=validate,
)
