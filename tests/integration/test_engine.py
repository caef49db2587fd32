"""The built Pulumi engine against the embedded cluster: up, a no-op second up, destroy."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto

from autocloud.runtime import engine
from tests.integration.conftest import EmbeddedCluster, copy_program

pytestmark = pytest.mark.integration


def _stack(work: Path, state_dir: Path, cluster: EmbeddedCluster, namespace: str) -> auto.Stack:
    stack = engine.select_stack("dev", work_dir=work, state_dir=state_dir, kubeconfig=cluster.kubeconfig)
    stack.set_config("namespace", auto.ConfigValue(namespace))
    stack.set_config("kubeconfig", auto.ConfigValue(cluster.kubeconfig.read_text(), secret=True))
    return stack


def test_up_noop_destroy(test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path) -> None:
    work = copy_program("small-k8s", tmp_path)
    stack = _stack(work, state_dir, test_cluster, "engine-test")
    api = test_cluster.api()

    first = stack.up(on_output=print)
    assert first.summary.result == "succeeded"
    assert first.summary.resource_changes == {"create": 5}
    assert first.outputs["ready_replicas"].value == 2
    deployment = api.request("GET", "/apis/apps/v1/namespaces/engine-test/deployments/web")
    assert deployment["status"]["readyReplicas"] == 2
    config_map = api.request("GET", "/api/v1/namespaces/engine-test/configmaps/settings")
    assert config_map["data"] == {"greeting": "hello"}

    second = stack.up(on_output=print)
    assert second.summary.resource_changes == {"same": 5}

    stack.destroy(on_output=print)
    namespaces = api.request("GET", "/api/v1/namespaces")["items"]
    remaining = [
        ns
        for ns in namespaces
        if ns["metadata"]["name"] == "engine-test" and ns.get("status", {}).get("phase") != "Terminating"
    ]
    assert remaining == []
    deployment = stack.export_stack().deployment or {}
    assert deployment.get("resources", []) == []


def test_secrets_are_encrypted_in_state(test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path) -> None:
    work = copy_program("small-k8s", tmp_path)
    stack = _stack(work, state_dir, test_cluster, "secret-test")
    stack.up(on_output=print)
    try:
        token = test_cluster.layout.token_file.read_text().split(",", 1)[0]
        state_files = [p for p in (state_dir / "backend").rglob("*.json") if p.is_file()]
        assert state_files, "the file backend wrote no state"
        for path in state_files:
            assert token not in path.read_text(), f"{path} holds the cluster token in plain text"
    finally:
        stack.destroy(on_output=print)
