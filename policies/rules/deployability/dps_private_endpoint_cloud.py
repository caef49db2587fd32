"""A DPS private endpoint only in a cloud where DPS has Private Link.

Source: https://learn.microsoft.com/azure/iot-dps/virtual-network-support, "Private endpoint limitations":
"Private endpoints in DPS use Azure Private Link, which are only supported in public regions." Per cloud in
platform_model/catalog/regions.yaml (``dps_private_endpoint``; Azure China: false). The endpoint is judged
by its own location (a private endpoint lives in its VNet's region, the DPS's cloud) and its group id
``iotDps``, both plain strings at preview, unlike the DPS resource id it points at.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.facts.catalog import catalog_location
from policies.facts.props import get, items, mappings
from policies.model import ResourceRule, ResourceView, RuleContext

PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DPS_GROUP_ID = "iotDps"
"""The private-link sub-resource of Microsoft.Devices/ProvisioningServices."""
SOURCE = "learn.microsoft.com/azure/iot-dps/virtual-network-support"
CONNECTION_KEYS = ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections")


def _dps_connections(view: ResourceView) -> Iterator[str]:
    """Property paths of the endpoint's connections to a DPS (group id ``iotDps``, any case)."""
    for key in CONNECTION_KEYS:
        for index, connection in enumerate(mappings(get(view.props, key))):
            groups = [g for g in items(get(connection, "groupIds")) if isinstance(g, str)]
            if any(g.lower() == DPS_GROUP_ID.lower() for g in groups):
                yield f"{key}[{index}].groupIds"


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    found = catalog_location(view)
    if found is None or found.dps_private_endpoint:
        return
    for path in _dps_connections(view):
        yield (
            f"{path} names {DPS_GROUP_ID!r} in {found.name!r} ({found.cloud} cloud), where DPS has no private "
            f"endpoints (allowed: no DPS private endpoint here; vehicles use the DPS public endpoint with X.509; "
            f"source: {SOURCE})"
        )


RULE = ResourceRule(
    name="deployability-dps-private-endpoint-cloud",
    description="A private endpoint to DPS (group iotDps) only in a cloud where DPS supports Private Link.",
    remediation="Do not create a DPS private endpoint in Azure China (DeviceProvisioning skips it from the "
    "catalog's dps_private_endpoint).",
    resource_types=frozenset({PRIVATE_ENDPOINT}),
    validate=validate,
)
