"""Region profile -> rule context -> the policy-config JSON the packs read.

One config file serves all four packs: it holds an entry per policy name of every pack, each with
the region's properties and an enforcement level (`advisory` for the baseline rules a stack
relaxes). Write one by hand with

    autocloud policy-config --region eu --out .state/policy-eu.json
    pulumi preview --policy-pack policies/residency --policy-pack-config .state/policy-eu.json ...

(one `--policy-pack-config` per `--policy-pack`, the same file each time).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from platform_model.errors import excerpt
from platform_model.vocabulary import REGION_LABEL, REQUIRED_TAGS, Cloud, normalise_location
from policies.model import DeviceAccess, RuleContext, effective_enforcement
from policies.packs import ALL_RULES, RELAXABLE


class _Residency(Protocol):
    @property
    def boundary(self) -> Sequence[str]: ...
    @property
    def iot_data_residency(self) -> bool: ...


class _Services(Protocol):
    @property
    def maps(self) -> bool: ...


class _Devices(Protocol):
    @property
    def access(self) -> DeviceAccess: ...


class Profile(Protocol):
    """What the policies read from an `platform_model.profiles.RegionProfile`."""

    @property
    def name(self) -> str: ...
    @property
    def cloud(self) -> Cloud: ...
    @property
    def residency(self) -> _Residency: ...
    @property
    def services(self) -> _Services: ...
    @property
    def tags(self) -> Mapping[str, str]: ...
    @property
    def devices(self) -> _Devices: ...
    @property
    def jurisdiction(self) -> str: ...


def validate_relaxed(names: Iterable[str], source: str = "policy relax") -> frozenset[str]:
    """Only baseline rules may be relaxed; residency is never negotiable."""
    relaxed = frozenset(names)
    unknown = sorted(relaxed - RELAXABLE)
    if unknown:
        raise ValueError(
            f"{source}: {excerpt(unknown[0])} cannot be relaxed (relaxable: {', '.join(sorted(RELAXABLE))})"
        )
    return relaxed


def known_regions(root: Path | None = None) -> frozenset[str]:
    """Every region profile's name (namespaces named after them are recognised as foreign)."""
    from platform_model.profiles import available_profiles

    return frozenset(available_profiles(root))


def context_for_profile(
    profile: Profile,
    *,
    relaxed: Iterable[str] = (),
    regions: Iterable[str] | None = None,
    source: str = "policy relax",
) -> RuleContext:
    """The rule context of a region: its boundary, cloud, services and tags; ``relaxed`` comes from a
    stack's ``autocloud:policyRelax`` (parsed by ``StackConfig``), checked here against the packs."""
    return RuleContext(
        region=profile.name,
        cloud=profile.cloud,
        boundary=frozenset(normalise_location(loc) for loc in profile.residency.boundary),
        maps_allowed=profile.services.maps,
        iot_data_residency=profile.residency.iot_data_residency,
        required_tags={"region": profile.name, **profile.tags},
        required_tag_keys=frozenset(REQUIRED_TAGS),
        relaxed=validate_relaxed(relaxed, source),
        known_regions=frozenset(known_regions() if regions is None else regions) | {profile.name},
        region_label=REGION_LABEL,
        device_access=profile.devices.access,
        jurisdiction=profile.jurisdiction,
    )


def pack_config_for_context(ctx: RuleContext) -> dict[str, dict[str, Any]]:
    """Policy config for every policy of every pack: the context's properties and each policy's
    enforcement level (advisory for the relaxed ones).

    The level is spelled out for every entry because the CLI passes a pack the entries of policies
    it does not have as well, and refuses one without a level ("invalid enforcement level").
    """
    properties = ctx.to_config()
    return {rule.name: properties | {"enforcementLevel": effective_enforcement(rule, ctx)} for rule in ALL_RULES}


def pack_config_for_region(
    profile: Profile, *, relaxed: Iterable[str] = (), regions: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The `--policy-pack-config` JSON (as a dict) for a region profile."""
    return pack_config_for_context(context_for_profile(profile, relaxed=relaxed, regions=regions))


def render_pack_config(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True) + "\n"
