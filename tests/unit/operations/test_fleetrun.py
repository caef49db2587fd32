"""Fleet mode of ``autocloud simulate``: arguments, the plan handed to the generator (hub host names to
tunnel ports, the fleet CA), the store read back before and after, the store lag and the CLI's exits.
The cluster is a fake reach, the generator a stand-in (a function, or a script in place of the binary)."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autocloud import cli
from autocloud.operations import fleetrun, fleetsim, simulate
from autocloud.operations.device import Endpoint
from autocloud.runtime import fleet_pki
from platform_model import paths
from platform_model.paths import REPO_ROOT

SUMMARY = json.loads((REPO_ROOT / "cmd" / "fleetsim" / "testdata" / "summary.json").read_text())
HUBS = ("streaming-1.autocloud-eu.svc", "streaming-2.autocloud-eu.svc")


def _summary(**changes: Any) -> fleetsim.Summary:
    parsed = fleetsim.parse_line(json.dumps(SUMMARY))
    assert isinstance(parsed, fleetsim.Summary)
    return replace(parsed, **changes)


def _service(name: str, ip: str, port: int) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"clusterIP": ip, "ports": [{"port": port}]}}


def _secret(item: str, value: str) -> dict[str, Any]:
    return {"data": {item: base64.b64encode(value.encode()).decode()}}


class FakeReach:
    """A deployed local region as the cluster's API shows it, with two hubs; forward hands out ports."""

    def __init__(self, network: list[str] | None = None) -> None:
        self.network = network
        self.forwarded: list[simulate.ServiceTarget] = []
        self.objects: dict[str, dict[str, Any]] = {
            "services?labelSelector=app.kubernetes.io/component=telemetry-ingest": {
                "items": [_service("streaming-1", "10.0.0.1", 8883), _service("streaming-2", "10.0.0.2", 8883)]
            },
            "services?labelSelector=app.kubernetes.io/component=device-provisioning": {
                "items": [_service("dps", "10.0.0.3", 8883)]
            },
            "services?labelSelector=app.kubernetes.io/component=vehicle-state-store": {
                "items": [_service("state", "10.0.0.4", 27017)]
            },
            "configmaps/dps": {
                "data": {"dps.json": json.dumps({"idScope": "0ne00000eu1", "hubs": [{"hostname": h} for h in HUBS]})}
            },
            "secrets/device-tls": _secret("ca.crt", "SERVER CA"),
            "secrets/state-key": _secret("password", "pw"),
        }

    def get(self, path: str) -> dict[str, Any] | None:
        prefix = "/api/v1/namespaces/autocloud-eu/"
        assert path.startswith(prefix), path
        return self.objects.get(path.removeprefix(prefix))

    @contextlib.contextmanager
    def forward(
        self, namespace: str, targets: list[simulate.ServiceTarget]
    ) -> Iterator[dict[simulate.ServiceTarget, int]]:
        self.forwarded = list(targets)
        yield {target: 41000 + n for n, target in enumerate(targets)}

    def on_network(self) -> list[str] | None:
        return self.network


@pytest.fixture()
def fleet_dir(tmp_path: Path) -> Path:
    fleet_pki.ensure_ca("eu", fleet_dir=tmp_path)
    return tmp_path


class FakeStore:
    """The store's per-vehicle counts: ``before`` at the first read, then each later read from ``after``."""

    def __init__(self, before: dict[str, int], after: list[dict[str, int]], port: int = 41003) -> None:
        self.port = port
        self.reads = [before, *after]
        self.vehicles: list[list[str]] = []

    def __call__(self, port: int, endpoints: simulate.RegionEndpoints, vehicles: list[str]) -> dict[str, int]:
        assert port == self.port, "the store is read through its own tunnel port"
        self.vehicles.append(list(vehicles))
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]


