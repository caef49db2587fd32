"""``enableDataResidency`` is set only where Azure offers it.

Source: https://learn.microsoft.com/azure/iot-hub/how-to-disable-dr: disabling disaster recovery (the
``enableDataResidency`` property) is supported in Brazil South and Southeast Asia only, the two
locations whose paired region is in another geography; elsewhere the pair already stays in the
geography and the flag is not accepted. DPS follows its hub. The locations are data:
``iot_data_residency`` in platform_model/catalog/regions.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.locations import catalog
from policies.facts.azure import DPS, IOT_HUB
from policies.facts.catalog import catalog_location
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if get(view.props, "properties.enableDataResidency") is not True:
        return
    found = catalog_location(view)
    location = show(get(view.props, "location"))
    if found is None or not found.iot_data_residency:
        yield (
            f"properties.enableDataResidency is True in {location}, where Azure does not offer it "
            f"(allowed: only in {', '.join(sorted(catalog().iot_data_residency_locations))}; elsewhere leave it unset; "
            f"source: {catalog().iot_data_residency_source})"
        )


RULE = ResourceRule(
    name="deployability-iot-data-residency-location",
    description="IoT Hub and DPS set enableDataResidency only in the locations where Azure offers it "
    "(Brazil South, Southeast Asia).",
    remediation="Set residency.iot_data_residency: false in the region profile unless its primary is Brazil "
    "South or Southeast Asia.",
    resource_types=frozenset({IOT_HUB, DPS}),
    validate=validate,
)
