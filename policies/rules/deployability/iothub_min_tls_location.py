"""IoT Hub's ``minTlsVersion`` is set only where Azure accepts it.

Source: https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support: TLS 1.2 enforcement "is supported
only in public cloud regions", and ``minTlsVersion`` cannot be changed once the hub exists (a hub
created without it has to be recreated). Per cloud in platform_model/catalog/regions.yaml (``iothub_min_tls``).
"""

from __future__ import annotations

from collections.abc import Iterator

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
    location = show(get(view.props, "location"))
    if found is not None and not found.iothub_min_tls:
        yield (
            f"properties.minTlsVersion is {show(value)} in {location}, where IoT Hub does not accept TLS "
            f"enforcement (allowed: unset outside the public cloud; source: {SOURCE})"
        )


RULE = ResourceRule(
    name="deployability-iothub-min-tls-location",
    description="IoT Hub minTlsVersion is set only where Azure accepts TLS 1.2 enforcement (public cloud).",
    remediation="Leave minTlsVersion unset in Azure China (components set it from the catalog's iothub_min_tls).",
    resource_types=frozenset({IOT_HUB}),
    validate=validate,
)
