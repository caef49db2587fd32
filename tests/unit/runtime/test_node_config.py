"""The embedded node's generated configuration: parseable, secure, and kept inside the node."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from autocloud.runtime import cluster, node
from platform_model.local_images import image_reference


def test_containerd_config_is_valid_toml_with_the_trial_settings(tmp_path: Path) -> None:
    paths = node.NodePaths(tmp_path)
    config = tomllib.loads(node.containerd_config(paths, Path("/opt/bin"), image_reference("pause")))
    assert config["version"] == 3
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]["options"]
    assert runc == {"BinaryName": "/opt/bin/runc", "SystemdCgroup": False}
    assert runtime["cni"]["bin_dirs"] == ["/opt/bin/cni"]
    assert config["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == image_reference("pause")
    assert "io.containerd.nri.v1.nri" in config["disabled_plugins"]


def test_kubelet_is_locked_down(tmp_path: Path) -> None:
    config = json.loads(node.kubelet_config(node.NodePaths(tmp_path), tmp_path / "pki", "/autocloud-x"))
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authentication"]["webhook"]["enabled"] is True
    assert config["authorization"]["mode"] == "Webhook"
    assert config["readOnlyPort"] == 0
    assert config["address"] == node.NODE_IP and config["healthzBindAddress"] == "127.0.0.1"
    assert config["cgroupRoot"] == "/autocloud-x" and config["failCgroupV1"] is False


def test_kube_proxy_leaves_the_hosts_conntrack_settings_alone() -> None:
    config = json.loads(node.kube_proxy_config(Path("/k")))
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["conntrack"]["tcpEstablishedTimeout"] == "0s"


def test_cni_config_keeps_ipam_state_on_the_nodes_tmpfs() -> None:
    bridge = json.loads(node.cni_config())["plugins"][0]
    assert bridge["ipam"]["dataDir"].startswith("/run/")
    assert bridge["ipam"]["ranges"] == [[{"subnet": node.POD_SUBNET}]]


def test_cgroup_root_differs_per_cluster_folder(tmp_path: Path) -> None:
    assert node.cgroup_root(tmp_path / "a") != node.cgroup_root(tmp_path / "b")
    assert node.cgroup_root(tmp_path / "a") == node.cgroup_root(tmp_path / "a")


def test_every_listener_is_inside_the_node_or_on_loopback() -> None:
    lay = cluster.Layout(Path("/c"))
    args = {comp.name: comp.args(lay) for comp in cluster.COMPONENTS}
    assert "--anonymous-auth=false" in args["kube-apiserver"]
    assert "--client-cert-auth" in args["etcd"]
    for flag in ("--listen-client-urls", "--listen-peer-urls", "--listen-metrics-urls"):
        value = next(a for a in args["etcd"] if a.startswith(flag + "="))
        assert "127.0.0.1" in value
    assert "--health-port=0" in args["kube-router"] and "--metrics-port=0" in args["kube-router"]
    assert cluster.Ports.at(36000).apiserver == 36443


def test_port_base_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLOUD_CLUSTER_PORT_BASE", "99999")
    with pytest.raises(cluster.ClusterError, match="must be between 1024 and 65000"):
        cluster.Ports.from_env()
