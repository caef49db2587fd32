"""The embedded local Kubernetes cluster: a real control plane and a real node, as plain processes.

Everything runs inside one network and mount namespace (`autocloud.runtime.node`): etcd (client
certificates, loopback only), kube-apiserver, kube-controller-manager, kube-scheduler, containerd
with runc and CNI, kubelet, kube-proxy, kube-router's NetworkPolicy firewall, and CoreDNS as a pod.
The host reaches the API server through `autocloud.runtime.relay` on 127.0.0.1; nothing else listens on the
host. KWOK adds a second, simulated node (tainted) for workloads whose images cannot be built here
yet. Certificates, data, logs, pid files and the kubeconfig live under `.state/cluster/`. A user
who exports KUBECONFIG gets that cluster instead and nothing embedded starts.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from autocloud.runtime import images, node, reaper
from platform_model.errors import AutocloudError, InputError, excerpt
from platform_model.paths import STATE_DIR, TOOLCHAIN_BIN, external_kubeconfig

NODE_NAME = node.NODE_NAME
SIMULATED_NODE = "kwok-node-0"
SIMULATED_LABEL = "autocloud.io/node"
"""Label and taint key of the simulated node: value ``simulated``."""
SIMULATED_POD_CIDR = "10.250.0.1/24"
START_TIMEOUT_SECONDS = 120.0
FIELD_MANAGER = "autocloud-cluster"


class ClusterError(AutocloudError):
    """A lifecycle step failed; the message is one line for the user."""


class ClusterSettingError(ClusterError, InputError):
    """A bad cluster setting (the port base): bad input, exit 2, nothing started."""


@dataclass(frozen=True)
class Ports:
    """The only host port: the API server relay on 127.0.0.1 (everything else is inside the node)."""

    apiserver: int

    @classmethod
    def at(cls, base: int) -> Ports:
        return cls(apiserver=base + 443)

    @classmethod
    def from_env(cls) -> Ports:
        """Above AUTOCLOUD_CLUSTER_PORT_BASE (default 36000) so two checkouts can coexist."""
        raw = os.environ.get("AUTOCLOUD_CLUSTER_PORT_BASE", "36000")
        try:
            base = int(raw)
        except ValueError:
            raise ClusterSettingError(f"AUTOCLOUD_CLUSTER_PORT_BASE: {excerpt(raw)} is not a port number") from None
        if not 1024 <= base <= 65000:
            raise ClusterSettingError(f"AUTOCLOUD_CLUSTER_PORT_BASE: {excerpt(raw)} must be between 1024 and 65000")
        return cls.at(base)


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
        """The host's admin kubeconfig (through the relay)."""
        return self.root / "kubeconfig"

    @property
    def token_file(self) -> Path:
        return self.pki / "tokens.csv"

    @property
    def configs(self) -> Path:
        return self.root / "config"

    @property
    def node(self) -> node.NodePaths:
        return node.NodePaths(self.root / "node")

    def component_kubeconfig(self, user: str) -> Path:
        return self.configs / f"{user}.kubeconfig"


@dataclass(frozen=True)
class Identity:
    """A static-token identity the API server knows (least privilege through RBAC, see `_ADDONS`)."""

    key: str
    user: str
    groups: tuple[str, ...] = ()


IDENTITIES = (
    Identity("admin", "autocloud-admin", ("system:masters",)),
    Identity("kubelet", f"system:node:{NODE_NAME}", ("system:nodes",)),
    Identity("kube-proxy", "system:kube-proxy"),
    Identity("kube-controller-manager", "system:kube-controller-manager"),
    Identity("kube-scheduler", "system:kube-scheduler"),
    Identity("kube-router", "autocloud:kube-router"),
    Identity("kwok", "autocloud:kwok"),
)


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    """The executable in .toolchain/bin; also how a running process is recognised by its pid."""
    args: Callable[[Layout], list[str]]
    inside: bool = True
    """Runs in the node's namespaces (all but the relay, which bridges host and node)."""


