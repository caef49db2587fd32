"""Fleet benchmarks (issue 23): one local scale unit (local-us) played by the compiled generator on the
node's network, as `autocloud simulate` in fleet mode runs it.

- flat out: 1,000 vehicles, each sending as soon as its acknowledgement is back, for 60 s;
- one S3 unit's rate: 6,000 messages/s across 1,000 vehicles for 60 s (IoT Hub's S3 unit is documented at
  6,000 device-to-cloud messages/s, iot-hub-devguide-quotas-throttling);
- a reconnect storm on 1,000 vehicles at the default load (one message every 10 s each): registrations
  and reconnects per second, and how long the dropped fifth takes to come back;
- the default load on 10,000 vehicles for 300 s: registrations per second, and the hubs' memory per
  1,000 connections (resident memory of the region's ingest processes, DPS included, at the peak, less
  what they held before the fleet connected);
- the ceiling of this machine: the same flat-out load against Debian's mosquitto (MQTT on TLS with client
  certificates, no DPS, no Kafka), when it is installed (`make bench` installs it).

Run with `make bench` (or `python tests/bench/bench_fleet.py`); figures go to bench/results/fleet.json.
`python tests/bench/bench_fleet.py one_unit_at_s3_rate` runs the named scenarios alone.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from autocloud.operations import device, fleetrun, fleetsim, simulate
from autocloud.runtime import cluster, fleet_pki, node
from tests.bench.bench_local import project_copy, run
from tests.bench.common import record

PORT_BASE = 39600
PORTS = cluster.Ports.at(PORT_BASE)
STACK = "local-us"
REGION = "us"
MOSQUITTO = Path("/usr/sbin/mosquitto")


def ingest_rss_mib(layout: cluster.Layout) -> float:
    """Resident memory of the node's ingest processes (the hubs and DPS)."""
    total_kib = 0
    for pid in node.cgroup_pids(node.cgroup_root(layout.root)):
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/ingest"):
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kib / 1024


@contextmanager
def peak_of(sample: Any, every_s: float = 1.0) -> Iterator[list[float]]:
    """Sample ``sample()`` in the background; the list holds the peak once the block ends."""
    peak = [sample()]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            peak[0] = max(peak[0], sample())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def fleet(layout: cluster.Layout, state: Path, **kwargs: Any) -> dict[str, Any]:
    print(f"fleet: running {kwargs}", flush=True)
    args = fleetrun.FleetRunArgs(REGION, settle_seconds=180, fleet_dir=state / "fleet", **kwargs)
    figures = fleetrun.run(args, simulate.EmbeddedReach(layout, PORTS)).as_dict()
    print(f"fleet: {figures}", flush=True)
    return figures


def server_certificate(folder: Path, ca: fleet_pki.FleetCa) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by ``ca``, for the broker the ceiling runs against."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert, key_file = folder / "server.pem", folder / "server-key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key_file


def mosquitto_ceiling(tmp: Path, state: Path, vehicles: int, duration_s: float) -> dict[str, Any] | None:
    """The same flat-out load against mosquitto on this machine: TLS, client certificates from the
    region's fleet CA, QoS 1; the vehicles come with their hub already assigned, so no DPS."""
    if not MOSQUITTO.is_file():
        return None
    ca = fleet_pki.ensure_ca(REGION, fleet_dir=state / "fleet")
    cert, key = server_certificate(tmp / "mosquitto", ca)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = tmp / "mosquitto" / "mosquitto.conf"
    conf.write_text(
        # Started as root, mosquitto would switch to its own user, who cannot read the fleet's private folder.
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\nrequire_certificate true\n"
        f"cafile {ca.cert_path}\ncertfile {cert}\nkeyfile {key}\npersistence false\nlog_type none\n"
    )
    broker = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        hub = "ceiling.local"
        endpoint = device.Endpoint("127.0.0.1", port)
        plan = fleetsim.FleetsimPlan(
            vehicles=[
                fleetsim.VehiclePlan(f"ceiling-{i:05d}", hub=hub, device_id=f"ceiling-{i:05d}") for i in range(vehicles)
            ],
            duration_s=duration_s,
            dps=endpoint,
            id_scope="ceiling",
            hubs={hub: endpoint},
            server_ca=ca.cert_path.read_text(),
            fleet_ca=(ca.cert_path, ca.key_path),
            flat_out=True,
        )
        summary = fleetsim.run(plan)
        return {
            "vehicles": vehicles,
            "sent": summary.sent,
            "acknowledged": summary.acknowledged,
            "messages_per_second": summary.messages_per_second,
            "latency_ms_p50": summary.latency_ms_p50,
            "latency_ms_p99": summary.latency_ms_p99,
        }
    finally:
        broker.terminate()
        broker.wait(timeout=10)


