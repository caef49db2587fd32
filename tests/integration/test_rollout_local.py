"""A three-region rollout through the real engine and policy packs against the embedded cluster, with
health gates: wave one is gated (and baked) by its own simulated vehicles; a failing stack in wave two
stops the rollout; resumed, wave two's gate fails and halts it before wave three, saying why; resumed
again, the gate is re-checked before wave three starts, and nothing done is redone."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import HTTPError

import pytest

from autocloud.operations import deploy
from autocloud.operations.rollout import load_rollout, run_rollout, state_file
from tests.integration.conftest import EmbeddedCluster

pytestmark = pytest.mark.integration
RUNS_LONG = True
"""Minutes of gates and bake time (conftest schedules it first)."""

ROLLOUT = """
name: it-rollout
waves:
  - name: eu
    stacks: [{{stack: local-eu, config: {{"autocloud:namespace": ro-eu}}}}]
    gate: {{simulate: {{vehicles: 2, messages: 2}}}}
    bake: 2s
  - name: us
    stacks: [{{stack: local-us, config: {{"autocloud:namespace": ro-us, "autocloud:vehicles": {us_vehicles}}}}}]
    gate: {{command: "test ! -e {marker}"}}
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


def test_failures_and_failing_gates_stop_the_rollout_and_resume_rechecks_then_finishes(
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
    marker = tmp_path / "us-unhealthy"
    marker.touch()
    path.write_text(ROLLOUT.format(us_vehicles=-5, marker=marker))
    try:
        first = run_rollout(load_rollout(path), runner, state_dir=state_dir)
        status = {s: p.status for s, p in first.progress.items()}
        assert status == {"local-eu": "done", "local-us": "failed", "local-cn": "skipped"}
        assert "autocloud:vehicles" in first.progress["local-us"].message
        eu_gate = first.gates[0]
        assert eu_gate.status == "passed" and eu_gate.runs >= 2, "the gate runs, then again while the wave bakes"
        assert [(c.kind, c.ok) for c in eu_gate.checks] == [("simulate", True)], eu_gate.checks
        assert "none lost" in eu_gate.checks[0].detail
        assert _namespace_exists(test_cluster, "ro-eu")
        assert not _namespace_exists(test_cluster, "ro-us")
        assert not _namespace_exists(test_cluster, "ro-cn"), "wave three must not start after a failure"

        calls.clear()
        path.write_text(ROLLOUT.format(us_vehicles=1500000, marker=marker))
        halted = run_rollout(load_rollout(path), runner, resume=True, state_dir=state_dir)
        assert not halted.ok
        assert {s: p.status for s, p in halted.progress.items()}["local-cn"] == "skipped"
        us_gate = halted.gates[1]
        assert us_gate.status == "failed" and "local-us command" in us_gate.message, us_gate.message
        assert not _namespace_exists(test_cluster, "ro-cn"), "a failed gate halts before the next wave"
        saved = json.loads(state_file(halted.rollout, state_dir).read_text())
        assert [g["status"] for g in saved["gates"] if g["wave"] == "us"] == ["failed"], "recorded in the saved result"

        calls.clear()
        marker.unlink()
        resumed = run_rollout(load_rollout(path), runner, resume=True, state_dir=state_dir)
        assert resumed.ok
        assert resumed.gates[1].status == "passed", "resume re-checks the gate before going on"
        assert {stack for stack, _ in calls} == {"local-cn"}, "resume must not redo what is done"
        for namespace in ("ro-eu", "ro-us", "ro-cn"):
            assert _namespace_exists(test_cluster, namespace)
    finally:
        stacks = ("local-cn", "local-us", "local-eu")
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            list(pool.map(lambda stack: deploy.destroy_stack(stack, echo=lambda _l: None, state_dir=state_dir), stacks))
