"""Vehicle assignment and the simulator's arguments and arithmetic (the run itself is an integration test)."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.operations import device, simulate
from autocloud.operations.simulate import SimulationArgs, SimulationResult
from platform_model.assignment import scale_unit_for


def test_assignment_is_stable_and_spreads_evenly() -> None:
    vehicles = [f"eu-vehicle-{i:06d}" for i in range(3000)]
    first = [scale_unit_for(v, 3) for v in vehicles]
    assert first == [scale_unit_for(v, 3) for v in vehicles]
    counts = Counter(first)
    assert set(counts) == {1, 2, 3}
    assert all(900 < n < 1100 for n in counts.values())
    assert {scale_unit_for(v, 1) for v in vehicles} == {1}
    with pytest.raises(ValueError, match="at least 1"):
        scale_unit_for("v", 0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vehicles", 0, "--vehicles must be at least 1"),
        ("messages", -2, "--messages must be at least 1"),
        ("rate", 0.0, "--rate must be positive"),
    ],
)
def test_bad_arguments_are_refused(field: str, value: float, message: str) -> None:
    values: dict[str, float | None] = {"vehicles": 2, "messages": 2, "rate": None}
    values[field] = value
    with pytest.raises(ValueError, match=message):
        SimulationArgs("eu", int(values["vehicles"] or 0), int(values["messages"] or 0), rate=values["rate"])


def test_result_counts_loss_duplicates_and_percentiles() -> None:
    result = SimulationResult(sent=10, delivered=9, stored=11, latencies_ms=[float(i) for i in range(1, 101)])
    assert result.lost == 1
    assert result.duplicates == 1
    assert result.percentile(0.5) == 50.0
    assert result.percentile(0.99) == 99.0
    clean = SimulationResult(sent=4, delivered=4, stored=4)
    assert clean.lost == 0 and clean.duplicates == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--region", "mars"],
        ["simulate", "--region", "eu", "--vehicles", "0"],
        ["simulate", "--region", "eu", "--format", "xml"],
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(argv: list[str]) -> None:
    outcome = CliRunner().invoke(app, argv)
    assert outcome.exit_code == 2
    assert len(outcome.output.strip().splitlines()) == 1


def test_default_reach_follows_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "other.yaml"))
    reach = simulate.default_reach()
    assert isinstance(reach, simulate.KubeconfigReach) and reach.kubeconfig == tmp_path / "other.yaml"
    monkeypatch.delenv("KUBECONFIG")
    assert isinstance(simulate.default_reach(), simulate.EmbeddedReach)


def test_a_failed_port_forward_is_one_line_naming_the_service() -> None:
    target = simulate.ServiceTarget("telemetry-1", "10.96.0.10", 1883)
    proc = subprocess.Popen(
        ["sh", "-c", "echo 'error: services \"telemetry-1\" not found' >&2; exit 1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with pytest.raises(simulate.SimulationError, match=r'Service telemetry-1 failed: error: services "telemetry-1"'):
        simulate.KubeconfigReach._local_port(proc, target)
    ok = subprocess.Popen(
        ["echo", "Forwarding from 127.0.0.1:41234 -> 1883"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert simulate.KubeconfigReach._local_port(ok, target) == 41234
    ok.wait()


def test_stored_counts_only_what_this_run_added() -> None:
    before = {"eu-vehicle-000001": 5}
    now = {"eu-vehicle-000001": 8, "eu-vehicle-000002": 3}
    assert simulate._stored_since(before, now) == (6, 2)
    assert simulate._stored_since(now, now) == (0, 0)


def test_azure_targets_come_from_the_stacks_outputs() -> None:
    outputs = {
        "endpoints": {
            "provisioning": {"device_endpoint": "eu-dps.azure-devices-provisioning.net", "id_scope": "0ne00A1B2C3"},
            "telemetry": [
                {"hostname": "eu-hub-1.azure-devices.net", "mqtt": "eu-hub-1.azure-devices.net:8883"},
                {"hostname": "eu-hub-2.azure-devices.net", "mqtt": "eu-hub-2.azure-devices.net:8883"},
            ],
        }
    }
    targets = simulate.azure_targets("azure-eu", outputs)
    assert targets.dps == device.Endpoint("eu-dps.azure-devices-provisioning.net", 8883)
    assert targets.id_scope == "0ne00A1B2C3" and targets.server_ca is None, "Microsoft's certificates, system roots"
    assert targets.hubs["eu-hub-2.azure-devices.net"] == device.Endpoint("eu-hub-2.azure-devices.net", 8883)
    assert targets.units == {"eu-hub-1.azure-devices.net": 1, "eu-hub-2.azure-devices.net": 2}
    with pytest.raises(simulate.SimulationError, match="deploy it first"):
        simulate.azure_targets("azure-eu", {"endpoints": {"provisioning": None, "telemetry": []}})


def test_without_the_store_loss_is_what_the_hubs_did_not_acknowledge() -> None:
    result = SimulationResult(sent=10, delivered=9, stored=0, store_read=False)
    assert result.lost == 1 and result.duplicates == 0
    assert result.as_dict()["stored"] is None


def test_settle_measures_the_lag_or_says_the_store_did_not_catch_up() -> None:
    # Each read is (asked, answered); the clock ticks at both.
    clock = iter([11.0, 11.0, 12.5, 12.5, 13.0, 13.0])
    reads = iter([(3, 1), (8, 2), (10, 2)])
    outcome = simulate.settle(lambda: next(reads), 10, 10.0, 60.0, lambda: next(clock), lambda _s: None)
    assert outcome == (10, 2, 3.0, 2.5)
    # Found at the first read: no read fell short, so no bound below the lag.
    first = simulate.settle(lambda: (10, 2), 10, 10.0, 60.0, iter([10.0, 10.5]).__next__, lambda _s: None)
    assert first == (10, 2, 0.5, None)
    # A read that fell short right at the end still bounds the lag from below, at 0 s.
    clock = iter([10.0, 14.0, 140.0, 140.0])
    reads = iter([(3, 1), (10, 2)])
    outcome = simulate.settle(lambda: next(reads), 10, 10.0, 600.0, lambda: next(clock), lambda _s: None)
    assert outcome == (10, 2, 130.0, 0.0)
    never = iter([20.0, 20.0, 40.0, 40.0, 71.0, 71.0])
    outcome = simulate.settle(lambda: (4, 1), 10, 10.0, 60.0, lambda: next(never), lambda _s: None)
    assert outcome == (4, 1, None, None)


def test_settle_waits_on_while_the_store_counts_more_and_not_once_it_stops() -> None:
    """--settle 60 from the end at 10 s: a store that counted 5 more at 65 s than at 40 s is still read at
    75 s (past 70 s) and found complete at 100 s; one whose count falls back after 65 s and only regains
    it is given up on 60 s after 65 s."""
    clock = iter([40.0, 40.0, 65.0, 65.0, 75.0, 75.0, 100.0, 100.0])
    reads = iter([(4, 1), (9, 2), (9, 2), (10, 2)])
    waits: list[float] = []
    outcome = simulate.settle(lambda: next(reads), 10, 10.0, 60.0, lambda: next(clock), waits.append)
    assert outcome == (10, 2, 90.0, 65.0)
    assert waits == [0.5, 0.5, 0.5]
    clock = iter([40.0, 40.0, 65.0, 65.0, 100.0, 100.0, 124.8, 124.8, 125.0, 125.0])
    reads = iter([(4, 1), (9, 2), (3, 1), (9, 2), (9, 2)])
    waits.clear()
    outcome = simulate.settle(lambda: next(reads), 10, 10.0, 60.0, lambda: next(clock), waits.append)
    assert outcome == (9, 2, None, None)
    assert waits == [0.5, 0.5, 0.5, pytest.approx(0.2)]


def test_settle_keeps_its_reads_to_a_tenth_of_the_stores_time() -> None:
    """A quick read is repeated every 0.5 s; one that took 2 s (a big fleet's documents) waits 18 s."""
    clock = iter([11.0, 11.0, 11.5, 13.5, 31.5, 31.7])
    reads = iter([(3, 1), (8, 2), (10, 2)])
    waits: list[float] = []
    outcome = simulate.settle(lambda: next(reads), 10, 10.0, 60.0, lambda: next(clock), waits.append)
    # Caught up by 21.7 s, but the read before began 1.5 s in: the lag is known to within those 20 s.
    assert outcome == (10, 2, 21.7, 1.5)
    assert waits == [0.5, pytest.approx(18.0)]
    # The same slow read ending 50 s into a 60 s settle: the next read is at the deadline, not 18 s on.
    clock = iter([58.0, 60.0, 70.0, 70.1])
    waits.clear()
    outcome = simulate.settle(lambda: (4, 1), 10, 10.0, 60.0, lambda: next(clock), waits.append)
    assert outcome == (4, 1, None, None) and waits == [pytest.approx(10.0)]
