"""What a first ``pulumi up`` of an azure stack needs before it runs: providers, the deployer's roles,
quotas, region access.

None of these is a resource the program can create, and each one failing costs a half-applied stack:
pulumi-azure-native registers no resource provider, a deployer without role-assignment rights stops at
the first grant, a missing vCPU quota stops the cluster, a subscription without availability-zone access
in a constrained region stops the Cosmos DB account. The facts are data with their sources
(``catalog/prerequisites.yaml``; region facts in ``catalog/regions.yaml``), read on first use; this
module works out which apply to one region profile and its capacity plan. Pure: no Azure call is made,
so the numbers are what the stack *needs*, to compare with what ``az`` reports the subscription *has*.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platform_model.errors import ConfigError
from platform_model.inputs import load_yaml
from platform_model.locations import Service, catalog, find_location
from platform_model.profiles import RegionProfile
from platform_model.sizing import IOTHUB_TIERS, CapacityPlan
from platform_model.vocabulary import Cloud

PREREQUISITES_PATH = Path(__file__).resolve().parent / "catalog" / "prerequisites.yaml"

Needs = Literal["azure", Service]
"""What a provider namespace is needed for: every azure stack, or a profile service."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _Namespace(_Strict):
    namespace: str = Field(pattern=r"^Microsoft\.[A-Za-z]+$")
    needed_by: tuple[Needs, ...] = Field(alias="for", min_length=1)
    why: str = Field(min_length=1)


class _Providers(_Strict):
    not_registered_by: str = Field(min_length=1)
    source: str = Field(min_length=1)
    register_source: str = Field(min_length=1)
    namespaces: tuple[_Namespace, ...]


class _Roles(_Strict):
    roles: tuple[str, ...] = Field(min_length=1)
    scope: Literal["subscription"]
    source: str = Field(min_length=1)


class _Deployer(_Strict):
    create: _Roles
    role_assignments: _Roles


class _VmSize(_Strict):
    vcpus: int = Field(gt=0)
    family: str = Field(min_length=1)
    quota: str = Field(min_length=1)
    source: str = Field(min_length=1)


class _Vcpu(_Strict):
    source: str = Field(min_length=1)
    check: str = Field(min_length=1)
    total: str = Field(min_length=1)
    surge_percent: int = Field(ge=0, le=100)
    surge_source: str = Field(min_length=1)
    vm_sizes: dict[str, _VmSize]


class _IotHub(_Strict):
    paid_hubs_per_subscription: int = Field(gt=0)
    source: str = Field(min_length=1)


class _Quotas(_Strict):
    vcpu: _Vcpu
    iothub: _IotHub


class Prerequisites(_Strict):
    """The validated ``catalog/prerequisites.yaml``."""

    az_clouds: dict[Cloud, str]
    az_clouds_source: str = Field(min_length=1)
    providers: _Providers
    deployer: _Deployer
    quotas: _Quotas


def load_prerequisites(path: Path = PREREQUISITES_PATH) -> Prerequisites:
    """Read and validate a prerequisites file; ConfigError names the file and the key."""
    label = path.name
    raw = load_yaml(path, label)
    try:
        return Prerequisites.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first.get("loc", ()))
        raise ConfigError(label, key, str(first.get("msg"))) from None


@cache
def prerequisites() -> Prerequisites:
    """The shipped prerequisites, loaded on first use (importing the floor reads no file)."""
    return load_prerequisites()


@dataclass(frozen=True)
class ProviderNeed:
    namespace: str
    why: str
    command: str
    """The ``az`` line that registers it (idempotent)."""


@dataclass(frozen=True)
class RoleNeed:
    purpose: str
    any_of: tuple[str, ...]
    scope: str
    source: str


@dataclass(frozen=True)
class QuotaNeed:
    quota: str
    """The quota's name as Azure reports it (``az vm list-usage``) or the limit's name."""
    location: str
    """Where it counts; ``subscription`` for a subscription-wide limit."""
    needed: int
    limit: int | None
    """A published fixed limit the need is checked against; None where the subscription's own quota decides."""
    basis: str
    check: str
    source: str


@dataclass(frozen=True)
class RegionAccessNote:
    location: str
    note: str
    check: str
    source: str


