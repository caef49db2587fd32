"""What the embedded cluster is made of: its settings (ports, folders), the identities it trusts and
the components it runs, each with its command line."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autocloud.runtime import node
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

    @property
    def volumes(self) -> Path:
        """The persistent volumes' folders (``autocloud.runtime.cluster.volumes``); kept across stop and start."""
        return self.root / "volumes"

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
    Identity("volume-provisioner", "autocloud:volume-provisioner"),
)


@dataclass(frozen=True)
class Component:
    name: str
    binary: str
    """The executable in .toolchain/bin; also how a running process is recognised by its pid."""
    args: Callable[[Layout], list[str]]
    inside: bool = True
    """Runs in the node's namespaces (all but the relay, which bridges host and node)."""
    after_addons: bool = False
    """Started only once the add-ons (its RBAC among them) are applied: KWOK gives up and exits when it
    cannot list nodes within its first seconds, and kube-router when it cannot sync its caches within a
    minute, which a slow image import would otherwise cause (kube-router gone means no NetworkPolicy
    enforced: seen with two clusters starting at once under a cold build)."""
    python_module: bool = False
    """``binary`` is a module of this package, run with this Python (``-m``) rather than a built tool."""


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


RELAY = Component("api-relay", "autocloud.runtime.relay", _relay_args, inside=False, python_module=True)


def _volume_provisioner_args(lay: Layout) -> list[str]:
    return [f"--kubeconfig={lay.component_kubeconfig('volume-provisioner')}", f"--root={lay.volumes}"]


COMPONENTS: tuple[Component, ...] = (
    Component("etcd", "etcd", _etcd_args),
    Component("kube-apiserver", "kube-apiserver", _apiserver_args),
    RELAY,
    Component("kube-controller-manager", "kube-controller-manager", _controller_manager_args),
    Component("kube-scheduler", "kube-scheduler", _scheduler_args),
    Component("containerd", "containerd", _containerd_args),
    Component("kubelet", "kubelet", _kubelet_args),
    Component("kube-proxy", "kube-proxy", _kube_proxy_args),
    Component("kube-router", "kube-router", _kube_router_args, after_addons=True),
    Component("kwok", "kwok", _kwok_args, after_addons=True),
    Component(
        "volume-provisioner",
        "autocloud.runtime.cluster.volumes",
        _volume_provisioner_args,
        after_addons=True,
        python_module=True,
    ),
)
HOLDER = Component("node-namespaces", "sleep", lambda _lay: [], inside=False)
"""The sleeping process that holds the node's namespaces open; started first, stopped last."""


def default_layout() -> Layout:
    return Layout(STATE_DIR / "cluster")


def external(lay: Layout) -> Path | None:
    """The cluster KUBECONFIG names instead of this one; None when unset or naming this one's own."""
    return external_kubeconfig(lay.kubeconfig)


def kubeconfig_path(layout: Layout | None = None) -> Path:
    lay = layout or default_layout()
    return external(lay) or lay.kubeconfig
