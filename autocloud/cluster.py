"""The embedded local Kubernetes cluster: a real control plane with KWOK standing in for kubelets.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok run as plain processes on
loopback, with certificates, data, logs, pid files and the kubeconfig under `.state/cluster/`.
No container runtime is needed; KWOK marks the fake node and its pods Ready, which is all the
Pulumi Kubernetes provider waits for. A user who exports KUBECONFIG gets that cluster instead.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocloud.paths import STATE_DIR, TOOLCHAIN_BIN

NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/24"
START_TIMEOUT_SECONDS = 90.0


class ClusterError(Exception):
    """A lifecycle step failed; the message is one line for the user."""


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    kwok: int

    @classmethod
    def from_env(cls) -> Ports:
        """Ports sit above AUTOCLOUD_CLUSTER_PORT_BASE (default 36000) so two checkouts can coexist."""
        raw = os.environ.get("AUTOCLOUD_CLUSTER_PORT_BASE", "36000")
        try:
            base = int(raw)
        except ValueError as exc:
            raise ClusterError(f"AUTOCLOUD_CLUSTER_PORT_BASE: {raw!r} is not a port number") from exc
        if not 1024 <= base <= 65000:
            raise ClusterError(f"AUTOCLOUD_CLUSTER_PORT_BASE: {base} must be between 1024 and 65000")
        return cls(etcd_client=base + 379, etcd_peer=base + 380, apiserver=base + 443, kwok=base + 247)


@dataclass(frozen=True)
class Layout:
    """Every path the embedded cluster writes, all under one folder."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def token_file(self) -> Path:
        return self.pki / "tokens.csv"


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    args: Callable[[Layout, Ports], list[str]]


def _etcd_args(lay: Layout, p: Ports) -> list[str]:
    peer = f"http://127.0.0.1:{p.etcd_peer}"
    client = f"http://127.0.0.1:{p.etcd_client}"
    return [
        "--name=autocloud", f"--data-dir={lay.etcd_data}",
        f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=autocloud={peer}", "--log-level=warn",
    ]


def _apiserver_args(lay: Layout, p: Ports) -> list[str]:
    pki = lay.pki
    return [
        f"--etcd-servers=http://127.0.0.1:{p.etcd_client}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={p.apiserver}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}", f"--token-auth-file={lay.token_file}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--enable-priority-and-fairness=false", "--profiling=false", "--endpoint-reconciler-type=none",
    ]


def _controller_manager_args(lay: Layout, p: Ports) -> list[str]:
    return [
        f"--kubeconfig={lay.kubeconfig}", "--leader-elect=false", "--secure-port=0",
        f"--service-account-private-key-file={lay.pki / 'sa.key'}", f"--root-ca-file={lay.pki / 'ca.crt'}",
        "--profiling=false",
    ]


def _scheduler_args(lay: Layout, p: Ports) -> list[str]:
    return [f"--kubeconfig={lay.kubeconfig}", "--leader-elect=false", "--secure-port=0", "--profiling=false"]


def _kwok_args(lay: Layout, p: Ports) -> list[str]:
    return [
        f"--kubeconfig={lay.kubeconfig}", f"--config={TOOLCHAIN_BIN / 'kwok-stages.yaml'}",
        "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={POD_CIDR}", "--node-ip=127.0.0.1", "--node-lease-duration-seconds=40",
        f"--server-address=127.0.0.1:{p.kwok}",
    ]


COMPONENTS: tuple[Component, ...] = (
    Component("etcd", "etcd", _etcd_args),
    Component("kube-apiserver", "kube-apiserver", _apiserver_args),
    Component("kube-controller-manager", "kube-controller-manager", _controller_manager_args),
    Component("kube-scheduler", "kube-scheduler", _scheduler_args),
    Component("kwok", "kwok", _kwok_args),
)


def default_layout() -> Layout:
    return Layout(STATE_DIR / "cluster")


