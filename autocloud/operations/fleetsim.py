"""The compiled fleet load generator (``cmd/fleetsim``, docs/fleetsim.md) seen from Python: build its plan,
run ``.toolchain/bin/autocloud-fleetsim``, read its progress lines and its summary.

Python paho threads top out far below the 10,000 concurrent vehicles issue 23 asks of a 2-core machine;
the generator keeps a vehicle to one goroutine and its TLS state, and issues the vehicles' certificates
itself from the region's fleet CA. This module is the typed edge between the two: the plan is the JSON
object ``cmd/fleetsim/plan.go`` reads (unknown keys are refused there), the lines are what it writes.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from autocloud.operations import device
from platform_model.errors import AutocloudError, excerpt, one_line
from platform_model.paths import TOOLCHAIN_BIN

BINARY = TOOLCHAIN_BIN / "autocloud-fleetsim"
Scenario = Literal["steady", "reconnect-storm"]


class FleetsimError(AutocloudError):
    """The generator is missing, refused the plan or stopped without a summary; one line for the user."""


@dataclass(frozen=True)
class VehiclePlan:
    """One simulated vehicle: its registration id, optionally its cached DPS assignment and its own
    certificate files (without them, the generator issues one from the plan's fleet CA)."""

    id: str
    hub: str | None = None
    device_id: str | None = None
    cert: Path | None = None
    key: Path | None = None

    def as_json(self) -> dict[str, str]:
        out = {"id": self.id}
        for name, value in (("hub", self.hub), ("device_id", self.device_id), ("cert", self.cert), ("key", self.key)):
            if value is not None:
                out[name] = str(value)
        return out


@dataclass(frozen=True)
class FleetsimPlan:
    """What one run drives: where DPS and the hubs are (as vehicles dial them), the fleet, the load.

    At most one of ``rate`` (messages per second across the fleet), ``interval_s`` (per vehicle) and
    ``flat_out`` (each vehicle sends as soon as its acknowledgement is back); none is the realistic
    default, one message every 10 s per vehicle."""

    vehicles: Sequence[VehiclePlan]
    duration_s: float
    dps: device.Endpoint | None = None
    id_scope: str = ""
    hubs: Mapping[str, device.Endpoint] = field(default_factory=dict)
    """Hub host name as DPS answers it -> where it is dialled; empty: the host name on port 8883 (Azure)."""
    server_ca: str | None = None
    """The endpoints' CA (PEM); None: the system's roots, as on Azure."""
    fleet_ca: tuple[Path, Path] | None = None
    """The region's fleet CA certificate and key files, for vehicles without certificate files."""
    rate: float | None = None
    interval_s: float | None = None
    flat_out: bool = False
    messages_per_vehicle: int = 0
    scenario: Scenario = "steady"
    storm_fraction: float | None = None
    storm_at_s: float | None = None
    ack_timeout_s: float | None = None
    report_assignments: bool = False

    def __post_init__(self) -> None:
        if not self.vehicles:
            raise ValueError("a fleetsim plan needs at least one vehicle")
        if not self.duration_s > 0:
            raise ValueError(f"duration must be positive, not {self.duration_s}")
        if sum((self.rate is not None, self.interval_s is not None, self.flat_out)) > 1:
            raise ValueError("give at most one of rate, interval and flat out")
        for name, value in (("rate", self.rate), ("interval", self.interval_s)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if any(v.hub is None for v in self.vehicles) and (self.dps is None or not self.id_scope):
            raise ValueError("vehicles without a cached hub need the DPS endpoint and id scope")
        if any(v.cert is None for v in self.vehicles) and self.fleet_ca is None:
            raise ValueError("vehicles without certificate files need the fleet CA")

    def as_json(self) -> dict[str, Any]:
        """The plan as ``cmd/fleetsim`` reads it (keys it does not know are refused there)."""
        plan: dict[str, Any] = {
            "vehicles": [v.as_json() for v in self.vehicles],
            "duration_s": self.duration_s,
            "hubs": {host: _endpoint(ep) for host, ep in self.hubs.items()},
            "scenario": self.scenario,
            "report_assignments": self.report_assignments,
        }
        if self.dps is not None:
            plan["dps"] = _endpoint(self.dps)
            plan["id_scope"] = self.id_scope
        if self.server_ca:
            plan["server_ca_pem"] = self.server_ca
        if self.fleet_ca is not None:
            plan["fleet_ca"] = {"cert": str(self.fleet_ca[0]), "key": str(self.fleet_ca[1])}
        optional = {
            "rate": self.rate,
            "interval_s": self.interval_s,
            "ack_timeout_s": self.ack_timeout_s,
            "messages_per_vehicle": self.messages_per_vehicle or None,
        }
        plan.update({key: value for key, value in optional.items() if value is not None})
        if self.flat_out:
            plan["flat_out"] = True
        storm = {"fraction": self.storm_fraction, "at_s": self.storm_at_s}
        if self.scenario == "reconnect-storm" and any(v is not None for v in storm.values()):
            plan["storm"] = {key: value for key, value in storm.items() if value is not None}
        return plan


def _endpoint(endpoint: device.Endpoint) -> dict[str, str]:
    """``{"address": "host:port"}`` (an IPv6 literal in brackets, Go's net.JoinHostPort form), with the
    certificate's name where it is not the address's."""
    host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    found = {"address": f"{host}:{endpoint.port}"}
    if endpoint.server_name:
        found["server_name"] = endpoint.server_name
    return found


@dataclass(frozen=True)
class Progress:
    """One progress line (every second)."""

    elapsed_s: float
    registered: int
    connected: int
    sent: int
    acknowledged: int
    in_flight: int
    reconnects: int
    refused: int
    ack_per_second: float


@dataclass(frozen=True)
class StormReport:
    dropped: int
    reconnected: int
    reconnect_ms_p50: float
    reconnect_ms_p99: float
    reconnect_ms_max: float
    within_s: float
    all_within: bool


@dataclass(frozen=True)
class Summary:
    """The generator's final line: what the vehicles saw. "In Kafka", "stored", "lost" and "duplicates"
    are the Python side's, read from the platform afterwards."""

    vehicles: int
    connected: int
    sent: int
    acknowledged: int
    unacknowledged: int
    resent: int
    reconnects: int
    refused: dict[str, int]
    latency_ms_p50: float
    latency_ms_p99: float
    latency_ms_max: float
    registrations: int
    registrations_per_second: float
    registration_ms_p50: float
    registration_ms_p99: float
    hub_connect_ms_p50: float
    hub_connect_ms_p99: float
    messages_per_second: float
    seconds: float
    memory: dict[str, float]
    steady_messages: int = 0
    """Messages first sent once every vehicle had connected: the load without the connection ramp."""
    steady_latency_ms_p50: float | None = None
    steady_latency_ms_p99: float | None = None
    steady_seconds: float | None = None
    """How long the fleet sent once every vehicle had connected; None if it never did."""
    steady_messages_per_second: float | None = None
    storm: StormReport | None = None
    assignments: dict[str, str] = field(default_factory=dict)


Line = Progress | Summary


def parse_line(line: str) -> Line:
    """A line the generator wrote, as Progress or Summary; FleetsimError for anything else."""
    try:
        data = json.loads(line)
        kind = data.pop("type")
        if kind == "progress":
            return Progress(**data)
        if kind == "summary":
            storm = data.pop("storm", None)
            return Summary(**data, storm=StormReport(**storm) if storm else None)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise FleetsimError(f"fleetsim wrote a line this version cannot read ({exc}): {excerpt(line)}") from None
    raise FleetsimError(f"fleetsim wrote a line of unknown type {excerpt(kind)}")


def read_lines(lines: Iterable[str], on_progress: Callable[[Progress], None] = lambda _p: None) -> Summary | None:
    """Hand each progress line to ``on_progress``; the summary, or None if the lines ended without one."""
    summary = None
    for raw in lines:
        if not raw.strip():
            continue
        line = parse_line(raw)
        if isinstance(line, Progress):
            on_progress(line)
        else:
            summary = line
    return summary


def run(
    plan: FleetsimPlan,
    on_progress: Callable[[Progress], None] = lambda _p: None,
    binary: Path = BINARY,
    prefix: Sequence[str] = (),
) -> Summary:
    """Run the generator on ``plan`` (under ``prefix``, such as the node's network) and return its summary,
    reporting progress as it comes."""
    if not binary.is_file():
        raise FleetsimError(f"{binary} is missing: build it with `autocloud toolchain build fleetsim`")
    with tempfile.TemporaryFile(mode="w+") as errors:
        with subprocess.Popen(
            [*prefix, str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(plan.as_json()))
            proc.stdin.close()
            try:
                summary = read_lines(proc.stdout, on_progress)
            except BaseException:
                proc.kill()
                raise
            code = proc.wait()
        errors.seek(0)
        said = errors.read()
    if code != 0:
        problem = "refused the plan" if code == 2 else f"failed (exit {code})"
        raise FleetsimError(f"fleetsim {problem}: {one_line(said, 300)}")
    if summary is None:
        raise FleetsimError("fleetsim ended without a summary")
    return summary
