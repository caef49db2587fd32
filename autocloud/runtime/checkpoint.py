"""What an interrupted engine run leaves in a stack's checkpoint, and how it is repaired before the
next run: pending operations, an empty sidecar, half-written copies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pulumi import automation as auto

from autocloud.runtime import engine
from platform_model.paths import STATE_DIR
from platform_model.stack import resolve_stack


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


def repair_files(stack: str, state_dir: Path = STATE_DIR, echo: Callable[[str], None] = print) -> None:
    """A kill while the file backend rewrites a checkpoint can leave its `.attrs` sidecar empty (every
    later load then fails with "failed to load checkpoint: EOF"; without the sidecar the checkpoint
    loads and the sidecar is rewritten) and half-written `.tmp` copies (the checkpoint itself is
    replaced by rename, so it is whole)."""
    stacks = engine.backend_dir(state_dir) / ".pulumi" / "stacks"
    for leftover in [*stacks.glob(f"**/{stack}.json*.attrs"), *stacks.glob(f"**/{stack}.json*.tmp")]:
        if leftover.suffix == ".tmp" or leftover.stat().st_size == 0:
            leftover.unlink(missing_ok=True)
            echo(f"{stack}: removed {leftover.name} left by the interrupted run")