def _generator(summary: fleetsim.Summary, seen: list[fleetsim.FleetsimPlan]) -> fleetrun.Generator:
    def generate(plan: fleetsim.FleetsimPlan, on_progress: Callable[[fleetsim.Progress], None]) -> fleetsim.Summary:
        seen.append(plan)
        on_progress(fleetsim.Progress(1.0, 2, 2, 3, 3, 0, 0, 0, 3.0))
        return summary

    return generate


def test_run_hands_the_generator_each_hub_by_its_tunnel_and_counts_the_store(
    fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FakeStore(
        {"eu-vehicle-000001": 7},
        [{"eu-vehicle-000001": 8}, {"eu-vehicle-000001": 12, "eu-vehicle-000002": 4}],
    )
    monkeypatch.setattr(simulate, "_stored_counts", store)
    monkeypatch.setattr(simulate, "SETTLE_POLL_S", 0.0)
    reach = FakeReach()
    plans: list[fleetsim.FleetsimPlan] = []
    progress: list[fleetsim.Progress] = []
    args = fleetrun.FleetRunArgs("eu", 2, 30.0, rate=50.0, scenario="reconnect-storm", fleet_dir=fleet_dir)
    result = fleetrun.run(args, reach, progress.append, generator=_generator(_summary(sent=9, acknowledged=9), plans))

    (plan,) = plans
    assert [v.id for v in plan.vehicles] == ["eu-vehicle-000001", "eu-vehicle-000002"]
    assert all(v.hub is None and v.cert is None for v in plan.vehicles), "every vehicle registers, certs in-process"
    assert plan.hubs == {HUBS[0]: Endpoint("127.0.0.1", 41001), HUBS[1]: Endpoint("127.0.0.1", 41002)}
    assert plan.dps == Endpoint("127.0.0.1", 41000) and plan.id_scope == "0ne00000eu1"
    assert plan.server_ca == "SERVER CA"
    assert plan.fleet_ca == (fleet_dir / "eu" / "ca.pem", fleet_dir / "eu" / "ca-key.pem")
    assert plan.as_json()["rate"] == 50.0 and plan.as_json()["scenario"] == "reconnect-storm"
    assert [t.name for t in reach.forwarded] == ["dps", "streaming-1", "streaming-2", "state"]
    assert [p.acknowledged for p in progress] == [3]
    # Before: 7; first read after: +1 (not caught up); second: +5 and +4 = 9 = acknowledged.
    assert (result.stored, result.vehicles_stored, result.lost, result.duplicates) == (9, 2, 0, 0)
    assert result.store_lag_s is not None and result.store_lag_s >= 0
    assert store.vehicles[0] == ["eu-vehicle-000001", "eu-vehicle-000002"]


def test_on_the_nodes_network_the_generator_dials_each_service_and_only_the_store_is_forwarded(
    fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulate, "_stored_counts", FakeStore({}, [{"eu-vehicle-000001": 2}], port=41000))
    launched: list[tuple[fleetsim.FleetsimPlan, Sequence[str]]] = []

    def compiled(
        plan: fleetsim.FleetsimPlan,
        on_progress: Callable[[fleetsim.Progress], None],
        binary: Path,
        prefix: Sequence[str] = (),
    ) -> fleetsim.Summary:
        launched.append((plan, prefix))
        return _summary(sent=2, acknowledged=2)

    monkeypatch.setattr(fleetsim, "run", compiled)
    reach = FakeReach(network=["nsenter", "--target=42", "--net", "--"])
    result = fleetrun.run(fleetrun.FleetRunArgs("eu", 1, 5.0, fleet_dir=fleet_dir), reach)

    ((plan, prefix),) = launched
    assert list(prefix) == ["nsenter", "--target=42", "--net", "--"], "the default generator runs on that network"
    assert plan.dps == Endpoint("10.0.0.3", 8883, "dps.autocloud-eu.svc.cluster.local")
    assert plan.hubs == {HUBS[0]: Endpoint("10.0.0.1", 8883, HUBS[0]), HUBS[1]: Endpoint("10.0.0.2", 8883, HUBS[1])}
    assert plan.as_json()["dps"] == {"address": "10.0.0.3:8883", "server_name": "dps.autocloud-eu.svc.cluster.local"}
    assert [t.name for t in reach.forwarded] == ["state"], "Python reads the store; vehicles need no tunnel"
    assert (result.stored, result.lost) == (2, 0)


def test_a_brand_with_its_own_ca_plays_its_vehicles_with_it(fleet_dir: Path) -> None:
    args = fleetrun.FleetRunArgs("eu", 1, fleet_dir=fleet_dir, brand="alpha")
    assert fleetrun.fleet_ca(args)[0] == fleet_dir / "eu" / "ca.pem", "no brand CA here: the region's signs"
    fleet_pki.ensure_ca("eu", fleet_dir=fleet_dir, brand="alpha")
    assert fleetrun.fleet_ca(args)[0] == fleet_dir / "eu" / "brands" / "alpha" / "ca.pem"
    assert args.vehicle_ids() == ["alpha-vehicle-000001"]


def test_a_region_without_a_fleet_ca_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(fleet_pki.FleetError, match="has no fleet CA yet"):
        fleetrun.fleet_ca(fleetrun.FleetRunArgs("eu", 1, fleet_dir=tmp_path))


def test_default_load_is_the_generators_and_flat_out_is_passed_on(fleet_dir: Path) -> None:
    targets = simulate.DeviceTargets(Endpoint("127.0.0.1", 1), "scope", "CA", {}, {})
    ca = (Path("ca.pem"), Path("ca-key.pem"))
    default = fleetrun.plan(fleetrun.FleetRunArgs("eu", 3), targets, ca).as_json()
    assert not {"rate", "interval_s", "flat_out", "messages_per_vehicle"} & set(default), "one message every 10 s"
    assert default["duration_s"] == fleetrun.DEFAULT_DURATION_S and default["scenario"] == "steady"
    flat = fleetrun.plan(fleetrun.FleetRunArgs("eu", 3, 10.0, flat_out=True, messages=5), targets, ca).as_json()
    assert flat["flat_out"] is True and flat["messages_per_vehicle"] == 5


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vehicles": 0}, "--vehicles must be at least 1"),
        ({"duration_s": 0.0}, "--duration must be positive"),
        ({"rate": -1.0}, "--rate must be positive"),
        ({"rate": 5.0, "flat_out": True}, "--flat-out: give either --rate or --flat-out"),
        ({"messages": 0}, "--messages must be at least 1"),
        ({"scenario": "blackout"}, "--scenario must be steady or reconnect-storm"),
        ({"settle_seconds": -1.0}, "--settle must not be negative"),
    ],
)
def test_refuses_bad_arguments_naming_the_flag(changes: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"region": "eu", "vehicles": 2, **changes}
    with pytest.raises(ValueError, match=message):
        fleetrun.FleetRunArgs(**values)