def _etcd_args(lay: Layout) -> list[str]:
    pki = lay.pki
    return [
        "--name=autocloud",
        f"--data-dir={lay.etcd_data}",
        "--listen-client-urls=https://127.0.0.1:2379",
        "--advertise-client-urls=https://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=autocloud=http://127.0.0.1:2380",
        "--log-level=warn",
        "--client-cert-auth",
        f"--trusted-ca-file={pki / 'ca.crt'}",
        f"--cert-file={pki / 'etcd-server.crt'}",
        f"--key-file={pki / 'etcd-server.key'}",
        "--listen-metrics-urls=http://127.0.0.1:2381",
    ]


def _apiserver_args(lay: Layout) -> list[str]:
    pki = lay.pki
    return [
        "--etcd-servers=https://127.0.0.1:2379",
        f"--etcd-cafile={pki / 'ca.crt'}",
        f"--etcd-certfile={pki / 'etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'etcd-client.key'}",
        "--bind-address=0.0.0.0",
        f"--advertise-address={node.NODE_IP}",
        f"--secure-port={node.APISERVER_PORT}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--token-auth-file={lay.token_file}",
        "--anonymous-auth=false",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={node.SERVICE_CIDR}",
        f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'kubelet-client.key'}",
        f"--kubelet-certificate-authority={pki / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--encryption-provider-config={pki / 'encryption.json'}",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
    ]


def _controller_manager_args(lay: Layout) -> list[str]:
    return [
        f"--kubeconfig={lay.component_kubeconfig('kube-controller-manager')}",
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={lay.pki / 'sa.key'}",
        f"--root-ca-file={lay.pki / 'ca.crt'}",
        "--profiling=false",
        # Quota usage a cancelled create left charged is recounted in seconds, not the default 5 min.
        "--resource-quota-sync-period=10s",
    ]


def _scheduler_args(lay: Layout) -> list[str]:
    return [
        f"--kubeconfig={lay.component_kubeconfig('kube-scheduler')}",
        "--leader-elect=false",
        "--secure-port=0",
        "--profiling=false",
    ]


def _containerd_args(lay: Layout) -> list[str]:
    return [f"--config={lay.configs / 'containerd.toml'}", "--log-level=warn"]


def _kubelet_args(lay: Layout) -> list[str]:
    return [
        f"--config={lay.configs / 'kubelet.json'}",
        f"--kubeconfig={lay.component_kubeconfig('kubelet')}",
        f"--root-dir={node.KUBELET_ROOT}",
        f"--hostname-override={NODE_NAME}",
        f"--node-ip={node.NODE_IP}",
        f"--node-labels={SIMULATED_LABEL}=real",
        "--v=1",
    ]


def _kube_proxy_args(lay: Layout) -> list[str]:
    return [f"--config={lay.configs / 'kube-proxy.json'}", "--v=1"]


def _kube_router_args(lay: Layout) -> list[str]:
    return [
        f"--kubeconfig={lay.component_kubeconfig('kube-router')}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        "--enable-cni=false",
        f"--service-cluster-ip-range={node.SERVICE_CIDR}",
        f"--hostname-override={NODE_NAME}",
        "--health-port=0",
        "--metrics-port=0",
        "--v=1",
    ]


def _kwok_args(lay: Layout) -> list[str]:
    return [
        f"--kubeconfig={lay.component_kubeconfig('kwok')}",
        f"--config={TOOLCHAIN_BIN / 'kwok-stages.yaml'}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={SIMULATED_POD_CIDR}",
        f"--node-ip={node.NODE_IP}",
        "--node-lease-duration-seconds=40",
        # No --server-address: KWOK's server (unauthenticated /metrics, /debug/pprof) is not started.
    ]


def _relay_args(lay: Layout) -> list[str]:
    return ["-m", "autocloud.runtime.relay", "--target", f"127.0.0.1:{node.APISERVER_PORT}"]


RELAY = Component("api-relay", "autocloud.runtime.relay", _relay_args, inside=False)

COMPONENTS: tuple[Component, ...] = (
    Component("etcd", "etcd", _etcd_args),
    Component("kube-apiserver", "kube-apiserver", _apiserver_args),
    RELAY,
    Component("kube-controller-manager", "kube-controller-manager", _controller_manager_args),
    Component("kube-scheduler", "kube-scheduler", _scheduler_args),
    Component("containerd", "containerd", _containerd_args),
    Component("kubelet", "kubelet", _kubelet_args),
    Component("kube-proxy", "kube-proxy", _kube_proxy_args),
    Component("kube-router", "kube-router", _kube_router_args),
    Component("kwok", "kwok", _kwok_args),
)
HOLDER = Component("node-namespaces", "sleep", lambda _lay: [], inside=False)
"""The sleeping process that holds the node's namespaces open; started first, stopped last."""


