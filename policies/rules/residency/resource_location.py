"""Every Azure resource with a location sits inside the region's boundary.

The location judged is the one azure-native applies (`policies.facts.azure.Locations`): the resource's own, else
its resource group's, else for a group the provider's default. Resource groups count (their location
holds metadata), and `global` is only accepted for services that have no region at all, such as
private DNS zones. DPS linked-hub locations are checked too. What cannot be known before deployment
is left to `residency-location-unverified`, never reported as outside.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from platform_model.vocabulary import normalise_location
from policies.facts.azure import AZURE_NATIVE_PROVIDER, DPS, GLOBAL_TYPES, Locations, is_located
from policies.facts.props import get, mappings, show
from policies.model import ResourceView, RuleContext, StackRule, Unverified, is_unknown


def _check(location: object, what: str, ctx: RuleContext, global_ok: bool) -> Iterator[str]:
    if is_unknown(location):
        yield Unverified(f"cannot verify the {what}: it is only known at deployment (allowed: {ctx.allowed()})")
        return
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


def judged(view: ResourceView) -> bool:
    """Resources this rule (and the unverified one) look at: located Azure resources and the
    azure-native provider's default location."""
    return is_located(view) or view.type == AZURE_NATIVE_PROVIDER


def _validate_one(view: ResourceView, locations: Locations, ctx: RuleContext) -> Iterator[str]:
    if view.type == AZURE_NATIVE_PROVIDER:
        location = view.props.get("location")
        if location is not None:
            yield from _check(location, "default location", ctx, False)
        return
    placed = locations.of(view)
    if placed.unverifiable is None:
        if placed.location is None:
            yield f"location is not set: {placed.source}; set it explicitly (allowed: {ctx.allowed()})"
        else:
            what = "location" if placed.source == "location" else f"{placed.source}:"
            yield from _check(placed.location, what, ctx, view.type in GLOBAL_TYPES)
    if view.type == DPS:
        for index, hub in enumerate(mappings(get(view.props, "properties.iotHubs"))):
            yield from _check(hub.get("location"), f"linked IoT hub [{index}] location", ctx, False)


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    locations = Locations(resources)
    for view in resources:
        if judged(view):
            for detail in _validate_one(view, locations, ctx):
                yield view.urn, detail


RULE = StackRule(
    name="residency-resource-location",
    description="Every Azure resource with a location (resource groups included) is inside the region's boundary, "
    "whether the location is its own, its resource group's or the provider's default.",
    remediation="Set `location` to a location of the region profile's residency.boundary, as a plain string "
    "from the profile (never an Output such as resource_group.location).",
    validate=validate,
)