def test_problems_are_loss_unacknowledged_refusals_and_a_slow_storm() -> None:
    clean = _summary(sent=9, acknowledged=9, unacknowledged=0, refused={}, vehicles=10, connected=10)
    assert fleetrun.FleetRunResult(clean, 9, 2, 2, 0.5).problems == []
    # Still registering when the run ended: 10,000 vehicles, 4,548 of them on their hub, none refused.
    slow = replace(clean, vehicles=10_000, connected=4548)
    assert fleetrun.FleetRunResult(slow, 9, 2, 10_000, 0.5).problems == [
        "5452 of 10000 vehicles never connected within the run"
    ]
    assert fleetrun.FleetRunResult(clean, 10, 2, 2, 0.5).duplicates == 1
    lossy = fleetrun.FleetRunResult(clean, 7, 2, 2, None)
    assert lossy.lost == 2
    assert lossy.problems == [
        "2 acknowledged messages not stored (the store stalled: --settle passed without it counting more)"
    ]
    assert lossy.as_dict()["store_lag_s"] is None
    storm = SUMMARY["storm"] | {"all_within": False}
    bad = _summary(unacknowledged=1, storm=fleetsim.StormReport(**storm))
    assert fleetrun.FleetRunResult(bad, 90, 9, 10, 1.0).problems == [
        "1 messages never acknowledged",
        "1 refusals",
        "not every dropped vehicle was back within 60 s",
    ]
    calm = fleetsim.StormReport(0, 0, 0, 0, 0, 60, all_within=False)
    assert fleetrun.FleetRunResult(replace(clean, storm=calm), 9, 2, 2, 0.5).problems == [], "no one dropped"


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--duration", "0"], "--duration"),
        (["--scenario", "reconnect-storm", "--vehicles", "0"], "--vehicles"),
        (["--flat-out"], "--flat-out"),
        (["--duration", "30", "--rate", "5", "--flat-out"], "--flat-out"),
        (["--scenario", "blackout"], "--scenario"),
    ],
)
def test_cli_fleet_mode_bad_arguments_exit_2_naming_the_flag(argv: list[str], flag: str) -> None:
    outcome = CliRunner().invoke(cli.app, ["simulate", "--region", "eu", *argv])
    assert outcome.exit_code == 2, outcome.output
    assert len(outcome.output.strip().splitlines()) == 1 and flag in outcome.output