SCENARIOS: dict[str, dict[str, Any]] = {
    "one_unit_flat_out": {"vehicles": 1000, "duration_s": 60, "flat_out": True},
    # S3's rate held for 60 s once the fleet is connected (it connects in about 4 s): steady_seconds >= 60.
    "one_unit_at_s3_rate": {"vehicles": 1000, "duration_s": 66, "rate": 6000},
    "one_unit_storm": {"vehicles": 1000, "duration_s": 120, "scenario": "reconnect-storm"},
    # 10,000 vehicles register for minutes before they all drive: the run is long enough for both.
    "ten_thousand_vehicles": {"vehicles": 10_000, "duration_s": 300},
}


def with_memory(layout: cluster.Layout, state: Path, **kwargs: Any) -> dict[str, Any]:
    """A fleet run with the hubs' memory per 1,000 connections at its peak."""
    before = ingest_rss_mib(layout)
    with peak_of(lambda: ingest_rss_mib(layout)) as peak:
        figures = fleet(layout, state, **kwargs)
    figures["hubs_rss_mib_before"] = round(before, 1)
    figures["hubs_rss_mib_peak"] = round(peak[0], 1)
    connected = figures["memory"].get("peak_connected") or kwargs["vehicles"]
    figures["hubs_mib_per_1000_connections"] = round((peak[0] - before) / connected * 1000, 1)
    return figures


def main(only: list[str]) -> None:
    """Every scenario and the ceiling into bench/results/fleet.json; named scenarios alone (while
    working on one) into fleet-partial.json, so the recorded set stays one measurement."""
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"bench_fleet: no scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    chosen = only or list(SCENARIOS)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="autocloud-bench-fleet-") as name:
        tmp = Path(name)
        layout = cluster.Layout(tmp / "cluster")
        work = project_copy(tmp / "project")
        state = tmp / "state"
        state.mkdir()
        cluster.start(layout, echo=lambda _l: None, ports=PORTS, honour_kubeconfig=False)
        os.environ["KUBECONFIG"] = str(layout.kubeconfig)
        try:
            run("up", STACK, work, state)
            for scenario in chosen:
                # The hubs' memory per connection only where the hubs start from what the earlier runs left
                # and 10,000 connections dwarf it; after a 1,000-vehicle run it would not compare.
                measure = with_memory if scenario == "ten_thousand_vehicles" else fleet
                figures[scenario] = measure(layout, state, **SCENARIOS[scenario])
        finally:
            run("destroy", STACK, work, state)
            cluster.stop(layout, echo=lambda _l: None)
        ceiling = None if only else mosquitto_ceiling(tmp, state, vehicles=1000, duration_s=60)
        if ceiling is not None:
            figures["mosquitto_flat_out"] = ceiling
            ours = figures["one_unit_flat_out"]["messages_per_second"]
            if ceiling["messages_per_second"]:
                figures["flat_out_fraction_of_mosquitto"] = round(ours / ceiling["messages_per_second"], 2)
    figures["note"] = (
        "local-us (one scale unit); the generator on the node's network, dialing the Services as a relay "
        "would, on the same 2 cores"
    )
    record("fleet-partial" if only else "fleet", figures)
    if not only and not MOSQUITTO.is_file():
        print("fleet: mosquitto is not installed, so no ceiling figure (make bench installs it)")


if __name__ == "__main__":
    main(sys.argv[1:])
