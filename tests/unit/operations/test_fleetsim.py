"""The Python edge of the compiled load generator: the plan it is given, the lines it writes, and running
it as a process (a stand-in script here; cmd/fleetsim's own Go tests run the real one)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from autocloud.operations import fleetsim
from autocloud.operations.device import Endpoint
from platform_model.paths import REPO_ROOT


def _plan(**overrides: object) -> fleetsim.FleetsimPlan:
    args: dict[str, object] = {
        "vehicles": [fleetsim.VehiclePlan("eu-vehicle-000001"), fleetsim.VehiclePlan("eu-vehicle-000002", hub="h1")],
        "duration_s": 30.0,
        "dps": Endpoint("127.0.0.1", 40001),
        "id_scope": "0ne00000eu1",
        "hubs": {"streaming-1.autocloud-eu.svc": Endpoint("127.0.0.1", 40002)},
        "server_ca": "-----BEGIN CERTIFICATE-----\n...",
        "fleet_ca": (Path("/f/ca.pem"), Path("/f/ca-key.pem")),
    }
    args.update(overrides)
    return fleetsim.FleetsimPlan(**args)  # type: ignore[arg-type]


FIXTURE = REPO_ROOT / "cmd" / "fleetsim" / "testdata" / "python-plan.json"


def test_plan_is_the_one_the_generator_reads() -> None:
    # cmd/fleetsim's TestReadsThePlanPythonWrites parses the same file, refusing unknown keys.
    plan = fleetsim.FleetsimPlan(
        vehicles=[
            fleetsim.VehiclePlan("eu-vehicle-000001"),
            fleetsim.VehiclePlan(
                "eu-vehicle-000002",
                hub="streaming-1.autocloud-eu.svc",
                device_id="eu-vehicle-000002",
                cert=Path(".state/fleet/eu/vehicles/eu-vehicle-000002-cert.pem"),
                key=Path(".state/fleet/eu/vehicles/eu-vehicle-000002-key.pem"),
            ),
        ],
        duration_s=120.0,
        dps=Endpoint("127.0.0.1", 40001),
        id_scope="0ne00000eu1",
        hubs={"streaming-1.autocloud-eu.svc": Endpoint("127.0.0.1", 40002)},
        server_ca="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        fleet_ca=(Path(".state/fleet/eu/ca.pem"), Path(".state/fleet/eu/ca-key.pem")),
        rate=500.0,
        messages_per_vehicle=20,
        scenario="reconnect-storm",
        storm_fraction=0.2,
        storm_at_s=40.0,
        ack_timeout_s=60.0,
        report_assignments=True,
    )
    assert plan.as_json() == json.loads(FIXTURE.read_text())


def test_default_load_is_left_to_the_generator_and_ipv6_is_bracketed() -> None:
    plan = _plan(dps=Endpoint("::1", 8883)).as_json()
    assert plan["vehicles"] == [{"id": "eu-vehicle-000001"}, {"id": "eu-vehicle-000002", "hub": "h1"}]
    assert plan["dps"] == {"address": "[::1]:8883"}
    assert not {"rate", "interval_s", "flat_out", "storm", "messages_per_vehicle"} & set(plan)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vehicles": []}, "at least one vehicle"),
        ({"duration_s": 0.0}, "duration must be positive"),
        ({"rate": 10.0, "flat_out": True}, "at most one"),
        ({"interval_s": -1.0}, "interval must be positive"),
        ({"dps": None}, "DPS endpoint"),
        ({"fleet_ca": None}, "fleet CA"),
    ],
)
def test_refuses_a_plan_it_cannot_run(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _plan(**overrides)


PROGRESS = {
    "type": "progress",
    "elapsed_s": 1.0,
    "registered": 10,
    "connected": 9,
    "sent": 40,
    "acknowledged": 38,
    "in_flight": 2,
    "reconnects": 0,
    "refused": 1,
    "ack_per_second": 38.0,
}
SUMMARY = json.loads((REPO_ROOT / "cmd" / "fleetsim" / "testdata" / "summary.json").read_text())
"""A summary line with every field; cmd/fleetsim's TestSummaryLineIsTheFixturesShape holds its keys to Go's."""


def test_reads_progress_then_the_summary() -> None:
    seen: list[fleetsim.Progress] = []
    summary = fleetsim.read_lines([json.dumps(PROGRESS) + "\n", "\n", json.dumps(SUMMARY) + "\n"], seen.append)
    assert [p.acknowledged for p in seen] == [38]
    assert summary is not None and summary.acknowledged == 90 and summary.refused == SUMMARY["refused"]
    assert summary.storm is not None and summary.storm.all_within
    assert summary.assignments == {"eu-vehicle-000001": "streaming-1.autocloud-eu.svc"}


@pytest.mark.parametrize("line", ["not json", '{"type": "progress"}', '{"type": "other"}', "[]"])
def test_an_unreadable_line_is_a_clear_error(line: str) -> None:
    with pytest.raises(fleetsim.FleetsimError, match="fleetsim wrote"):
        fleetsim.parse_line(line)


def _stand_in(tmp_path: Path, body: str) -> Path:
    """An executable that reads the plan on stdin and does ``body`` (Python)."""
    script = tmp_path / "autocloud-fleetsim"
    script.write_text(f"#!{sys.executable}\nimport json, sys\nplan = json.load(sys.stdin)\n{body}\n")
    script.chmod(0o755)
    return script


def test_run_hands_the_plan_over_and_returns_the_summary(tmp_path: Path) -> None:
    body = (
        f"progress = {PROGRESS!r}\nprogress['sent'] = len(plan['vehicles'])\n"
        f"print(json.dumps(progress), flush=True)\nprint(json.dumps({SUMMARY!r}))"
    )
    seen: list[fleetsim.Progress] = []
    summary = fleetsim.run(_plan(), seen.append, binary=_stand_in(tmp_path, body))
    assert [p.sent for p in seen] == [2]
    assert summary.sent == 90


def test_run_reports_a_refused_plan_with_what_the_generator_said(tmp_path: Path) -> None:
    body = "print('fleetsim: duration_s: must be positive', file=sys.stderr)\nsys.exit(2)"
    with pytest.raises(fleetsim.FleetsimError, match="refused the plan: fleetsim: duration_s: must be positive"):
        fleetsim.run(_plan(), binary=_stand_in(tmp_path, body))


def test_run_without_a_summary_or_binary_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(fleetsim.FleetsimError, match="without a summary"):
        fleetsim.run(_plan(), binary=_stand_in(tmp_path, f"print(json.dumps({PROGRESS!r}))"))
    with pytest.raises(fleetsim.FleetsimError, match="toolchain build fleetsim"):
        fleetsim.run(_plan(), binary=tmp_path / "missing")