AZURE_OUTPUTS = {
    "endpoints": {
        "provisioning": {"device_endpoint": "eu-dps.azure-devices-provisioning.net", "id_scope": "0ne00A1B2C3"},
        "telemetry": [{"hostname": "eu-hub-1.azure-devices.net"}, {"hostname": "eu-hub-2.azure-devices.net"}],
    }
}


def test_cli_fleet_mode_on_an_azure_stack_dials_its_dps_and_hubs_and_reads_no_store(
    tmp_path: Path, fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocloud.runtime import engine

    plans: list[fleetsim.FleetsimPlan] = []

    def generator(plan: fleetsim.FleetsimPlan, _report: Callable[[fleetsim.Progress], None]) -> fleetsim.Summary:
        plans.append(plan)
        return _summary(refused={}, unacknowledged=0, connected=10)

    monkeypatch.setattr(paths, "FLEET_DIR", fleet_dir)
    monkeypatch.setattr(engine, "stack_outputs", lambda _stack: AZURE_OUTPUTS)
    monkeypatch.setattr(fleetrun, "run_azure", _with_generator(fleetrun.run_azure, generator))
    argv = ["simulate", "--stack", "azure-eu", "--vehicles", "2", "--duration", "30", "--format", "text"]
    outcome = CliRunner().invoke(cli.app, argv)
    assert outcome.exit_code == 0, outcome.output
    (plan,) = plans
    # Microsoft's endpoints on 8883, their certificates checked against the system's roots.
    assert plan.dps == Endpoint("eu-dps.azure-devices-provisioning.net", 8883) and plan.server_ca is None
    assert plan.id_scope == "0ne00A1B2C3"
    assert dict(plan.hubs) == {
        f"eu-hub-{n}.azure-devices.net": Endpoint(f"eu-hub-{n}.azure-devices.net", 8883) for n in (1, 2)
    }
    assert [v.id for v in plan.vehicles] == ["eu-vehicle-000001", "eu-vehicle-000002"]
    assert "acknowledged by IoT Hub 90" in outcome.stdout and "stored not read" in outcome.stdout
    assert "store lag" not in outcome.stdout


def test_an_azure_fleet_run_loses_nothing_it_cannot_see_but_still_fails_on_unacknowledged() -> None:
    result = fleetrun.FleetRunResult(_summary(refused={}, unacknowledged=3, connected=10), None, None, 2, None)
    assert (result.lost, result.duplicates, result.as_dict()["store_read"]) == (0, 0, False)
    assert result.problems == ["3 messages never acknowledged"]


def _with_generator(function: Callable[..., Any], generator: fleetrun.Generator) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs, generator=generator)

    return call


