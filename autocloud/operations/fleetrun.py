"""Fleet mode of ``autocloud simulate``: a local region played by the compiled generator (``cmd/fleetsim``)
for a duration, then its state store read back.

The count mode (``simulate.py``: N vehicles x M messages, Python threads) stays what rollout gates and
integration tests use; it cannot hold thousands of connections on two cores. This mode finds the region's
DPS, hubs and store the same way (``simulate.discover``), opens the same tunnels (``reach.forward``), hands
the generator the tunnel port of each hub host name DPS answers plus the fleet CA to issue vehicle
certificates from, and counts what the store added for those vehicles before and after, as the count mode
does. "In Kafka" is not counted on its own: a hub acknowledges a publish only once Kafka has the record
(docs/local-platform.md), so ``acknowledged`` is what Kafka holds as the vehicles saw it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocloud.operations import fleetsim, simulate
from autocloud.runtime import fleet_pki

DEFAULT_DURATION_S = 120.0
"""Long enough for a reconnect storm (a third in) and the SDKs' back-off to play out before the end."""

Generator = Callable[[fleetsim.FleetsimPlan, Callable[[fleetsim.Progress], None]], fleetsim.Summary]


@dataclass(frozen=True)
class FleetRunArgs(simulate.VehicleRun):
    """One fleet-mode run: without ``rate`` or ``flat_out``, one message every 10 s per vehicle."""

    duration_s: float = DEFAULT_DURATION_S
    flat_out: bool = False
    """Each vehicle sends as soon as its acknowledgement is back."""
    messages: int | None = None
    """Stop a vehicle after this many messages (None: only the duration stops it)."""
    scenario: fleetsim.Scenario = "steady"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.duration_s > 0:
            raise ValueError(f"--duration must be positive, not {self.duration_s}")
        if self.rate is not None and self.flat_out:
            raise ValueError("--flat-out: give either --rate or --flat-out, not both")
        if self.messages is not None and self.messages < 1:
            raise ValueError(f"--messages must be at least 1, not {self.messages}")
        if self.scenario not in ("steady", "reconnect-storm"):
            raise ValueError(f"--scenario must be steady or reconnect-storm, not {self.scenario}")


@dataclass(frozen=True)
class FleetRunResult:
    """What the vehicles saw (the generator's summary) beside what the store counted afterwards."""

    summary: fleetsim.Summary
    stored: int | None
    """Messages the store counted for the run's vehicles during this run (duplicates included); None when
    the store cannot be read from here (Azure: Cosmos DB is private to the region's network)."""
    vehicles_stored: int | None
    vehicles: int
    store_lag_s: float | None
    """From the end of sending until the store counted every acknowledged message; None: the store stopped
    counting more for --settle seconds first."""
    store_lag_from_s: float | None = None
    """The store caught up after this (the last read that fell short began then) and by ``store_lag_s``;
    None if the first read found every message."""

    @property
    def lost(self) -> int:
        """Acknowledged (so in Kafka) but not stored; 0 when the store was not read."""
        return 0 if self.stored is None else max(0, self.summary.acknowledged - self.stored)

    @property
    def duplicates(self) -> int:
        """Stored more often than sent (a resent message counted twice); 0 when the store was not read."""
        return 0 if self.stored is None else max(0, self.stored - self.summary.sent)

    @property
    def problems(self) -> list[str]:
        """Why the run failed (exit 1), one phrase each; empty for a clean run."""
        found = []
        if self.lost:
            late = " (the store stalled: --settle passed without it counting more)" if self.store_lag_s is None else ""
            found.append(f"{self.lost} acknowledged messages not stored{late}")
        if self.summary.unacknowledged:
            found.append(f"{self.summary.unacknowledged} messages never acknowledged")
        refused = sum(self.summary.refused.values())
        if refused:
            found.append(f"{refused} refusals")
        # A vehicle neither connected nor refused was still waiting (to register, or for its hub) at the end.
        waiting = self.summary.vehicles - self.summary.connected - refused
        if waiting > 0:
            found.append(f"{waiting} of {self.summary.vehicles} vehicles never connected within the run")
        storm = self.summary.storm
        if storm is not None and storm.dropped and not storm.all_within:
            found.append(f"not every dropped vehicle was back within {storm.within_s:g} s")
        return found

    def as_dict(self) -> dict[str, Any]:
        s = self.summary
        storm = s.storm
        return {
            "vehicles": self.vehicles,
            "connected": s.connected,
            "sent": s.sent,
            "acknowledged": s.acknowledged,
            "unacknowledged": s.unacknowledged,
            "resent": s.resent,
            "stored": self.stored,
            "store_read": self.stored is not None,
            "vehicles_stored": self.vehicles_stored,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "reconnects": s.reconnects,
            "refused": dict(sorted(s.refused.items())),
            "latency_ms_p50": s.latency_ms_p50,
            "latency_ms_p99": s.latency_ms_p99,
            "latency_ms_max": s.latency_ms_max,
            "steady_messages": s.steady_messages,
            "steady_latency_ms_p50": s.steady_latency_ms_p50,
            "steady_latency_ms_p99": s.steady_latency_ms_p99,
            "steady_seconds": s.steady_seconds,
            "steady_messages_per_second": s.steady_messages_per_second,
            "registrations": s.registrations,
            "registrations_per_second": s.registrations_per_second,
            "registration_ms_p50": s.registration_ms_p50,
            "registration_ms_p99": s.registration_ms_p99,
            "hub_connect_ms_p50": s.hub_connect_ms_p50,
            "hub_connect_ms_p99": s.hub_connect_ms_p99,
            "messages_per_second": s.messages_per_second,
            "seconds": s.seconds,
            "store_lag_s": None if self.store_lag_s is None else round(self.store_lag_s, 2),
            "store_lag_from_s": None if self.store_lag_from_s is None else round(self.store_lag_from_s, 2),
            "storm": None
            if storm is None
            else {
                "dropped": storm.dropped,
                "reconnected": storm.reconnected,
                "reconnect_ms_p50": storm.reconnect_ms_p50,
                "reconnect_ms_p99": storm.reconnect_ms_p99,
                "reconnect_ms_max": storm.reconnect_ms_max,
                "within_s": storm.within_s,
                "all_within": storm.all_within,
            },
            "memory": dict(s.memory),
            "problems": self.problems,
        }


