"""The embedded node's sandbox: its own network and mount namespaces, cgroups and config files.

Everything the embedded cluster runs (control plane, containerd, kubelet, kube-proxy, the
NetworkPolicy firewall) lives inside one network and one mount namespace, held open by a sleeping
process. Inside, the node has a veth pair carrying its own address (kubelet refuses loopback and the
kernel has no dummy driver), a tmpfs on /run and /var/log, and private copies of the kernel settings
kubelet rewrites, so the host's network, firewall and sysctls are never changed. The host reaches
the API server through a relay (`autocloud.runtime.relay`). Facts behind these choices: shared/NODE-TRIAL.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "autocloud-node"
NODE_IP = "10.88.0.1"
NODE_LINK = "acnode0"
NODE_PEER = "acnode1"
POD_SUBNET = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
KUBELET_ROOT = "/run/kubelet"
"""kubelet's root inside the node: a short path bind-mounted to the cluster folder, because kubelet
puts unix sockets there and a socket path is limited to 108 bytes (a deep cluster folder, such as a
test's temporary one, would not fit)."""

KERNEL_SETTINGS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
"""Settings kubelet writes at start (global to the host, not per namespace): each gets a private copy."""

CGROUP_FS = Path("/sys/fs/cgroup")


class NodeError(Exception):
    """The node's sandbox cannot be set up; the message is one line for the user."""


@dataclass(frozen=True)
class NodePaths:
    """Where one node keeps its files (under the cluster's folder)."""

    root: Path

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni"

    @property
    def kernel_copies(self) -> Path:
        return self.root / "kernel"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def config(self) -> Path:
        return self.root / "config"


def cgroup_root(cluster_root: Path) -> str:
    """kubelet's cgroupRoot: unique per cluster folder, so two clusters (make up and the tests) never share."""
    return "/autocloud-" + hashlib.sha256(str(cluster_root.resolve()).encode()).hexdigest()[:10]


# --- namespaces ----------------------------------------------------------------------------------


def run(args: list[str], what: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise NodeError(f"{what} failed: {detail[0]}")
    return proc.stdout


def enter(holder: int, *, net: bool = True, mount: bool = True) -> list[str]:
    """The argv prefix that runs a command inside the node's namespaces (nsenter execs, so pids match)."""
    flags = (["--net"] if net else []) + (["--mount"] if mount else [])
    return ["nsenter", f"--target={holder}", *flags, "--"]


def sleep_binary() -> str:
    """The holder's binary, as a full resolved path (its pid file records it)."""
    return os.path.realpath(shutil.which("sleep") or "/bin/sleep")


def start_holder(log: Path) -> int:
    """A sleeping process in a new network and mount namespace (mounts private: nothing leaks out)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "--", sleep_binary(), "infinity"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _namespace(proc.pid, "net") != _namespace(os.getpid(), "net"):
            return proc.pid
        if proc.poll() is not None:
            raise NodeError(f"cannot create the node's namespaces (unshare exited {proc.returncode}); see {log}")
        time.sleep(0.02)
    raise NodeError(f"the node's namespaces did not appear within 5 s; see {log}")


def _namespace(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def prepare(holder: int, paths: NodePaths) -> None:
    """Mounts and network inside the namespaces: private /run, /var/log and /var/lib/kubelet, kernel-setting
    copies, node IP."""
    paths.kernel_copies.mkdir(parents=True, exist_ok=True)
    paths.kubelet_root.mkdir(parents=True, exist_ok=True)
    script = [
        "set -e",
        "mount -t tmpfs -o mode=755 tmpfs /run",
        f"mkdir -p {KUBELET_ROOT} && mount --bind {paths.kubelet_root} {KUBELET_ROOT}",
        "mkdir -p /var/log && mount -t tmpfs -o mode=755 tmpfs /var/log",
        # kubelet's device plugin socket is at a fixed path whatever --root-dir says
        # (k8s.io/kubelet deviceplugin/v1beta1 DevicePluginPath): private, so two nodes on one machine
        # (the integration tests' workers) do not take each other's socket.
        "mkdir -p /var/lib/kubelet && mount -t tmpfs -o mode=755 tmpfs /var/lib/kubelet",
    ]
    for setting in KERNEL_SETTINGS:
        copy = paths.kernel_copies / setting.replace("/", ".")
        copy.write_text(Path("/proc/sys", setting).read_text())
        script.append(f"mount --bind {copy} /proc/sys/{setting}")
    script += [
        "ip link set lo up",
        f"ip link add {NODE_LINK} type veth peer name {NODE_PEER}",
        f"ip addr add {NODE_IP}/24 dev {NODE_LINK}",
        f"ip link set {NODE_LINK} up",
        f"ip link set {NODE_PEER} up",
        f"ip route add default dev {NODE_LINK}",
        "echo 1 > /proc/sys/net/ipv4/ip_forward",
        "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables",
    ]
    run([*enter(holder), "sh", "-c", "\n".join(script)], "setting up the node's namespaces")


def in_node(holder: int, path: str) -> Path:
    """A path as the node's mount namespace sees it, readable from the host."""
    return Path(f"/proc/{holder}/root") / path.lstrip("/")


# --- cgroups -------------------------------------------------------------------------------------


def _controllers() -> list[Path]:
    if not CGROUP_FS.is_dir():
        return []
    # Every hierarchy, the cgroup2 one at `unified` included: runc creates the pods' cgroups there too.
    return [p for p in sorted(CGROUP_FS.iterdir()) if p.is_dir() and (p / "cgroup.procs").exists()]


def ensure_cgroups(root: str) -> None:
    """kubelet (cgroupfs driver, cgroup v1) wants its cgroupRoot to exist in every controller."""
    for controller in _controllers():
        path = controller / root.lstrip("/")
        path.mkdir(exist_ok=True)
        if controller.name == "cpuset":
            for name in ("cpuset.cpus", "cpuset.mems"):
                target = path / name
                if not target.read_text().strip():
                    target.write_text((controller / name).read_text())


def cgroup_pids(root: str) -> set[int]:
    pids: set[int] = set()
    for controller in _controllers():
        base = controller / root.lstrip("/")
        if not base.is_dir():
            continue
        for procs in base.rglob("cgroup.procs"):
            try:
                pids.update(int(line) for line in procs.read_text().split())
            except OSError:
                continue
    return pids


def remove_cgroups(root: str) -> list[Path]:
    """rmdir the node's cgroups bottom-up; returns any that could not be removed."""
    left = []
    for controller in _controllers():
        base = controller / root.lstrip("/")
        if not base.is_dir():
            continue
        for directory in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                directory.rmdir()
            except OSError:
                left.append(directory)
        try:
            base.rmdir()
        except OSError:
            left.append(base)
    return left


# --- teardown ------------------------------------------------------------------------------------


def namespace_pids(holder: int) -> set[int]:
    """Every process in the holder's mount namespace (the node's daemons, shims) except the holder."""
    target = _namespace(holder, "mnt")
    if target is None:
        return set()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != holder and _namespace(int(entry.name), "mnt") == target:
            found.add(int(entry.name))
    return found


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def sweep(holder: int | None, root: str, timeout: float = 10.0) -> None:
    """Kill whatever still runs in the node (containers, shims) and remove its cgroups."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = cgroup_pids(root) | (namespace_pids(holder) if holder else set())
        pids.discard(os.getpid())
        if not pids:
            break
        kill_all(pids)
        time.sleep(0.1)
    if holder:
        kill_all([holder])
    for _ in range(50):
        if not remove_cgroups(root):
            return
        time.sleep(0.1)


# --- config files --------------------------------------------------------------------------------


def containerd_config(paths: NodePaths, bin_dir: Path, sandbox_image: str) -> str:
    """containerd 2.x (config version 3): CRI with runc, the node's CNI, no registry, NRI off."""
    return f"""version = 3
root = "{paths.containerd_root}"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{sandbox_image}"

[plugins.'io.containerd.cri.v1.runtime']
  # Without CAP_SYS_RESOURCE nothing may lower oom_score_adj (NODE-TRIAL.md).
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "{bin_dir / "runc"}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["{bin_dir / "cni"}"]
    conf_dir = "{paths.cni_conf}"
"""


def cni_config() -> str:
    """A bridge with host-local addresses; IPAM state on /run so a restarted node starts clean."""
    return (
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "autocloud",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": "cni0",
                        "isGateway": True,
                        "ipMasq": False,
                        "hairpinMode": True,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": POD_SUBNET}]],
                            "routes": [{"dst": "0.0.0.0/0"}],
                            "dataDir": "/run/cni/ipam",
                        },
                    },
                    {"type": "portmap", "capabilities": {"portMappings": True}},
                ],
            },
            indent=2,
        )
        + "\n"
    )


