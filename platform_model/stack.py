"""A stack, resolved: stack file (or the engine's config) + per-run overrides -> validated config,
region profile, capacity plan and rule context. The one reader the program, check, report, rollout
and the tests share."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_model.errors import ConfigError
from platform_model.profiles import (
    CONFIG_NAMESPACE,
    LOCATION_KEY,
    STACK_CONFIG_KEYS,
    RegionProfile,
    StackConfig,
    profile_for_stack,
    stack_config_from_values,
    stack_file_values,
)
from platform_model.sizing import CapacityPlan, plan_for_stack

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
