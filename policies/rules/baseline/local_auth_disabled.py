"""Shared keys and local accounts are off wherever the service allows it: Entra ID only.

Keys cannot be scoped or attributed, and a leaked connection string reaches the data from anywhere.
DPS has no switch for it in azure-native 3's API version, so it is not listed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from policies.model import ResourceRule, ResourceView, RuleContext
from policies.rules._azure import (
    AKS,
    COSMOS_ACCOUNT,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    MAPS_ACCOUNT,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
)
from policies.rules._props import get, show

#: type -> (property path, the value that turns local auth off).
_SETTINGS: Mapping[str, tuple[str, bool]] = {
    IOT_HUB: ("properties.disableLocalAuth", True),
    EVENTHUB_NAMESPACE: ("disableLocalAuth", True),
    SERVICEBUS_NAMESPACE: ("disableLocalAuth", True),
    COSMOS_ACCOUNT: ("disableLocalAuth", True),
    STORAGE_ACCOUNT: ("allowSharedKeyAccess", False),
    MAPS_ACCOUNT: ("properties.disableLocalAuth", True),
    AKS: ("disableLocalAccounts", True),
}


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    setting = _SETTINGS.get(view.type)
    if setting is None:
        return
    path, expected = setting
    value = get(view.props, path)
    if value is not expected:
        yield f"{path} is {show(value)}, which leaves key/local authentication on (allowed: {expected})"


RULE = ResourceRule(
    name="baseline-local-auth-disabled",
    description="Local (key, SAS, local account) authentication is disabled on IoT Hub, Event Hubs, "
    "Service Bus, Cosmos DB, Storage, Maps and AKS.",
    remediation="Set disableLocalAuth=True (Storage: allowSharedKeyAccess=False; AKS: "
    "disableLocalAccounts=True) and grant Entra ID roles to the identities that need access.",
    resource_types=frozenset(_SETTINGS),
    validate=validate,
    relaxable=True,
)
