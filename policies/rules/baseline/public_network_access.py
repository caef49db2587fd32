"""Data services are reachable only over private endpoints, never from the public internet.

Azure's default for every service listed is public access, so an unset property is refused. AKS has
no `publicNetworkAccess` switch that makes it private on its own: a private API server is the
equivalent. Storage additionally refuses anonymous blob access. DPS is covered; Maps has no such
setting in the API version azure-native 3 uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from policies.model import ResourceRule, ResourceView, RuleContext
from policies.rules._azure import (
    AKS,
    COSMOS_ACCOUNT,
    DPS,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
)
from policies.rules._props import get, show

Expected = tuple[str, object]
"""A property path and the only value it may have."""

_SETTINGS: Mapping[str, tuple[Expected, ...]] = {
    IOT_HUB: (("properties.publicNetworkAccess", "Disabled"),),
    DPS: (("properties.publicNetworkAccess", "Disabled"),),
    EVENTHUB_NAMESPACE: (("publicNetworkAccess", "Disabled"),),
    SERVICEBUS_NAMESPACE: (("publicNetworkAccess", "Disabled"),),
    COSMOS_ACCOUNT: (("publicNetworkAccess", "Disabled"),),
    STORAGE_ACCOUNT: (("publicNetworkAccess", "Disabled"), ("allowBlobPublicAccess", False)),
    AKS: (("apiServerAccessProfile.enablePrivateCluster", True),),
    "azure-native:keyvault:Vault": (("properties.publicNetworkAccess", "disabled"),),
}


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and actual.lower() == expected.lower()
    return actual is expected


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    for path, expected in _SETTINGS.get(view.type, ()):
        actual = get(view.props, path)
        if not _same(actual, expected):
            yield f"{path} is {show(actual)}, which allows public access (allowed: {expected!r})"


RULE = ResourceRule(
    name="baseline-public-network-access",
    description="Public network access is disabled on IoT Hub, DPS, Event Hubs, Service Bus, Cosmos DB, "
    "Storage, Key Vault and AKS (private API server).",
    remediation="Set publicNetworkAccess='Disabled' (AKS: apiServerAccessProfile.enablePrivateCluster=True; "
    "Storage also allowBlobPublicAccess=False) and reach the service through private endpoints.",
    resource_types=frozenset(_SETTINGS),
    validate=validate,
    relaxable=True,
)