def default_layout() -> Layout:
    return Layout(STATE_DIR / "cluster")


def kubeconfig_path(layout: Layout | None = None) -> Path:
    return external_kubeconfig() or (layout or default_layout()).kubeconfig


# --- processes -----------------------------------------------------------------------------------


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
        stat = _stat(self.pid)
        if stat is None or stat[0] == "Z" or (self.start is not None and stat[19] != str(self.start)):
            return False
        return _exe(self.pid) == self.exe


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the command name before it may hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None


def _expected_exe(comp: Component) -> str:
    """The binary a component's process ends up running (after nsenter or unshare exec it)."""
    if comp is RELAY:
        return os.path.realpath(sys.executable)
    if comp is HOLDER:
        return node.sleep_binary()
    return str((TOOLCHAIN_BIN / comp.binary).resolve())


def _read_record(lay: Layout, comp: Component) -> ProcRecord | None:
    try:
        raw = (lay.pids / f"{comp.name}.pid").read_text().strip()
    except OSError:
        return None
    try:
        if raw.isdigit():
            # A pid file from before records: its binary must still match, and no start time can.
            return ProcRecord(int(raw), None, _expected_exe(comp))
        data = json.loads(raw)
        return ProcRecord(int(data["pid"]), int(data["start"]), str(data["exe"]))
    except (ValueError, KeyError, TypeError):
        return None


def _record(lay: Layout, comp: Component, pid: int) -> ProcRecord:
    """Write the pid file of a process just started; wait (briefly) until it runs its final binary."""
    stat = _stat(pid)
    record = ProcRecord(pid, int(stat[19]) if stat else None, _expected_exe(comp))
    (lay.pids / f"{comp.name}.pid").write_text(
        json.dumps({"pid": record.pid, "start": record.start, "exe": record.exe}) + "\n"
    )
    deadline = time.monotonic() + 2.0
    while not record.alive() and _stat(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    return record


def _read_pid(lay: Layout, comp: Component) -> int | None:
    record = _read_record(lay, comp)
    return record.pid if record else None


def _running(lay: Layout, comp: Component) -> int | None:
    record = _read_record(lay, comp)
    return record.pid if record is not None and record.alive() else None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _terminate(record: ProcRecord, grace: float = 10.0) -> None:
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while record.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if record.alive():
        os.kill(record.pid, signal.SIGKILL)


# --- certificates, tokens and kubeconfigs ----------------------------------------------------------


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


CERTS: dict[str, tuple[str, str]] = {
    # name: (subject, subjectAltName or "")
    "apiserver": (
        "/CN=kube-apiserver",
        ",".join(
            [
                "IP:127.0.0.1",
                f"IP:{node.NODE_IP}",
                f"IP:{node.KUBERNETES_SERVICE_IP}",
                "DNS:localhost",
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                f"DNS:kubernetes.default.svc.{node.CLUSTER_DOMAIN}",
            ]
        ),
    ),
    "etcd-server": ("/CN=etcd", "IP:127.0.0.1,DNS:localhost"),
    "etcd-client": ("/CN=kube-apiserver-etcd-client", ""),
    "kubelet-client": ("/CN=kube-apiserver-kubelet-client", ""),
    "kubelet": (f"/CN=system:node:{NODE_NAME}/O=system:nodes", f"IP:{node.NODE_IP},DNS:{NODE_NAME}"),
}


def _issue(pki: Path, name: str, subject: str, san: str) -> None:
    """A certificate signed by the cluster CA, reissued when its subject or names change."""
    marker = pki / f"{name}.spec"
    spec = f"{subject}|{san}"
    if (pki / f"{name}.crt").exists() and marker.exists() and marker.read_text() == spec:
        return
    key, csr, ext = pki / f"{name}.key", pki / f"{name}.csr", pki / f"{name}.ext"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr))
    lines = ["extendedKeyUsage=serverAuth,clientAuth", "keyUsage=digitalSignature,keyEncipherment"]
    if san:
        lines.append(f"subjectAltName={san}")
    ext.write_text("\n".join(lines) + "\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(pki / "ca.crt"),
        "-CAkey",
        str(pki / "ca.key"),
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        str(ext),
        "-out",
        str(pki / f"{name}.crt"),
    )
    key.chmod(0o600)
    csr.unlink()
    marker.write_text(spec)


