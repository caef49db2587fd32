"""Deploy and destroy stacks through the Automation API, always with the policy packs.

`autocloud up` / `down` and rollouts call these; each stack gets its region's pack config written
under `.state/policy-config/`, so the packs enforce exactly the boundary of that stack's profile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from autocloud.operations.routing import grant_wait_left, staged_units, state_resources, wait_for_grants
from autocloud.runtime import checkpoint, engine, engine_errors, fleet_pki, state_lock
from platform_model.errors import ConfigError, InputError, excerpt
from platform_model.files import write_atomically
from platform_model.paths import POLICIES_DIR, REPO_ROOT, STACKS_DIR, STATE_DIR
from platform_model.stack import ROUTING_STAGED_KEY, ResolvedStack, resolve_stack, stack_config, stack_names
from policies.config import pack_config_for_region
from policies.packs import PACK_RULES

PACKS: tuple[str, ...] = tuple(PACK_RULES)

ConfigValue = str | int | float | bool
"""A per-run config override's value (a rollout entry's `config`)."""


class DeployError(InputError):
    """Bad input before anything ran (unknown stack, bad config); one line for the user."""


@dataclass(frozen=True)
class StackResult:
    stack: str
    region: str
    ok: bool
    operation: str
    changes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0


def local_stacks(regions: Iterable[str] | None = None, stacks_dir: Path = STACKS_DIR) -> list[str]:
    """The stacks whose config targets the local cluster, optionally only those of some regions
    (`eu` selects the local stacks of region eu)."""
    local: dict[str, str] = {}
    for name in stack_names(stacks_dir):
        config = stack_config(name, stacks_dir.parent)
        if config.is_local:
            local[name] = config.region
    if not regions:
        return list(local)
    wanted: list[str] = []
    for region in regions:
        found = [name for name, of in local.items() if of == region]
        if not found:
            available = ", ".join(sorted(set(local.values()))) or "none"
            raise DeployError(
                f"--region: no local stack of region {excerpt(region)} in stacks/ "
                f"(regions with local stacks: {available})"
            )
        wanted += found
    return wanted


def policy_args(stack: str, state_dir: Path = STATE_DIR) -> tuple[list[str], list[str]]:
    """Policy pack folders and, for each, a config file holding the stack's region boundary."""
    try:
        resolved = resolve_stack(stack)
    except (ConfigError, ValueError) as exc:
        raise DeployError(str(exc)) from exc
    return _pack_args(resolved, state_dir)


def _pack_args(resolved: ResolvedStack, state_dir: Path) -> tuple[list[str], list[str]]:
    try:
        everything = pack_config_for_region(resolved.profile, relaxed=resolved.config.policy_relax)
    except ValueError as exc:
        raise DeployError(str(exc)) from exc
    packs, configs = [], []
    for pack, rules in PACK_RULES.items():
        config = {rule.name: everything[rule.name] for rule in rules}
        path = state_dir / "policy-config" / f"{resolved.name}-{pack}.json"
        write_atomically(path, json.dumps(config, indent=2, sort_keys=True) + "\n")
        packs.append(str(POLICIES_DIR / pack))
        configs.append(str(path))
    return packs, configs


def check_stack(stack: str, overrides: Mapping[str, Any] | None = None) -> None:
    """Refuse now what `deploy_stack` would refuse later, so nothing starts on bad input: the stack file,
    its region profile with a rollout's `overrides`, the capacity plan and the packs' config."""
    resolved = resolve_stack(stack, overrides=overrides)
    try:
        pack_config_for_region(resolved.profile, relaxed=resolved.config.policy_relax)
    except ValueError as exc:
        raise DeployError(str(exc)) from None


