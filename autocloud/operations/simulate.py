"""Simulated vehicles driving a local region end to end: DPS, the hub, Kafka, the state store.

Each vehicle takes its certificate from the region's fleet CA (issued once, kept under
``.state/fleet/<region>/vehicles/``), registers with the region's DPS and connects to the hub DPS
assigned, both over TLS (``autocloud.operations.device``, the Azure device path), publishes its messages
with QoS 1 and disconnects. The hub acknowledges a publish only once Kafka has the record, so an
acknowledged message is a delivered one; the state store is then read back to count what was stored.
On the embedded cluster, DPS, hubs and the store are reached through a tunnel into the node
(`cluster.open_tunnel`), the way vehicles reach a public endpoint; on another cluster (``KUBECONFIG``),
through ``kubectl port-forward``.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from autocloud.operations import device
from autocloud.runtime import cluster, fleet_pki
from components.contracts import STATE_CONTAINER, STATE_DATABASE
from components.local import provisioning
from components.local.kube import COMPONENT_LABEL, service_host
from components.local.state import OBJECT_NAME, PASSWORD_ITEM, USERNAME
from platform_model.errors import AutocloudError
from platform_model.paths import TOOLCHAIN_BIN, external_kubeconfig
from platform_model.vocabulary import brand_container, brand_vehicle_prefix, brand_writer, region_namespace

INGEST_COMPONENT = "telemetry-ingest"
DPS_COMPONENT = "device-provisioning"
STATE_COMPONENT = "vehicle-state-store"
STORE_SERVICE = OBJECT_NAME
TUNNEL_ADDRESS = "127.0.0.1"
ACK_TIMEOUT_S = 60.0
"""How long a vehicle waits for one acknowledgement before it gives up (and the rest counts as lost):
long enough for a restarted broker pod to become ready, while the client reconnects and resends."""


class SimulationError(AutocloudError):
    """The region cannot be simulated (not deployed, not reachable); one line for the user."""


@dataclass(frozen=True)
class VehicleRun:
    """What both modes of ``autocloud simulate`` share: whose vehicles, how many, where, and how long to wait
    for the store. Errors name the flag, for the CLI's one line."""

    region: str
    vehicles: int
    _: KW_ONLY
    rate: float | None = None
    """Messages per second across the fleet; None: the mode's default pace."""
    namespace: str | None = None
    """Default ``autocloud-<region>``."""
    settle_seconds: float = 60.0
    """How long to wait for the state store to count every acknowledged message: from the end of sending,
    and again from each read that finds more (:func:`settle`)."""
    fleet_dir: Path | None = None
    """Default ``.state/fleet``: the region's (or the brand's) fleet CA and the vehicles' certificates."""
    brand: str | None = None
    """A brand of the region (``autocloud:brands``): its vehicles, read back from its own store."""

    def __post_init__(self) -> None:
        if self.vehicles < 1:
            raise ValueError(f"--vehicles must be at least 1, not {self.vehicles}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"--rate must be positive, not {self.rate}")
        if self.settle_seconds < 0:
            raise ValueError(f"--settle must not be negative, not {self.settle_seconds}")

    @property
    def target_namespace(self) -> str:
        return self.namespace or region_namespace(self.region)

    def vehicle_ids(self) -> list[str]:
        return vehicle_ids(self.region, self.vehicles, self.brand)


@dataclass(frozen=True)
class SimulationArgs(VehicleRun):
    """The count mode: each vehicle sends ``messages`` as fast as acknowledgements come back (or at --rate)."""

    messages: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.messages < 1:
            raise ValueError(f"--messages must be at least 1, not {self.messages}")


def vehicle_ids(region: str, count: int, brand: str | None = None) -> list[str]:
    """``<region>-vehicle-000001``..., or a brand's ``<brand>-vehicle-...``: the id says the brand."""
    prefix = brand_vehicle_prefix(brand) if brand else f"{region}-"
    return [f"{prefix}vehicle-{index:06d}" for index in range(1, count + 1)]


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
    registration_ms: list[float] = field(default_factory=list)
    """Per registered vehicle: from opening its DPS connection (TLS included) to the ``assigned`` answer."""
    registration_done_s: float = 0.0
    """Seconds from the start of the run until the last vehicle was registered."""
    connect_ms: list[float] = field(default_factory=list)
    """Per vehicle: opening its hub connection, TLS handshake with its certificate and CONNACK."""
    assignments: dict[str, str] = field(default_factory=dict)
    """Vehicle -> the hub DPS assigned it."""
    refused: dict[str, int] = field(default_factory=dict)
    """Why vehicles got no hub or no connection -> how many."""
    vehicles_per_unit: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    store_read: bool = True
    """False where the store cannot be read from here (Azure: Cosmos DB is private): loss is then what
    the hubs did not acknowledge."""

    @property
    def registrations(self) -> int:
        return len(self.assignments)

    @property
    def lost(self) -> int:
        counted = min(self.delivered, self.stored) if self.store_read else self.delivered
        return max(0, self.sent - counted)

    @property
    def duplicates(self) -> int:
        return max(0, self.stored - self.sent) if self.store_read else 0

    def percentile(self, q: float, values: Sequence[float] | None = None) -> float:
        """The ``q`` quantile of ``values`` (default the message latencies), nearest rank."""
        ordered = sorted(self.latencies_ms if values is None else values)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "delivered": self.delivered,
            "stored": self.stored if self.store_read else None,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "vehicles_stored": self.vehicles_stored,
            "reconnects": self.reconnects,
            "registrations": self.registrations,
            "registration_ms_p50": round(self.percentile(0.5, self.registration_ms), 2),
            "registration_ms_p99": round(self.percentile(0.99, self.registration_ms), 2),
            "registrations_per_second": round(self.registrations / self.registration_done_s, 1)
            if self.registration_done_s
            else 0.0,
            "hub_connect_ms_p50": round(self.percentile(0.5, self.connect_ms), 2),
            "hub_connect_ms_p99": round(self.percentile(0.99, self.connect_ms), 2),
            "refused": dict(sorted(self.refused.items())),
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
    """A region's DPS (its id scope, the CA its endpoints' certificates chain to), its hubs by host name
    with their scale units, its state store and the store's password (read from the region's Secrets and
    ConfigMaps, as its workloads get them)."""

    dps: ServiceTarget
    dps_host: str
    """The DPS's cluster DNS name, which its server certificate carries (the hubs' are their keys)."""
    id_scope: str
    server_ca: str
    hubs: dict[str, ServiceTarget]
    units: dict[str, int]
    store: ServiceTarget
    store_password: str
    store_user: str = USERNAME
    collection: str = STATE_CONTAINER


class ClusterReach(Protocol):
    """How the simulator reads the cluster's API and opens local ports to its Services."""

    def get(self, path: str) -> dict[str, Any] | None: ...

    def forward(
        self, namespace: str, targets: list[ServiceTarget]
    ) -> contextlib.AbstractContextManager[dict[ServiceTarget, int]]: ...

    def on_network(self) -> list[str] | None:
        """The argv prefix that runs a program where the Services' own addresses are reachable, or None
        where only forwarded ports reach them."""
        ...


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

    def on_network(self) -> list[str] | None:
        return cluster.on_node_network(self.layout)


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

    def on_network(self) -> list[str] | None:
        return None

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


def _read(reach: ClusterReach, namespace: str, kind: str, name: str, item: str) -> str:
    """One item of a region's ConfigMap or Secret (decoded), or SimulationError naming what is missing."""
    found = reach.get(f"/api/v1/namespaces/{namespace}/{kind}s/{name}") or {}
    value = found.get("data", {}).get(item)
    if value is None:
        raise SimulationError(f"namespace {namespace}: {kind} {name} has no {item}; deploy the region again")
    return base64.b64decode(value).decode() if kind == "secret" else str(value)


def discover(reach: ClusterReach, namespace: str, brand: str | None = None) -> RegionEndpoints:
    """Find the region's DPS, hubs and store on the cluster (the names the local components give them)."""
    services = {s.name: s for s in _services(reach, namespace, INGEST_COMPONENT)}
    dps = _services(reach, namespace, DPS_COMPONENT)
    store_service = f"{STORE_SERVICE}-{brand}" if brand else STORE_SERVICE
    stores = [s for s in _services(reach, namespace, STATE_COMPONENT) if s.name == store_service]
    if not services or not dps or not stores:
        store = f"brand {brand}'s state store ({store_service})" if brand else "state store"
        raise SimulationError(
            f"namespace {namespace}: no DPS, hubs or {store} found; "
            "deploy the region first (`autocloud up --region ...`)"
        )
    config = json.loads(_read(reach, namespace, "configmap", provisioning.OBJECT_NAME, "dps.json"))
    hubs: dict[str, ServiceTarget] = {}
    units: dict[str, int] = {}
    for unit, hub in enumerate(config["hubs"], start=1):
        host = hub["hostname"]
        service = services.get(host.split(".", 1)[0])
        if service is None:
            raise SimulationError(f"namespace {namespace}: DPS links hub {host}, which has no Service")
        hubs[host], units[host] = service, unit
    return RegionEndpoints(
        dps=dps[0],
        dps_host=service_host(dps[0].name, namespace),
        id_scope=config["idScope"],
        server_ca=_read(reach, namespace, "secret", provisioning.TLS_SECRET, "ca.crt"),
        hubs=hubs,
        units=units,
        store=stores[0],
        store_password=_read(reach, namespace, "secret", f"{store_service}-key", PASSWORD_ITEM),
        store_user=brand_writer(brand) if brand else USERNAME,
        collection=brand_container(brand) if brand else STATE_CONTAINER,
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


@dataclass(frozen=True)
class DeviceTargets:
    """Where vehicles register and connect, as they dial them: the region's DPS with its id scope, each
    hub by the host name DPS answers, with its scale unit, and the CA the endpoints' certificates chain
    to (None: the system's roots, as on Azure)."""

    dps: device.Endpoint
    id_scope: str
    server_ca: str | None
    hubs: dict[str, device.Endpoint]
    units: dict[str, int]

    @classmethod
    def through(cls, endpoints: RegionEndpoints, ports: Mapping[ServiceTarget, int]) -> DeviceTargets:
        """A local region's endpoints reached through tunnels (or port-forwards) on this machine."""
        return cls._dialling(endpoints, lambda target, _host: device.Endpoint(TUNNEL_ADDRESS, ports[target]))

    @classmethod
    def direct(cls, endpoints: RegionEndpoints) -> DeviceTargets:
        """A local region's endpoints at their Service addresses, for a program on the node's network;
        each server certificate is checked against the Service's DNS name, as a vehicle checks IoT Hub's."""
        return cls._dialling(endpoints, lambda target, host: device.Endpoint(target.cluster_ip, target.port, host))

    @classmethod
    def _dialling(
        cls, endpoints: RegionEndpoints, at: Callable[[ServiceTarget, str], device.Endpoint]
    ) -> DeviceTargets:
        """The region's endpoints, each dialled where ``at`` says for its Service and DNS name."""
        return cls(
            dps=at(endpoints.dps, endpoints.dps_host),
            id_scope=endpoints.id_scope,
            server_ca=endpoints.server_ca,
            hubs={host: at(target, host) for host, target in endpoints.hubs.items()},
            units=dict(endpoints.units),
        )


@dataclass
class _Run:
    """What every vehicle thread of one run shares."""

    args: SimulationArgs
    targets: DeviceTargets
    pacer: _Pacer
    result: SimulationResult
    progress: Callable[[int], None]
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, reason: str) -> None:
        with self.lock:
            self.result.refused[reason] = self.result.refused.get(reason, 0) + 1


def _drive_vehicle(vehicle: str, credentials: fleet_pki.VehicleCert, run: _Run) -> None:
    """Register through DPS, connect to the assigned hub and publish; a refusal is counted by its reason."""
    endpoints, result = run.targets, run.result
    context = device.tls_context(credentials, endpoints.server_ca)
    try:
        assignment = device.register(vehicle, endpoints.dps, endpoints.id_scope, context)
    except device.RegistrationRefused as exc:
        run.refuse(exc.reason)
        return
    target = endpoints.hubs.get(assignment.hub)
    with run.lock:
        result.registration_ms.append(assignment.seconds * 1000)
        result.registration_done_s = max(result.registration_done_s, time.monotonic() - run.started)
        result.assignments[vehicle] = assignment.hub
        if target is not None:
            unit = endpoints.units[assignment.hub]
            result.vehicles_per_unit[unit] = result.vehicles_per_unit.get(unit, 0) + 1
    if target is None:
        run.refuse("DPS assigned a hub outside this region")
        return
    client = device.new_client(assignment.device_id, device.hub_username(assignment.hub, assignment.device_id), context)
    client.reconnect_delay_set(min_delay=1, max_delay=4)
    connecting = time.monotonic()
    try:
        device.open_connection(client, target, "the hub refused the vehicle")
    except device.RegistrationRefused as exc:
        run.refuse(exc.reason)
        return
    with run.lock:
        result.connect_ms.append((time.monotonic() - connecting) * 1000)
    _publish_all(client, assignment.device_id, run)


def _publish_all(client: Any, vehicle: str, run: _Run) -> None:
    """Publish the vehicle's messages with QoS 1, one at a time; paho's loop thread reconnects by itself
    and resends what was not acknowledged."""
    result, args = run.result, run.args
    sent_at: dict[int, float] = {}
    acked = threading.Semaphore(0)

    def on_reconnect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            with run.lock:
                result.reconnects += 1

    def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        started = sent_at.pop(mid, None)
        if started is not None:
            with run.lock:
                result.delivered += 1
                result.latencies_ms.append((time.monotonic() - started) * 1000)
            run.progress(1)
        acked.release()

    client.on_connect = on_reconnect
    client.on_disconnect = None
    client.on_publish = on_publish
    try:
        for seq in range(1, args.messages + 1):
            run.pacer.wait()
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
            with run.lock:
                result.sent += 1
            info = client.publish(f"devices/{vehicle}/messages/events/seq={seq}", body, qos=1)
            sent_at[info.mid] = time.monotonic()
            if not acked.acquire(timeout=ACK_TIMEOUT_S):
                break
    finally:
        client.disconnect()
        client.loop_stop()


def _stored_counts(store_port: int, endpoints: RegionEndpoints, vehicles: Sequence[str]) -> dict[str, int]:
    """Messages the state store has counted per vehicle, for those of these vehicles it holds."""
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]]
    with pymongo.MongoClient(
        "127.0.0.1",
        store_port,
        directConnection=True,
        username=endpoints.store_user,
        password=endpoints.store_password,
        authSource=STATE_DATABASE,
        serverSelectionTimeoutMS=5000,
    ) as client:
        # The local store (FerretDB on SQLite) finds a document by index only for a filter on `_id` alone;
        # `$in` over a fleet's ids scans the collection and tests every id against every document, so a
        # fleet's documents are read whole (counts only) and picked here.
        wanted = set(vehicles)
        only = {"_id": vehicles[0]} if len(wanted) == 1 else {}
        docs: pymongo.cursor.Cursor[dict[str, Any]] = client[STATE_DATABASE][endpoints.collection].find(
            only, {"messages": 1}
        )
        return {str(doc["_id"]): int(doc.get("messages", 0)) for doc in docs if doc["_id"] in wanted}


