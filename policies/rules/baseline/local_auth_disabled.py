"""Shared keys and local accounts are off wherever the service allows it: Entra ID only.

Keys cannot be scoped or attributed, and a leaked connection string reaches the data from anywhere.
DPS has no switch for it in azure-native 3's API version, so it is not listed.

IoT Hub is the exception that DPS forces: a hub linked to DPS "must have Connect using shared access
policies set to Allow" (https://learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs), so
``disableLocalAuth`` stays false there and what vehicles could use is off instead: device and module
SAS (``disableDeviceSAS``, ``disableModuleSAS``), leaving X.509 as the only device credential.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from policies.facts.azure import (
    AKS,
    CONTAINER_REGISTRY,
    COSMOS_ACCOUNT,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    MAPS_ACCOUNT,
    SERVICEBUS_NAMESPACE,
    STORAGE_ACCOUNT,
)
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext

#: type -> (property path, the value that turns local auth off) for each setting.
_SETTINGS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    IOT_HUB: (("properties.disableDeviceSAS", True), ("properties.disableModuleSAS", True)),
    EVENTHUB_NAMESPACE: (("disableLocalAuth", True),),
    SERVICEBUS_NAMESPACE: (("disableLocalAuth", True),),
    COSMOS_ACCOUNT: (("disableLocalAuth", True),),
    STORAGE_ACCOUNT: (("allowSharedKeyAccess", False),),
    MAPS_ACCOUNT: (("properties.disableLocalAuth", True),),
    AKS: (("disableLocalAccounts", True),),
    # The registry's admin user is a shared username and password: "All users authenticating with the admin
    # account appear as a single user" (learn.microsoft.com/azure/container-registry/container-registry-authentication).
    CONTAINER_REGISTRY: (("adminUserEnabled", False),),
}


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    for path, expected in _SETTINGS.get(view.type, ()):
        value = get(view.props, path)
        if value is not expected:
            yield f"{path} is {show(value)}, which leaves key/local authentication on (allowed: {expected})"


RULE = ResourceRule(
    name="baseline-local-auth-disabled",
    description="Local (key, SAS, local account) authentication is disabled on Event Hubs, Service Bus, "
    "Cosmos DB, Storage, Maps, AKS and Container Registry; IoT Hub devices and modules cannot use SAS "
    "(X.509 only).",
    remediation="Set disableLocalAuth=True (Storage: allowSharedKeyAccess=False; AKS: "
    "disableLocalAccounts=True; Container Registry: adminUserEnabled=False; IoT Hub: disableDeviceSAS=True "
    "and disableModuleSAS=True) and grant Entra ID roles to the identities that need access.",
    resource_types=frozenset(_SETTINGS),
    validate=validate,
    relaxable=True,
)
