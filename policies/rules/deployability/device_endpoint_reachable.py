"""Vehicles can reach the device-facing endpoints: IoT Hub and DPS are not closed to the internet.

Vehicles are on mobile networks, on the internet. IoT Hub's private link setup "isn't advised for
devices deployed in a wide-area network" (https://learn.microsoft.com/azure/iot-hub/virtual-network-support),
so unless the profile says vehicles come in privately (``devices.access: private``: a private APN or
ExpressRoute into the VNet), IoT Hub and DPS must accept public traffic: ``publicNetworkAccess`` not
``Disabled``, and an IP filter that accepts something before it rejects everything
(https://learn.microsoft.com/azure/iot-hub/iot-hub-ip-filtering: rules apply in order).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from policies.facts.azure import DPS, IOT_HUB
from policies.facts.props import get, mappings, show
from policies.model import ResourceRule, ResourceView, RuleContext

SOURCE = "learn.microsoft.com/azure/iot-hub/virtual-network-support"


def _everything(mask: object) -> bool:
    try:
        return ipaddress.ip_network(str(mask), strict=False).prefixlen == 0
    except ValueError:
        return False


def rejects_everyone(rules: object) -> bool:
    """Whether an IP filter's first rule covering every address is a Reject, with no Accept before it."""
    for rule in mappings(rules):
        action = str(get(rule, "action", "")).lower()
        if action == "accept":
            return False
        if action == "reject" and _everything(get(rule, "ipMask")):
            return True
    return False


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if ctx.device_access != "public":
        return
    access = get(view.props, "properties.publicNetworkAccess")
    if isinstance(access, str) and access.lower() == "disabled":
        yield (
            f"properties.publicNetworkAccess is {show(access)}: vehicles on mobile networks cannot reach it "
            f"(allowed: 'Enabled', or devices.access: private in the profile for a private APN; source: {SOURCE})"
        )
    if rejects_everyone(get(view.props, "properties.ipFilterRules")):
        yield (
            "properties.ipFilterRules reject every address before accepting any: no vehicle can connect "
            f"(allowed: Accept rules for the fleet's networks first; source: {SOURCE})"
        )


RULE = ResourceRule(
    name="deployability-device-endpoint-reachable",
    description="IoT Hub and DPS accept vehicles from the internet unless the profile declares private "
    "device access (private APN / ExpressRoute).",
    remediation="Leave publicNetworkAccess 'Enabled' with X.509-only device auth, optionally with IP filter "
    "Accept rules (profile devices.ip_filter); set devices.access: private only with a private APN.",
    resource_types=frozenset({IOT_HUB, DPS}),
    validate=validate,
)