def _stored_since(before: dict[str, int], now: dict[str, int]) -> tuple[int, int]:
    """(messages stored, vehicles with a message stored) since ``before``: a vehicle id simulated again
    carries the counts of earlier runs."""
    added = {vehicle: count - before.get(vehicle, 0) for vehicle, count in now.items()}
    return sum(added.values()), sum(1 for n in added.values() if n > 0)


SETTLE_POLL_S = 0.5
"""How often, at most, the store is read while it catches up."""
READ_SHARE = 0.1
"""Of the store's time, what reading it back may take: a fleet's counts are its whole collection, and
read every 0.5 s, 10,000 vehicles' documents kept the local store's one core busy with reads instead
of the writes being waited for. The store lag is measured to within the wait between reads."""


class Settled(NamedTuple):
    """What the store counted once it caught up, or when it stopped counting more for the settle time."""

    stored: int
    vehicles: int
    lag_s: float | None
    """From the end of sending until a read found every acknowledged message; None if none did."""
    earliest_s: float | None
    """When the last read that still fell short began (None if the first read found them all, or none
    did): the store caught up after this and by :attr:`lag_s`. Reads are sparse when they are slow
    (:data:`READ_SHARE`)."""


def settle(
    read: Callable[[], tuple[int, int]],
    acknowledged: int,
    ended: float,
    settle_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Settled:
    """Read the store (``read`` -> messages, vehicles added) until it counted ``acknowledged``, or until
    ``settle_seconds`` passed, from the end of sending or from the last read that found more: a store
    still catching up on a big fleet's backlog is waited for, one that stopped counting is not (every
    wait is bounded, as a read only counts more up to ``acknowledged``). Between reads it waits
    :data:`SETTLE_POLL_S`, or longer where a read takes more than :data:`READ_SHARE` of the time, but
    never past the deadline: the last read is at it."""
    short_since: float | None = None
    counted: int | None = None
    deadline = ended + settle_seconds
    while True:
        asked = clock()
        stored, vehicles = read()
        now = clock()
        if stored >= acknowledged:
            earliest = None if short_since is None else max(0.0, short_since - ended)
            return Settled(stored, vehicles, now - ended, earliest)
        if counted is not None and stored > counted:
            deadline = now + settle_seconds
        counted = stored if counted is None else max(counted, stored)
        if now >= deadline:
            return Settled(stored, vehicles, None, None)
        short_since = asked
        wait = max(SETTLE_POLL_S, (now - asked) * (1 - READ_SHARE) / READ_SHARE)
        sleep(min(wait, deadline - now))


def _drive_fleet(
    args: SimulationArgs, targets: DeviceTargets, result: SimulationResult, progress: Callable[[int], None]
) -> None:
    """Every vehicle in its own thread, each with its certificate (issued before the clock starts)."""
    vehicles = args.vehicle_ids()
    ca = fleet_pki.signing_ca(args.region, fleet_dir=args.fleet_dir, brand=args.brand)
    credentials = {v: fleet_pki.vehicle_credentials(args.region, v, fleet_dir=args.fleet_dir, ca=ca) for v in vehicles}
    shared = _Run(args, targets, _Pacer(args.rate), result, progress)
    started = shared.started = time.monotonic()
    threads = [
        threading.Thread(target=_drive_vehicle, daemon=True, args=(vehicle, credentials[vehicle], shared))
        for vehicle in vehicles
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started


def run(
    args: SimulationArgs, reach: ClusterReach | None = None, progress: Callable[[int], None] = lambda _n: None
) -> SimulationResult:
    """Drive the fleet through a local region, then wait (:func:`settle`) for the store to count every
    message."""
    reach = reach or default_reach()
    endpoints = discover(reach, args.target_namespace, args.brand)
    vehicles = args.vehicle_ids()
    result = SimulationResult()
    services = [endpoints.dps, *endpoints.hubs.values(), endpoints.store]
    with reach.forward(args.target_namespace, services) as ports:
        store_port = ports[endpoints.store]
        before = _stored_counts(store_port, endpoints, vehicles)
        _drive_fleet(args, DeviceTargets.through(endpoints, ports), result, progress)

        def read() -> tuple[int, int]:
            return _stored_since(before, _stored_counts(store_port, endpoints, vehicles))

        settled = settle(read, result.delivered, time.monotonic(), args.settle_seconds)
        result.stored, result.vehicles_stored = settled.stored, settled.vehicles
    return result


AZURE_DEVICE_PORT = 8883
"""IoT Hub's and DPS's MQTT over TLS port (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-protocols)."""


def azure_targets(stack: str, outputs: Mapping[str, Any]) -> DeviceTargets:
    """A deployed Azure stack's DPS instance endpoint, id scope and hubs, from its ``endpoints`` output.
    The endpoints present Microsoft's certificates, so the system's roots verify them."""
    endpoints = outputs.get("endpoints")
    provisioning = endpoints.get("provisioning") if isinstance(endpoints, Mapping) else None
    telemetry = endpoints.get("telemetry") if isinstance(endpoints, Mapping) else None
    if not isinstance(provisioning, Mapping) or not provisioning.get("device_endpoint") or not telemetry:
        raise SimulationError(
            f"stack {stack} exports no endpoints.provisioning or endpoints.telemetry: deploy it first "
            "(`autocloud rollout rollouts/azure.yaml`)"
        )
    hubs = [str(hub["hostname"]) for hub in telemetry]
    return DeviceTargets(
        dps=device.Endpoint(str(provisioning["device_endpoint"]), AZURE_DEVICE_PORT),
        id_scope=str(provisioning["id_scope"]),
        server_ca=None,
        hubs={host: device.Endpoint(host, AZURE_DEVICE_PORT) for host in hubs},
        units={host: unit for unit, host in enumerate(hubs, start=1)},
    )


def run_azure(
    stack: str,
    args: SimulationArgs,
    outputs: Mapping[str, Any],
    progress: Callable[[int], None] = lambda _n: None,
) -> SimulationResult:
    """Drive the fleet through a deployed Azure stack: its DPS, then the hubs it assigns. The vehicles'
    certificates come from the region's fleet CA, which the stack registered with its DPS and
    ``autocloud fleet enroll`` enrolled. Cosmos DB is private to the region's network, so nothing is read
    back from here: acknowledged means IoT Hub took the message."""
    result = SimulationResult()
    _drive_fleet(args, azure_targets(stack, outputs), result, progress)
    result.store_read = False
    return result
