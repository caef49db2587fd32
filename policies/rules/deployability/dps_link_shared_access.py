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

A connection string only deployment will know (a preview before the stack's link secret exists,
``components/telemetry.py`` ``dps_link_secret``, or any key computed at apply) names no hub yet, and a
real preview cannot know it either. Such links are judged by what a preview does know, the hubs' own
settings: the links of unknown string at a location need as many hubs of this stack there, not named
by a known link, that allow shared access and have a policy with exactly the rights above. A shortfall
is refused with what each candidate hub lacks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.facts.azure import DPS, IOT_HUB, StackIndex, connection_string_field, host_label
from policies.facts.props import get, mappings, show, unknown_at
from policies.model import ResourceView, RuleContext, StackRule

REQUIRED_RIGHTS = frozenset({"RegistryWrite", "ServiceConnect"})
SOURCE = "learn.microsoft.com/azure/iot-dps/how-to-manage-linked-iot-hubs"


def rights_of(value: object) -> frozenset[str]:
    """``"RegistryWrite, ServiceConnect"`` -> {RegistryWrite, ServiceConnect}."""
    return frozenset(part.strip() for part in str(value or "").split(",") if part.strip())


def hub_label(hub: ResourceView) -> str:
    """How messages name a hub: its resource name, else its logical name."""
    name = get(hub.props, "resourceName") or get(hub.props, "name")
    return name if isinstance(name, str) and name else hub.name


def local_auth_problem(label: str, hub: ResourceView) -> str | None:
    if get(hub.props, "properties.disableLocalAuth") is True:
        return (
            f"linked hub {label!r} has properties.disableLocalAuth True and refuses the DPS link "
            f"(allowed: False, shared access policies allowed; source: {SOURCE})"
        )
    return None


def policies_of(hub: ResourceView) -> dict[Any, Mapping[str, Any]]:
    return {get(p, "keyName"): p for p in mappings(get(hub.props, "properties.authorizationPolicies"))}


def rights_problem(label: str, key_name: object, policy: Mapping[str, Any]) -> str | None:
    rights = rights_of(get(policy, "rights"))
    if rights == REQUIRED_RIGHTS:
        return None
    return (
        f"linked hub {label!r} policy {key_name!r} grants {', '.join(sorted(rights)) or 'nothing'} "
        f"(allowed: exactly {', '.join(sorted(REQUIRED_RIGHTS))}; source: {SOURCE})"
    )


def link_problems(connection: object, index: StackIndex) -> tuple[ResourceView | None, list[str]]:
    """The hub a known connection string names (None: none of this stack) and what is wrong with the link."""
    if not isinstance(connection, str) or not connection:
        return None, [
            f"a linked hub's connectionString is {show(connection)}, so the link cannot be verified ({SOURCE})"
        ]
    host = connection_string_field(connection, "HostName") or ""
    key_name = connection_string_field(connection, "SharedAccessKeyName")
    label = host_label(f"https://{host}") if host else ""
    hub = index.find([IOT_HUB], label) if label else None
    if hub is None:
        name = host or "not set"
        return None, [
            f"linked hub {name!r} is not an IoT Hub of this stack, so it cannot be verified (source: {SOURCE})"
        ]
    problems = [p for p in [local_auth_problem(label, hub)] if p]
    policy = policies_of(hub).get(key_name)
    if policy is None:
        return hub, [*problems, f"linked hub {label!r} has no shared access policy {key_name!r} (source: {SOURCE})"]
    return hub, [*problems, *[p for p in [rights_problem(label, key_name, policy)] if p]]


def candidate_problems(hub: ResourceView) -> list[str]:
    """Why ``hub`` could not take a link whose connection string is unknown (empty: it could)."""
    label = hub_label(hub)
    problems = [p for p in [local_auth_problem(label, hub)] if p]
    policies = policies_of(hub)
    found = [rights_problem(label, key_name, policy) for key_name, policy in policies.items()]
    if not policies:
        problems.append(f"linked hub {label!r} has no shared access policy (source: {SOURCE})")
    elif None not in found:
        problems.extend(p for p in found if p)
    return problems


def unknown_link_problems(locations: Sequence[object], index: StackIndex, named: set[int]) -> Iterator[str]:
    """Links whose connection string is unknown, given by their locations (None: unknown too): each
    location needs as many fit hubs, among the stack's hubs there that no known link named (``named``:
    their ``id``)."""
    wanted: dict[object, int] = {}
    for location in locations:
        wanted[location] = wanted.get(location, 0) + 1
    for location, count in wanted.items():
        candidates = [
            hub
            for hub in index.of_type(IOT_HUB)
            if id(hub) not in named and (location is None or get(hub.props, "location") == location)
        ]
        judged = [candidate_problems(hub) for hub in candidates]
        fit = sum(1 for problems in judged if not problems)
        unfit = [problem for problems in judged for problem in problems]
        if fit >= count:
            continue
        where = f" in {location}" if location is not None else ""
        need = (
            f"{count} link(s){where} whose connectionString is known only at deployment need as many hubs of this stack"
        )
        if not unfit:
            short = f"it has {fit} other IoT Hub(s){where}, so not every link can be verified"
            yield f"{need}, and {short} (source: {SOURCE})"
        for problem in unfit:
            yield f"{need} fit to be linked, {fit} are: {problem}"


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    services = [view for view in resources if view.type == DPS]
    if not services:
        return
    index = StackIndex(resources)
    for dps in services:
        named: set[int] = set()
        pending: list[object] = []
        for link in mappings(get(dps.props, "properties.iotHubs")):
            if unknown_at(link, "connectionString"):
                pending.append(None if unknown_at(link, "location") else get(link, "location"))
                continue
            hub, problems = link_problems(get(link, "connectionString"), index)
            if hub is not None:
                named.add(id(hub))
            for problem in problems:
                yield dps.urn, problem
        for problem in unknown_link_problems(pending, index, named):
            yield dps.urn, problem


RULE = StackRule(
    name="deployability-dps-link-shared-access",
    description="Every hub DPS links allows shared access policies and is linked through a policy with "
    "exactly RegistryWrite and ServiceConnect.",
    remediation="Keep the linked hubs' disableLocalAuth False (turn device and module SAS off instead) and "
    "link through a policy with rights 'RegistryWrite, ServiceConnect' (components/telemetry.py DPS_LINK_RIGHTS).",
    validate=validate,
)
