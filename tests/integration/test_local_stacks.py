"""The three local stacks on a real control plane, through the real CLI and the three policy packs.

One module-scoped deployment (its own state folder) carries the scenario: up of local-eu, local-us and
local-cn; objects read back through the API; a second up that changes nothing; violating changes the
kubernetes pack refuses; an ``up`` killed part-way and run again; destroy. The project runs from a
copy (symlinked packages, copied stack files) because creating a stack writes its encryption salt
into the stack file, which must not touch the repository's.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest

from autocloud.operations import deploy, device, simulate
from autocloud.runtime import cluster, engine, fleet_pki, node
from autocloud.runtime.cluster import tunnel as cluster_tunnel
from components.local import local_scale_units
from components.local.kube import INSTANCE_LABEL, OWNED_LABELS, PART_OF_LABEL
from platform_model.assignment import scale_unit_for
from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN
from platform_model.sizing import plan_for_profile
from platform_model.stack import OVERRIDES_ENV, resolve_stack
from platform_model.vocabulary import REGION_LABEL, region_namespace

from .conftest import PROGRAMS, EmbeddedCluster, project_copy
from .kube import Kubectl, busybox_pod, eventually

pytestmark = pytest.mark.integration
RUNS_LONG = True
"""Several minutes: the three local regions deployed once for the module (conftest schedules it first)."""

STACKS = tuple(deploy.local_stacks())
"""The stacks that target the local cluster (regions beyond them have azure stacks only)."""
REGIONS = tuple(resolve_stack(stack).config.region for stack in STACKS)
PART_OF = f"{PART_OF_LABEL}={OWNED_LABELS[PART_OF_LABEL]}"
NAMESPACED_KINDS = {
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "services": "/api/v1/namespaces/{ns}/services",
    "serviceaccounts": "/api/v1/namespaces/{ns}/serviceaccounts",
    "configmaps": "/api/v1/namespaces/{ns}/configmaps",
    "secrets": "/api/v1/namespaces/{ns}/secrets",
    "resourcequotas": "/api/v1/namespaces/{ns}/resourcequotas",
    "limitranges": "/api/v1/namespaces/{ns}/limitranges",
    "networkpolicies": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
}


@dataclass
class Deployment:
    """The module's deployment: where it runs and what the first up made."""

    cluster: EmbeddedCluster
    work: Path
    violation: Path
    state: Path
    first: dict[str, deploy.StackResult] = field(default_factory=dict)
    objects: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """Per namespace, kind -> names of autocloud objects after the first up."""
    live: set[str] = field(default_factory=set)
    """Stacks an up has touched and no destroy has emptied since (what the teardown destroys)."""

    def get(self, path: str) -> Any:
        return self.cluster.api().request("GET", path)

    @property
    def fleet(self) -> Path:
        """The regions' fleet CAs and the simulated vehicles' certificates (``autocloud up`` makes the CAs)."""
        return self.state / "fleet"

    def simulation(self, region: str, vehicles: int, messages: int, **options: Any) -> simulate.SimulationArgs:
        return simulate.SimulationArgs(region, vehicles, messages, fleet_dir=self.fleet, **options)

    def up(self, stack: str) -> deploy.StackResult:
        self.live.add(stack)
        return deploy.deploy_stack(stack, apply=True, echo=print, state_dir=self.state, work_dir=self.work)

    def violate(self, kind: str, apply: bool = True) -> tuple[deploy.StackResult, str]:
        """Run the violating program on local-eu; the engine's full output comes back too (the
        result's message is cut short, and the refused program's shutdown noise comes first)."""
        lines: list[str] = []
        result = deploy.deploy_stack(
            "local-eu", {"violation:kind": kind}, apply=apply, echo=print, state_dir=self.state,
            work_dir=self.violation, on_output=lines.append,
        )  # fmt: skip
        return result, "\n".join(lines)

    def destroy(self, stack: str) -> deploy.StackResult:
        result = deploy.destroy_stack(stack, echo=print, state_dir=self.state, work_dir=self.work)
        if result.ok:
            self.live.discard(stack)
        return result

    def checkpoint(self, stack: str) -> dict[str, Any]:
        handle = engine.select_stack(stack, work_dir=self.work, state_dir=self.state)
        return dict(handle.export_stack().deployment or {})

    def state_resources(self, stack: str) -> list[dict[str, Any]]:
        resources: list[dict[str, Any]] = self.checkpoint(stack).get("resources", [])
        return resources

    def autocloud_objects(self, namespace: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for kind, path in NAMESPACED_KINDS.items():
            items = self.get(path.format(ns=namespace) + f"?labelSelector={PART_OF}")["items"]
            found[kind] = {item["metadata"]["name"] for item in items}
        return found


@pytest.fixture(scope="module")
def deployment(test_cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("local-stacks")
    work = project_copy(base / "project", REPO_ROOT / "__main__.py", STACKS)
    violating = PROGRAMS / "local-violation" / "__main__.py"
    violation = project_copy(base / "violation", violating, linked_stacks=work / "stacks")
    state = base / "state"
    state.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(test_cluster.kubeconfig))
        run = Deployment(test_cluster, work, violation, state)
        try:
            # One stack first (its region's CA and the engine's plugins warm), then the rest side by side, as
            # `make up`'s rollout (rollouts/local.yaml) applies them.
            first, *rest = STACKS
            run.first[first] = run.up(first)
            with ThreadPoolExecutor(max_workers=max(len(rest), 1)) as pool:
                run.first.update(zip(rest, pool.map(run.up, rest), strict=True))
            for region in REGIONS:
                run.objects[region_namespace(region)] = run.autocloud_objects(region_namespace(region))
            yield run
        finally:
            for stack in sorted(run.live):
                run.destroy(stack)


def _state_summary(resources: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """Each resource's URN and id, and the namespace's recorded labels, in URN order: secrets are
    re-encrypted (a new nonce) on every write and the order follows registration, so whole
    checkpoints never compare equal."""
    return sorted(
        (r["urn"], r.get("id", ""), r["inputs"]["metadata"] if r["type"] == "kubernetes:core/v1:Namespace" else None)
        for r in resources
    )


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj["metadata"].get("labels", {})
    return labels


def test_up_creates_each_region_fenced_in_its_namespace(deployment: Deployment) -> None:
    for stack, result in deployment.first.items():
        assert result.ok, f"{stack}: {result.message}"
        assert set(result.changes) == {"create"}

    for region in REGIONS:
        ns = region_namespace(region)
        profile = resolve_stack(f"local-{region}").profile
        units = local_scale_units(plan_for_profile(profile))
        namespace = deployment.get(f"/api/v1/namespaces/{ns}")
        assert _labels(namespace)[REGION_LABEL] == region
        assert _labels(namespace)["autocloud.io/data-residency"] == profile.tags["data-residency"]

        quota = deployment.get(f"/api/v1/namespaces/{ns}/resourcequotas/region-quota")
        assert quota["spec"]["hard"]["services.loadbalancers"] == "0"
        assert quota["spec"]["hard"]["services.nodeports"] == "0"
        limits = deployment.get(f"/api/v1/namespaces/{ns}/limitranges/region-limits")
        assert limits["spec"]["limits"][0]["type"] == "Container"

        policies = {
            p["metadata"]["name"]: p["spec"]
            for p in deployment.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies")["items"]
        }
        assert set(policies) == {"default-deny", "allow-same-namespace", "allow-dns"}
        assert policies["default-deny"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in policies["default-deny"] and "egress" not in policies["default-deny"]
        assert policies["allow-same-namespace"]["ingress"] == [{"from": [{"podSelector": {}}]}]
        assert policies["allow-same-namespace"]["egress"] == [{"to": [{"podSelector": {}}]}]
        [dns] = policies["allow-dns"]["egress"]
        assert dns["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}

        listed = deployment.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"]
        deployments = {d["metadata"]["name"]: d for d in listed}
        expected = {f"telemetry-{u}" for u in range(1, units + 1)} | {f"streaming-{u}" for u in range(1, units + 1)}
        expected |= {"dps", "state", "statewriter"} | ({"maps"} if profile.services.maps else set())
        assert set(deployments) == expected
        for name, obj in deployments.items():
            assert obj["status"].get("readyReplicas") == 1, name
            assert _labels(obj)[REGION_LABEL] == region
            [container] = obj["spec"]["template"]["spec"]["containers"]
            probe = container["readinessProbe"]
            if "httpGet" in probe:
                assert probe["httpGet"]["path"] in ("/ready", "/index.html", "/debug/readyz"), name
            elif "exec" in probe:
                assert probe["exec"]["command"], name
            else:
                assert probe["tcpSocket"]["port"] == container["ports"][0]["containerPort"], name
            assert container["resources"]["requests"] and container["resources"]["limits"]
        pods = deployment.get(f"/api/v1/namespaces/{ns}/pods")["items"]
        assert len([p for p in pods if p["status"].get("phase") == "Running"]) == len(expected)
        # Kafka's image is built here, so its brokers run on the real node, not the simulated one.
        brokers = [p for p in pods if p["metadata"]["name"].startswith("streaming-")]
        assert len(brokers) == units and all(p["spec"]["nodeName"] == node.NODE_NAME for p in brokers)

        routes = deployment.get(f"/api/v1/namespaces/{ns}/configmaps/telemetry-1")["data"]["routes.json"]
        assert f"streaming-1.{ns}.svc.cluster.local:9092" in routes
        assert deployment.objects[ns]["secrets"] == {"state-key", "device-tls"}
        fleet_ca = deployment.get(f"/api/v1/namespaces/{ns}/configmaps/fleet-ca")["data"]["ca.pem"]
        assert fleet_ca == (deployment.fleet / region / "ca.pem").read_text(), "the region's own fleet CA"
        assert deployment.objects[ns]["services"] == expected

    eu = deployment.first["local-eu"].outputs["endpoints"]
    assert eu["state"]["documents"] == "mongodb://state.autocloud-eu.svc.cluster.local:27017/"
    assert deployment.first["local-cn"].outputs["endpoints"]["maps"] is None


def test_secrets_stay_encrypted_in_state(deployment: Deployment) -> None:
    token = deployment.cluster.layout.token_file.read_text().split(",", 1)[0]
    secret = deployment.get("/api/v1/namespaces/autocloud-eu/secrets/state-key")
    key = base64.b64decode(secret["data"]["password"]).decode()
    assert len(key) >= 32
    tls = deployment.get("/api/v1/namespaces/autocloud-eu/secrets/device-tls")
    # The key's first base64 line: the state would hold the PEM with its line breaks escaped.
    tls_key = base64.b64decode(tls["data"]["tls.key"]).decode().split("-----")[2].split()[0]
    assert len(tls_key) == 64
    files = [p for p in (deployment.state / "backend").rglob("*.json") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text()
        assert token not in text, f"{path} holds the cluster token in plain text"
        assert key not in text, f"{path} holds the state-store key in plain text"
        assert tls_key not in text, f"{path} holds the device endpoints' key in plain text"


def test_second_up_changes_nothing(deployment: Deployment) -> None:
    for stack in STACKS:
        result = deployment.up(stack)
        assert result.ok, result.message
        assert set(result.changes) == {"same"}, f"{stack}: {result.changes}"


@pytest.mark.parametrize("region", REGIONS)
def test_vehicles_flow_end_to_end(deployment: Deployment, region: str) -> None:
    """Simulated vehicles registered through the region's DPS and connected over TLS with their fleet
    certificates, through the hubs DPS chose into Kafka and the state store, nothing lost; each vehicle's
    messages and lifecycle events in the topics of the scale unit DPS assigned it to."""
    cluster = deployment.cluster
    args = deployment.simulation(region, vehicles=6, messages=5, settle_seconds=90)
    result = simulate.run(args, simulate.EmbeddedReach(cluster.layout, cluster.ports))
    assert result.refused == {}
    assert result.registrations == 6 and len(result.registration_ms) == 6
    assert result.sent == 30
    assert result.delivered == 30, "every publish is acknowledged only once Kafka has it"
    assert result.lost == 0
    assert result.stored >= 30 and result.vehicles_stored == 6
    profile = resolve_stack(f"local-{region}").profile
    units = local_scale_units(plan_for_profile(profile))
    assert set(result.vehicles_per_unit) == set(range(1, units + 1)), "vehicles spread over every scale unit"
    if region == "eu":
        assert units == 2

    kubectl = Kubectl(cluster.kubeconfig)
    namespace = region_namespace(region)
    for unit in range(1, units + 1):
        broker = kubectl.pod_of(namespace, f"{INSTANCE_LABEL}=streaming-{unit}")
        mine = {v for v, hub in result.assignments.items() if hub.startswith(f"telemetry-{unit}.{namespace}.")}
        assert mine == {v for v in args.vehicle_ids() if scale_unit_for(v, units) == unit}, "DPS's hashed allocation"
        telemetry = kubectl.kafka_records(namespace, broker, "telemetry")
        messages = {(r.key, json.loads(r.value)["seq"]) for r in telemetry if r.key.startswith(f"{region}-vehicle-")}
        assert messages == {(v, seq) for v in mine for seq in range(1, 6)}, f"unit {unit}: its vehicles' messages"
        events = kubectl.kafka_records(namespace, broker, "events")
        for vehicle in mine:
            ops = {r.headers.get("opType") for r in events if r.key == vehicle}
            assert ops >= {"createDeviceIdentity", "deviceConnected", "deviceDisconnected"}, f"{vehicle}: {ops}"


def test_simulate_reaches_any_cluster_through_kubectl(deployment: Deployment) -> None:
    """What ``autocloud simulate`` does when KUBECONFIG names another cluster: the API through kubectl,
    the brokers and the store through ``kubectl port-forward``."""
    args = deployment.simulation("eu", vehicles=4, messages=3, settle_seconds=90)
    result = simulate.run(args, simulate.KubeconfigReach(deployment.cluster.kubeconfig))
    assert result.registrations == 4 and result.refused == {}
    assert result.sent == result.delivered == 12
    assert result.lost == 0 and result.vehicles_stored == 4


def test_a_killed_broker_loses_nothing_acknowledged(deployment: Deployment) -> None:
    """The US broker pod is deleted mid-run: vehicles reconnect to its replacement and resend what was
    not acknowledged; every message arrives (duplicates allowed, counted, not lost)."""
    cluster = deployment.cluster
    kubectl = Kubectl(cluster.kubeconfig)
    selector = f"{INSTANCE_LABEL}=telemetry-1"
    broker = kubectl.pod_of("autocloud-us", selector)
    args = deployment.simulation("us", vehicles=6, messages=30, rate=30, settle_seconds=90)
    outcome: dict[str, simulate.SimulationResult] = {}
    run = threading.Thread(
        target=lambda: outcome.setdefault(
            "result", simulate.run(args, simulate.EmbeddedReach(cluster.layout, cluster.ports))
        )
    )
    run.start()
    time.sleep(2.5)
    kubectl.run("delete", "pod", "-n", "autocloud-us", broker, "--wait=false")
    run.join(timeout=300)
    result = outcome["result"]

    assert result.reconnects >= 1, "the vehicles lost their broker and connected again"
    assert result.refused == {}, "the replaced hub read its registry back from DPS before taking devices"
    assert kubectl.pod_of("autocloud-us", selector) != broker
    assert result.sent == result.delivered == 180
    assert result.lost == 0
    assert result.vehicles_stored == 6 and result.stored >= 180
    assert result.as_dict()["duplicates"] == result.stored - 180


def _replace_pod(kubectl: Kubectl, namespace: str, selector: str) -> None:
    """Delete the one pod ``selector`` picks and wait until its replacement is ready."""
    old = kubectl.pod_of(namespace, selector)
    kubectl.run("delete", "pod", "-n", namespace, old, "--wait=true", timeout=120)
    assert eventually(lambda: _running_other_than(kubectl, namespace, selector, old), timeout=120)
    kubectl.wait_ready(namespace, kubectl.pod_of(namespace, selector), timeout=180)


def _running_other_than(kubectl: Kubectl, namespace: str, selector: str, old: str) -> bool:
    try:
        return kubectl.pod_of(namespace, selector) != old
    except AssertionError:
        return False


RegionData = tuple[set[tuple[str, int]], dict[str, int]]


def _region_data(deployment: Deployment, region: str, vehicles: list[str]) -> RegionData:
    """The vehicles' telemetry records in unit 1's Kafka and their message counts in the store."""
    cluster = deployment.cluster
    namespace = region_namespace(region)
    kubectl = Kubectl(cluster.kubeconfig)
    broker = kubectl.pod_of(namespace, f"{INSTANCE_LABEL}=streaming-1")
    records = {
        (r.key, json.loads(r.value)["seq"])
        for r in kubectl.kafka_records(namespace, broker, "telemetry")
        if r.key in vehicles
    }
    reach = simulate.EmbeddedReach(cluster.layout, cluster.ports)
    endpoints = simulate.discover(reach, namespace)
    with reach.forward(namespace, [endpoints.store]) as ports:
        stored = simulate._stored_counts(ports[endpoints.store], endpoints, vehicles)
    return records, stored


def test_kafka_and_the_store_keep_what_was_acknowledged_when_their_pods_are_replaced(deployment: Deployment) -> None:
    """China's broker and store pods are deleted after their vehicles' messages were acknowledged and
    stored: the replacements hold the same records and documents (their data is on claims, not in the
    pods), and the next messages of the same vehicles are stored on top, none taken for a replay."""
    cluster = deployment.cluster
    kubectl = Kubectl(cluster.kubeconfig)
    first = simulate.run(deployment.simulation("cn", vehicles=4, messages=5, settle_seconds=90), _reach(deployment))
    assert first.delivered == 20 and first.lost == 0
    vehicles = deployment.simulation("cn", vehicles=4, messages=1).vehicle_ids()
    before = _region_data(deployment, "cn", vehicles)
    assert len(before[0]) >= 20 and all(count >= 5 for count in before[1].values()), before

    _replace_pod(kubectl, "autocloud-cn", f"{INSTANCE_LABEL}=streaming-1")
    _replace_pod(kubectl, "autocloud-cn", f"{INSTANCE_LABEL}=state")
    assert _region_data(deployment, "cn", vehicles) == before, "nothing acknowledged was lost with the pods"

    again = simulate.run(deployment.simulation("cn", vehicles=4, messages=3, settle_seconds=90), _reach(deployment))
    assert again.delivered == 12 and again.lost == 0, "the writer stores new records after the replacement"
    records, stored = _region_data(deployment, "cn", vehicles)
    assert records >= before[0] and stored == {v: before[1][v] + 3 for v in vehicles}


def _reach(deployment: Deployment) -> simulate.EmbeddedReach:
    return simulate.EmbeddedReach(deployment.cluster.layout, deployment.cluster.ports)


def test_hubs_and_dps_refuse_what_azure_refuses_and_keep_serving(deployment: Deployment) -> None:
    """EU's device endpoints over the node's tunnel, as a vehicle outside the cluster reaches them: a good
    vehicle registers and connects; each of these is refused, and the good vehicle still connects after:
    no client certificate, a US vehicle (another region's fleet CA), a CN other than the client id, an
    expired certificate, a vehicle never registered through DPS, plain-text MQTT. Registering again gives
    the same hub."""
    cluster, fleet = deployment.cluster, deployment.fleet
    reach = simulate.EmbeddedReach(cluster.layout, cluster.ports)
    endpoints = simulate.discover(reach, "autocloud-eu")
    good = fleet_pki.vehicle_credentials("eu", "eu-refusals-good", fleet_dir=fleet)
    us = fleet_pki.vehicle_credentials("us", "eu-refusals-foreign", fleet_dir=fleet)
    stranger = fleet_pki.vehicle_credentials("eu", "eu-refusals-stranger", fleet_dir=fleet)
    past = datetime.now(UTC) - timedelta(days=3)
    expired = fleet_pki.issue_vehicle_cert("eu", "eu-refusals-expired", fleet / "expired", 1, fleet_dir=fleet, now=past)
    with reach.forward("autocloud-eu", [endpoints.dps, *endpoints.hubs.values()]) as ports:
        dps = device.Endpoint("127.0.0.1", ports[endpoints.dps])
        context = device.tls_context(good, endpoints.server_ca)
        first = device.register("eu-refusals-good", dps, endpoints.id_scope, context)
        again = device.register("eu-refusals-good", dps, endpoints.id_scope, context)
        assert first.hub == again.hub and first.device_id == "eu-refusals-good"
        hub = device.Endpoint("127.0.0.1", ports[endpoints.hubs[first.hub]])

        def connects(context: ssl.SSLContext, client_id: str) -> str:
            client = device.new_client(client_id, device.hub_username(first.hub, client_id), context)
            try:
                device.open_connection(client, hub, "refused", timeout=15)
            except device.RegistrationRefused as refused:
                return str(refused)
            client.disconnect()
            client.loop_stop()
            return "connected"

        no_certificate = ssl.create_default_context(cadata=endpoints.server_ca)
        refusals = {
            "no client certificate": connects(no_certificate, "eu-refusals-good"),
            "another region's fleet CA": connects(device.tls_context(us, endpoints.server_ca), "eu-refusals-foreign"),
            "CN is not the client id": connects(context, "eu-refusals-stranger"),
            "expired certificate": connects(device.tls_context(expired, endpoints.server_ca), "eu-refusals-expired"),
            "never registered": connects(device.tls_context(stranger, endpoints.server_ca), "eu-refusals-stranger"),
        }
        assert all(said.startswith("refused") for said in refusals.values()), refusals
        with pytest.raises(device.RegistrationRefused, match="DPS refused"):
            device.register("eu-refusals-foreign", dps, endpoints.id_scope, device.tls_context(us, endpoints.server_ca))
        with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as plain:
            plain.sendall(bytes.fromhex("101000044d5154540402003c000463617231"))  # CONNECT "car1"
            plain.settimeout(10)
            try:
                answer = plain.recv(4)
            except (ConnectionResetError, TimeoutError):
                answer = b""
            assert not answer.startswith(b"\x20"), "a plain-text CONNECT got a CONNACK"
        assert connects(context, "eu-refusals-good") == "connected", "the hub still serves its vehicles"


DEVICE_SDK_PYTHON = REPO_ROOT / ".state" / "device-sdk" / "bin" / "python"
DEVICE_SDK_VEHICLE = PROGRAMS / "device-sdk" / "vehicle.py"


def test_a_vehicle_on_microsofts_device_sdk_registers_and_sends_unchanged(
    deployment: Deployment, tmp_path: Path
) -> None:
    """azure-iot-device (``make device-sdk``) against EU's DPS and hub, told only the DPS endpoint, the id
    scope and the server CA: its registration exchange, user names, topics and acknowledgements are the
    ones the local DPS and hub speak. The SDK dials port 8883, so each endpoint is tunnelled there in turn
    (the hub through the SDK's ``gateway_hostname``: the tunnel, not the hub's in-cluster name)."""
    cluster = deployment.cluster
    reach = simulate.EmbeddedReach(cluster.layout, cluster.ports)
    endpoints = simulate.discover(reach, "autocloud-eu")
    vehicle = "eu-sdk-vehicle-000001"
    credentials = fleet_pki.vehicle_credentials("eu", vehicle, fleet_dir=deployment.fleet)
    ca = tmp_path / "server-ca.pem"
    ca.write_text(endpoints.server_ca)
    files = [str(credentials.cert_path), str(credentials.key_path), str(ca)]

    def sdk(*argv: str) -> dict[str, Any]:
        done = subprocess.run(
            [str(DEVICE_SDK_PYTHON), str(DEVICE_SDK_VEHICLE), *argv], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer

    with cluster_tunnel.open_tunnel([endpoints.dps.address], cluster.layout, local_ports=[8883]):
        registered = sdk("register", "127.0.0.1", endpoints.id_scope, vehicle, *files)
    assert registered["status"] == "assigned" and registered["deviceId"] == vehicle
    hub = registered["assignedHub"]
    units = len(endpoints.hubs)
    assert endpoints.units[hub] == scale_unit_for(vehicle, units), "hashed allocation, as for the simulator"
    with cluster_tunnel.open_tunnel([endpoints.hubs[hub].address], cluster.layout, local_ports=[8883]):
        assert sdk("send", hub, "127.0.0.1", vehicle, *files, "3") == {"sent": 3}

    with reach.forward("autocloud-eu", [endpoints.store]) as ports:
        deadline = time.monotonic() + 60
        while (stored := simulate._stored_counts(ports[endpoints.store], endpoints, [vehicle])) != {
            vehicle: 3
        } and time.monotonic() < deadline:
            time.sleep(0.5)
    assert stored == {vehicle: 3}, "the SDK's messages reached vehicle state"


def test_every_workload_ends_on_sigterm_not_at_its_grace_deadline(deployment: Deployment) -> None:
    """A stop (a rollout, a destroy, `down`) must not wait out the 30 s grace of a process that ignores
    SIGTERM, as a server running as PID 1 without a handler does: each region's Maps stub (a shell
    serving with httpd) is deleted and must be gone well before its grace ends."""
    kubectl = Kubectl(deployment.cluster.kubeconfig)
    for region in REGIONS:
        if not resolve_stack(f"local-{region}").profile.services.maps:
            continue
        namespace = region_namespace(region)
        pod = kubectl.pod_of(namespace, f"{INSTANCE_LABEL}=maps")
        grace = kubectl.get("pod", pod, namespace)["spec"]["terminationGracePeriodSeconds"]
        started = time.monotonic()
        kubectl.run("delete", "pod", "-n", namespace, pod, "--wait=true", timeout=grace + 30)
        assert time.monotonic() - started < grace / 2, f"{namespace}/{pod} waited for its grace of {grace} s"
        kubectl.run("rollout", "status", "-n", namespace, "deployment/maps", "--timeout=60s", timeout=70)


def test_a_region_cannot_reach_another_regions_broker(deployment: Deployment) -> None:
    kubectl = Kubectl(deployment.cluster.kubeconfig)
    probe = busybox_pod("probe", "autocloud-eu", "exec sleep 3600")
    kubectl.apply(probe)
    try:
        kubectl.wait_ready("autocloud-eu", "probe")

        def opens(host: str, port: int) -> bool:
            # BusyBox nc has no -z: a refused or dropped connection ends nc with an error within its
            # 3 s connect timeout; an open one leaves it waiting, and it is stopped after 4 s.
            script = f"nc -w 3 {host} {port} </dev/null 2>&1 & p=$!; sleep 4; kill $p 2>/dev/null; wait $p"
            out = kubectl.exec("autocloud-eu", "probe", "sh", "-c", script, check=False)
            return not any(error in out for error in ("can't connect", "timed out", "bad address"))

        assert opens("telemetry-1.autocloud-eu.svc.cluster.local", 8883)
        for other in ("us", "cn"):
            assert not opens(f"telemetry-1.{region_namespace(other)}.svc.cluster.local", 8883)
            assert not opens(f"streaming-1.{region_namespace(other)}.svc.cluster.local", 9092)
    finally:
        kubectl.run("delete", "pod", "-n", "autocloud-eu", "probe", "--wait=false", check=False)


def test_packs_refuse_an_unlabelled_namespace_and_nothing_changes(deployment: Deployment) -> None:
    before = deployment.get("/api/v1/namespaces/autocloud-eu")
    state_before = _state_summary(deployment.state_resources("local-eu"))

    refused, output = deployment.violate("unlabelled-namespace")

    assert not refused.ok
    assert "[mandatory]  kubernetes-namespace-region-label" in output
    after = deployment.get("/api/v1/namespaces/autocloud-eu")
    assert _labels(after)[REGION_LABEL] == "eu"
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert _state_summary(deployment.state_resources("local-eu")) == state_before
    assert deployment.autocloud_objects("autocloud-eu") == deployment.objects["autocloud-eu"]


def test_packs_refuse_a_route_into_another_region_at_preview(deployment: Deployment) -> None:
    before = deployment.get("/api/v1/namespaces/autocloud-eu/configmaps/telemetry-1")

    refused, output = deployment.violate("foreign-endpoint", apply=False)

    assert not refused.ok
    assert "[mandatory]  kubernetes-cross-region-endpoint" in output
    after = deployment.get("/api/v1/namespaces/autocloud-eu/configmaps/telemetry-1")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "autocloud-us" not in after["data"]["routes.json"]


def test_up_refuses_a_route_into_another_region_before_applying_it(deployment: Deployment) -> None:
    try:
        refused, _ = deployment.violate("foreign-endpoint")
        assert not refused.ok
        routes = deployment.get("/api/v1/namespaces/autocloud-eu/configmaps/telemetry-1")["data"]["routes.json"]
        assert "autocloud-us" not in routes
    finally:
        restored = deployment.up("local-eu")
        assert restored.ok, restored.message


def _start_up(deployment: Deployment, stack: str) -> subprocess.Popen[str]:
    """`pulumi up` with the packs as its own process group, so it can be killed as a whole."""
    deployment.live.add(stack)
    packs, configs = deploy.policy_args(stack, deployment.state)
    command = [str(TOOLCHAIN_BIN / "pulumi"), "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack]
    for pack, config in zip(packs, configs, strict=True):
        command += ["--policy-pack", pack, "--policy-pack-config", config]
    env = os.environ | engine.engine_env(deployment.state)
    # The region's fleet CA for this run, as `autocloud up` passes it.
    machine = fleet_pki.local_run_config(resolve_stack(stack), fleet_dir=deployment.fleet)
    env[OVERRIDES_ENV] = json.dumps(machine)
    return subprocess.Popen(
        command, cwd=deployment.work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def test_up_killed_part_way_converges_on_the_next_up(deployment: Deployment) -> None:
    expected_urns = sorted(r["urn"] for r in deployment.state_resources("local-eu"))
    assert deployment.destroy("local-eu").ok

    process = _start_up(deployment, "local-eu")
    deadline = time.monotonic() + 60
    created = 0
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                created = len(deployment.get("/apis/apps/v1/namespaces/autocloud-eu/deployments")["items"])
            except HTTPError:
                created = 0
            if created >= 2:
                break
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL, f"up finished before it could be killed:\n{output[-2000:]}"
    assert created >= 2

    resumed = deployment.up("local-eu")
    assert resumed.ok, resumed.message
    checkpoint = deployment.checkpoint("local-eu")
    assert not checkpoint.get("pending_operations"), "operations of the killed run are still pending"
    urns = [r["urn"] for r in checkpoint["resources"]]
    assert len(urns) == len(set(urns)), "duplicated resources in state"
    assert sorted(urns) == expected_urns
    assert deployment.autocloud_objects("autocloud-eu") == deployment.objects["autocloud-eu"]
    again = deployment.up("local-eu")
    assert set(again.changes) == {"same"}, again.changes


def _remaining(deployment: Deployment) -> list[str]:
    left = [
        f"namespace/{ns['metadata']['name']}"
        for ns in deployment.get(f"/api/v1/namespaces?labelSelector={PART_OF}")["items"]
    ]
    for kind, path in NAMESPACED_KINDS.items():
        cluster_wide = path.replace("/namespaces/{ns}", "")
        for item in deployment.get(f"{cluster_wide}?labelSelector={PART_OF}")["items"]:
            left.append(f"{kind}/{item['metadata']['namespace']}/{item['metadata']['name']}")
    return left


def test_a_cluster_stop_and_start_keeps_every_acknowledged_message(deployment: Deployment) -> None:
    """The whole embedded cluster stopped and started: China's brokers and store come back with the same
    records and documents (their claims' folders are kept under the cluster's folder)."""
    vehicles = deployment.simulation("cn", vehicles=4, messages=1).vehicle_ids()
    before = _region_data(deployment, "cn", vehicles)
    assert before[0] and before[1], "earlier tests stored these vehicles' messages"
    embedded = deployment.cluster
    cluster.stop(embedded.layout, echo=lambda _line: None)
    cluster.start(embedded.layout, echo=lambda _line: None, ports=embedded.ports, honour_kubeconfig=False)
    # Right after the start the pods' status is the one from before the stop, so read until the restarted
    # broker and store answer (a pod that is still being recreated cannot be exec'd into yet).
    deadline = time.monotonic() + 300
    while True:
        try:
            after: RegionData | str = _region_data(deployment, "cn", vehicles)
        except Exception as exc:  # any failure to read is "not yet" until the deadline; the last one is shown
            after = f"not readable yet: {exc}"
        if after == before or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert after == before


def test_destroy_leaves_no_autocloud_object(deployment: Deployment) -> None:
    """The stacks are destroyed side by side, as `autocloud down` destroys them; their data goes too."""
    with ThreadPoolExecutor(max_workers=len(STACKS)) as pool:
        results = dict(zip(STACKS, pool.map(deployment.destroy, STACKS), strict=True))
    for stack, result in results.items():
        assert result.ok, result.message
        assert deployment.state_resources(stack) == []
    deadline = time.monotonic() + 30
    while _remaining(deployment) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _remaining(deployment) == []
    # The claims went with their namespaces, and with them the volumes and their folders.
    volumes = deployment.cluster.layout.volumes
    assert eventually(lambda: deployment.get("/api/v1/persistentvolumes")["items"] == [], timeout=60)
    assert [p for p in volumes.rglob("*") if p.is_dir() and p.parent != volumes] == []
