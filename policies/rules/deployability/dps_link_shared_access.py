"""DPS links hubs that accept its shared-access link, through a policy with only the rights it needs.

Source: https://learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs: "The linked IoT Hub
must have Connect using shared access policies set to Allow" (a hub with ``disableLocalAuth: true``
refuses the link), and "DPS needs the following permissions on the IoT hub: RegistryWrite and
ServiceConnect". Least privilege: the link's policy grants those two and nothing else (no
DeviceConnect, no RegistryRead beyond what RegistryWrite implies). The pulumi-azure-native 3.29 DPS
resource (API 2023-03-01-preview) links hubs by connection string only.

Each link's connection string names the hub (``HostName``) and the policy (``SharedAccessKeyName``);
the hub must be one of this stack, so its settings can be read. A link to a hub outside the stack
cannot be verified and is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import DPS, IOT_HUB, StackIndex, connection_string_field, host_label
from policies.facts.props import get, mappings, show
from policies.model import ResourceView, RuleContext, StackRule

REQUIRED_RIGHTS = frozenset({"RegistryWrite", "ServiceConnect"})
SOURCE = "learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs"


def rights_of(value: object) -> frozenset[str]:
    """``"RegistryWrite, ServiceConnect"`` -> {RegistryWrite, ServiceConnect}."""
    return frozenset(part.strip() for part in str(value or "").split(",") if part.strip())


def link_problems(link: Mapping[str, Any], index: StackIndex) -> Iterator[str]:
    connection = get(link, "connectionString")
    if not isinstance(connection, str) or not connection:
        yield f"a linked hub's connectionString is {show(connection)}, so the link cannot be verified ({SOURCE})"
        return
    host = connection_string_field(connection, "HostName") or ""
    key_name = connection_string_field(connection, "SharedAccessKeyName")
    label = host_label(f"https://{host}") if host else ""
    hub = index.find([IOT_HUB], label) if label else None
    if hub is None:
        name = host or "not set"
        yield f"linked hub {name!r} is not an IoT Hub of this stack, so it cannot be verified (source: {SOURCE})"
        return
    if get(hub.props, "properties.disableLocalAuth") is True:
        yield (
            f"linked hub {label!r} has properties.disableLocalAuth True and refuses the DPS link "
            f"(allowed: False, shared access policies allowed; source: {SOURCE})"
        )
    policies = {get(p, "keyName"): p for p in mappings(get(hub.props, "properties.authorizationPolicies"))}
    policy = policies.get(key_name)
    if policy is None:
        yield f"linked hub {label!r} has no shared access policy {key_name!r} (source: {SOURCE})"
        return
    rights = rights_of(get(policy, "rights"))
    if rights != REQUIRED_RIGHTS:
        yield (
            f"linked hub {label!r} policy {key_name!r} grants {', '.join(sorted(rights)) or 'nothing'} "
            f"(allowed: exactly {', '.join(sorted(REQUIRED_RIGHTS))}; source: {SOURCE})"
        )


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    services = [view for view in resources if view.type == DPS]
    if not services:
        return
    index = StackIndex(resources)
    for dps in services:
        for link in mappings(get(dps.props, "properties.iotHubs")):
            for problem in link_problems(link, index):
                yield dps.urn, problem


RULE = StackRule(
    name="deployability-dps-link-shared-access",
    description="Every hub DPS links allows shared access policies and is linked through a policy with "
    "exactly RegistryWrite and ServiceConnect.",
    remediation="Keep the linked hubs' disableLocalAuth False (turn device and module SAS off instead) and "
    "link through a policy with rights 'RegistryWrite, ServiceConnect' (components/telemetry.py DPS_LINK_RIGHTS).",
    validate=validate,
)
