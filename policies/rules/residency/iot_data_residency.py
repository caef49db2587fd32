"""IoT Hub and DPS keep device data in-region when the profile asks for it.

Without `enableDataResidency`, Microsoft may replicate hub data to the geo-paired region for
disaster recovery, which can leave the boundary.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.model import ResourceRule, ResourceView, RuleContext
from policies.rules._azure import DPS, IOT_HUB
from policies.rules._props import get, show


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if not ctx.iot_data_residency:
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
    "region profile sets residency.iot_data_residency.",
    remediation="Set `properties.enableDataResidency=True` from the profile's residency.iot_data_residency.",
    resource_types=frozenset({IOT_HUB, DPS}),
    validate=validate,
)
