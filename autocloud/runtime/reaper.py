"""Engine processes end with the run that started them, even when that run is SIGKILLed.

The Pulumi CLI starts its plugins (language host, resource and policy plugins) in process groups of
their own, so killing a run's process group leaves them behind. Every engine process a run starts
carries a marker in its environment (the CLI passes its environment on to every plugin and program).
A watchdog in a session of its own holds the read end of a pipe whose write end only the run holds:
when the run ends, however it ends, the kernel closes that end and the watchdog ends every process
still carrying the marker. Run as ``python -m autocloud.runtime.reaper MARKER`` it is that watchdog.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

MARKER = "AUTOCLOUD_RUN"
"""Environment variable naming the run an engine process belongs to."""

_lock = threading.Lock()
_state: dict[str, object] = {}


def run_marker() -> str:
    """This process's run id; the first call starts its watchdog. A process that already carries a
    marker (a program or plugin of a guarded run) belongs to that run and starts none."""
    inherited = os.environ.get(MARKER)
    if inherited:
        return inherited
    with _lock:
        marker = _state.get("marker")
        if isinstance(marker, str) and _state.get("pid") == os.getpid():
            return marker
        marker = f"{os.getpid()}-{secrets.token_hex(8)}"
        read, write = os.pipe()  # not inheritable: only this process holds the write end
        try:
            subprocess.Popen(
                [sys.executable, "-m", "autocloud.runtime.reaper", marker], stdin=read, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                env={k: v for k, v in os.environ.items() if k != MARKER},
            )  # fmt: skip
        finally:
            os.close(read)
        _state.update(marker=marker, pid=os.getpid(), pipe=write)
        return marker


def _carries(pid: int, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Running and not a zombie (a killed child of ours stays a zombie until its parent waits)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return found


def marked(marker: str) -> list[int]:
    """Live processes carrying `marker`, this process and its ancestors excepted."""
    entry = f"{MARKER}={marker}".encode()
    spared = _ancestors()
    return sorted(
        int(p.name) for p in Path("/proc").iterdir()
        if p.name.isdigit() and int(p.name) not in spared and _carries(int(p.name), entry) and _alive(int(p.name))
    )  # fmt: skip


def end(marker: str, grace: float = 3.0) -> list[int]:
    """SIGTERM every process of the run, SIGKILL what is left after `grace` seconds; returns their pids."""
    pids = marked(marker)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in marked(marker):
        _signal(pid, signal.SIGKILL)
    return pids


def end_run(grace: float = 3.0) -> list[int]:
    """End the engine processes this process's run started (when what they work on has broken)."""
    return end(run_marker(), grace)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def main(argv: list[str]) -> int:
    """Started only by `run_marker` as the watchdog, never by a person: one argument, not the Typer CLI."""
    if len(argv) != 1:
        print("usage: python -m autocloud.runtime.reaper MARKER", file=sys.stderr)
        return 2
    while sys.stdin.buffer.read(4096):
        pass
    end(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
