"""IoT Hub and DPS keep device data in-region when the profile asks for it, where Azure offers it.

Without `enableDataResidency`, Microsoft replicates hub data to the paired region for disaster
recovery. That leaves the geography only where the pair is in another one, and those are exactly the
locations where Azure offers the flag: Brazil South and Southeast Asia
(https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr; platform_model/catalog/regions.yaml). So the
flag is demanded only there; elsewhere the deployability rule refuses it (Azure does not accept it).

With the region's jurisdiction in the config, a hub or DPS whose location's pair is outside the jurisdiction
is refused without the flag as well, whatever the profile says: the same
``platform_model.jurisdictions.failover_leaves`` the profile check uses at load.
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.jurisdictions import failover_leaves
from policies.facts.azure import DPS, IOT_HUB, location_of
from policies.facts.catalog import catalog_location, jurisdiction_of
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    value = get(view.props, "properties.enableDataResidency")
    if value is True:
        return
    here = catalog_location(view)
    if ctx.iot_data_residency and (here is None or here.iot_data_residency):
        yield (
            f"properties.enableDataResidency is {show(value)} but region {ctx.region} requires IoT data "
            "residency (allowed: true)"
        )
        return
    try:
        found = jurisdiction_of(ctx)
    except ValueError as error:
        yield str(error)
        return
    location = location_of(view)
    leaves = failover_leaves(found, location, False) if found and isinstance(location, str) else None
    if leaves:
        yield f"properties.enableDataResidency is {show(value)}: {leaves} (allowed: true)"


RULE = ResourceRule(
    name="residency-iot-data-residency",
    description="IoT Hub and DPS have data residency enabled (no cross-geo disaster recovery) where the "
    "region profile sets residency.iot_data_residency and the location offers it (Brazil South, Southeast Asia), "
    "and wherever the location's paired region is outside the region's jurisdiction.",
    remediation="Set `properties.enableDataResidency=True` from the profile's residency.iot_data_residency.",
    resource_types=frozenset({IOT_HUB, DPS}),
    validate=validate,
)
