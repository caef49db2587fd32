"""Simulated vehicles driving a local region end to end: MQTT in, Kafka, the state store.

Each vehicle connects to the broker of its scale unit (`platform_model.assignment`, as DPS's hashed
allocation would), publishes its messages with QoS 1 and disconnects. The ingest broker acknowledges
a publish only once Kafka has the record, so an acknowledged message is a delivered one; the state
store is then read back to count what was stored. On the embedded cluster, brokers and the store are
reached through a tunnel into the node (`cluster.open_tunnel`), the way vehicles reach a public
endpoint; on another cluster (``KUBECONFIG``), through ``kubectl port-forward``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autocloud.runtime import cluster
from components.contracts import STATE_CONTAINER, STATE_DATABASE
from components.local.kube import COMPONENT_LABEL
from components.local.state import OBJECT_NAME, PASSWORD_ITEM, USERNAME
from platform_model.assignment import scale_unit_for
from platform_model.errors import AutocloudError
from platform_model.paths import TOOLCHAIN_BIN, external_kubeconfig
from platform_model.vocabulary import region_namespace

INGEST_COMPONENT = "telemetry-ingest"
STATE_COMPONENT = "vehicle-state-store"
STORE_SERVICE = OBJECT_NAME
ACK_TIMEOUT_S = 60.0
"""How long a vehicle waits for one acknowledgement before it gives up (and the rest counts as lost):
long enough for a restarted broker pod to become ready, while the client reconnects and resends."""


class SimulationError(AutocloudError):
    """The region cannot be simulated (not deployed, not reachable); one line for the user."""


@dataclass(frozen=True)
class SimulationArgs:
    region: str
    vehicles: int
    messages: int
    rate: float | None = None
    """Messages per second across the fleet; None sends as fast as acknowledgements come back."""
    namespace: str | None = None
    """Default ``autocloud-<region>``."""
    settle_seconds: float = 60.0
    """How long to wait for the state store to catch up before counting the rest as lost."""

    def __post_init__(self) -> None:
        if self.vehicles < 1:
            raise ValueError(f"--vehicles must be at least 1, not {self.vehicles}")
        if self.messages < 1:
            raise ValueError(f"--messages must be at least 1, not {self.messages}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"--rate must be positive, not {self.rate}")

    @property
    def target_namespace(self) -> str:
        return self.namespace or region_namespace(self.region)

    def vehicle_ids(self) -> list[str]:
        return [f"{self.region}-vehicle-{index:06d}" for index in range(1, self.vehicles + 1)]


@dataclass
class SimulationResult:
    sent: int = 0
    delivered: int = 0
    """Acknowledged by the broker, which acknowledges only after Kafka has the record."""
    stored: int = 0
    """Messages the state store counted for the simulated vehicles during this run (duplicates included)."""
    vehicles_stored: int = 0
    reconnects: int = 0
    """Connections a vehicle had to make again after losing its broker mid-run."""
    latencies_ms: list[float] = field(default_factory=list)
    vehicles_per_unit: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return max(0, self.sent - min(self.delivered, self.stored))

    @property
    def duplicates(self) -> int:
        return max(0, self.stored - self.sent)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "stored": self.stored,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "vehicles_stored": self.vehicles_stored,
            "reconnects": self.reconnects,
            "latency_ms_p50": round(self.percentile(0.5), 2),
            "latency_ms_p99": round(self.percentile(0.99), 2),
            "messages_per_second": round(self.rate, 1),
            "seconds": round(self.seconds, 2),
            "vehicles_per_unit": {str(k): v for k, v in sorted(self.vehicles_per_unit.items())},
        }


@dataclass(frozen=True)
class ServiceTarget:
    """A Service port the simulator reaches: by name for a port-forward, by address for the node's tunnel."""

    name: str
    cluster_ip: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.cluster_ip}:{self.port}"


@dataclass(frozen=True)
class RegionEndpoints:
    """A region's brokers (by scale unit) and its state store, and the store's password (read from its
    Kubernetes Secret, as the state writer gets it)."""

    brokers: dict[int, ServiceTarget]
    store: ServiceTarget
    store_password: str


class ClusterReach(Protocol):
    """How the simulator reads the cluster's API and opens local ports to its Services."""

    def get(self, path: str) -> dict[str, Any] | None: ...

    def forward(
        self, namespace: str, targets: list[ServiceTarget]
    ) -> contextlib.AbstractContextManager[dict[ServiceTarget, int]]: ...


