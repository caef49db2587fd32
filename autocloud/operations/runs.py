"""One deploying command at a time per checkout, the local runtime it needs, and a run that stops
when the cluster under it breaks.

`up`, `down` and `rollout` rewrite shared files under `.state/` (policy config, the project mirror,
the rollout record) and drive the same stacks: a second one started meanwhile is refused at once with
the first one's pid, instead of failing later on a half-written file. The lock is an `flock` on
`.state/run.lock`, so the kernel releases it when its holder exits, however it exits.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from autocloud.runtime import cluster, reaper, toolchain
from platform_model.errors import AutocloudError
from platform_model.paths import STATE_DIR

_held: list[IO[str]] = []


class RunLocked(AutocloudError):
    """Another deploying command holds this checkout's state; one line for the user."""


def lock_file(state_dir: Path | None = None) -> Path:
    return (state_dir or STATE_DIR) / "run.lock"


def hold(command: str, state_dir: Path | None = None) -> None:
    """Take this checkout's run lock for the rest of the process, or raise RunLocked naming its holder."""
    path = lock_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().split()
        handle.close()
        pid = holder[0] if holder else "?"
        what = holder[1] if len(holder) > 1 else "command"
        raise RunLocked(f"another autocloud {what} is running (pid {pid}); wait for it to finish") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {command}\n")
    handle.flush()
    _held.append(handle)


def release() -> None:
    """Give the lock back before the process ends (tests; commands keep it until they exit)."""
    while _held:
        _held.pop().close()


def ensure_local_runtime(echo: Callable[[str], None]) -> None:
    """What a run on local stacks needs before its engine starts: the toolchain built (or reused) and
    the embedded cluster started (or the KUBECONFIG one used). A destroy needs it too: the stacks
    live on that cluster, even if it was stopped since."""
    toolchain.build(echo=echo)
    cluster.start(echo=echo)


def component_watch(
    echo: Callable[[str], None], layout: cluster.Layout | None = None, uses_cluster: bool = True
) -> cluster.Watch:
    """While an engine run uses the embedded cluster: a component that dies is reported at once with
    its log, and the engine processes of this run are ended (the engine would retry for ten minutes).
    A run that does not use it (`uses_cluster=False`, e.g. Azure stacks only) is never stopped."""
    reported: list[str] = []

    def died(message: str) -> None:
        if not reported:
            reported.append(message)
            echo(f"{message}; stopping the engine")
        reaper.end_run(grace=1.0)

    return cluster.watch(died, layout, idle=not uses_cluster)
