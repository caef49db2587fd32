"""IoT Hub's ``minTlsVersion`` is set only where Azure accepts it.

Source: https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support: "Currently, TLS 1.2 enforcement is
supported only in public cloud regions." Earlier versions of the page named a few US regions only; the catalog
keeps the fact per location (``iothub_min_tls`` in platform_model/catalog/regions.yaml: the cloud's value unless
a location overrides it), so a return to a region list is a data change.
"""

from __future__ import annotations

from collections.abc import Iterator

from platform_model.locations import catalog
from policies.facts.azure import IOT_HUB
from policies.facts.catalog import catalog_location
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext

SOURCE = "learn.microsoft.com/azure/iot-hub/iot-hub-tls-support"


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    value = get(view.props, "properties.minTlsVersion")
    if value is None:
        return
    found = catalog_location(view)
    if found is None or found.iothub_min_tls:
        return
    accepting = [name for name, loc in catalog().locations.items() if loc.cloud == found.cloud and loc.iothub_min_tls]
    where = ", ".join(sorted(accepting)) if accepting else f"no location of {found.cloud!r}"
    yield (
        f"properties.minTlsVersion is {show(value)} in {found.name!r}, where IoT Hub does not offer TLS 1.2 "
        f"enforcement (allowed: unset here; minTlsVersion only in {where}; source: {SOURCE})"
    )


RULE = ResourceRule(
    name="deployability-iothub-min-tls-location",
    description="IoT Hub minTlsVersion is set only where Azure offers TLS 1.2 enforcement (catalog: iothub_min_tls).",
    remediation="Leave minTlsVersion unset where the catalog says iothub_min_tls is false (Azure China); "
    "RegionalPlatform sets it from the primary location's entry.",
    resource_types=frozenset({IOT_HUB}),
    validate=validate,
)
