"""Rollout files and wave semantics, with a recording runner in place of the engine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from autocloud.operations.deploy import ConfigValue, StackResult
from autocloud.operations.gates import Check, CheckKind, Gate
from autocloud.operations.rollout import Rollout, RolloutRun, load_rollout, run_rollout, state_file
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
        outputs = {"endpoint": f"{stack}.example"} if ok else {}
        return StackResult(stack, "eu", ok, "up", {"same": 3} if ok else {}, outputs, message="" if ok else "boom")


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


GATED = """
name: gated
waves:
  - name: canary
    canary: true
    stacks: [local-eu]
    gate: {command: ./healthy.sh}
    bake: 2m
  - name: second
    stacks: [local-us, local-cn]
    gate: {simulate: {vehicles: 4, messages: 2}}
  - name: third
    stacks: [azure-eu]
    gate: {command: ./healthy.sh}
"""


class Clock:
    """A clock that only moves when the runner sleeps, so a bake of minutes runs at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Checker:
    """Stands in for the real gate: records (stack, check kind, outputs seen, time) and fails a stack's
    checks from its `fail_at`-th run of that stack on."""

    def __init__(self, clock: Clock, fail: dict[str, int] | None = None) -> None:
        self.clock = clock
        self.fail = fail or {}
        self.calls: list[tuple[str, str, object, float]] = []

    def __call__(
        self, stack: str, overrides: Mapping[str, ConfigValue], gate: Gate, outputs: Mapping[str, object] | None
    ) -> list[Check]:
        kind: CheckKind = "simulate" if gate.simulate else "command"
        self.calls.append((stack, kind, outputs, self.clock.now))
        runs = sum(1 for s, *_ in self.calls if s == stack)
        ok = runs < self.fail.get(stack, 1 << 30)
        return [Check(stack, kind, ok, "fine" if ok else "lost 3 of 8 messages")]

    def stacks(self) -> list[str]:
        return [s for s, *_ in self.calls]


def gated_run(
    tmp_path: Path, rollout: Rollout, runner: Recorder, checker: Checker, **kwargs: Any
) -> tuple[RolloutRun, list[str]]:
    lines: list[str] = []
    run = run_rollout(
        rollout,
        runner,
        state_dir=tmp_path / "state",
        checker=checker,
        sleep=checker.clock.sleep,
        clock=checker.clock,
        on_gate=lambda _r, g: lines.append(f"{g.wave} {g.status}"),
        **kwargs,
    )
    return run, lines