def _compiled_generator(prefix: Sequence[str]) -> Generator:
    """The default Generator: ``.toolchain/bin/autocloud-fleetsim`` under ``prefix``, looked up when called
    (tests replace ``fleetsim.BINARY``)."""

    def generate(plan: fleetsim.FleetsimPlan, report: Callable[[fleetsim.Progress], None]) -> fleetsim.Summary:
        return fleetsim.run(plan, report, binary=fleetsim.BINARY, prefix=prefix)

    return generate


def fleet_ca(args: FleetRunArgs) -> tuple[Path, Path]:
    """The CA the generator issues the vehicles' certificates from (``fleet_pki.signing_ca``'s choice)."""
    ca = fleet_pki.signing_ca(args.region, fleet_dir=args.fleet_dir, brand=args.brand)
    return ca.cert_path, ca.key_path


def plan(args: FleetRunArgs, targets: simulate.DeviceTargets, ca: tuple[Path, Path]) -> fleetsim.FleetsimPlan:
    """The generator's plan: every vehicle registers through DPS (no cached assignment) and dials each hub
    where ``targets`` say (locally a tunnel port per hub host name; on Azure the host name itself)."""
    return fleetsim.FleetsimPlan(
        vehicles=[fleetsim.VehiclePlan(vehicle) for vehicle in args.vehicle_ids()],
        duration_s=args.duration_s,
        dps=targets.dps,
        id_scope=targets.id_scope,
        hubs=dict(targets.hubs),
        server_ca=targets.server_ca,
        fleet_ca=ca,
        rate=args.rate,
        flat_out=args.flat_out,
        messages_per_vehicle=args.messages or 0,
        scenario=args.scenario,
    )


def run(
    args: FleetRunArgs,
    reach: simulate.ClusterReach | None = None,
    on_progress: Callable[[fleetsim.Progress], None] = lambda _p: None,
    on_settling: Callable[[], None] = lambda: None,
    generator: Generator | None = None,
) -> FleetRunResult:
    """Play the fleet through a local region for ``args.duration_s``, then wait for the store; ``generator``
    defaults to ``.toolchain/bin/autocloud-fleetsim`` (``fleetsim.BINARY``).

    Where the reach can run the generator on the cluster's network (the embedded node), it dials the
    Services' own addresses, as the relay behind a tunnel would: at thousands of messages a second a
    Python relay's hop costs a core the hubs need. Elsewhere it dials a forwarded port per Service."""
    reach = reach or simulate.default_reach()
    network = reach.on_network()
    generate = generator or _compiled_generator(network or [])
    endpoints = simulate.discover(reach, args.target_namespace, args.brand)
    ca = fleet_ca(args)
    vehicles = args.vehicle_ids()
    devices = [] if network else [endpoints.dps, *endpoints.hubs.values()]
    with reach.forward(args.target_namespace, [*devices, endpoints.store]) as ports:
        targets = (
            simulate.DeviceTargets.direct(endpoints) if network else simulate.DeviceTargets.through(endpoints, ports)
        )
        store_port = ports[endpoints.store]
        before = simulate._stored_counts(store_port, endpoints, vehicles)
        summary = generate(plan(args, targets, ca), on_progress)
        ended = time.monotonic()
        on_settling()

        def read() -> tuple[int, int]:
            return simulate._stored_since(before, simulate._stored_counts(store_port, endpoints, vehicles))

        settled = simulate.settle(read, summary.acknowledged, ended, args.settle_seconds)
    return FleetRunResult(summary, settled.stored, settled.vehicles, len(vehicles), settled.lag_s, settled.earliest_s)


def run_azure(
    stack: str,
    args: FleetRunArgs,
    outputs: Mapping[str, Any],
    on_progress: Callable[[fleetsim.Progress], None] = lambda _p: None,
    generator: Generator | None = None,
) -> FleetRunResult:
    """Play the fleet through a deployed Azure stack: its DPS (the ``endpoints`` output), then the hubs it
    assigns, on port 8883 with Microsoft's certificates checked against the system's roots, the vehicles'
    certificates issued from the region's fleet CA that ``autocloud fleet enroll`` enrolled. Cosmos DB is
    private to the region's network, so nothing is read back: acknowledged means IoT Hub took the message."""
    generate = generator or _compiled_generator([])
    targets = simulate.azure_targets(stack, outputs)
    summary = generate(plan(args, targets, fleet_ca(args)), on_progress)
    return FleetRunResult(summary, None, None, len(args.vehicle_ids()), None)