def _stand_in(tmp_path: Path, summary: dict[str, Any]) -> Path:
    """An executable in place of autocloud-fleetsim: reads the plan, writes a progress line and ``summary``."""
    script = tmp_path / "autocloud-fleetsim"
    progress = {"type": "progress", "elapsed_s": 1.0, "registered": 2, "connected": 2, "sent": 4,
                "acknowledged": 4, "in_flight": 0, "reconnects": 0, "refused": 0, "ack_per_second": 4.0}  # fmt: skip
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nplan = json.load(sys.stdin)\n"
        f"assert plan['duration_s'] == 30 and plan['scenario'] == 'reconnect-storm', plan\n"
        f"print(json.dumps({progress!r}), flush=True)\nprint(json.dumps({summary!r}))\n"
    )
    script.chmod(0o755)
    return script


def _cli_run(
    tmp_path: Path,
    fleet_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    summary: dict[str, Any],
    stored: int,
    fmt: str = "json",
) -> Any:
    """``simulate --region eu --duration 30 --scenario reconnect-storm`` on the fake region and stand-in."""
    monkeypatch.setattr(fleetsim, "BINARY", _stand_in(tmp_path, summary))
    monkeypatch.setattr(paths, "FLEET_DIR", fleet_dir)
    monkeypatch.setattr(simulate, "default_reach", FakeReach)
    monkeypatch.setattr(simulate, "_stored_counts", FakeStore({}, [{"eu-vehicle-000001": stored}]))
    monkeypatch.setattr(simulate, "SETTLE_POLL_S", 0.0)
    argv = ["simulate", "--region", "eu", "--vehicles", "2", "--duration", "30", "--scenario", "reconnect-storm"]
    return CliRunner().invoke(cli.app, [*argv, "--settle", "0", "--format", fmt])


def test_cli_fleet_mode_prints_the_counts_and_exits_0_when_nothing_is_lost(
    tmp_path: Path, fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = SUMMARY | {"refused": {}, "unacknowledged": 0, "connected": SUMMARY["vehicles"]}
    outcome = _cli_run(tmp_path, fleet_dir, monkeypatch, clean, stored=90)
    assert outcome.exit_code == 0, outcome.output
    counts = json.loads(outcome.stdout)
    assert (counts["sent"], counts["acknowledged"], counts["stored"], counts["lost"]) == (90, 90, 90, 0)
    assert counts["storm"]["dropped"] == 2 and counts["problems"] == []


def test_cli_fleet_mode_exits_1_on_loss_or_refusal(
    tmp_path: Path, fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _cli_run(tmp_path, fleet_dir, monkeypatch, SUMMARY, stored=80)
    assert outcome.exit_code == 1
    counts = json.loads(outcome.stdout)
    assert counts["lost"] == 10 and counts["store_lag_s"] is None
    assert "error: 10 acknowledged messages not stored" in outcome.stderr
    assert "error: 1 refusals" in outcome.stderr


def test_cli_fleet_mode_text_says_the_counts_the_storm_and_the_store_lag(
    tmp_path: Path, fleet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = SUMMARY | {"refused": {}, "unacknowledged": 0, "connected": SUMMARY["vehicles"]}
    outcome = _cli_run(tmp_path, fleet_dir, monkeypatch, clean, stored=90, fmt="text")
    assert outcome.exit_code == 0, outcome.output
    lines = outcome.stdout.splitlines()
    assert any(line.startswith("reconnect storm: 2 dropped, 2 back") for line in lines), lines
    assert any(line.startswith("sent 90, acknowledged (in Kafka) 90, unacknowledged 0, stored 90") for line in lines)
    (latency,) = [line for line in lines if line.startswith("latency p50 1.5 ms")]
    assert "max 12.0 ms" in latency and "store lag " in latency and "not caught up" not in latency
    assert (
        "once every vehicle had connected: latency p50 1.2 ms, p99 4.0 ms over 80 messages in 1.6 s (50.0 messages/s)"
        in lines
    )