@dataclass(frozen=True)
class EmbeddedReach:
    """The embedded cluster: its API over the relay, Services through a tunnel into the node (traffic
    goes through the Service, so a replaced pod is reached again)."""

    layout: cluster.Layout
    ports: cluster.Ports

    def get(self, path: str) -> dict[str, Any] | None:
        return cluster.Api(self.layout, self.ports).get(path)

    @contextlib.contextmanager
    def forward(self, namespace: str, targets: list[ServiceTarget]) -> Iterator[dict[ServiceTarget, int]]:
        with cluster.open_tunnel([t.address for t in targets], self.layout) as tunnel:
            yield {t: tunnel.ports[t.address] for t in targets}


FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class KubeconfigReach:
    """Any cluster kubectl reaches: ``kubectl get --raw`` and one ``kubectl port-forward`` per Service.
    A port-forward is pinned to one pod, so a vehicle cannot reconnect through it once that pod is gone."""

    kubeconfig: Path

    def _kubectl(self) -> list[str]:
        binary = TOOLCHAIN_BIN / "kubectl"
        found = str(binary) if binary.is_file() else shutil.which("kubectl")
        if found is None:
            raise SimulationError("kubectl not found: build the toolchain (`make toolchain`) or put kubectl on PATH")
        return [found, f"--kubeconfig={self.kubeconfig}"]

    def get(self, path: str) -> dict[str, Any] | None:
        proc = subprocess.run(
            [*self._kubectl(), "get", "--raw", path], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            return None
        found = json.loads(proc.stdout)
        return found if isinstance(found, dict) else None

    @contextlib.contextmanager
    def forward(self, namespace: str, targets: list[ServiceTarget]) -> Iterator[dict[ServiceTarget, int]]:
        procs: list[subprocess.Popen[str]] = []
        try:
            ports = {}
            for target in targets:
                proc = subprocess.Popen(
                    [
                        *self._kubectl(),
                        "port-forward",
                        "-n",
                        namespace,
                        "--address",
                        "127.0.0.1",
                        f"svc/{target.name}",
                        f":{target.port}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                procs.append(proc)
                ports[target] = self._local_port(proc, target)
            yield ports
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)

    @staticmethod
    def _local_port(proc: subprocess.Popen[str], target: ServiceTarget) -> int:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        if match := FORWARDING.search(line):
            return int(match.group(1))
        proc.wait(timeout=10)
        problem = (proc.stderr.read().strip().splitlines() or [line.strip()])[-1]
        raise SimulationError(f"kubectl port-forward to Service {target.name} failed: {problem}")


def default_reach() -> ClusterReach:
    """The cluster ``KUBECONFIG`` names, else the embedded one."""
    external = external_kubeconfig()
    if external is not None:
        return KubeconfigReach(external)
    return EmbeddedReach(cluster.default_layout(), cluster.Ports.from_env())


def _services(reach: ClusterReach, namespace: str, component: str) -> list[ServiceTarget]:
    selector = f"{COMPONENT_LABEL}={component}"
    found = reach.get(f"/api/v1/namespaces/{namespace}/services?labelSelector={selector}")
    return [
        ServiceTarget(item["metadata"]["name"], item["spec"]["clusterIP"], int(item["spec"]["ports"][0]["port"]))
        for item in (found or {}).get("items", [])
    ]


def discover(reach: ClusterReach, namespace: str) -> RegionEndpoints:
    """Find the region's brokers and store on the cluster (the names the local components give them)."""
    brokers = {}
    for service in _services(reach, namespace, INGEST_COMPONENT):
        suffix = service.name.rsplit("-", 1)[-1]
        if suffix.isdigit():
            brokers[int(suffix)] = service
    stores = [s for s in _services(reach, namespace, STATE_COMPONENT) if s.name == STORE_SERVICE]
    if not brokers or not stores:
        raise SimulationError(
            f"namespace {namespace}: no telemetry brokers or state store found; "
            "deploy the region first (`autocloud up --region ...`)"
        )
    secret = reach.get(f"/api/v1/namespaces/{namespace}/secrets/{STORE_SERVICE}-key") or {}
    encoded = secret.get("data", {}).get(PASSWORD_ITEM)
    if encoded is None:
        raise SimulationError(f"namespace {namespace}: the state store's Secret {STORE_SERVICE}-key is missing")
    return RegionEndpoints(
        brokers=dict(sorted(brokers.items())), store=stores[0], store_password=base64.b64decode(encoded).decode()
    )


class _Pacer:
    """Spreads sends evenly at ``rate`` messages per second across all vehicle threads."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = max(self.next, time.monotonic())
            self.next = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _drive_vehicle(
    vehicle: str,
    port: int,
    args: SimulationArgs,
    pacer: _Pacer,
    result: SimulationResult,
    lock: threading.Lock,
    progress: Callable[[int], None],
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=vehicle, protocol=mqtt.MQTTv311)
    client.reconnect_delay_set(min_delay=1, max_delay=4)
    sent_at: dict[int, float] = {}
    acked = threading.Semaphore(0)
    connections = 0

    def on_connect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        # paho's loop thread reconnects by itself and resends unacknowledged QoS 1 publishes.
        nonlocal connections
        if not reason.is_failure:
            connections += 1
            if connections > 1:
                with lock:
                    result.reconnects += 1

    def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        started = sent_at.pop(mid, None)
        if started is not None:
            with lock:
                result.delivered += 1
                result.latencies_ms.append((time.monotonic() - started) * 1000)
            progress(1)
        acked.release()

    client.on_publish = on_publish
    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        for seq in range(1, args.messages + 1):
            pacer.wait()
            body = json.dumps(
                {
                    "vehicleId": vehicle,
                    "seq": seq,
                    "ts": time.time(),
                    "speedKmh": 40 + seq % 50,
                    "lat": 48.1 + seq * 1e-4,
                    "lon": 11.5,
                }
            )
            with lock:
                result.sent += 1
            info = client.publish(f"devices/{vehicle}/messages/events/seq={seq}", body, qos=1)
            sent_at[info.mid] = time.monotonic()
            if not acked.acquire(timeout=ACK_TIMEOUT_S):
                break
    finally:
        client.disconnect()
        client.loop_stop()


def _stored_counts(store_port: int, password: str, vehicles: Sequence[str]) -> dict[str, int]:
    """Messages the state store has counted per vehicle, for those of these vehicles it holds."""
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(
        "127.0.0.1",
        store_port,
        directConnection=True,
        username=USERNAME,
        password=password,
        authSource=STATE_DATABASE,
        serverSelectionTimeoutMS=5000,
    ) as client:
        wanted = {"_id": {"$in": list(vehicles)}}
        docs: pymongo.cursor.Cursor[dict[str, Any]] = client[STATE_DATABASE][STATE_CONTAINER].find(
            wanted, {"messages": 1}
        )
        return {str(doc["_id"]): int(doc.get("messages", 0)) for doc in docs}


def _stored_since(before: dict[str, int], now: dict[str, int]) -> tuple[int, int]:
    """(messages stored, vehicles with a message stored) since ``before``: a vehicle id simulated again
    carries the counts of earlier runs."""
    added = {vehicle: count - before.get(vehicle, 0) for vehicle, count in now.items()}
    return sum(added.values()), sum(1 for n in added.values() if n > 0)


def run(
    args: SimulationArgs, reach: ClusterReach | None = None, progress: Callable[[int], None] = lambda _n: None
) -> SimulationResult:
    """Drive the fleet, then wait (up to ``settle_seconds``) for the store to count every message."""
    reach = reach or default_reach()
    endpoints = discover(reach, args.target_namespace)
    vehicles = args.vehicle_ids()
    result = SimulationResult()
    units = len(endpoints.brokers)
    assignment = {vehicle: scale_unit_for(vehicle, units) for vehicle in vehicles}
    for unit in assignment.values():
        result.vehicles_per_unit[unit] = result.vehicles_per_unit.get(unit, 0) + 1
    with reach.forward(args.target_namespace, [*endpoints.brokers.values(), endpoints.store]) as ports:
        store_port = ports[endpoints.store]
        before = _stored_counts(store_port, endpoints.store_password, vehicles)
        pacer = _Pacer(args.rate)
        lock = threading.Lock()
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=_drive_vehicle,
                daemon=True,
                args=(vehicle, ports[endpoints.brokers[assignment[vehicle]]], args, pacer, result, lock, progress),
            )
            for vehicle in vehicles
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.seconds = time.monotonic() - started
        deadline = time.monotonic() + args.settle_seconds
        while True:
            now = _stored_counts(store_port, endpoints.store_password, vehicles)
            result.stored, result.vehicles_stored = _stored_since(before, now)
            if result.stored >= result.delivered or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return result