def _ensure_pki(lay: Layout) -> None:
    """A private CA, every component's certificate, the service-account key, tokens, the encryption key."""
    pki = lay.pki
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "ca.crt").exists():
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=autocloud-local-ca",
            "-keyout",
            str(pki / "ca.key"),
            "-out",
            str(pki / "ca.crt"),
        )
    for name, (subject, san) in CERTS.items():
        _issue(pki, name, subject, san)
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    _ensure_tokens(lay)
    encryption = pki / "encryption.json"
    if not encryption.exists():
        key = secrets.token_bytes(32)
        import base64

        encryption.write_text(
            json.dumps(
                {
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "EncryptionConfiguration",
                    "resources": [
                        {
                            "resources": ["secrets"],
                            "providers": [
                                {"secretbox": {"keys": [{"name": "key1", "secret": base64.b64encode(key).decode()}]}},
                                {"identity": {}},
                            ],
                        }
                    ],
                }
            )
        )
    for path in pki.iterdir():
        if path.suffix in (".key", ".csv", ".json"):
            path.chmod(0o600)


def _ensure_tokens(lay: Layout) -> None:
    """One static token per identity; existing tokens are kept so running clients stay valid."""
    existing: dict[str, str] = {}
    if lay.token_file.exists():
        for line in lay.token_file.read_text().splitlines():
            parts = line.split(",", 3)
            if len(parts) >= 2:
                existing[parts[1]] = parts[0]
    lines = []
    for ident in IDENTITIES:
        token = existing.get(ident.user) or secrets.token_hex(24)
        groups = f',"{",".join(ident.groups)}"' if ident.groups else ""
        lines.append(f"{token},{ident.user},{ident.user}{groups}")
    content = "\n".join(lines) + "\n"
    if not lay.token_file.exists() or lay.token_file.read_text() != content:
        lay.token_file.write_text(content)
    lay.token_file.chmod(0o600)


def _token(lay: Layout, user: str) -> str:
    for line in lay.token_file.read_text().splitlines():
        parts = line.split(",", 3)
        if len(parts) >= 2 and parts[1] == user:
            return parts[0]
    raise ClusterError(f"{lay.token_file}: no token for {user}; delete the file and start again")


def _admin_token(lay: Layout) -> str:
    return _token(lay, "autocloud-admin")


def _kubeconfig(lay: Layout, server: str, user: str) -> str:
    return (
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "autocloud-local",
                        "cluster": {"server": server, "certificate-authority": str(lay.pki / "ca.crt")},
                    }
                ],
                "users": [{"name": user, "user": {"token": _token(lay, user)}}],
                "contexts": [{"name": "autocloud-local", "context": {"cluster": "autocloud-local", "user": user}}],
                "current-context": "autocloud-local",
            },
            indent=2,
        )
        + "\n"
    )