def external_kubeconfig() -> Path | None:
    """The cluster the user asked for with KUBECONFIG, if any; then nothing embedded is started."""
    value = os.environ.get("KUBECONFIG", "").strip()
    if not value:
        return None
    return Path(value.split(os.pathsep)[0]).expanduser()


def kubeconfig_path(layout: Layout | None = None) -> Path:
    return external_kubeconfig() or (layout or default_layout()).kubeconfig


# --- processes -----------------------------------------------------------------------------------


def _read_pid(lay: Layout, comp: Component) -> int | None:
    pid_file = lay.pids / f"{comp.name}.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_ours(pid: int, comp: Component) -> bool:
    """True when pid is alive and runs this component's binary (a recycled pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return False
    return Path(cmdline).name == comp.binary


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _component_ports(comp: Component, ports: Ports) -> list[int]:
    return {
        "etcd": [ports.etcd_client, ports.etcd_peer],
        "kube-apiserver": [ports.apiserver],
        "kwok": [ports.kwok],
    }.get(comp.name, [])


# --- certificates and kubeconfig -------------------------------------------------------------------


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


def _ensure_pki(lay: Layout) -> None:
    """A private CA, the API server's loopback certificate, the service-account key and an admin token."""
    pki = lay.pki
    if (pki / "apiserver.crt").exists() and lay.token_file.exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=autocloud-local-ca",
             "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
             "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.csr"))
    ext = pki / "apiserver.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n")
    _openssl("x509", "-req", "-in", str(pki / "apiserver.csr"), "-CA", str(pki / "ca.crt"),
             "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
             "-extfile", str(ext), "-out", str(pki / "apiserver.crt"))
    _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    token = secrets.token_hex(24)
    lay.token_file.write_text(f"{token},autocloud-admin,autocloud-admin,system:masters\n")
    for key in ("ca.key", "apiserver.key", "sa.key", "tokens.csv"):
        (pki / key).chmod(0o600)


def _admin_token(lay: Layout) -> str:
    return lay.token_file.read_text().split(",", 1)[0]


def _write_kubeconfig(lay: Layout, ports: Ports) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "autocloud-local", "cluster": {
            "server": f"https://127.0.0.1:{ports.apiserver}",
            "certificate-authority": str(lay.pki / "ca.crt"),
        }}],
        "users": [{"name": "autocloud-admin", "user": {"token": _admin_token(lay)}}],
        "contexts": [{"name": "autocloud-local",
                      "context": {"cluster": "autocloud-local", "user": "autocloud-admin"}}],
        "current-context": "autocloud-local",
    }
    lay.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
    lay.kubeconfig.chmod(0o600)


# --- API access ------------------------------------------------------------------------------------


class Api:
    """Minimal authenticated client for the embedded API server (readiness, node, status)."""

    def __init__(self, lay: Layout, ports: Ports) -> None:
        self.base = f"https://127.0.0.1:{ports.apiserver}"
        self.token = _admin_token(lay)
        self.tls = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.tls, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.startswith(b"{") else raw.decode()

    def ready(self) -> bool:
        try:
            return self.request("GET", "/readyz") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def node_ready(self, name: str = NODE_NAME) -> bool:
        try:
            node = self.request("GET", f"/api/v1/nodes/{name}")
        except (urllib.error.URLError, OSError, ValueError):
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def ensure_node(self, name: str = NODE_NAME) -> None:
        """Register the fake node that kwok manages (annotation kwok.x-k8s.io/node=fake)."""
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                       "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"}},
        }
        try:
            self.request("POST", "/api/v1/nodes", node)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise ClusterError(f"cannot register node {name}: HTTP {exc.code}") from exc


# --- lifecycle -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool


@dataclass(frozen=True)
class ClusterStatus:
    kubeconfig: Path
    external: bool
    components: tuple[ComponentStatus, ...]
    api_ready: bool
    node_ready: bool

    @property
    def running(self) -> bool:
        return self.external or (all(c.running for c in self.components) and self.api_ready)


def _wait(what: str, check: Callable[[], bool], deadline: float, lay: Layout, log: str | None = None) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    hint = f"; see {lay.logs / log}" if log else ""
    raise ClusterError(f"timed out waiting for {what}{hint}")


