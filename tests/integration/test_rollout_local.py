"""A three-region rollout through the real engine and policy packs against the embedded cluster:
a failing stack in wave two stops the rollout, then --resume finishes it without redoing wave one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import HTTPError

import pytest

from autocloud.operations import deploy
from autocloud.operations.rollout import load_rollout, run_rollout
from tests.integration.conftest import EmbeddedCluster

pytestmark = pytest.mark.integration

ROLLOUT = """
name: it-rollout
waves:
  - name: eu
    stacks: [{{stack: local-eu, config: {{"autocloud:namespace": ro-eu}}}}]
  - name: us
    stacks: [{{stack: local-us, config: {{"autocloud:namespace": ro-us, "autocloud:vehicles": {us_vehicles}}}}}]
  - name: cn
    stacks: [{{stack: local-cn, config: {{"autocloud:namespace": ro-cn}}}}]
"""


def _namespace_exists(cluster: EmbeddedCluster, name: str) -> bool:
    try:
        namespace = cluster.api().request("GET", f"/api/v1/namespaces/{name}")
    except HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    return bool(namespace.get("status", {}).get("phase") != "Terminating")


def test_failure_stops_the_rollout_and_resume_finishes_it(
    test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(test_cluster.kubeconfig))
    calls: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def runner(
        stack: str,
        overrides: Mapping[str, deploy.ConfigValue],
        *,
        apply: bool,
        on_previewed: Callable[[deploy.StackResult], None],
    ) -> deploy.StackResult:
        with lock:
            calls.append((stack, apply))
        return deploy.deploy_stack(
            stack, overrides, apply=apply, on_previewed=on_previewed, echo=lambda _l: None, state_dir=state_dir
        )

    path = tmp_path / "rollout.yaml"
    path.write_text(ROLLOUT.format(us_vehicles=-5))
    try:
        first = run_rollout(load_rollout(path), runner, state_dir=state_dir)
        status = {s: p.status for s, p in first.progress.items()}
        assert status == {"local-eu": "done", "local-us": "failed", "local-cn": "skipped"}
        assert "autocloud:vehicles" in first.progress["local-us"].message
        assert _namespace_exists(test_cluster, "ro-eu")
        assert not _namespace_exists(test_cluster, "ro-us")
        assert not _namespace_exists(test_cluster, "ro-cn"), "wave three must not start after a failure"

        calls.clear()
        path.write_text(ROLLOUT.format(us_vehicles=1500000))
        resumed = run_rollout(load_rollout(path), runner, resume=True, state_dir=state_dir)
        assert resumed.ok
        assert {stack for stack, _ in calls} == {"local-us", "local-cn"}, "resume must not redo wave one"
        for namespace in ("ro-eu", "ro-us", "ro-cn"):
            assert _namespace_exists(test_cluster, namespace)
    finally:
        stacks = ("local-cn", "local-us", "local-eu")
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            list(pool.map(lambda stack: deploy.destroy_stack(stack, echo=lambda _l: None, state_dir=state_dir), stacks))