def _write_private(path: Path, content: str) -> None:
    """Write only when changed (a rewrite would look like a config change), always 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != content:
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_text(content)
        partial.chmod(0o600)
        partial.replace(path)
    path.chmod(0o600)


def _write_configs(lay: Layout, ports: Ports) -> None:
    _write_private(lay.kubeconfig, _kubeconfig(lay, f"https://127.0.0.1:{ports.apiserver}", "autocloud-admin"))
    inside = f"https://127.0.0.1:{node.APISERVER_PORT}"
    for ident in IDENTITIES[1:]:
        _write_private(lay.component_kubeconfig(ident.key), _kubeconfig(lay, inside, ident.user))
    paths = lay.node
    for folder in (paths.containerd_root, paths.kubelet_root, paths.cni_conf):
        folder.mkdir(parents=True, exist_ok=True)
    _write_private(
        lay.configs / "containerd.toml", node.containerd_config(paths, TOOLCHAIN_BIN, images.image_reference("pause"))
    )
    _write_private(paths.cni_conf / "10-autocloud.conflist", node.cni_config())
    _write_private(lay.configs / "kubelet.json", node.kubelet_config(paths, lay.pki, node.cgroup_root(lay.root)))
    _write_private(lay.configs / "kube-proxy.json", node.kube_proxy_config(lay.component_kubeconfig("kube-proxy")))


# --- API access ------------------------------------------------------------------------------------

_KINDS: dict[str, tuple[str, str, bool]] = {
    # kind: (API path prefix, plural, namespaced)
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
}


class Api:
    """Minimal authenticated client for the embedded API server (readiness, add-ons, status)."""

    def __init__(self, lay: Layout, ports: Ports) -> None:
        self.base = f"https://127.0.0.1:{ports.apiserver}"
        self.token = _admin_token(lay)
        self.tls = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        content_type: str = "application/json",
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=self.tls, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.startswith(b"{") else raw.decode()

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at path, or None when it is absent or the API cannot be reached."""
        try:
            found = self.request("GET", path)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def apply(self, obj: Mapping[str, Any]) -> None:
        """Server-side apply: creates or updates, so a restarted cluster converges."""
        prefix, plural, namespaced = _KINDS[obj["kind"]]
        meta = obj["metadata"]
        scope = f"/namespaces/{meta['namespace']}" if namespaced else ""
        path = f"{prefix}{scope}/{plural}/{meta['name']}?fieldManager={FIELD_MANAGER}&force=true"
        try:
            self.request("PATCH", path, obj, content_type="application/apply-patch+yaml")
        except urllib.error.HTTPError as exc:
            raise ClusterError(f"cannot apply {obj['kind']} {meta['name']}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # A timeout or a refused connection (a component died under the API server) is one line too.
            reason = getattr(exc, "reason", None) or exc
            raise ClusterError(f"cannot apply {obj['kind']} {meta['name']}: {reason}") from None

    def ready(self) -> bool:
        try:
            return bool(self.request("GET", "/readyz", timeout=2.0) == "ok")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def node_ready(self, name: str = NODE_NAME) -> bool:
        found = self.get(f"/api/v1/nodes/{name}")
        conditions = (found or {}).get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def deployment_available(self, namespace: str, name: str) -> bool:
        found = self.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        return bool(found and found.get("status", {}).get("availableReplicas", 0) >= 1)

    def ensure_simulated_node(self, name: str = SIMULATED_NODE) -> None:
        """Register the node KWOK simulates (annotation kwok.x-k8s.io/node=fake), tainted so only
        workloads that ask for it (images not built here yet) land on it."""
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    SIMULATED_LABEL: "simulated",
                },
            },
            "spec": {"taints": [{"key": SIMULATED_LABEL, "value": "simulated", "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            },
        }
        try:
            self.request("POST", "/api/v1/nodes", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise ClusterError(f"cannot register node {name}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ClusterError(f"cannot register node {name}: {exc}") from None


# --- add-ons: RBAC for the node's components, CoreDNS --------------------------------------------

COREDNS_PORT = 53
"""CoreDNS serves port 53 as non-root with no capabilities: its pod lowers the (per-pod, "safe")
sysctl net.ipv4.ip_unprivileged_port_start. Port 53 on the pod itself matters: NetworkPolicies
match the pod's port after the Service's translation, and the region policies allow 53."""

COREFILE = f""".:{COREDNS_PORT} {{
    errors
    health :8080
    ready :8181
    kubernetes {node.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loop
    reload
    loadbalance
}}
"""


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(name: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


def _user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


_READ = ["get", "list", "watch"]


def _addons() -> list[dict[str, Any]]:
    """Least-privilege roles for the node's clients, then CoreDNS (kube-system/kube-dns at DNS_SERVICE_IP)."""
    labels = {"k8s-app": "kube-dns"}
    return [
        _binding("autocloud:kubelet-api-admin", "system:kubelet-api-admin", _user("kube-apiserver-kubelet-client")),
        _cluster_role(
            "autocloud:kube-router",
            [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                    "verbs": _READ,
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": _READ},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
                {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            ],
        ),
        _binding("autocloud:kube-router", "autocloud:kube-router", _user("autocloud:kube-router")),
        _cluster_role(
            "autocloud:kwok",
            [
                {
                    "apiGroups": [""],
                    "resources": ["nodes", "nodes/status", "pods", "pods/status"],
                    "verbs": [*_READ, "update", "patch", "delete"],
                },
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": [*_READ, "create", "update", "patch"],
                },
                {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            ],
        ),
        _binding("autocloud:kwok", "autocloud:kwok", _user("autocloud:kwok")),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}},
        _cluster_role(
            "autocloud:coredns",
            [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        ),
        _binding(
            "autocloud:coredns",
            "autocloud:coredns",
            {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"},
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": COREFILE},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        "dnsPolicy": "Default",
                        "nodeSelector": {SIMULATED_LABEL: "real"},
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": images.NONROOT_UID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": str(COREDNS_PORT)}],
                        },
                        "containers": [
                            {
                                "name": "coredns",
                                "image": images.image_reference("coredns"),
                                "imagePullPolicy": "Never",
                                "args": ["-conf", "/etc/coredns/Corefile"],
                                "ports": [
                                    {"name": "dns", "containerPort": COREDNS_PORT, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": COREDNS_PORT, "protocol": "TCP"},
                                ],
                                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 1},
                                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "32Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                            }
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "clusterIP": node.DNS_SERVICE_IP,
                "selector": labels,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": COREDNS_PORT, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": COREDNS_PORT, "protocol": "TCP"},
                ],
            },
        },
    ]


# --- lifecycle -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    log: Path | None = None


@dataclass(frozen=True)
class ClusterStatus:
    kubeconfig: Path
    external: bool
    components: tuple[ComponentStatus, ...]
    api_ready: bool
    node_ready: bool
    dns_ready: bool = False

    @property
    def running(self) -> bool:
        return self.external or (all(c.running for c in self.components) and self.api_ready)

    @property
    def dead(self) -> tuple[ComponentStatus, ...]:
        return tuple(c for c in self.components if not c.running and c.pid is not None)


def _wait(what: str, check: Callable[[], bool], deadline: float, lay: Layout, log: str | None = None) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    hint = f"; see {lay.logs / log}" if log else ""
    raise ClusterError(f"timed out waiting for {what}{hint}")


def _binary(name: str) -> str:
    path = TOOLCHAIN_BIN / name
    if not path.is_file():
        raise ClusterError(f"{path} is missing: build the toolchain first (make toolchain)")
    return str(path)


def _node_env() -> dict[str, str]:
    """containerd finds its shim on PATH; the node's daemons call ip, iptables and ipset."""
    path = os.pathsep.join(
        [str(TOOLCHAIN_BIN), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"]
    )
    return {"PATH": path, "HOME": "/root", "LANG": "C.UTF-8"}


def _unix_socket_serves(path: Path) -> bool:
    """A connect, not a file test: a killed containerd leaves its socket file behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def _listen(port: int) -> socket.socket:
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


def _spawn(lay: Layout, comp: Component, holder: int, ports: Ports) -> int:
    log = (lay.logs / f"{comp.name}.log").open("ab")
    pass_fds: tuple[int, ...] = ()
    listener: socket.socket | None = None
    if comp is RELAY:
        try:
            listener = _listen(ports.apiserver)
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
    else:
        argv = [*node.enter(holder), _binary(comp.binary), *comp.args(lay)]
        env = _node_env()
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
    return _record(lay, comp, proc.pid).pid


@dataclass
class Tunnel:
    """Host loopback ports forwarded into the embedded node, one per target address."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    """Target ``host:port`` inside the node -> port on 127.0.0.1."""

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_tunnel(targets: list[str], layout: Layout | None = None) -> Tunnel:
    """Reach addresses that exist only inside the node (Service ClusterIPs) from this machine, the
    way vehicles reach IoT Hub's public endpoint: through the node, nothing added to the host."""
    lay = layout or default_layout()
    holder = _running(lay, HOLDER)
    if holder is None:
        raise ClusterError(f"the embedded cluster in {lay.root} is not running: start it with `autocloud up`")
    listeners = [_listen(0) for _ in targets]
    try:
        argv = [
            *node.enter(holder, mount=False),
            sys.executable,
            "-m",
            RELAY.binary,
            *[f"--forward={sock.fileno()}={target}" for sock, target in zip(listeners, targets, strict=True)],
        ]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[sock.fileno() for sock in listeners],
        )
        ports = {target: sock.getsockname()[1] for sock, target in zip(listeners, targets, strict=True)}
    finally:
        for sock in listeners:
            sock.close()
    return Tunnel(proc, ports)


def _ensure_holder(lay: Layout, echo: Callable[[str], None]) -> int:
    """The node's namespaces: reuse a live holder, else clear what an old node left and make new ones."""
    pid = _running(lay, HOLDER)
    if pid is not None:
        return pid
    if any(_read_pid(lay, comp) is not None for comp in (*COMPONENTS, HOLDER)):
        echo("cluster: the node's namespaces are gone; clearing what was left and starting afresh")
        _stop_components(lay, lambda _line: None)
    pid = _record(lay, HOLDER, node.start_holder(lay.logs / "node-namespaces.log")).pid
    node.prepare(pid, lay.node)
    node.ensure_cgroups(node.cgroup_root(lay.root))
    return pid


def _import_images(lay: Layout, holder: int, echo: Callable[[str], None]) -> None:
    """Import each image tarball into containerd's k8s.io namespace unless that exact tarball was."""
    try:
        tarballs = images.build_all(lay.node.images)
    except images.ImageError as exc:
        raise ClusterError(str(exc)) from None
    record = lay.node.root / "imported.json"
    try:
        done = json.loads(record.read_text())
    except (OSError, ValueError):
        done = {}
    ctr = [*node.enter(holder), _binary("ctr"), "--address", node.CONTAINERD_SOCKET, "-n", "k8s.io"]
    present = set(node.run([*ctr, "images", "ls", "-q"], "listing the node's images").split())
    for reference, tarball in tarballs.items():
        digest = tarball.with_suffix(".inputs").read_text()
        if reference in present and done.get(reference) == digest:
            continue
        node.run([*ctr, "images", "import", "--no-unpack=false", str(tarball)], f"importing {reference}")
        done[reference] = digest
        echo(f"cluster: imported image {reference}")
    record.write_text(json.dumps(done, indent=2) + "\n")


def start(
    layout: Layout | None = None,
    echo: Callable[[str], None] = print,
    ports: Ports | None = None,
    honour_kubeconfig: bool = True,
) -> ClusterStatus:
    """Start whatever is not running (a dead component is named and restarted), then wait until the
    API answers, the node is Ready and cluster DNS serves."""
    if honour_kubeconfig and external_kubeconfig() is not None:
        echo(f"cluster: using the cluster from KUBECONFIG={external_kubeconfig()}; nothing embedded started")
        return status(layout)
    lay = layout or default_layout()
    ports = ports or Ports.from_env()
    for folder in (lay.root, lay.logs, lay.pids, lay.configs):
        folder.mkdir(parents=True, exist_ok=True)
    if _running(lay, RELAY) is None and not _port_free(ports.apiserver):
        raise ClusterError(
            f"cannot start {RELAY.name}: port {ports.apiserver} on 127.0.0.1 is in use by another "
            "process (stop it, or set AUTOCLOUD_CLUSTER_PORT_BASE)"
        )
    _ensure_pki(lay)
    _write_configs(lay, ports)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    api = Api(lay, ports)
    try:
        holder = _ensure_holder(lay, echo)
    except node.NodeError as exc:
        raise ClusterError(str(exc)) from None

    for comp in COMPONENTS:
        old = _read_pid(lay, comp)
        if old is not None and _running(lay, comp) is not None:
            continue
        if old is not None:
            echo(f"cluster: {comp.name} (pid {old}) had stopped; restarting it (log: {lay.logs / comp.name}.log)")
        pid = _spawn(lay, comp, holder, ports)
        echo(f"cluster: started {comp.name} (pid {pid})")
        if comp is RELAY:
            _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")
        elif comp.name == "containerd":
            containerd = node.in_node(holder, node.CONTAINERD_SOCKET)
            _wait("containerd to serve", partial(_unix_socket_serves, containerd), deadline, lay, "containerd.log")
    try:
        # Before any pod is applied; kubelet needs the pause image for its first sandbox.
        _import_images(lay, holder, echo)
    except node.NodeError as exc:
        raise ClusterError(str(exc)) from None
    _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")
    for obj in _addons():
        api.apply(obj)
    api.ensure_simulated_node()
    _wait(f"node {NODE_NAME} to become Ready", api.node_ready, deadline, lay, "kubelet.log")
    _wait(f"node {SIMULATED_NODE} to become Ready", lambda: api.node_ready(SIMULATED_NODE), deadline, lay, "kwok.log")
    _wait("CoreDNS to serve", lambda: api.deployment_available("kube-system", "coredns"), deadline, lay, "kubelet.log")
    return status(lay, ports, honour_kubeconfig)


class Watch:
    """Polls the cluster's processes while an engine run depends on them: a component that dies is
    named with its log within a second, where the engine would retry for ten minutes. `on_death`
    gets the one-line reason, then again on every later poll (to end what the run starts meanwhile)."""

    def __init__(self, lay: Layout, on_death: Callable[[str], None], interval: float = 0.5, idle: bool = False) -> None:
        self.lay = lay
        self.on_death = on_death
        self.interval = interval
        self.failure: str | None = None
        self._idle = idle
        self._records: dict[str, ProcRecord] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="cluster-watch", daemon=True)

    def __enter__(self) -> Watch:
        if not self._idle:
            for comp in (HOLDER, *COMPONENTS):
                record = _read_record(self.lay, comp)
                if record is not None and record.alive():
                    self._records[comp.name] = record
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            if self.failure is None:
                dead = next((name for name, record in self._records.items() if not record.alive()), None)
                if dead is None:
                    continue
                self.failure = f"{dead} died (log: {self.lay.logs / dead}.log)"
            self.on_death(self.failure)


def watch(
    on_death: Callable[[str], None], layout: Layout | None = None, interval: float = 0.5, idle: bool = False
) -> Watch:
    """A `Watch` of the embedded cluster; of nothing when `idle` or KUBECONFIG names another cluster."""
    return Watch(layout or default_layout(), on_death, interval, idle=idle or external_kubeconfig() is not None)


def _stop_components(lay: Layout, echo: Callable[[str], None]) -> list[str]:
    stopped = []
    for comp in reversed(COMPONENTS):
        record = _read_record(lay, comp)
        if record is None:
            (lay.pids / f"{comp.name}.pid").unlink(missing_ok=True)
            continue
        if record.alive():
            _terminate(record)
            stopped.append(comp.name)
            echo(f"cluster: stopped {comp.name} (pid {record.pid})")
        (lay.pids / f"{comp.name}.pid").unlink(missing_ok=True)
    holder = _running(lay, HOLDER)
    node.sweep(holder, node.cgroup_root(lay.root))
    (lay.pids / f"{HOLDER.name}.pid").unlink(missing_ok=True)
    if holder is not None:
        stopped.append(HOLDER.name)
    return stopped


def stop(layout: Layout | None = None, echo: Callable[[str], None] = print) -> list[str]:
    """Stop everything this checkout started (by pid file), containers included, in reverse start order;
    no process, mount, cgroup, link or namespace is left behind. Data is kept."""
    return _stop_components(layout or default_layout(), echo)


def status(layout: Layout | None = None, ports: Ports | None = None, honour_kubeconfig: bool = True) -> ClusterStatus:
    external = external_kubeconfig() if honour_kubeconfig else None
    lay = layout or default_layout()
    comps = []
    for comp in (HOLDER, *COMPONENTS):
        record = _read_record(lay, comp)
        comps.append(
            ComponentStatus(
                comp.name,
                record.pid if record else None,
                bool(record and record.alive()),
                lay.logs / f"{comp.name}.log",
            )
        )
    api_ready = node_ready = dns_ready = False
    if external is None and lay.token_file.exists():
        api = Api(lay, ports or Ports.from_env())
        api_ready = api.ready()
        node_ready = api_ready and api.node_ready()
        dns_ready = api_ready and api.deployment_available("kube-system", "coredns")
    return ClusterStatus(
        kubeconfig=external or lay.kubeconfig,
        external=external is not None,
        components=tuple(comps),
        api_ready=api_ready,
        node_ready=node_ready,
        dns_ready=dns_ready,
    )
