"""The real gate checks: a command with the stack's outputs in its environment, the simulate check's
verdict on a simulation's counts, and what a gate does on an Azure stack or an undeployed one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autocloud.operations import gates, simulate
from autocloud.operations.gates import Gate, SimulateGate, StackGate, bake_interval, duration_seconds
from platform_model.errors import InputError


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("2m5s", 125)])
def test_durations(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "1d", "-5m", "5m1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 30s, 5m or 1h30m"):
        duration_seconds(text)


def test_bake_interval_is_thirty_seconds_or_a_fifth_of_a_short_bake() -> None:
    assert bake_interval(3600) == 30
    assert bake_interval(150) == 30
    assert bake_interval(60) == 12


def test_output_environment_flattens_scalars_and_keeps_everything_as_json() -> None:
    outputs = {"dpsEndpoint": "dps.eu:8883", "scale-units": 2, "private": False, "hubs": ["a", "b"]}
    env = gates.output_environment("local-eu", outputs)
    assert env["AUTOCLOUD_STACK"] == "local-eu"
    assert json.loads(env["AUTOCLOUD_OUTPUTS"]) == outputs
    assert env["AUTOCLOUD_OUTPUT_DPSENDPOINT"] == "dps.eu:8883"
    assert env["AUTOCLOUD_OUTPUT_SCALE_UNITS"] == "2"
    assert env["AUTOCLOUD_OUTPUT_PRIVATE"] == "false"
    assert not any(key.endswith("HUBS") for key in env)


def test_a_command_gate_sees_the_outputs_and_passes_on_exit_zero() -> None:
    script = 'test "$AUTOCLOUD_OUTPUT_ENDPOINT" = "hub.eu" && test "$AUTOCLOUD_STACK" = local-eu'
    check = gates.run_command("local-eu", script, {"endpoint": "hub.eu"})
    assert check.ok and check.kind == "command" and "exited 0" in check.detail
    assert not gates.run_command("local-eu", script, {"endpoint": "hub.us"}).ok


def test_a_failing_command_says_its_exit_code_and_last_line() -> None:
    check = gates.run_command("local-eu", "echo starting; echo 'p99 latency 900 ms' >&2; exit 3", {})
    assert not check.ok
    assert check.detail.endswith("exited 3: p99 latency 900 ms")
    assert check.line().startswith("local-eu command: ")


def test_a_command_that_hangs_fails_at_its_timeout() -> None:
    check = gates.run_command("local-eu", "sleep 5", {}, timeout=0.2)
    assert not check.ok and "did not finish within 0.2s" in check.detail


def test_simulate_on_an_azure_stack_drives_its_dps_and_hubs_from_its_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, simulate.SimulationArgs, Any]] = []

    def run_azure(stack: str, args: simulate.SimulationArgs, outputs: Any, **_k: Any) -> simulate.SimulationResult:
        seen.append((stack, args, outputs))
        return simulate.SimulationResult(sent=4, delivered=4, store_read=False)

    monkeypatch.setattr(simulate, "run_azure", run_azure)
    monkeypatch.setattr(StackGate, "read_outputs", lambda _self, _stack: {"endpoints": {"provisioning": "x"}})
    checks = StackGate(state_dir=Path("/tmp/state"))("azure-eu", {}, Gate(simulate=SimulateGate(vehicles=2)), None)
    assert [(c.kind, c.ok, c.detail) for c in checks] == [
        ("simulate", True, "2 vehicles x 10 messages: 4 acknowledged by IoT Hub, none lost")
    ]
    stack, args, outputs = seen[0]
    assert (stack, args.region, args.fleet_dir, outputs) == (
        "azure-eu", "eu", Path("/tmp/state/fleet"), {"endpoints": {"provisioning": "x"}}
    )  # fmt: skip


def _fake_run(result: simulate.SimulationResult, seen: list[simulate.SimulationArgs]) -> Any:
    def run(args: simulate.SimulationArgs, *_a: Any, **_k: Any) -> simulate.SimulationResult:
        seen.append(args)
        return result

    return run


def test_simulate_gate_passes_only_without_loss_or_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[simulate.SimulationArgs] = []
    monkeypatch.setattr(simulate, "run", _fake_run(simulate.SimulationResult(sent=6, delivered=6, stored=6), seen))
    check = gates.simulate_check("local-eu", True, "eu", "ro-eu", SimulateGate(vehicles=3, messages=2))
    assert check.ok and check.detail == "3 vehicles x 2 messages: 6 stored, none lost"
    assert (seen[0].region, seen[0].vehicles, seen[0].messages, seen[0].target_namespace) == ("eu", 3, 2, "ro-eu")

    lossy = simulate.SimulationResult(sent=6, delivered=6, stored=4, refused={"DPS refused": 1})
    monkeypatch.setattr(simulate, "run", _fake_run(lossy, seen))
    check = gates.simulate_check("local-eu", True, "eu", None, SimulateGate(vehicles=3, messages=2))
    assert not check.ok
    assert check.detail == "3 vehicles x 2 messages: lost 2 of 6 messages; 1 vehicle refused (DPS refused)"


def test_simulate_gate_that_cannot_reach_the_region_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*_a: Any, **_k: Any) -> simulate.SimulationResult:
        raise simulate.SimulationError("namespace autocloud-eu: no DPS, hubs or state store found")

    monkeypatch.setattr(simulate, "run", unreachable)
    check = gates.simulate_check("local-eu", True, "eu", None, SimulateGate(vehicles=1))
    assert not check.ok and "could not run: SimulationError: namespace autocloud-eu" in check.detail


def test_stack_gate_runs_both_checks_on_the_stacks_region(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[simulate.SimulationArgs] = []
    monkeypatch.setattr(simulate, "run", _fake_run(simulate.SimulationResult(sent=1, delivered=1, stored=1), seen))
    gate = Gate(simulate=SimulateGate(vehicles=1, messages=1), command='test "$AUTOCLOUD_OUTPUT_A" = 1')
    checks = StackGate()("local-us", {"autocloud:namespace": "ro-us"}, gate, {"a": 1})
    assert [(c.kind, c.ok) for c in checks] == [("simulate", True), ("command", True)]
    assert (seen[0].region, seen[0].target_namespace) == ("us", "ro-us")


def test_stack_gate_without_outputs_reads_them_and_fails_when_it_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_deployed(_self: StackGate, stack: str) -> dict[str, Any]:
        raise InputError(f"stack {stack} is not deployed on backend file://x")

    monkeypatch.setattr(StackGate, "read_outputs", not_deployed)
    checks = StackGate()("local-eu", {}, Gate(command="true"), None)
    assert [(c.kind, c.ok) for c in checks] == [("command", False)]
    assert "could not read the stack's outputs: stack local-eu is not deployed" in checks[0].detail

    monkeypatch.setattr(StackGate, "read_outputs", lambda _self, _stack: {"ready": True})
    checks = StackGate()("local-eu", {}, Gate(command='test "$AUTOCLOUD_OUTPUT_READY" = true'), None)
    assert checks[0].ok