def _binary(name: str) -> str:
    path = TOOLCHAIN_BIN / name
    if not path.is_file():
        raise ClusterError(f"{path} is missing: build the toolchain first (make toolchain)")
    return str(path)


def _etcd_healthy(ports: Ports) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.etcd_client}/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start(
    layout: Layout | None = None,
    echo: Callable[[str], None] = print,
    ports: Ports | None = None,
    honour_kubeconfig: bool = True,
) -> ClusterStatus:
    """Start whatever is not running, then wait until the API answers and the node is Ready."""
    if honour_kubeconfig and external_kubeconfig() is not None:
        echo(f"cluster: using the cluster from KUBECONFIG={external_kubeconfig()}; nothing embedded started")
        return status(layout)
    lay = layout or default_layout()
    ports = ports or Ports.from_env()
    for folder in (lay.root, lay.logs, lay.pids):
        folder.mkdir(parents=True, exist_ok=True)
    _ensure_pki(lay)
    _write_kubeconfig(lay, ports)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    api = Api(lay, ports)

    for comp in COMPONENTS:
        pid = _read_pid(lay, comp)
        if pid is not None and _is_ours(pid, comp):
            continue
        if pid is not None:
            echo(f"cluster: removing stale pid file for {comp.name} (pid {pid} is not running)")
            (lay.pids / f"{comp.name}.pid").unlink(missing_ok=True)
        for port in _component_ports(comp, ports):
            if not _port_free(port):
                raise ClusterError(
                    f"cannot start {comp.name}: port {port} on 127.0.0.1 is in use by another process "
                    "(stop it, or set AUTOCLOUD_CLUSTER_PORT_BASE)"
                )
        log = (lay.logs / f"{comp.name}.log").open("ab")
        proc = subprocess.Popen(
            [_binary(comp.binary), *comp.args(lay, ports)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        (lay.pids / f"{comp.name}.pid").write_text(f"{proc.pid}\n")
        echo(f"cluster: started {comp.name} (pid {proc.pid})")
        if comp.name == "etcd":
            _wait("etcd to report healthy", lambda: _etcd_healthy(ports), deadline, lay, "etcd.log")
        elif comp.name == "kube-apiserver":
            _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")

    _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")
    api.ensure_node()
    _wait(f"node {NODE_NAME} to become Ready", api.node_ready, deadline, lay, "kwok.log")
    return status(lay, ports, honour_kubeconfig)


def stop(layout: Layout | None = None, echo: Callable[[str], None] = print) -> list[str]:
    """Stop only processes this checkout started (by pid file), in reverse start order; data is kept."""
    lay = layout or default_layout()
    stopped = []
    for comp in reversed(COMPONENTS):
        pid_file = lay.pids / f"{comp.name}.pid"
        pid = _read_pid(lay, comp)
        if pid is None:
            continue
        if _is_ours(pid, comp):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _is_ours(pid, comp) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _is_ours(pid, comp):
                os.kill(pid, signal.SIGKILL)
            stopped.append(comp.name)
            echo(f"cluster: stopped {comp.name} (pid {pid})")
        pid_file.unlink(missing_ok=True)
    return stopped


def status(
    layout: Layout | None = None, ports: Ports | None = None, honour_kubeconfig: bool = True
) -> ClusterStatus:
    external = external_kubeconfig() if honour_kubeconfig else None
    lay = layout or default_layout()
    comps = []
    for comp in COMPONENTS:
        pid = _read_pid(lay, comp)
        comps.append(ComponentStatus(comp.name, pid, pid is not None and _is_ours(pid, comp)))
    api_ready = node_ready = False
    if external is None and lay.token_file.exists():
        api = Api(lay, ports or Ports.from_env())
        api_ready = api.ready()
        node_ready = api_ready and api.node_ready()
    return ClusterStatus(
        kubeconfig=external or lay.kubeconfig,
        external=external is not None,
        components=tuple(comps),
        api_ready=api_ready,
        node_ready=node_ready,
    )
