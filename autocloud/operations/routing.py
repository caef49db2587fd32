"""Which IoT Hubs a deploy applies in routing phase ``staged`` first: the one place that decides it.

A hub routes into its unit's Event Hubs namespace as its system-assigned identity, which must hold Event
Hubs Data Sender before the hub's endpoints are added (``components.telemetry.RoutingPhase``). So a hub
that is not deployed yet, or whose grant is not, is applied twice by ``deploy.deploy_stack``: staged
(``autocloud:routingStagedUnits`` set for that run only), then, once the grant has had time to take
effect (``autocloud:rolePropagationSeconds``), live. A stack whose hubs and grants are all in its state
is applied once, live (after what is left of that wait, if a hub is still staged and its grant young),
so a preview of a deployed stack never proposes removing its routes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from components.platform import telemetry_name
from components.telemetry import hub_resource_name, sender_grant_name
from platform_model.stack import ResolvedStack

HUB_TYPE = "azure-native:iothub:IotHubResource"
GRANT_TYPE = "azure-native:authorization:RoleAssignment"
WAIT_STEP_SECONDS = 60
"""How often the wait for the grants says how long is left."""


def deployed(resources: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(type, logical name) of every resource in a stack's state that is not pending deletion.

    A URN ends ``::<qualified type>::<name>``, the qualified type being the parents' types and the
    resource's own joined by ``$``."""
    found: set[tuple[str, str]] = set()
    for resource in resources:
        urn = resource.get("urn")
        if not isinstance(urn, str) or resource.get("delete"):
            continue
        parts = urn.split("::")
        if len(parts) >= 4:
            found.add((parts[-2].rsplit("$", 1)[-1], parts[-1]))
    return found


def state_resources(stack: Any) -> list[Mapping[str, Any]]:
    """The resources recorded in an Automation API stack's state (none for a stack never applied)."""
    deployment = stack.export_stack().deployment or {}
    resources = deployment.get("resources") if isinstance(deployment, Mapping) else None
    return [r for r in resources or [] if isinstance(r, Mapping)]


def staged_units(resolved: ResolvedStack, resources: Iterable[Mapping[str, Any]]) -> tuple[int, ...]:
    """The scale units whose hub must be applied staged before live: those whose IoT Hub, or its
    system identity's Data Sender grant, is not in the stack's state. None on the local target, where
    no hub routes, nor where the profile has no hubs or no Event Hubs to route into."""
    services = resolved.profile.services
    if resolved.config.target != "azure" or not (services.iothub and services.eventhubs):
        return ()
    present = deployed(resources)
    staged: list[int] = []
    for unit in range(1, resolved.plan.scale_units + 1):
        component = telemetry_name(resolved.profile.name, unit)
        ready = (HUB_TYPE, hub_resource_name(component)) in present and (
            GRANT_TYPE,
            sender_grant_name(component),
        ) in present
        if not ready:
            staged.append(unit)
    return tuple(staged)


def grant_wait_left(resolved: ResolvedStack, resources: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Seconds a live apply must still wait because a hub deployed staged (in the state, without
    endpoints) has a grant younger than ``autocloud:rolePropagationSeconds``: a run that stopped
    during the wait resumes it instead of adding routes too early. 0 when there is none."""
    setting = resolved.config.role_propagation_seconds
    by_name: dict[str, Mapping[str, Any]] = {}
    for resource in resources:
        urn = resource.get("urn")
        if isinstance(urn, str) and not resource.get("delete"):
            by_name[urn.rsplit("::", 1)[-1]] = resource
    left = 0.0
    for unit in range(1, resolved.plan.scale_units + 1):
        component = telemetry_name(resolved.profile.name, unit)
        hub, grant = by_name.get(hub_resource_name(component)), by_name.get(sender_grant_name(component))
        if hub is None or grant is None or _routes_anywhere(hub):
            continue
        created = _timestamp(grant.get("created"))
        if created is not None:
            left = max(left, setting - (now - created).total_seconds())
    return max(0, math.ceil(min(left, setting)))


def _routes_anywhere(hub: Mapping[str, Any]) -> bool:
    """Whether a hub's recorded inputs have custom endpoints (it was applied live)."""
    inputs = hub.get("inputs")
    properties = inputs.get("properties") if isinstance(inputs, Mapping) else None
    routing = properties.get("routing") if isinstance(properties, Mapping) else None
    return isinstance(routing, Mapping) and bool(routing.get("endpoints"))


def _timestamp(value: Any) -> datetime | None:
    """A state timestamp (RFC 3339, as the engine records ``created``), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def wait_for_grants(
    stack: str,
    seconds: int,
    echo: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait out the role assignments' propagation, saying so now and then, before the live apply."""
    echo(
        f"{stack}: waiting {seconds} s for the staged hubs' Event Hubs Data Sender grants to take effect "
        "before adding their routes (autocloud:rolePropagationSeconds)"
    )
    left = seconds
    while left > 0:
        step = min(WAIT_STEP_SECONDS, left)
        sleep(step)
        left -= step
        if left:
            echo(f"{stack}: {left} s left before the live apply")
