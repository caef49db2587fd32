"""The cluster's processes, known by pid, start time and binary (never by name), and how they start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autocloud.runtime import node, reaper
from autocloud.runtime.cluster.settings import HOLDER, RELAY, ClusterError, Component, Layout, Ports
from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN


@dataclass(frozen=True)
class ProcRecord:
    """What a pid file records of a process this checkout started: its pid, its start time and the
    binary it runs, so a pid reused by another process (even one named like ours) is never ours."""

    pid: int
    start: int | None
    """Clock ticks after boot (field 22 of /proc/PID/stat); None in a pid file written before records."""
    exe: str

    def alive(self) -> bool:
        """The recorded process still runs: same start time, same binary, not a zombie."""
        stat = proc_stat(self.pid)
        if stat is None or stat[0] == "Z" or (self.start is not None and stat[19] != str(self.start)):
            return False
        return proc_exe(self.pid) == self.exe


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the command name before it may hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None


def expected_exe(comp: Component) -> str:
    """The binary a component's process ends up running (after nsenter or unshare exec it)."""
    if comp.python_module:
        return os.path.realpath(sys.executable)
    if comp is HOLDER:
        return node.sleep_binary()
    return str((TOOLCHAIN_BIN / comp.binary).resolve())


def read_record(lay: Layout, comp: Component) -> ProcRecord | None:
    try:
        raw = (lay.pids / f"{comp.name}.pid").read_text().strip()
    except OSError:
        return None
    try:
        if raw.isdigit():
            # A pid file from before records: its binary must still match, and no start time can.
            return ProcRecord(int(raw), None, expected_exe(comp))
        data = json.loads(raw)
        return ProcRecord(int(data["pid"]), int(data["start"]), str(data["exe"]))
    except (ValueError, KeyError, TypeError):
        return None


def write_record(lay: Layout, comp: Component, pid: int) -> ProcRecord:
    """Write the pid file of a process just started; wait (briefly) until it runs its final binary."""
    stat = proc_stat(pid)
    record = ProcRecord(pid, int(stat[19]) if stat else None, expected_exe(comp))
    (lay.pids / f"{comp.name}.pid").write_text(
        json.dumps({"pid": record.pid, "start": record.start, "exe": record.exe}) + "\n"
    )
    deadline = time.monotonic() + 2.0
    while not record.alive() and proc_stat(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return record


def read_pid(lay: Layout, comp: Component) -> int | None:
    record = read_record(lay, comp)
    return record.pid if record else None


def running(lay: Layout, comp: Component) -> int | None:
    record = read_record(lay, comp)
    return record.pid if record is not None and record.alive() else None


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def terminate(record: ProcRecord, grace: float = 10.0) -> None:
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while record.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if record.alive():
        os.kill(record.pid, signal.SIGKILL)


def binary(name: str) -> str:
    path = TOOLCHAIN_BIN / name
    if not path.is_file():
        raise ClusterError(f"{path} is missing: build the toolchain first (make toolchain)")
    return str(path)


def node_env() -> dict[str, str]:
    """containerd finds its shim on PATH; the node's daemons call ip, iptables and ipset."""
    path = os.pathsep.join(
        [str(TOOLCHAIN_BIN), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"]
    )
    return {"PATH": path, "HOME": "/root", "LANG": "C.UTF-8"}


def unix_socket_serves(path: Path) -> bool:
    """A connect, not a file test: a killed containerd leaves its socket file behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def listen(port: int) -> socket.socket:
    """A listening socket on the host's loopback (port 0: any free port) for a relay to inherit."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError:
        listener.close()
        raise
    listener.listen(128)
    return listener


def spawn(lay: Layout, comp: Component, holder: int, ports: Ports) -> int:
    log = (lay.logs / f"{comp.name}.log").open("ab")
    pass_fds: tuple[int, ...] = ()
    listener: socket.socket | None = None
    if comp is RELAY:
        try:
            listener = listen(ports.apiserver)
        except OSError:
            log.close()
            raise ClusterError(
                f"cannot start {comp.name}: port {ports.apiserver} on 127.0.0.1 is in use by another process "
                "(stop it, or set AUTOCLOUD_CLUSTER_PORT_BASE)"
            ) from None
        pass_fds = (listener.fileno(),)
        argv = [
            *node.enter(holder, mount=False),
            sys.executable,
            *comp.args(lay),
            "--listen-fd",
            str(listener.fileno()),
        ]
        env = {k: v for k, v in os.environ.items() if k != reaper.MARKER}  # outlives any engine run
    elif comp.python_module:
        argv = [*node.enter(holder), sys.executable, "-m", comp.binary, *comp.args(lay)]
        env = node_env() | {"PYTHONPATH": str(REPO_ROOT)}
    else:
        argv = [*node.enter(holder), binary(comp.binary), *comp.args(lay)]
        env = node_env()
    try:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            pass_fds=pass_fds,
        )
    finally:
        log.close()
        if listener is not None:
            listener.close()
    return write_record(lay, comp, proc.pid).pid
