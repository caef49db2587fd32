"""The embedded cluster's lifecycle: idempotent start, a dead component recovered, a stop that leaves
nothing behind, a restart that brings the deployed workloads back with their data."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from autocloud.runtime import cluster, node
from tests.integration.conftest import TEST_PORT_BASE
from tests.integration.kube import WEB_SCRIPT, Kubectl, busybox_pod, eventually, namespace

pytestmark = pytest.mark.integration

# Apart from the session cluster's port, so both can run at once.
PORTS = cluster.Ports.at(TEST_PORT_BASE + 1000)


def _quiet(_line: str) -> None:
    pass


def _web_deployment() -> dict[str, object]:
    pod = busybox_pod("web", "life", WEB_SCRIPT)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "life"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod["spec"]},
        },
    }


def _processes_in_namespace(link: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "net") == link:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _available(kubectl: Kubectl) -> bool:
    deployment = kubectl.get("deployment", "web", "life")
    return bool(deployment.get("status", {}).get("availableReplicas", 0) >= 1)


def test_lifecycle_recovery_clean_stop_and_restart(tmp_path: Path) -> None:
    layout = cluster.Layout(tmp_path / "cluster")
    kubectl = Kubectl(layout.kubeconfig)
    try:
        first = cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
        assert first.running and first.node_ready and first.dns_ready
        pids = {c.name: c.pid for c in first.components}

        lines: list[str] = []
        second = cluster.start(layout, echo=lines.append, ports=PORTS, honour_kubeconfig=False)
        assert {c.name: c.pid for c in second.components} == pids, "a second start must reuse the processes"
        assert not any("started" in line for line in lines)

        kubectl.apply(
            namespace("life"),
            _web_deployment(),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "survivor", "namespace": "life"},
                "data": {"kept": "yes"},
            },
        )
        kubectl.run("rollout", "status", "-n", "life", "deployment/web", "--timeout=90s", timeout=100)

        # A dead kubelet and containerd are named, restarted, and the node serves again.
        for name in ("kubelet", "containerd"):
            pid = pids[name]
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        assert eventually(
            lambda: (
                {c.name for c in cluster.status(layout, PORTS, honour_kubeconfig=False).dead}
                == {"kubelet", "containerd"}
            ),
            timeout=10,
        )
        lines.clear()
        recovered = cluster.start(layout, echo=lines.append, ports=PORTS, honour_kubeconfig=False)
        assert recovered.running and recovered.node_ready
        for name in ("kubelet", "containerd"):
            assert any(f"{name} (pid {pids[name]}) had stopped" in line and f"{name}.log" in line for line in lines)
        kubectl.run("rollout", "status", "-n", "life", "deployment/web", "--timeout=90s", timeout=100)

        holder = pids["node-namespaces"]
        assert holder is not None
        net_link = os.readlink(f"/proc/{holder}/ns/net")
        cgroup_root = node.cgroup_root(layout.root)
        assert node.cgroup_pids(cgroup_root), "the pods must run in the node's cgroups"

        stopped = cluster.stop(layout, echo=_quiet)
        assert set(stopped) == {c.name for c in (*cluster.COMPONENTS, cluster.HOLDER)}
        assert not _processes_in_namespace(net_link), "a process (and with it the node's links) was left behind"
        assert not node.cgroup_pids(cgroup_root)
        assert not [p for p in Path("/sys/fs/cgroup").glob(f"*/{cgroup_root.lstrip('/')}")], "cgroups left behind"
        assert str(layout.root) not in Path("/proc/self/mountinfo").read_text(), "mounts left behind"
        down = cluster.status(layout, PORTS, honour_kubeconfig=False)
        assert not down.running and not any(c.running for c in down.components)

        cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
        assert kubectl.get("configmap", "survivor", "life")["data"] == {"kept": "yes"}
        # The status the controller kept from before the stop can satisfy `rollout status` while the
        # restarted node is still bringing the pod back: wait for it to be available again.
        kubectl.run("rollout", "status", "-n", "life", "deployment/web", "--timeout=90s", timeout=100)
        assert eventually(lambda: _available(kubectl), timeout=90)
    finally:
        cluster.stop(layout, echo=_quiet)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    layout = cluster.Layout(tmp_path / "cluster")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", PORTS.apiserver))
        squatter.listen()
        with pytest.raises(cluster.ClusterError, match=f"port {PORTS.apiserver} on 127.0.0.1 is in use"):
            cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
    assert not any(c.running for c in cluster.status(layout, PORTS, honour_kubeconfig=False).components)


def test_external_kubeconfig_is_used_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(theirs))
    lines: list[str] = []
    state = cluster.start(cluster.Layout(tmp_path / "unused"), echo=lines.append)
    assert state.external and state.kubeconfig == theirs
    assert not (tmp_path / "unused").exists()