def kubelet_config(paths: NodePaths, pki: Path, cgroup: str) -> str:
    """Secure kubelet: webhook authn/authz, client certs from the cluster CA, no read-only port."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "tlsCertFile": str(pki / "kubelet.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup,
        "failCgroupV1": False,
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "resolvConf": "",
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "podCIDR": POD_SUBNET,
        "containerRuntimeEndpoint": f"unix://{CONTAINERD_SOCKET}",
        "serializeImagePulls": False,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "protectKernelDefaults": False,
        "maxPods": 110,
        "nodeStatusReportFrequency": "10s",
        "shutdownGracePeriod": "0s",
        "volumeStatsAggPeriod": "0s",
        "localStorageCapacityIsolation": False,
    }
    return json.dumps(config, indent=2) + "\n"


def kube_proxy_config(kubeconfig: Path) -> str:
    """iptables mode inside the node; conntrack sysctls left alone (they are global to the host).

    No ``clusterCIDR``: with it, kube-proxy masquerades traffic from outside the pod range (the node's
    own address, where the simulator's tunnel starts) to the bridge's address, which the NetworkPolicy
    firewall does not know as the node, so the region policies would drop it. Replies come back
    through the node either way, so nothing needs the masquerade."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }
    return json.dumps(config, indent=2) + "\n"
