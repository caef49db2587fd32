"""Clients must speak TLS 1.2 or newer.

Each service spells the setting differently (`minTlsVersion` "1.2", `minimumTlsVersion` "1.2" or
"TLS1_2", `minimalTlsVersion` "Tls12"); all are read as a version number. Unset is refused because
several services still default to TLS 1.0.

IoT Hub's ``minTlsVersion`` is required only where Azure accepts it: "Currently, TLS 1.2 enforcement is
supported only in public cloud regions." (https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support;
``iothub_min_tls`` per location in platform_model/catalog/regions.yaml). Elsewhere (Azure China) the
deployability rule refuses setting it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from policies.facts.azure import (
    COSMOS_ACCOUNT,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
)
from policies.facts.catalog import catalog_location
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext

MINIMUM = (1, 2)

#: type -> (property path, the values that satisfy TLS >= 1.2, as the API spells them).
_SETTINGS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    IOT_HUB: ("properties.minTlsVersion", ("1.2",)),
    EVENTHUB_NAMESPACE: ("minimumTlsVersion", ("1.2",)),
    SERVICEBUS_NAMESPACE: ("minimumTlsVersion", ("1.2",)),
    COSMOS_ACCOUNT: ("minimalTlsVersion", ("Tls12",)),
    STORAGE_ACCOUNT: ("minimumTlsVersion", ("TLS1_2", "TLS1_3")),
}


def tls_version(value: str) -> tuple[int, int] | None:
    """``1.2``, ``TLS1_2`` and ``Tls12`` are all (1, 2); bare ``Tls`` is TLS 1.0."""
    if not re.fullmatch(r"(?i)(tls)?\s*[\d._]*", value.strip()):
        return None
    digits = re.sub(r"\D", "", value)
    if not digits:
        return (1, 0)
    return (int(digits[0]), int(digits[1:] or 0))


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    setting = _SETTINGS.get(view.type)
    if setting is None:
        return
    path, allowed = setting
    found = catalog_location(view) if view.type == IOT_HUB else None
    if found is not None and not found.iothub_min_tls:
        return
    value = get(view.props, path)
    version = tls_version(value) if isinstance(value, str) else None
    if version is None or version < MINIMUM:
        yield f"{path} is {show(value)}, below TLS 1.2 (allowed: {', '.join(allowed)})"


RULE = ResourceRule(
    name="baseline-min-tls-version",
    description="IoT Hub, Event Hubs, Service Bus, Cosmos DB and Storage require TLS 1.2 or newer.",
    remediation="Set the service's minimum TLS property to 1.2 (IoT Hub minTlsVersion '1.2', Event Hubs "
    "minimumTlsVersion '1.2', Cosmos DB minimalTlsVersion 'Tls12', Storage minimumTlsVersion 'TLS1_2').",
    resource_types=frozenset(_SETTINGS),
    validate=validate,
    relaxable=True,
)
