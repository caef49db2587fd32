"""Drift of a deployed stack, found by a refreshed preview under the real engine and API server: nothing
right after `up`, then three changes made by hand, and the stack's state untouched by the checks."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pulumi import automation as auto

from autocloud.operations.drift import MISSING, stack_drift
from autocloud.runtime import engine
from tests.integration.conftest import EmbeddedCluster, copy_program
from tests.integration.kube import Kubectl

pytestmark = pytest.mark.integration

NAMESPACES = ("drift-test",)


def _state_digest(state_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((state_dir / "backend").rglob("*.json")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_drift_finds_what_changed_by_hand_and_writes_nothing(
    test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path
) -> None:
    work = copy_program("drift-k8s", tmp_path)
    stack = engine.select_stack("dev", work_dir=work, state_dir=state_dir, kubeconfig=test_cluster.kubeconfig)
    stack.set_config("namespace", auto.ConfigValue(NAMESPACES[0]))
    stack.set_config("kubeconfig", auto.ConfigValue(test_cluster.kubeconfig.read_text(), secret=True))
    stack.up(on_output=print)
    try:
        assert stack_drift(stack) == []

        kubectl = Kubectl(test_cluster.kubeconfig)
        namespace = NAMESPACES[0]
        kubectl.run("-n", namespace, "scale", "deployment/web", "--replicas=3")
        kubectl.run("-n", namespace, "patch", "configmap/settings", "--type=merge", "-p", '{"data":{"greeting":"bye"}}')
        kubectl.run("-n", namespace, "delete", "service/web")
        before = _state_digest(state_dir)

        found = stack_drift(stack)

        assert _state_digest(state_dir) == before, "a drift check wrote the stack's state"
        assert any(
            d.resource == "kubernetes:core/v1:Service::web-svc" and d.change == "missing" and d.deployed == MISSING
            for d in found
        )
        replicas = [d for d in found if d.resource == "kubernetes:apps/v1:Deployment::web"]
        assert any(d.property.endswith("replicas") and d.deployed == 3 and d.declared == 1 for d in replicas), found
        greeting = [d for d in found if d.resource == "kubernetes:core/v1:ConfigMap::settings"]
        assert any(d.deployed == "bye" and d.declared == "hello" for d in greeting), found
    finally:
        stack.destroy(on_output=print)
