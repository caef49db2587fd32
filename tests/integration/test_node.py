"""The embedded cluster's real node: real containers, cluster DNS, Services and enforced NetworkPolicies."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocloud.runtime import node
from components.local.compute import network_policies
from platform_model.vocabulary import REGION_LABEL
from tests.integration.conftest import EmbeddedCluster
from tests.integration.kube import WEB_SCRIPT, Kubectl, busybox_pod, eventually, namespace, web_service

pytestmark = pytest.mark.integration
NAMESPACES = ("node-proc", "node-svc", "np-eu", "np-us")


@pytest.fixture(scope="module")
def kubectl(test_cluster: EmbeddedCluster) -> Kubectl:
    return Kubectl(test_cluster.kubeconfig)


def _cmdlines_in(cgroup_root: str) -> list[str]:
    found = []
    for pid in node.cgroup_pids(cgroup_root):
        try:
            found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_pod_runs_a_real_process(test_cluster: EmbeddedCluster, kubectl: Kubectl) -> None:
    kubectl.apply(namespace("node-proc"), busybox_pod("web", "node-proc", WEB_SCRIPT))
    kubectl.wait_ready("node-proc", "web")

    pod = kubectl.get("pod", "web", "node-proc")
    assert pod["spec"]["nodeName"] == node.NODE_NAME
    assert pod["status"]["containerStatuses"][0]["containerID"].startswith("containerd://")
    assert kubectl.exec("node-proc", "web", "cat", "/tmp/index.html").strip() == "hello-from-web"
    assert "serving" in kubectl.run("logs", "-n", "node-proc", "web")
    # The container is a process on this machine, in the node's cgroups.
    assert any("httpd -f -p 8080" in line for line in _cmdlines_in(node.cgroup_root(test_cluster.layout.root)))


def test_service_name_resolves_and_cluster_ip_answers(kubectl: Kubectl) -> None:
    kubectl.apply(
        namespace("node-svc"),
        busybox_pod("web", "node-svc", WEB_SCRIPT),
        web_service("web", "node-svc"),
        busybox_pod("client", "node-svc", "exec sleep 3600"),
    )
    kubectl.wait_ready("node-svc", "web", "client")
    cluster_ip = kubectl.get("service", "web", "node-svc")["spec"]["clusterIP"]

    answer = kubectl.exec("node-svc", "client", "nslookup", "web.node-svc.svc.cluster.local")
    assert cluster_ip in answer
    assert eventually(lambda: kubectl.reaches("node-svc", "client", "web.node-svc.svc.cluster.local"))
    assert kubectl.reaches("node-svc", "client", cluster_ip)


def test_network_policies_keep_regions_apart(kubectl: Kubectl) -> None:
    """The region namespaces' own policies (components.local.compute), enforced by the node."""
    for region in ("eu", "us"):
        ns = f"np-{region}"
        kubectl.apply(
            namespace(ns, {REGION_LABEL: region}),
            busybox_pod("web", ns, WEB_SCRIPT),
            web_service("web", ns),
            busybox_pod("client", ns, "exec sleep 3600"),
        )
    for region in ("eu", "us"):
        kubectl.wait_ready(f"np-{region}", "web", "client")
    us_web = "web.np-us.svc.cluster.local"
    eu_web = "web.np-eu.svc.cluster.local"
    # Before any policy the regions can reach each other: what follows is the policies' doing.
    assert eventually(lambda: kubectl.reaches("np-eu", "client", us_web))

    for region in ("eu", "us"):
        ns = f"np-{region}"
        kubectl.apply(
            *[
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": spec,
                }
                for name, spec in network_policies().items()
            ]
        )

    assert eventually(lambda: not kubectl.reaches("np-eu", "client", us_web), timeout=30)
    assert kubectl.reaches("np-eu", "client", eu_web), "a region must still reach its own Service by name"
    assert not kubectl.reaches("np-us", "client", eu_web)
    assert kubectl.reaches("np-us", "client", us_web)
