"""IoT Hub and DPS keep device data in-region when the profile asks for it, where Azure offers it.

Without `enableDataResidency`, Microsoft replicates hub data to the paired region for disaster
recovery. That leaves the geography only where the pair is in another one, and those are exactly the
locations where Azure offers the flag: Brazil South and Southeast Asia
(https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr; platform_model/catalog/regions.yaml). So the
flag is demanded only there; elsewhere the deployability rule refuses it (Azure does not accept it).
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.facts.azure import DPS, IOT_HUB
from policies.facts.catalog import catalog_location
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not ctx.iot_data_residency:
        return
    found = catalog_location(view)
    if found is not None and not found.iot_data_residency:
        return
    value = get(view.props, "properties.enableDataResidency")
    if value is not True:
        yield (
            f"properties.enableDataResidency is {show(value)} but region {ctx.region} requires IoT data "
            "residency (allowed: true)"
        )


RULE = ResourceRule(
    name="residency-iot-data-residency",
    description="IoT Hub and DPS have data residency enabled (no cross-geo disaster recovery) where the "
    "region profile sets residency.iot_data_residency and the location offers it (Brazil South, Southeast Asia).",
    remediation="Set `properties.enableDataResidency=True` from the profile's residency.iot_data_residency.",
    resource_types=frozenset({IOT_HUB, DPS}),
    validate=validate,
)
