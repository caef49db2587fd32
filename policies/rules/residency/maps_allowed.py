"""Azure Maps only where the region profile enables it and its jurisdiction keeps Maps' data inside,
processing data only inside the boundary.

Azure China does not offer Maps at all. Azure Maps keeps request data in the geography of its account's
location, and accounts exist only in its EU and US geographies (catalog/regions.yaml, `maps`), so a
jurisdiction elsewhere (the UK, Japan, ...) has Maps left out: ``platform_model.jurisdictions.service_leaves``
says so for the profile check at load and for this rule alike. `properties.locations` lists extra data-processing
regions, which may be in another geography; the account's own location is
residency-resource-location's job.
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.jurisdictions import service_leaves
from policies.facts.azure import MAPS_ACCOUNT
from policies.facts.catalog import jurisdiction_of
from policies.facts.props import get, mappings, show
from policies.model import ResourceRule, ResourceView, RuleContext, Unverified, is_unknown


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not ctx.maps_allowed:
        yield (
            f"Azure Maps is not allowed in region {ctx.region} (cloud {ctx.cloud}); allowed: no Maps account "
            "(the profile's services.maps is false)"
        )
        return
    try:
        found = jurisdiction_of(ctx)
    except ValueError as error:
        yield str(error)
        return
    leaves = service_leaves(found, "maps") if found else None
    if leaves:
        yield f"{leaves}; allowed: no Maps account in region {ctx.region}"
        return
    for index, extra in enumerate(mappings(get(view.props, "properties.locations"))):
        name = extra.get("locationName")
        if is_unknown(name):
            yield Unverified(
                f"cannot verify properties.locations[{index}].locationName: it is only known at deployment "
                f"(allowed: {ctx.allowed()})"
            )
        elif not isinstance(name, str) or not ctx.in_boundary(name):
            yield (
                f"properties.locations[{index}].locationName is {show(name)}, processing map data outside the "
                f"{ctx.region} boundary (allowed: {ctx.allowed()})"
            )


RULE = ResourceRule(
    name="residency-maps-allowed",
    description="Azure Maps accounts exist only where the region profile allows Maps and its jurisdiction "
    "keeps Maps' data inside, and process data only inside the boundary.",
    remediation="Create the MapsService only when profile.services.maps is true, and list only boundary "
    "locations in properties.locations.",
    resource_types=frozenset({MAPS_ACCOUNT}),
    validate=validate,
)