def deploy_stack(
    stack: str,
    overrides: Mapping[str, ConfigValue] | None = None,
    *,
    apply: bool,
    on_previewed: Callable[[StackResult], None] | None = None,
    echo: Callable[[str], None] = print,
    state_dir: Path = STATE_DIR,
    work_dir: Path = REPO_ROOT,
    on_output: Callable[[str], None] | None = None,
    backend_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StackResult:
    """The one deploy seam: preview a stack with the policy packs and, with ``apply`` and only if
    that preview passed, update it (``on_previewed`` hears the passed preview first). Every failure,
    bad input included, comes back as a result, never a raise.

    The preview is the one gate, and nothing else previews: the Automation API's ``Stack.up`` runs
    ``pulumi up --yes --skip-preview`` (pulumi/automation/_stack.py). The packs do run in that update
    too, but there the engine checks each resource just before its step and halts at the first
    violation (pulumi-policy's README), so earlier steps are already applied, and stack-level rules
    (cross-resource references) only report once everything is. The preview refuses both first.

    An Azure stack with IoT Hubs not deployed yet is applied twice, each apply behind its own preview:
    those hubs staged, a wait for their grants, then live (``autocloud.operations.routing``). A stack
    whose own config sets ``autocloud:routingStagedUnits`` is applied once, as it says."""
    started = time.monotonic()
    operation = "preview"
    region = "-"
    changes: dict[str, int] = {}

    def failed(message: str) -> StackResult:
        return StackResult(
            stack, region, False, operation, changes, message=message, seconds=time.monotonic() - started
        )

    def select(extra: Mapping[str, ConfigValue]) -> auto.Stack:
        return engine.select_stack(
            stack,
            work_dir=work_dir,
            state_dir=state_dir,
            overrides={**machine, **(overrides or {}), **extra},
            backend_url=backend_url,
        )

    def preview_then_up(handle: auto.Stack, phase: str) -> auto.UpResult:
        nonlocal operation
        operation = f"preview{phase}"
        preview = handle.preview(policy_packs=packs, policy_pack_configs=configs, on_output=on_output)
        if on_previewed is not None:
            on_previewed(_previewed(stack, region, preview, started))
        operation = f"up{phase}"
        return handle.up(policy_packs=packs, policy_pack_configs=configs, on_output=on_output)

    try:
        # The project being deployed holds the stack file: the repository's, or a copy elsewhere (tests).
        resolved = resolve_stack(stack, root=work_dir, overrides=overrides)
        region = resolved.config.region
        packs, configs = _pack_args(resolved, state_dir)
        machine: dict[str, ConfigValue] = dict(fleet_pki.local_run_config(resolved, fleet_dir=state_dir / "fleet"))
        state_lock.clear_stale_lock(stack, state_dir, echo)
        handle = select({})
        if not apply:
            preview = handle.preview(policy_packs=packs, policy_pack_configs=configs, on_output=on_output)
            return _previewed(stack, region, preview, started)
        checkpoint.clear_pending(handle, stack, echo)
        recorded = state_resources(handle)
        staged = () if resolved.config.routing_staged_units else staged_units(resolved, recorded)
        if staged:
            echo(f"{stack}: IoT Hubs of scale units {', '.join(map(str, staged))} are new: applying them staged first")
            first = preview_then_up(select({ROUTING_STAGED_KEY: json.dumps(list(staged))}), " (staged)")
            changes = _changes(first.summary.resource_changes)
            if first.summary.result != "succeeded":
                return failed(f"staged apply ended {first.summary.result}")
            wait_for_grants(stack, resolved.config.role_propagation_seconds, echo, sleep)
        elif not resolved.config.routing_staged_units:
            left = grant_wait_left(resolved, recorded, datetime.now(UTC))
            if left:
                wait_for_grants(stack, left, echo, sleep)
        result = preview_then_up(handle, "")
    except InputError as exc:
        return failed(str(exc))
    except auto.errors.CommandError as exc:
        return failed(engine_errors.short_error(exc))
    outputs = {k: ("[secret]" if v.secret else v.value) for k, v in result.outputs.items()}
    return StackResult(
        stack,
        region,
        result.summary.result == "succeeded",
        operation,
        _sum(changes, _changes(result.summary.resource_changes)),
        outputs,
        seconds=time.monotonic() - started,
    )


def _previewed(stack: str, region: str, preview: Any, started: float) -> StackResult:
    """A passed preview as a result: the changes it proposes."""
    changes = {str(k): v for k, v in preview.change_summary.items() if v}
    return StackResult(stack, region, True, "preview", changes, seconds=time.monotonic() - started)


def _sum(first: Mapping[str, int], second: Mapping[str, int]) -> dict[str, int]:
    """Two applies' resource changes as one summary."""
    return {key: first.get(key, 0) + second.get(key, 0) for key in (*first, *(k for k in second if k not in first))}


def destroy_stack(
    stack: str, echo: Callable[[str], None] = print, state_dir: Path = STATE_DIR, work_dir: Path = REPO_ROOT
) -> StackResult:
    started = time.monotonic()
    region = _region(stack, work_dir)
    try:
        state_lock.clear_stale_lock(stack, state_dir, echo)
        handle = engine.select_stack(stack, work_dir=work_dir, state_dir=state_dir)
        checkpoint.clear_pending(handle, stack, echo)
        result = handle.destroy()
    except auto.errors.CommandError as exc:
        return StackResult(
            stack, region, False, "destroy", message=engine_errors.short_error(exc), seconds=time.monotonic() - started
        )
    return StackResult(
        stack,
        region,
        result.summary.result == "succeeded",
        "destroy",
        _changes(result.summary.resource_changes),
        seconds=time.monotonic() - started,
    )


def _region(stack: str, work_dir: Path) -> str:
    """The stack's region profile, or "-" when its file no longer resolves (a destroy still runs)."""
    try:
        return resolve_stack(stack, root=work_dir).config.region
    except InputError:
        return "-"


def _changes(summary: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (summary or {}).items()}


def down_local(regions: Iterable[str] | None = None, echo: Callable[[str], None] = print) -> list[StackResult]:
    """Destroy the local stacks side by side (results in stack order): they share nothing, each region
    with its own namespace and its own state, and a destroy mostly waits on the cluster."""
    stacks = local_stacks(regions)
    for stack in stacks:
        echo(f"{stack}: pulumi destroy ...")
    with ThreadPoolExecutor(max_workers=max(len(stacks), 1), thread_name_prefix="destroy") as pool:
        return list(pool.map(lambda stack: destroy_stack(stack, echo=echo), stacks))