def test_gates_run_after_each_wave_and_the_canary_bakes_before_the_next(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    clock, order = Clock(), []
    runner = Recorder()
    checker = Checker(clock)
    recorded = runner.__call__

    def applying(stack: str, *args: Any, **kwargs: Any) -> StackResult:
        order.append(f"apply {stack} at {clock.now:g}")
        return recorded(stack, *args, **kwargs)

    run, lines = gated_run(tmp_path, rollout, applying, checker)  # type: ignore[arg-type]
    assert run.ok
    # The canary's gate ran once, then every 24 s (a fifth of 2m) until two minutes had passed.
    canary = [t for s, _, _, t in checker.calls if s == "local-eu"]
    assert canary == [1000, 1024, 1048, 1072, 1096, 1120]
    assert clock.sleeps[:5] == [24.0] * 5
    assert order[1:] == ["apply local-us at 1120", "apply local-cn at 1120", "apply azure-eu at 1120"]
    assert sorted(checker.stacks()[6:8]) == ["local-cn", "local-us"] and checker.calls[6][1] == "simulate"
    assert run.gates[0].status == "passed" and run.gates[0].runs == 6 and run.gates[0].baked == 120
    assert lines[:3] == ["canary checking", "canary baking", "canary baking"] and lines[-1] == "third passed"
    # the outputs the runner's apply returned are what a command gate gets
    assert checker.calls[0][2] == {"endpoint": "local-eu.example"}


def test_a_failing_gate_in_wave_two_halts_before_wave_three_and_says_why(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    runner = Recorder()
    run, _ = gated_run(tmp_path, rollout, runner, Checker(Clock(), fail={"local-cn": 1}))
    assert not run.ok
    assert [s for s, _, _ in runner.calls if s == "azure-eu"] == []
    assert run.progress["azure-eu"].status == "skipped"
    assert run.progress["azure-eu"].message == "the gate of wave 'second' failed"
    gate = run.gates[1]
    assert gate.status == "failed"
    assert gate.message == "gate failed: local-cn simulate: lost 3 of 8 messages"
    assert run.gates[2].status == "skipped"
    saved = json.loads(state_file(rollout, tmp_path / "state").read_text())
    assert not saved["ok"]
    recorded = {g["wave"]: g for g in saved["gates"]}
    assert recorded["second"]["status"] == "failed" and "local-cn simulate" in recorded["second"]["message"]
    assert {"stack": "local-cn", "check": "simulate", "ok": False, "detail": "lost 3 of 8 messages"} in recorded[
        "second"
    ]["checks"]
    assert recorded["third"]["status"] == "skipped"


def test_a_gate_that_fails_while_baking_halts_the_rollout(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    runner = Recorder()
    checker = Checker(Clock(), fail={"local-eu": 3})
    run, _ = gated_run(tmp_path, rollout, runner, checker)
    assert [s for s, _, _ in runner.calls] == ["local-eu"]
    assert checker.stacks() == ["local-eu"] * 3
    assert run.gates[0].message == "gate failed after 48s of the 2m bake: local-eu command: lost 3 of 8 messages"
    assert run.gates[0].baked == 48
    assert {p.status for s, p in run.progress.items() if s != "local-eu"} == {"skipped"}


def test_resume_rechecks_the_gate_of_the_last_applied_wave(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    gated_run(tmp_path, rollout, Recorder(), Checker(Clock(), fail={"local-cn": 1}))
    again, checker = Recorder(), Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, again, checker, resume=True)
    assert run.ok
    assert [s for s, _, _ in again.calls] == ["azure-eu"]
    # the failed wave's gate first (no apply this run: outputs read by the checker), then wave three's
    assert checker.stacks() == ["local-us", "local-cn", "azure-eu"]
    assert checker.calls[0][2] is None
    assert run.gates[0].status == "passed" and run.gates[0].runs == 0
    assert run.gates[1].status == "passed" and run.gates[1].runs == 1


def test_resume_halts_again_when_the_rechecked_gate_still_fails(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    gated_run(tmp_path, rollout, Recorder(), Checker(Clock(), fail={"local-cn": 1}))
    again = Recorder()
    run, _ = gated_run(tmp_path, rollout, again, Checker(Clock(), fail={"local-cn": 1}), resume=True)
    assert not run.ok and again.calls == []
    assert run.progress["azure-eu"].status == "skipped"


def test_resume_after_an_interrupted_bake_bakes_again(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    gated_run(tmp_path, rollout, Recorder(), Checker(Clock(), fail={"local-eu": 2}))
    checker = Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, Recorder(), checker, resume=True)
    assert run.ok
    assert checker.stacks()[:6] == ["local-eu"] * 6, "the canary bakes in full again"
    assert run.gates[0].baked == 120


def test_resume_of_a_finished_rollout_rechecks_only_its_last_wave(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    assert gated_run(tmp_path, rollout, Recorder(), Checker(Clock()))[0].ok
    again, checker = Recorder(), Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, again, checker, resume=True)
    assert run.ok and again.calls == []
    assert checker.stacks() == ["azure-eu"]


def test_preview_and_no_gates_run_no_gate(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    checker = Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, Recorder(), checker, preview_only=True)
    assert run.ok and checker.calls == []
    assert {g.status for g in run.gates.values()} == {"skipped"}
    run, _ = gated_run(tmp_path, rollout, Recorder(), checker, gates=False)
    assert run.ok and checker.calls == []


def test_gate_only_applies_nothing_and_checks_each_gate_once(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir).restricted(["local-eu"])
    runner, checker = Recorder(), Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, runner, checker, gate_only=True)
    assert run.ok and runner.calls == []
    assert checker.stacks() == ["local-eu"] and checker.clock.sleeps == []
    assert not state_file(rollout, tmp_path / "state").exists()
    failing = Checker(Clock(), fail={"local-eu": 1})
    assert not gated_run(tmp_path, rollout, runner, failing, gate_only=True)[0].ok


def test_a_stack_failure_skips_its_wave_gate(tmp_path: Path, stacks_dir: Path) -> None:
    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    checker = Checker(Clock())
    run, _ = gated_run(tmp_path, rollout, Recorder(fail={"local-us"}), checker)
    assert not run.ok
    assert run.gates[1].status == "skipped" and run.gates[1].message == "a stack of this wave failed"
    assert "local-us" not in checker.stacks()


def test_progress_table_shows_gate_state(tmp_path: Path, stacks_dir: Path) -> None:
    from rich.console import Console

    from autocloud.operations.progress import RolloutView

    rollout = load_rollout(write(tmp_path, GATED), stacks_dir)
    run, _ = gated_run(tmp_path, rollout, Recorder(), Checker(Clock(), fail={"local-cn": 1}))
    console = Console(width=250, record=True)
    console.print(RolloutView.table(run))
    text = console.export_text()
    assert "passed, baked 120s" in text
    assert "local-cn simulate: lost 3 of 8 messages" in text
    lines = Console(width=250, record=True)
    view = RolloutView(lines, live=False)
    view.gate_update(run, run.gates[1])
    assert lines.export_text().strip() == "[second] gate: failed: gate failed: local-cn simulate: lost 3 of 8 messages"