@dataclass(frozen=True)
class FirstApply:
    """Everything a stack's first apply needs from the subscription and the deployer."""

    region: str
    cloud: str
    az_cloud: str
    """The Azure CLI cloud to select (``az cloud set --name``) before the checks and registrations."""
    providers: tuple[ProviderNeed, ...]
    providers_source: str
    providers_not_registered_by: str
    roles: tuple[RoleNeed, ...]
    quotas: tuple[QuotaNeed, ...]
    region_access: tuple[RegionAccessNote, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def providers_for(profile: RegionProfile, facts: Prerequisites | None = None) -> tuple[ProviderNeed, ...]:
    """The namespaces the profile's services need, each with its ``az provider register`` line."""
    facts = facts or prerequisites()
    enabled = set(profile.services.enabled())
    return tuple(
        ProviderNeed(ns.namespace, ns.why, f"az provider register --namespace {ns.namespace}")
        for ns in facts.providers.namespaces
        if "azure" in ns.needed_by or enabled & set(ns.needed_by)
    )


def roles_for(facts: Prerequisites | None = None) -> tuple[RoleNeed, ...]:
    facts = facts or prerequisites()
    create, assign = facts.deployer.create, facts.deployer.role_assignments
    return (
        RoleNeed("create the stack's resources and register providers", create.roles, create.scope, create.source),
        RoleNeed("create the stack's role assignments", assign.roles, assign.scope, assign.source),
    )


def _surge(nodes: int, percent: int) -> int:
    """Max surge nodes of a pool at ``percent`` of its size, fractional nodes rounded up."""
    return math.ceil(nodes * percent / 100) if nodes else 0


def vcpu_quotas(
    profile: RegionProfile, plan: CapacityPlan, facts: Prerequisites | None = None
) -> tuple[QuotaNeed, ...]:
    """The cluster's vCPUs at full scale, upgrade surge included, per family and in total, in the primary."""
    if not profile.services.aks:
        return ()
    facts = facts or prerequisites()
    vcpu = facts.quotas.vcpu
    aks = plan.aks
    size = vcpu.vm_sizes.get(aks.vm_size)
    if size is None:
        known = ", ".join(sorted(vcpu.vm_sizes)) or "none"
        raise ConfigError(
            PREREQUISITES_PATH.name,
            "quotas.vcpu.vm_sizes",
            f"no entry for the AKS node size {aks.vm_size!r} of platform_model/sizing.py (known: {known})",
        )
    pools = ((aks.system_nodes, "system"), (aks.user_max_nodes, "user at max"))
    nodes = sum(count for count, _ in pools)
    surge = sum(_surge(count, vcpu.surge_percent) for count, _ in pools)
    needed = (nodes + surge) * size.vcpus
    basis = (
        f"{aks.system_nodes} system + {aks.user_max_nodes} user nodes + {surge} upgrade surge "
        f"({vcpu.surge_percent}% per pool, rounded up) x {size.vcpus} vCPU ({aks.vm_size})"
    )
    check = vcpu.check.format(location=profile.primary)
    return (
        QuotaNeed(size.quota, profile.primary, needed, None, basis, check, f"{vcpu.source}; {size.source}"),
        QuotaNeed(vcpu.total, profile.primary, needed, None, basis, check, f"{vcpu.source}; {vcpu.surge_source}"),
    )


def iothub_quotas(
    profile: RegionProfile, plan: CapacityPlan, facts: Prerequisites | None = None
) -> tuple[QuotaNeed, ...]:
    """Hubs against the paid hubs a subscription may hold, and units per hub against the tier's maximum."""
    if not profile.services.iothub:
        return ()
    facts = facts or prerequisites()
    limits = facts.quotas.iothub
    tier = plan.iothub.tier
    hubs = plan.hubs
    return (
        QuotaNeed(
            "paid IoT hubs",
            "subscription",
            hubs,
            limits.paid_hubs_per_subscription,
            f"{hubs} scale units, one hub each; every stack in the subscription counts",
            "az iot hub list --query 'length(@)'",
            limits.source,
        ),
        QuotaNeed(
            f"IoT Hub {tier} units per hub",
            profile.primary,
            plan.iothub.units,
            IOTHUB_TIERS[tier].max_units,
            f"{hubs} hubs x {plan.iothub.units} {tier} units = {hubs * plan.iothub.units} {tier} units in all",
            "az iot hub show --name <hub> --query sku",
            limits.source,
        ),
    )


def region_access_for(profile: RegionProfile) -> tuple[RegionAccessNote, ...]:
    """Zone-redundant Cosmos DB locations whose availability-zone access the subscription must hold."""
    if not (profile.services.cosmosdb and profile.resilience.zone_redundant):
        return ()
    notes: list[RegionAccessNote] = []
    for location in profile.replica_locations:
        found = find_location(location)
        if found is None or not found.zones:
            continue
        known = (
            "Azure has refused zone-redundant accounts here to subscriptions without region access"
            if found.cosmosdb_zone_access
            else "zone-redundant accounts need the subscription's availability-zone access here"
        )
        notes.append(
            RegionAccessNote(
                location,
                f"Cosmos DB zone redundancy: {known}; if the check prints false, open a support request "
                "for region access (https://aka.ms/cosmosdbquota) before the first apply",
                f"az cosmosdb locations show --location {location} "
                "--query properties.isSubscriptionRegionAccessAllowedForAz",
                catalog().cosmosdb_zone_access_source,
            )
        )
    return tuple(notes)


def first_apply(profile: RegionProfile, plan: CapacityPlan) -> FirstApply:
    """What an azure stack of ``profile`` sized by ``plan`` needs before its first apply."""
    facts = prerequisites()
    return FirstApply(
        region=profile.name,
        cloud=profile.cloud,
        az_cloud=facts.az_clouds[profile.cloud],
        providers=providers_for(profile, facts),
        providers_source=facts.providers.source,
        providers_not_registered_by=facts.providers.not_registered_by,
        roles=roles_for(facts),
        quotas=vcpu_quotas(profile, plan, facts) + iothub_quotas(profile, plan, facts),
        region_access=region_access_for(profile),
    )
