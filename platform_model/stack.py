"""A stack: its config (``StackConfig``), its file under ``stacks/``, and the stack resolved (stack file,
or the engine's config, + per-run overrides -> validated config, region profile with the stack's fleet
overrides, capacity plan). The one reader the program, check, report, rollout and the tests share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from platform_model.brands import Brand, brand_problem
from platform_model.errors import ConfigError, InputError, excerpt, from_validation_error
from platform_model.inputs import load_mapping
from platform_model.paths import REPO_ROOT, STACKS_DIR
from platform_model.profiles import (
    PEM_CERTIFICATE,
    Location,
    MessageKb,
    MessageRate,
    Name,
    ObjectId,
    RegionProfile,
    Vehicles,
    available_profiles,
    display_path,
    json_list,
    keyed_error,
    load_profile,
    profile_path,
)
from platform_model.sizing import CapacityPlan, plan_for_profile
from platform_model.vocabulary import region_namespace

CONFIG_NAMESPACE = "autocloud"
LOCATION_KEY = "azure-native:location"
REGION_KEY = f"{CONFIG_NAMESPACE}:region"
RELAX_KEY = f"{CONFIG_NAMESPACE}:policyRelax"
"""The stack key listing the baseline rules a stack runs as advisory (``policies.config`` checks the names)."""

Target = Literal["azure", "local"]

ROUTING_STAGED_KEY = f"{CONFIG_NAMESPACE}:routingStagedUnits"
"""The stack key listing the scale units whose IoT Hub is applied in routing phase ``staged``."""
FLEET_CA_KEY = f"{CONFIG_NAMESPACE}:fleetCaCertificate"
BRANDS_KEY = f"{CONFIG_NAMESPACE}:brands"
"""The stack key listing the brands the region serves (``platform_model.brands``)."""
VEHICLES_KEY = f"{CONFIG_NAMESPACE}:vehicles"
"""The stack key holding the region's fleet CA (PEM)."""
ROLE_PROPAGATION_KEY = f"{CONFIG_NAMESPACE}:rolePropagationSeconds"
ROLE_PROPAGATION_SECONDS = 600
"""How long a new role assignment may take to apply: "When you assign roles or remove role assignments,
it can take up to 10 minutes for changes to take effect"
(https://learn.microsoft.com/azure/role-based-access-control/troubleshooting, "Symptom - Role assignment
changes are not being detected")."""


class StackConfig(BaseModel):
    """What a stack's config holds: ``autocloud:<camelCaseKey>`` plus ``azure-native:location``."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    region: Name
    """Required. Name of the region profile (``regions/<region>.yaml``)."""
    target: Target
    """Required. ``azure`` or ``local``."""
    vehicles: Vehicles | None = None
    """Optional fleet override; default the profile's."""
    messages_per_vehicle_per_hour: MessageRate | None = None
    """Optional fleet override; default the profile's."""
    message_kb: MessageKb | None = None
    """Optional fleet override; default the profile's."""
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    """Optional, local target only. Kubernetes namespace; default ``autocloud-<region>``."""
    policy_relax: Annotated[tuple[str, ...], BeforeValidator(json_list)] = ()
    """Optional, default none. Baseline policies this stack runs as advisory (``policies.config``
    checks the names; residency rules can never be relaxed)."""
    cluster_admins: Annotated[tuple[ObjectId, ...], BeforeValidator(json_list)] = ()
    """Optional, azure target only; default: the identity running ``pulumi up``. Entra object ids
    (users, groups, service principals) given the "Azure Kubernetes Service RBAC Cluster Admin" role
    on the private AKS cluster (local accounts are off, so without one nobody can use kubectl)."""
    fleet_ca_certificate: str | None = Field(default=None, pattern=PEM_CERTIFICATE)
    """PEM of the region's fleet CA (``autocloud fleet ca``). Azure target: optional, registered (verified)
    with DPS so an X.509 enrollment group can trust it (``pulumi config set autocloud:fleetCaCertificate
    "$(cat .state/fleet/<region>/ca.pem)"``). Local target: the local DPS and hubs trust it; ``autocloud up``
    passes the region's own for the run when the stack file has none (:data:`FLEET_CA_KEY`)."""
    routing_staged_units: Annotated[tuple[Annotated[int, Field(ge=1)], ...], BeforeValidator(json_list)] = ()
    """Optional, azure target only; default none, every hub live. Scale units whose IoT Hub is applied in
    routing phase ``staged``: system-assigned identity granted Event Hubs Data Sender, fallback route
    only. IoT Hub checks a custom endpoint when it is added, so the grant must exist (and have taken
    effect) before the hub's identity-based endpoints do. ``autocloud rollout`` sets this for one apply
    of a hub that is not deployed yet (``autocloud.operations.routing``); a stack file leaves it unset."""
    role_propagation_seconds: int = Field(default=ROLE_PROPAGATION_SECONDS, ge=0, le=3600)
    """Optional, default ``ROLE_PROPAGATION_SECONDS``. How long ``autocloud rollout`` waits between a
    staged apply and the live one, for the new Data Sender grants to take effect (azure stacks only:
    nothing is staged on the local target)."""
    brands: Annotated[tuple[Brand, ...], BeforeValidator(json_list)] = ()
    """Optional, default none: one implicit tenant, as before brands. The brands the region serves, each
    ``{name, vehicles, fleetCa?}``: the plan is sized for the sum of their fleets (so ``autocloud:vehicles``
    must be unset), and each gets its own DPS enrollment, vehicle-state container and state writer with its
    own identity (``platform_model.brands``)."""
    azure_location: Location | None = Field(default=None, validation_alias=LOCATION_KEY)
    """Optional ``azure-native:location``; must equal the profile's primary when set."""

    @model_validator(mode="after")
    def _check(self) -> StackConfig:
        if self.namespace is not None and self.target != "local":
            raise keyed_error(f"{CONFIG_NAMESPACE}:namespace", "applies to target local only")
        if len(set(self.routing_staged_units)) != len(self.routing_staged_units):
            raise keyed_error(ROUTING_STAGED_KEY, f"lists a scale unit twice: {list(self.routing_staged_units)}")
        clash = brand_problem(self.brands)
        if clash is not None:
            raise keyed_error(f"{BRANDS_KEY}[{clash[0]}].name", clash[1])
        if self.brands and self.vehicles is not None:
            raise keyed_error(VEHICLES_KEY, f"set by {BRANDS_KEY} (the sum of the brands' vehicles): remove one")
        for key in ("cluster_admins", "routing_staged_units"):
            if getattr(self, key) and self.target != "azure":
                raise keyed_error(f"{CONFIG_NAMESPACE}:{to_camel(key)}", "applies to target azure only")
        return self

    @property
    def is_local(self) -> bool:
        """Whether the stack deploys to the local Kubernetes target (decided by its config, not its name)."""
        return self.target == "local"

    @property
    def local_namespace(self) -> str:
        """The Kubernetes namespace of this region on the local target."""
        return self.namespace or region_namespace(self.region)

    @property
    def fleet_vehicles(self) -> int | None:
        """The stack's own fleet size: the brands' sum where brands are listed, else ``autocloud:vehicles``."""
        return sum(b.vehicles for b in self.brands) if self.brands else self.vehicles


