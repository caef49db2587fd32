"""Rollout files and wave semantics, with a recording runner in place of the engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from autocloud.operations.deploy import ConfigValue, StackResult
from autocloud.operations.rollout import load_rollout, run_rollout, state_file
from platform_model.errors import ConfigError
from platform_model.paths import REPO_ROOT

STACKS = ("local-eu", "local-us", "local-cn", "azure-eu")


@pytest.fixture()
def stacks_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "stacks"
    folder.mkdir()
    for stack in STACKS:
        (folder / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    return folder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    return path


THREE_WAVES = """
name: demo
waves:
  - name: first
    stacks: [local-eu]
  - name: second
    parallel: 2
    stacks: [local-us, {stack: local-cn, config: {"autocloud:vehicles": 1200000}}]
  - name: third
    stacks: [azure-eu]
"""


class Recorder:
    """Stands in for `deploy.deploy_stack`: records calls (stack, overrides, apply), passes every
    preview and fails the update of the stacks it is told to."""

    def __init__(self, fail: set[str] | None = None, delay: float = 0.0) -> None:
        self.fail = fail or set()
        self.delay = delay
        self.calls: list[tuple[str, dict[str, object], bool]] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def __call__(
        self,
        stack: str,
        overrides: Mapping[str, ConfigValue],
        *,
        apply: bool,
        on_previewed: Callable[[StackResult], None],
    ) -> StackResult:
        with self.lock:
            self.calls.append((stack, dict(overrides), apply))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        preview = StackResult(stack, "eu", True, "preview", {"same": 3})
        if not apply:
            return preview
        on_previewed(preview)
        ok = stack not in self.fail
        return StackResult(stack, "eu", ok, "up", {"same": 3} if ok else {}, message="" if ok else "boom")


def test_waves_run_in_order_each_stack_previewed_then_applied(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    runner = Recorder()
    seen: list[tuple[str, str]] = []
    run = run_rollout(
        rollout, runner, state_dir=tmp_path / "state", on_change=lambda _r, p: seen.append((p.stack, p.status))
    )
    assert run.ok
    assert runner.calls[0][0] == "local-eu" and runner.calls[-1][0] == "azure-eu"
    assert all(apply for _, _, apply in runner.calls)
    assert ("local-cn", {"autocloud:vehicles": 1200000}, True) in runner.calls
    assert [status for stack, status in seen if stack == "local-eu"] == ["previewing", "updating", "done"]


def test_parallel_inside_a_wave(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    runner = Recorder(delay=0.2)
    run_rollout(rollout, runner, state_dir=tmp_path / "state")
    assert runner.max_running == 2


def test_failure_in_wave_two_stops_the_rollout(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    # Both stacks of wave two start together; the failure lets the running one finish.
    run = run_rollout(rollout, Recorder(fail={"local-us"}, delay=0.1), state_dir=tmp_path / "state")
    status = {s: p.status for s, p in run.progress.items()}
    assert status == {"local-eu": "done", "local-us": "failed", "local-cn": "done", "azure-eu": "skipped"}
    assert not run.ok


def test_resume_skips_finished_stacks(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    run_rollout(rollout, Recorder(fail={"local-us"}, delay=0.1), state_dir=tmp_path / "state")
    again = Recorder()
    run = run_rollout(rollout, again, resume=True, state_dir=tmp_path / "state")
    assert run.ok
    assert {s for s, _, _ in again.calls} == {"local-us", "azure-eu"}


def test_resume_reruns_a_finished_stack_whose_entry_changed(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    run_rollout(rollout, Recorder(fail={"local-us"}, delay=0.1), state_dir=tmp_path / "state")
    changed = load_rollout(write(tmp_path, THREE_WAVES.replace("1200000", "1500000")), stacks_dir)
    again = Recorder()
    run_rollout(changed, again, resume=True, state_dir=tmp_path / "state")
    assert {s for s, _, _ in again.calls} == {"local-us", "local-cn", "azure-eu"}


def test_restricted_keeps_wave_order_and_adds_unlisted(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    only = rollout.restricted(["local-cn", "local-eu", "local-us"])
    assert [[e.stack for e in w.stacks] for w in only.waves] == [["local-eu"], ["local-us", "local-cn"]]
    extra = rollout.restricted(["local-cn"]).restricted(["local-cn", "azure-eu"])
    assert [w.name for w in extra.waves] == ["second", "unlisted"]


def test_preview_only_never_applies(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    runner = Recorder()
    seen: list[str] = []
    run = run_rollout(
        rollout, runner, preview_only=True, state_dir=tmp_path / "state", on_change=lambda _r, p: seen.append(p.status)
    )
    assert run.ok and not any(apply for _, _, apply in runner.calls)
    assert "updating" not in seen
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [nope]\n",
            "rollout.yaml: waves[0].stacks[0]: unknown stack 'nope'",
        ),
        ("name: x\nwaves:\n  - name: a\n    stacks: []\n", "rollout.yaml: waves[0].stacks:"),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n  - name: b\n    stacks: [local-eu]\n",
            "rollout.yaml: waves[1].stacks[0]: stack 'local-eu' is already in wave 'a'",
        ),
        ("name: x\nwaves: []\n", "rollout.yaml: waves:"),
        ("name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    paralel: 2\n", "rollout.yaml: waves[0].paralel:"),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [{stack: local-eu, config: {vehicles: 3}}]\n",
            "needs its namespace",
        ),
        ("name: [\n", "rollout.yaml: not valid YAML at line 2"),
        (
            "name: x\nbackend: s3://bucket\nwaves:\n  - name: a\n    stacks: [local-eu]\n",
            "rollout.yaml: backend: 's3://bucket': unsupported state backend",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {simulate: {vehicles: 0}}\n",
            "rollout.yaml: waves[0].gate.simulate.vehicles: Input should be greater than or equal to 1",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {}\n",
            "rollout.yaml: waves[0].gate: needs `simulate: {vehicles: N, messages: M}`, `command: ...` or both",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {command: '  '}\n",
            "rollout.yaml: waves[0].gate.command: must be a non-empty command line",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {simulat: {vehicles: 2}}\n",
            "rollout.yaml: waves[0].gate.simulat: Extra inputs are not permitted",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {command: 'true'}\n    bake: 30\n",
            "rollout.yaml: waves[0].bake: 30 is not a duration such as 30s, 5m or 1h30m",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    gate: {command: 'true'}\n    bake: 25h\n",
            "rollout.yaml: waves[0].bake: '25h' must be between 1s and 24h",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    bake: 5m\n",
            "rollout.yaml: waves[0].bake: a bake re-runs the wave's gate; add `gate:` to the wave",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n    canary: true\n    gate: {command: 'true'}\n",
            "rollout.yaml: waves[0].canary: a canary wave needs `gate:` and `bake:`",
        ),
        (
            "name: x\nwaves:\n  - name: a\n    stacks: [local-eu]\n  - name: b\n    stacks: [local-us]\n"
            "    canary: true\n    gate: {command: 'true'}\n    bake: 1m\n",
            "rollout.yaml: waves[1].canary: only the first wave can be the canary",
        ),
    ],
)
def test_invalid_rollout_files(tmp_path: Path, stacks_dir: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_rollout(write(tmp_path, text), stacks_dir)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_shipped_rollouts_are_valid() -> None:
    root = REPO_ROOT
    for path in sorted((root / "rollouts").glob("*.yaml")):
        assert load_rollout(path).waves


def test_rollout_backend_setting(tmp_path: Path, stacks_dir: Path) -> None:
    url = "azblob://team-state?storage_account=fleetstate"
    text = f"name: x\nbackend: {url}\nwaves:\n  - name: a\n    stacks: [local-eu]\n"
    assert load_rollout(write(tmp_path, text), stacks_dir).backend == url


@pytest.mark.parametrize(
    "saved", [b"\xff\xfe", b"[1, 2]", b'{"stacks": {"a": 1}}', b'{"stacks": [[], {"status": "done"}]}']
)
def test_resume_with_a_damaged_state_file_runs_everything(tmp_path: Path, stacks_dir: Path, saved: bytes) -> None:
    rollout = load_rollout(write(tmp_path, THREE_WAVES), stacks_dir)
    path = state_file(rollout, tmp_path / "state")
    path.parent.mkdir(parents=True)
    path.write_bytes(saved)
    again = Recorder()
    assert run_rollout(rollout, again, resume=True, state_dir=tmp_path / "state").ok
    assert {s for s, _, _ in again.calls} == {"local-eu", "local-us", "local-cn", "azure-eu"}


def test_gate_bake_and_canary_settings(tmp_path: Path, stacks_dir: Path) -> None:
    text = (
        "name: x\nwaves:\n  - name: a\n    canary: true\n    stacks: [local-eu]\n"
        "    gate: {simulate: {vehicles: 5, messages: 3}, command: ./check.sh}\n    bake: 1h2m3s\n"
    )
    wave = load_rollout(write(tmp_path, text), stacks_dir).waves[0]
    assert wave.canary and wave.gate is not None
    assert (wave.gate.simulate and wave.gate.simulate.vehicles, wave.gate.command) == (5, "./check.sh")
    assert wave.bake == "1h2m3s" and wave.bake_seconds == 3723
