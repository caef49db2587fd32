"""The file backend's per-stack lock: one an interrupted run of this host left behind is removed
(and the checkpoint it was writing repaired), so the next run does not wait on a dead holder."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

from autocloud.runtime import checkpoint, engine
from platform_model.paths import STATE_DIR


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
        checkpoint.repair_files(stack, state_dir, echo)
    return removed


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
