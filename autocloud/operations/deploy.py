"""Deploy and destroy stacks through the Automation API, always with the policy packs.

`autocloud up` / `down` and rollouts call these; each stack gets its region's pack config written
under `.state/policy-config/`, so the packs enforce exactly the boundary of that stack's profile.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pulumi import automation as auto
from rich.table import Table
from rich.text import Text

from autocloud.runtime import engine
from autocloud.runtime.toolchain import PULUMI_HOME
from platform_model.errors import ConfigError, InputError, excerpt
from platform_model.files import write_atomically
from platform_model.paths import POLICIES_DIR, REPO_ROOT, STACKS_DIR, STATE_DIR, TOOLCHAIN_BIN
from platform_model.stack import ResolvedStack, resolve_stack, stack_config, stack_names
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


def clear_pending(handle: auto.Stack, stack: str, echo: Callable[[str], None] = print) -> int:
    """Clear the pending operations a killed run left in the checkpoint; returns how many there were.

    The engine keeps pending creates through every later update and destroy; a refresh clears the
    other kinds, and creates only when told to (`clear_pending_creates`, the non-interactive form of
    what Pulumi's "Interrupted updates" troubleshooting page describes). On the local target that is
    safe: the up that follows adopts what did reach the cluster (explicit names, server-side apply)
    and a destroy removes the namespaces holding it. On other targets a dropped create could orphan
    a cloud resource, so the operations are named and left for a person to check."""
    pending = (handle.export_stack().deployment or {}).get("pending_operations") or []
    if not pending:
        return 0
    kinds = ", ".join(sorted({str(op.get("type", "?")) for op in pending}))
    if resolve_stack(stack).config.target != "local":
        echo(
            f"{stack}: {len(pending)} operations ({kinds}) of an interrupted run are pending; check them "
            f"and run `pulumi refresh --stack {stack}` (Pulumi docs: Interrupted updates)"
        )
        return len(pending)
    handle.refresh(clear_pending_creates=True)
    echo(f"{stack}: cleared {len(pending)} pending operations ({kinds}) left by an interrupted run")
    return len(pending)


def clear_stale_lock(stack: str, state_dir: Path = STATE_DIR, echo: Callable[[str], None] = print) -> bool:
    """Remove this host's lock on a stack when the process holding it is gone (an interrupted up)."""
    locks = engine.backend_dir(state_dir) / ".pulumi" / "locks"
    removed = False
    for lock in locks.glob(f"**/{stack}/*.json"):
        try:
            info = json.loads(lock.read_text())
        except (OSError, ValueError):
            continue
        pid, host = info.get("pid"), info.get("hostname")
        if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            lock.unlink(missing_ok=True)
            echo(f"{stack}: removed the lock left by interrupted process {pid}")
            removed = True
    if removed:
        _repair_checkpoint_files(stack, state_dir, echo)
    return removed


def _repair_checkpoint_files(stack: str, state_dir: Path, echo: Callable[[str], None]) -> None:
    """A kill while the file backend rewrites a checkpoint can leave its `.attrs` sidecar empty (every
    later load then fails with "failed to load checkpoint: EOF"; without the sidecar the checkpoint
    loads and the sidecar is rewritten) and half-written `.tmp` copies (the checkpoint itself is
    replaced by rename, so it is whole)."""
    stacks = engine.backend_dir(state_dir) / ".pulumi" / "stacks"
    for leftover in [*stacks.glob(f"**/{stack}.json*.attrs"), *stacks.glob(f"**/{stack}.json*.tmp")]:
        if leftover.suffix == ".tmp" or leftover.stat().st_size == 0:
            leftover.unlink(missing_ok=True)
            echo(f"{stack}: removed {leftover.name} left by the interrupted run")


def _alive(pid: int) -> bool:
    """Running, not a zombie: a killed run's CLI stays a zombie until whoever inherited it reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


Operation = Literal["preview", "up", "destroy"]


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
) -> StackResult:
    """The one deploy seam: preview a stack with the policy packs and, with ``apply`` and only if
    that preview passed, update it (``on_previewed`` hears the passed preview first). Every failure,
    bad input included, comes back as a result, never a raise.

    The preview is the one gate, and nothing else previews: the Automation API's ``Stack.up`` runs
    ``pulumi up --yes --skip-preview`` (pulumi/automation/_stack.py). The packs do run in that update
    too, but there the engine checks each resource just before its step and halts at the first
    violation (pulumi-policy's README), so earlier steps are already applied, and stack-level rules
    (cross-resource references) only report once everything is. The preview refuses both first."""
    started = time.monotonic()
    operation: Operation = "preview"
    region = "-"

    def failed(message: str) -> StackResult:
        return StackResult(stack, region, False, operation, message=message, seconds=time.monotonic() - started)

    try:
        resolved = resolve_stack(stack, overrides=overrides)
        region = resolved.config.region
        packs, configs = _pack_args(resolved, state_dir)
        clear_stale_lock(stack, state_dir, echo)
        handle = engine.select_stack(
            stack, work_dir=work_dir, state_dir=state_dir, overrides=overrides, backend_url=backend_url
        )
        if apply:
            clear_pending(handle, stack, echo)
        preview = handle.preview(policy_packs=packs, policy_pack_configs=configs, on_output=on_output)
        previewed = StackResult(
            stack,
            region,
            True,
            operation,
            {str(k): v for k, v in preview.change_summary.items() if v},
            seconds=time.monotonic() - started,
        )
        if not apply:
            return previewed
        if on_previewed is not None:
            on_previewed(previewed)
        operation = "up"
        result = handle.up(policy_packs=packs, policy_pack_configs=configs, on_output=on_output)
    except InputError as exc:
        return failed(str(exc))
    except auto.errors.CommandError as exc:
        return failed(_short_error(exc))
    outputs = {k: ("[secret]" if v.secret else v.value) for k, v in result.outputs.items()}
    return StackResult(
        stack,
        region,
        result.summary.result == "succeeded",
        operation,
        _changes(result.summary.resource_changes),
        outputs,
        seconds=time.monotonic() - started,
    )


def destroy_stack(
    stack: str, echo: Callable[[str], None] = print, state_dir: Path = STATE_DIR, work_dir: Path = REPO_ROOT
) -> StackResult:
    started = time.monotonic()
    region = _region(stack)
    try:
        clear_stale_lock(stack, state_dir, echo)
        handle = engine.select_stack(stack, work_dir=work_dir, state_dir=state_dir)
        clear_pending(handle, stack, echo)
        result = handle.destroy()
    except auto.errors.CommandError as exc:
        return StackResult(
            stack, region, False, "destroy", message=_short_error(exc), seconds=time.monotonic() - started
        )
    return StackResult(
        stack,
        region,
        result.summary.result == "succeeded",
        "destroy",
        _changes(result.summary.resource_changes),
        seconds=time.monotonic() - started,
    )


def _region(stack: str) -> str:
    """The stack's region profile, or "-" when its file no longer resolves (a destroy still runs)."""
    try:
        return resolve_stack(stack).config.region
    except InputError:
        return "-"


def _changes(summary: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (summary or {}).items()}


_MISSING_PLUGIN = re.compile(
    r"no resource plugin '(?:pulumi-resource-)?(?P<name>[\w-]+)' found.*?version v?(?P<version>\d[\w.+-]*)",
    re.IGNORECASE,
)


def missing_plugin(text: str) -> str | None:
    """One line for the engine's "no resource plugin ... found" error: which plugin, which version, and
    the command that installs it where the toolkit's engine looks (its own PULUMI_HOME; ambient plugins
    and automatic downloads are off, see autocloud.runtime.engine)."""
    found = _MISSING_PLUGIN.search(text)
    if found is None:
        return None
    name, version = found["name"], found["version"]
    return (
        f"the Pulumi resource plugin {name} v{version} is not installed; install it with "
        f"`PULUMI_HOME={PULUMI_HOME} {TOOLCHAIN_BIN / 'pulumi'} plugin install resource {name} "
        f"{version}` (README: Deploy to Azure)"
    )


_MULTI_ERROR = re.compile(r"\d+ errors? occurred:?\s*$")
"""How the engine introduces several causes, each on its own following line as ``* ...``."""


def _short_error(exc: auto.errors.CommandError) -> str:
    """The engine's own diagnosis: the policy violations and error lines (with the causes it lists
    under "N errors occurred:"), not the whole log; a missing plugin as one line naming it, its
    version and the install command."""
    plugin = missing_plugin(str(exc))
    if plugin is not None:
        return plugin
    lines = [line.strip() for line in str(exc).splitlines()]
    mandatory = [line for line in lines if "[mandatory]" in line]
    errors: list[str] = []
    causes = False
    for line in lines:
        if causes and line.startswith("*"):
            errors.append(line)  # the causes the engine lists under "N errors occurred:"
            continue
        causes = _MULTI_ERROR.search(line) is not None
        if "error:" in line or "violat" in line.lower():
            errors.append(line)
    keep = list(dict.fromkeys(mandatory + errors))
    lines = [line for line in lines if line]
    return " | ".join(keep)[:2000] or (lines[-1][:500] if lines else "failed")


def down_local(regions: Iterable[str] | None = None, echo: Callable[[str], None] = print) -> list[StackResult]:
    results = []
    for stack in reversed(local_stacks(regions)):
        echo(f"{stack}: pulumi destroy ...")
        results.append(destroy_stack(stack, echo=echo))
    return results


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested stack outputs as dotted keys (`endpoints.telemetry[0].mqtt`), for printing."""
    if isinstance(value, dict):
        items: dict[str, str] = {}
        for key, inner in value.items():
            items |= flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return items
    if isinstance(value, list):
        items = {}
        for index, inner in enumerate(value):
            items |= flatten(inner, f"{prefix}[{index}]")
        return items
    return {} if value is None else {prefix: str(value)}


def results_table(results: list[StackResult]) -> Table:
    """One row per stack; cells are plain Text, so an engine message holding ``[...]`` prints as is."""
    table = Table(title="autocloud stacks")
    for column in ("stack", "region", "operation", "result", "changes", "seconds"):
        table.add_column(column)
    for r in results:
        changes = ", ".join(f"{k} {v}" for k, v in sorted(r.changes.items())) or "-"
        table.add_row(
            *map(Text, (r.stack, r.region, r.operation, "ok" if r.ok else "FAILED", changes, f"{r.seconds:.1f}"))
        )
    return table


def outputs_table(results: list[StackResult]) -> Table:
    """What each stack made: namespace, location and every endpoint, one row each."""
    table = Table(title="what was made")
    for column in ("stack", "output", "value"):
        table.add_column(column, overflow="fold")
    for r in results:
        if not r.ok:
            table.add_row(Text(r.stack), Text("error"), Text(r.message or "-"))
            continue
        for key, value in sorted(flatten(r.outputs).items()):
            table.add_row(Text(r.stack), Text(key), Text(value))
    return table