STACK_CONFIG_KEYS: tuple[str, ...] = tuple(
    f"{CONFIG_NAMESPACE}:{to_camel(name)}" for name in StackConfig.model_fields if name != "azure_location"
)
"""Every ``autocloud:*`` key a stack may set, e.g. ``autocloud:messagesPerVehiclePerHour``."""


def stack_path(stack: str, root: Path | None = None) -> Path:
    return (root or REPO_ROOT) / "stacks" / f"Pulumi.{stack}.yaml"


def stack_names(folder: Path = STACKS_DIR) -> list[str]:
    """Every stack with a file in ``folder`` (``Pulumi.<stack>.yaml``), sorted."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in folder.glob("Pulumi.*.yaml"))


def require_stack(stack: str, command: str, root: Path | None = None) -> None:
    """InputError (exit 2) naming ``command`` and the known stacks when ``stack`` has no file under stacks/."""
    known = stack_names((root or REPO_ROOT) / "stacks")
    if stack not in known:
        raise InputError(f"{command}: no stack {excerpt(stack)} in stacks/ (one of {', '.join(known)})")


def stack_config_from_values(values: Mapping[str, Any], source: str) -> StackConfig:
    """Build a StackConfig from full config keys (``autocloud:region``, ``azure-native:location``, ...).

    Keys of other namespaces (``kubernetes:*``, ``pulumi:*``) are not ours and are ignored; an
    unknown ``autocloud:*`` key is an error.
    """
    prefix = f"{CONFIG_NAMESPACE}:"
    data: dict[str, Any] = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix) and v is not None}
    for key in data:
        if prefix + key not in STACK_CONFIG_KEYS:
            raise ConfigError(source, prefix + key, f"unknown key (allowed: {', '.join(STACK_CONFIG_KEYS)})")
    if values.get(LOCATION_KEY) is not None:
        data[LOCATION_KEY] = values[LOCATION_KEY]
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, None, key_style=_config_key) from None


def _config_key(field_or_alias: str) -> str:
    """How a StackConfig field is spelled in a stack file."""
    if field_or_alias == LOCATION_KEY or field_or_alias.startswith(f"{CONFIG_NAMESPACE}:"):
        return field_or_alias
    return f"{CONFIG_NAMESPACE}:{to_camel(field_or_alias)}"


def stack_file_config(path: Path, label: str) -> dict[str, Any]:
    """The ``config:`` mapping of a Pulumi stack file, as read (ConfigError naming ``label`` otherwise):
    the one reader of stack files, ours under stacks/ and any program's."""
    config = load_mapping(path, label).get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(label, "config", "expected a mapping of config keys")
    return config


def stack_file_values(stack: str, root: Path | None = None) -> tuple[dict[str, Any], str]:
    """The ``config:`` section of ``stacks/Pulumi.<stack>.yaml`` as read, and the file's label."""
    path = stack_path(stack, root)
    label = display_path(path, root)
    return stack_file_config(path, label), label


