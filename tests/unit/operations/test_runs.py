"""One deploying command at a time: two racing processes, the second refused with the first's pid;
policy config files that a reader never sees half-written."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from autocloud import cli
from autocloud.operations import deploy, runs
from autocloud.runtime import cluster, toolchain
from platform_model.files import write_atomically

RACER = """
import json, sys, threading
from pathlib import Path
from autocloud.operations import deploy, runs
state = Path(sys.argv[1])
try:
    runs.hold("up", state)
except runs.RunLocked as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
print("holding", flush=True)
# Holds the lock, writing and reading the policy config, until its standard input is closed.
released = threading.Thread(target=sys.stdin.read)
released.start()
while True:
    for path in deploy.policy_args("local-eu", state)[1]:
        json.loads(Path(path).read_text())
    if not released.is_alive():
        break
"""


def _racer(state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RACER, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_up_started_half_a_second_later_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = _racer(tmp_path)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "holding"
    time.sleep(0.5)
    second = _racer(tmp_path)
    _, second_err = second.communicate(timeout=60)  # the first still holds the lock: it waits for its input
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 1
    assert second_err.strip() == f"another autocloud up is running (pid {first.pid}); wait for it to finish"
    third = _racer(tmp_path)
    third.communicate(timeout=60)
    assert third.returncode == 0, "the lock must be free once its holder has exited"


def test_up_refuses_before_starting_anything_while_another_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom pathlib import Path\nfrom autocloud.operations import runs\n"
         "runs.hold('rollout', Path(sys.argv[1]))\nprint('holding', flush=True)\ntime.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr(runs, "STATE_DIR", tmp_path)
        started: list[str] = []
        monkeypatch.setattr(toolchain, "build", lambda **_kw: started.append("toolchain"))
        monkeypatch.setattr(cluster, "start", lambda **_kw: started.append("cluster"))
        result = CliRunner().invoke(cli.app, ["up", "--region", "eu"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"another autocloud rollout is running (pid {holder.pid})" in " ".join(result.output.split())
    assert started == []


def test_policy_config_is_never_seen_half_written(tmp_path: Path) -> None:
    target = tmp_path / "policy-config" / "x.json"
    bodies = [json.dumps({"rule": {"boundary": [f"loc{i}" for i in range(n)]}}) for n in (1, 4000)]
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            write_atomically(target, bodies[i % 2])
            i += 1

    write_atomically(target, bodies[0])
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = {target.read_text() for _ in range(3000)}
    finally:
        stop.set()
        thread.join()
    assert seen <= set(bodies)
    assert list(target.parent.iterdir()) == [target], "temporary files left behind"


def test_every_deploying_command_ensures_the_local_runtime_once_and_only_for_local_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(runs, "STATE_DIR", tmp_path)
    monkeypatch.setattr(toolchain, "build", lambda **_kw: started.append("toolchain"))
    monkeypatch.setattr(cluster, "start", lambda **_kw: started.append("cluster"))
    monkeypatch.setattr(
        runs, "component_watch", lambda *_a, **_k: contextlib.nullcontext(SimpleNamespace(failure=None))
    )
    monkeypatch.setattr(deploy, "down_local", lambda **_kw: [])

    def deployed(stack: str, _overrides: object = None, **_kw: object) -> deploy.StackResult:
        return deploy.StackResult(stack, "eu", True, "preview")

    monkeypatch.setattr(deploy, "deploy_stack", deployed)
    for args, expected in [
        (["up", "--region", "eu"], ["toolchain", "cluster"]),
        (["down", "--region", "eu"], ["toolchain", "cluster"]),
        (["rollout", "rollouts/local.yaml", "--preview"], ["toolchain", "cluster"]),
        (["rollout", "rollouts/azure.yaml", "--preview"], []),
    ]:
        started.clear()
        result = CliRunner().invoke(cli.app, args)
        runs.release()
        assert result.exit_code == 0, result.output
        assert started == expected, args


def test_a_failed_stacks_cause_is_one_plain_line_after_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cause = "error: configured Kubernetes cluster is unreachable: dial tcp 127.0.0.1:36443: connect: connection refused"
    monkeypatch.setattr(runs, "STATE_DIR", tmp_path)
    monkeypatch.setattr(runs, "ensure_local_runtime", lambda _echo: None)
    monkeypatch.setattr(
        runs, "component_watch", lambda *_a, **_k: contextlib.nullcontext(SimpleNamespace(failure=None))
    )
    monkeypatch.setattr(
        deploy,
        "deploy_stack",
        lambda stack, *_a, **_k: deploy.StackResult(stack, "eu", False, "preview", message=cause),
    )
    try:
        result = CliRunner().invoke(cli.app, ["up", "--region", "eu"])
    finally:
        runs.release()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert [line for line in lines if "unreachable" in line] == [f"error: local-eu: preview failed: {cause}"]
    assert lines[-1] == f"error: local-eu: preview failed: {cause}"