def stack_config(stack: str, root: Path | None = None) -> StackConfig:
    """``stacks/Pulumi.<stack>.yaml``'s validated config (no region profile read)."""
    return stack_config_from_values(*stack_file_values(stack, root))


def profile_for_stack(config: StackConfig, source: str = "stack config", root: Path | None = None) -> RegionProfile:
    """The stack's region profile with the stack's fleet overrides applied, checked against the stack.

    ``source`` names the stack file in errors about the stack's own keys.
    """
    if not profile_path(config.region, root).is_file():
        known = ", ".join(available_profiles(root)) or "none"
        raise ConfigError(
            source, f"{CONFIG_NAMESPACE}:region", f"no region profile {excerpt(config.region)} (available: {known})"
        )
    profile = load_profile(config.region, root).with_fleet(
        vehicles=config.fleet_vehicles,
        messages_per_vehicle_per_hour=config.messages_per_vehicle_per_hour,
        message_kb=config.message_kb,
    )
    if config.azure_location is not None and config.azure_location != profile.primary:
        raise ConfigError(
            source,
            LOCATION_KEY,
            f"{excerpt(config.azure_location)} is not the primary of region {excerpt(profile.name)} "
            f"(expected {profile.primary})",
        )
    return profile


def plan_for_stack(config: StackConfig, profile: RegionProfile, source: str) -> CapacityPlan:
    """The plan for a stack; a refusal names the stack key if the stack overrode that fleet number,
    else the profile's file. Staged scale units must be units of the plan."""
    try:
        plan = plan_for_profile(profile, tuple((b.name, b.vehicles) for b in config.brands))
    except ConfigError as exc:
        field = exc.key.removeprefix("fleet.")
        if field == "vehicles" and config.brands:
            raise ConfigError(source, BRANDS_KEY, exc.message) from None
        if getattr(config, field, None) is not None:
            raise ConfigError(source, f"{CONFIG_NAMESPACE}:{to_camel(field)}", exc.message) from None
        raise exc.in_file(f"regions/{profile_path(profile.name).name}") from None
    beyond = [unit for unit in config.routing_staged_units if unit > plan.scale_units]
    if beyond:
        raise ConfigError(
            source, ROUTING_STAGED_KEY, f"no scale unit {beyond[0]} (region {profile.name} plans {plan.scale_units})"
        )
    return plan


OVERRIDES_ENV = "AUTOCLOUD_CONFIG_OVERRIDES"
"""Per-run config overrides (JSON object of `namespace:key` -> value) that the program applies on top
of the stack file; rollouts use it so a rollout never rewrites the stack files in the repository."""


def run_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config a rollout sets for this run only (`OVERRIDES_ENV`), never written to the stack file;
    keys outside the autocloud namespace belong to test programs and are ignored here."""
    raw = (os.environ if environ is None else environ).get(OVERRIDES_ENV)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(OVERRIDES_ENV, "", f"not a JSON object: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(OVERRIDES_ENV, "", "not a JSON object")
    known = (*STACK_CONFIG_KEYS, LOCATION_KEY)
    ours = {k: v for k, v in data.items() if k.startswith(f"{CONFIG_NAMESPACE}:") or k == LOCATION_KEY}
    for key in ours:
        if key not in known:
            raise ConfigError("rollout override", key, f"unknown config key (allowed: {', '.join(known)})")
    return ours


@dataclass(frozen=True)
class ResolvedStack:
    """A stack as every tool sees it: validated config, its region profile with the stack's fleet
    overrides, and the capacity plan. ``source`` names the file (and any overrides) in errors."""

    name: str
    source: str
    config: StackConfig
    profile: RegionProfile
    plan: CapacityPlan


def resolve_values(
    name: str,
    values: Mapping[str, Any],
    source: str,
    overrides: Mapping[str, Any] | None = None,
    root: Path | None = None,
) -> ResolvedStack:
    """Config values (full keys, as read from a stack file or the engine) + per-run ``overrides``
    -> a resolved stack; ConfigError naming ``source`` and the key on bad input. Override keys
    outside the autocloud namespace belong to test programs and are left out."""
    ours = {k: v for k, v in (overrides or {}).items() if k.startswith(f"{CONFIG_NAMESPACE}:") or k == LOCATION_KEY}
    if ours:
        values = {**values, **ours}
        source = f"{source} (with rollout overrides {', '.join(sorted(ours))})"
    config = stack_config_from_values(values, source)
    profile = profile_for_stack(config, source, root)
    return ResolvedStack(name, source, config, profile, plan_for_stack(config, profile, source))


def resolve_stack(stack: str, root: Path | None = None, overrides: Mapping[str, Any] | None = None) -> ResolvedStack:
    """``stacks/Pulumi.<stack>.yaml`` + per-run ``overrides`` -> a resolved stack."""
    values, source = stack_file_values(stack, root)
    return resolve_values(stack, values, source, overrides, root)
