"""The local target under mocks: each local component alone, then each local stack through the program.

Assertions are on recorded inputs (what the provider would send to the API server), and every local
stack is run through all three policy packs' rules, as `autocloud check` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.contracts import (
    STATE_CONTAINER,
    STATE_DATABASE,
    ComputeEndpoints,
    MapsEndpoints,
    PlatformEndpoints,
    RegionalPlatformArgs,
    StateEndpoints,
    StreamingEndpoints,
    TelemetryEndpoints,
    region_labels,
)
from components.local import (
    MAX_LOCAL_SCALE_UNITS,
    KafkaRoute,
    LocalComputeCluster,
    LocalComputeClusterArgs,
    LocalEventStreaming,
    LocalEventStreamingArgs,
    LocalMapsService,
    LocalMapsServiceArgs,
    LocalPlacement,
    LocalRegionalPlatform,
    LocalTelemetryIngest,
    LocalTelemetryIngestArgs,
    LocalVehicleStateStore,
    LocalVehicleStateStoreArgs,
    NamespaceQuota,
    StateStream,
    kubernetes_provider,
    local_scale_units,
)
from components.local import provider as local_provider
from components.local.kube import (
    COMPONENT_LABEL,
    INSTANCE_LABEL,
    NAME_LABEL,
    NO_RESOURCES,
    OWNED_LABELS,
    ContainerResources,
)
from components.local.platform import namespace_quota
from components.local.provisioning import LocalDeviceTrust, LocalDeviceTrustArgs
from components.local.streaming import DATA_DIR, LOG_SIZE, cluster_id
from components.local.telemetry import KafkaBrandRoute, routes_json
from platform_model import local_images
from platform_model.paths import REPO_ROOT
from platform_model.profiles import available_profiles, load_profile
from platform_model.sizing import EventHubsPlan, plan_capacity, plan_for_profile
from platform_model.stack import resolve_stack
from platform_model.vocabulary import REGION_LABEL, region_namespace
from policies.config import context_for_profile
from policies.engine import Evaluator
from policies.model import ResourceView
from policies.packs import ALL_RULES
from tests.conftest import PulumiHarness, Recorded, fleet_ca_pem

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
SECRET = "kubernetes:core/v1:Secret"
PINNED = re.compile(r"^[a-z0-9.\-/]+(:[A-Za-z0-9._\-]+|@sha256:[0-9a-f]{64})$")
RECOMMENDED = (NAME_LABEL, COMPONENT_LABEL, INSTANCE_LABEL)
EU = load_profile("eu")


def placement(namespace: str = "autocloud-eu") -> LocalPlacement:
    return LocalPlacement(namespace=namespace, region="eu", location="westeurope", labels=region_labels(EU))


def millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def mebibytes(text: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(text[:-2]) * units[text[-2:]]


def pod_spec(deployment: Recorded) -> dict[str, Any]:
    spec: dict[str, Any] = deployment.inputs["spec"]["template"]["spec"]
    return spec


HTTP_PROBES = {"/ready", "/index.html", "/debug/readyz"}
"""Readiness paths: the ingest's and state writer's own checks, the Maps stub's file, FerretDB's probe."""


def assert_secure_workload(deployment: Recorded, namespace: str, region: str) -> None:
    """What every local Deployment promises: pinned image, probe, resources, labels, no token."""
    metadata = deployment.inputs["metadata"]
    assert metadata["namespace"] == namespace
    labels = metadata["labels"]
    assert labels[REGION_LABEL] == region
    assert labels.items() >= OWNED_LABELS.items()
    assert all(labels.get(key) for key in RECOMMENDED)
    template = deployment.inputs["spec"]["template"]
    assert template["metadata"]["labels"] == labels
    assert deployment.inputs["spec"]["selector"]["matchLabels"].items() <= labels.items()
    spec = pod_spec(deployment)
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == metadata["name"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = spec["containers"]
    assert PINNED.match(container["image"]), container["image"]
    assert not container["image"].endswith(":latest")
    port = container["ports"][0]
    probe = container["readinessProbe"]
    assert (
        probe.get("tcpSocket") == {"port": port["containerPort"]}
        or probe.get("httpGet", {}).get("path") in HTTP_PROBES
        or probe["exec"]["command"]
    )
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    assert millicores(resources["requests"]["cpu"]) <= millicores(resources["limits"]["cpu"])
    assert mebibytes(resources["requests"]["memory"]) <= mebibytes(resources["limits"]["memory"])
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def the_workload(mocks: Any, namespace: str, region: str) -> tuple[Recorded, Recorded, Recorded]:
    """The one Deployment, Service and ServiceAccount a single-workload component makes."""
    deployment, service, account = mocks.one(DEPLOYMENT), mocks.one(SERVICE), mocks.one(ACCOUNT)
    assert_secure_workload(deployment, namespace, region)
    name = deployment.inputs["metadata"]["name"]
    assert service.inputs["metadata"]["name"] == account.inputs["metadata"]["name"] == name
    assert account.inputs["automountServiceAccountToken"] is False
    assert service.inputs["spec"]["type"] == "ClusterIP"
    assert service.inputs["spec"]["selector"] == deployment.inputs["spec"]["selector"]["matchLabels"]
    [container] = pod_spec(deployment)["containers"]
    assert [p["port"] for p in service.inputs["spec"]["ports"]] == [p["containerPort"] for p in container["ports"]]
    return deployment, service, account


# --- components, one at a time ---------------------------------------------------------------------


def quota() -> NamespaceQuota:
    return NamespaceQuota(ContainerResources(1000, 2048, 4000, 8192), pods=10, services=5, config_maps=3, secrets=2)


def test_compute_cluster_is_a_labelled_namespace_fenced_by_quota_limits_and_policies(
    pulumi_harness: PulumiHarness,
) -> None:
    mocks = pulumi_harness.start("local-eu")
    args = LocalComputeClusterArgs("autocloud-eu", "eu", "westeurope", region_labels(EU), quota())
    compute = pulumi_harness.run(lambda: LocalComputeCluster("eu-compute", args))

    namespace = mocks.one(NAMESPACE)
    assert namespace.name == "eu-compute-namespace"
    assert namespace.inputs["metadata"]["name"] == "autocloud-eu"
    labels = namespace.inputs["metadata"]["labels"]
    assert labels.items() >= region_labels(EU).items()
    assert labels[REGION_LABEL] == "eu"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"

    hard = mocks.one(QUOTA).inputs["spec"]["hard"]
    assert hard == {
        "requests.cpu": "1000m", "requests.memory": "2048Mi", "limits.cpu": "4000m", "limits.memory": "8192Mi",
        "pods": "10", "services": "5", "services.nodeports": "0", "services.loadbalancers": "0",
        "configmaps": "3", "secrets": "2", "persistentvolumeclaims": "0",
    }  # fmt: skip
    [limit] = mocks.one(LIMITS).inputs["spec"]["limits"]
    assert limit["type"] == "Container"
    assert {"default", "defaultRequest", "max"} <= set(limit)

    policies = {p.inputs["metadata"]["name"]: p.inputs["spec"] for p in mocks.of_type(POLICY)}
    assert set(policies) == {"default-deny", "allow-same-namespace", "allow-dns"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    same = policies["allow-same-namespace"]
    assert same["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert same["egress"] == [{"to": [{"podSelector": {}}]}]
    [dns] = policies["allow-dns"]["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    for resource in mocks.of_type(QUOTA) + mocks.of_type(LIMITS) + mocks.of_type(POLICY):
        assert resource.inputs["metadata"]["namespace"] == "autocloud-eu"
        assert resource.inputs["metadata"]["labels"][REGION_LABEL] == "eu"

    assert pulumi_harness.value(compute.name) == "autocloud-eu"
    assert pulumi_harness.value(compute.endpoints) == ComputeEndpoints(api_server="https://kubernetes.default.svc")
    assert compute.location == "westeurope" and compute.namespace == "autocloud-eu"


def test_routes_file_is_the_one_the_ingests_go_tests_read() -> None:
    """cmd/ingest's tests parse this fixture: a change to the routes' shape must update both sides."""
    fixture = REPO_ROOT / "cmd" / "ingest" / "testdata" / "routes.json"
    route = KafkaRoute("streaming-1.autocloud-eu.svc.cluster.local:9092", "telemetry", "events")
    assert routes_json("eu", 1, route) == fixture.read_text()


def test_brand_routes_file_is_the_one_the_ingests_go_tests_read() -> None:
    """cmd/ingest's brand test routes by this fixture: alpha's and beta's vehicles each to their own topic."""
    fixture = REPO_ROOT / "cmd" / "ingest" / "testdata" / "routes-brands.json"
    brands = (KafkaBrandRoute("telemetry-alpha", "alpha-", 6), KafkaBrandRoute("telemetry-beta", "beta-", 4))
    route = KafkaRoute("streaming-1.autocloud-eu.svc.cluster.local:9092", "telemetry", "events", 4, brands)
    assert routes_json("eu", 1, route) == fixture.read_text()


def device_trust() -> LocalDeviceTrust:
    hosts = ["dps.autocloud-eu.svc.cluster.local", "telemetry-1.autocloud-eu.svc.cluster.local"]
    return LocalDeviceTrust("eu-trust", LocalDeviceTrustArgs(placement(), fleet_ca_pem(), hosts))


def ingest_args(unit: int, route: KafkaRoute | None = None) -> LocalTelemetryIngestArgs:
    return LocalTelemetryIngestArgs(
        placement(), unit=unit, trust=device_trust(), dps_host="dps.autocloud-eu.svc.cluster.local", route=route
    )


def test_telemetry_ingest_routes_to_its_scale_units_broker(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    route = KafkaRoute("streaming-2.autocloud-eu.svc.cluster.local:9092", "telemetry", "events", partitions=12)
    ingest = pulumi_harness.run(lambda: LocalTelemetryIngest("eu-telemetry-2", ingest_args(2, route)))

    deployment, _, _ = the_workload(mocks, "autocloud-eu", "eu")
    assert deployment.inputs["metadata"]["name"] == "telemetry-2"
    assert deployment.inputs["metadata"]["labels"][COMPONENT_LABEL] == "telemetry-ingest"
    spec = pod_spec(deployment)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    [container] = spec["containers"]
    assert container["image"] == local_images.image_reference("ingest")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["args"] == [
        "--routes=/etc/ingest/routes.json",
        "--partitions=12",
        "--mqtt=:8883",
        "--http=:8080",
        "--tls-cert=/etc/device-tls/tls.crt",
        "--tls-key=/etc/device-tls/tls.key",
        "--fleet-ca=/etc/fleet/ca.pem",
        "--require-registration",
        "--registry-source=http://dps.autocloud-eu.svc.cluster.local:8080"
        "/hubs/telemetry-2.autocloud-eu.svc.cluster.local/devices",
    ]
    assert container["ports"] == [
        {"name": "mqtts", "containerPort": 8883, "protocol": "TCP"},
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
    ]
    assert {"name": "device-tls", "secret": {"secretName": "device-tls", "defaultMode": 0o440}} in spec["volumes"]
    assert {"name": "fleet-ca", "configMap": {"name": "fleet-ca"}} in spec["volumes"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080, "scheme": "HTTP"}
    assert {"name": "routes", "mountPath": "/etc/ingest", "readOnly": True} in container["volumeMounts"]
    assert {"name": "routes", "configMap": {"name": "telemetry-2"}} in spec["volumes"]
    assert "nodeSelector" not in spec

    [config] = [c for c in mocks.of_type(CONFIG_MAP) if c.inputs["metadata"]["name"] == "telemetry-2"]
    assert set(config.inputs["data"]) == {"routes.json"}
    routes = json.loads(config.inputs["data"]["routes.json"])
    assert routes["region"] == "eu" and routes["scaleUnit"] == 2
    assert {(r["source"], r["endpoint"], r["topic"]) for r in routes["routes"]} == {
        ("DeviceMessages", "kafka://streaming-2.autocloud-eu.svc.cluster.local:9092", "telemetry"),
        ("DeviceLifecycleEvents", "kafka://streaming-2.autocloud-eu.svc.cluster.local:9092", "events"),
        ("DeviceConnectionStateEvents", "kafka://streaming-2.autocloud-eu.svc.cluster.local:9092", "events"),
    }
    annotations = deployment.inputs["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["autocloud.io/config-sha256"]) == 64

    assert pulumi_harness.value(ingest.endpoints) == TelemetryEndpoints(
        mqtt="telemetry-2.autocloud-eu.svc.cluster.local:8883", hostname="telemetry-2.autocloud-eu.svc.cluster.local"
    )
    assert pulumi_harness.value(ingest.name) == "telemetry-2"


def test_telemetry_ingest_without_streaming_has_no_routes(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    pulumi_harness.run(lambda: LocalTelemetryIngest("t", ingest_args(1)))
    [config] = [c for c in mocks.of_type(CONFIG_MAP) if "routes.json" in c.inputs["data"]]
    assert '"routes": []' in config.inputs["data"]["routes.json"]


def test_event_streaming_is_a_kafka_broker_advertised_in_its_namespace(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    sku = EventHubsPlan(sku="Standard", throughput_units=12, telemetry_partitions=12, events_partitions=4)
    stream = pulumi_harness.run(
        lambda: LocalEventStreaming("eu-streaming-1", LocalEventStreamingArgs(placement(), unit=1, sku=sku))
    )

    deployment, _, _ = the_workload(mocks, "autocloud-eu", "eu")
    spec = pod_spec(deployment)
    [container] = spec["containers"]
    assert container["image"] == local_images.image_reference("kafka")
    config = mocks.one(CONFIG_MAP)
    assert config.inputs["metadata"]["name"] == "streaming-1"
    properties = dict(line.split("=", 1) for line in config.inputs["data"]["server.properties"].splitlines() if line)
    assert properties["process.roles"] == "broker,controller"
    assert properties["node.id"] == "1"
    assert properties["listeners"] == "PLAINTEXT://:9092,CONTROLLER://:9093"
    assert properties["advertised.listeners"] == "PLAINTEXT://streaming-1.autocloud-eu.svc.cluster.local:9092"
    assert properties["num.partitions"] == "12"
    assert properties["offsets.topic.replication.factor"] == "1"
    assert properties["log.dirs"] == DATA_DIR
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["KAFKA_CLUSTER_ID"] == cluster_id("autocloud-eu", 1)
    assert len(env["KAFKA_CLUSTER_ID"]) == 22
    assert deployment.inputs["spec"]["strategy"] == {"type": "Recreate"}
    assert spec["securityContext"]["runAsUser"] == 65532
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes[mounts["/etc/kafka"]]["configMap"] == {"name": "streaming-1"}
    # The log outlives the pod: a claim of the cluster's default class (no class named), as large as LOG_SIZE.
    assert volumes[mounts[DATA_DIR]]["persistentVolumeClaim"] == {"claimName": "streaming-1-data"}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    claim = mocks.one(PVC)
    assert claim.inputs["metadata"]["name"] == "streaming-1-data"
    assert "storageClassName" not in claim.inputs["spec"]
    assert claim.inputs["spec"]["resources"] == {"requests": {"storage": LOG_SIZE}}
    # Ready means the broker answered Kafka requests, not that its port accepted a connection.
    assert container["readinessProbe"]["exec"]["command"] == [local_images.KAFKA_READY]
    assert container["startupProbe"]["exec"]["command"] == [local_images.KAFKA_STARTED]

    assert stream.bootstrap == "streaming-1.autocloud-eu.svc.cluster.local:9092"
    assert pulumi_harness.value(stream.endpoints) == StreamingEndpoints(
        kafka=stream.bootstrap, telemetry_topic="telemetry", events_topic="events"
    )


def test_kafka_cluster_ids_are_stable_and_apart() -> None:
    assert cluster_id("fleet-eu", 1) == cluster_id("fleet-eu", 1)
    assert len({cluster_id("fleet-eu", 1), cluster_id("fleet-eu", 2), cluster_id("fleet-us", 1)}) == 3


STREAMS = (
    StateStream("unit-1", "streaming-1.autocloud-eu.svc.cluster.local:9092"),
    StateStream("unit-2", "streaming-2.autocloud-eu.svc.cluster.local:9092"),
)


def test_state_store_is_ferretdb_fed_by_a_writer_reading_every_unit(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    args = LocalVehicleStateStoreArgs(placement(), streams=STREAMS)
    store = pulumi_harness.run(lambda: LocalVehicleStateStore("eu-state", args))

    deployments = {d.inputs["metadata"]["name"]: d for d in mocks.of_type(DEPLOYMENT)}
    assert set(deployments) == {"state", "statewriter"}
    secret = mocks.one(SECRET)
    assert "stringData" in secret.secret_paths and secret.inputs["metadata"]["name"] == "state-key"
    password = secret.inputs["stringData"]["password"]
    assert len(password) >= 40
    password_ref = {"secretKeyRef": {"name": "state-key", "key": "password"}}

    for deployment in deployments.values():
        assert_secure_workload(deployment, "autocloud-eu", "eu")
        assert password not in str(deployment.inputs)
        assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True
        [container] = pod_spec(deployment)["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert "httpGet" in container["readinessProbe"]

    [docstore] = pod_spec(deployments["state"])["containers"]
    assert docstore["image"] == local_images.image_reference("docstore")
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in docstore["env"]}
    assert env["FERRETDB_HANDLER"] == "sqlite" and env["FERRETDB_TELEMETRY"] == "disable"
    assert env["FERRETDB_SETUP_DATABASE"] == STATE_DATABASE and env["FERRETDB_SETUP_PASSWORD"] == password_ref
    assert docstore["readinessProbe"]["httpGet"] == {"path": "/debug/readyz", "port": 8088, "scheme": "HTTP"}
    volumes = {v["name"]: v for v in pod_spec(deployments["state"])["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "state-data"}}

    [writer] = pod_spec(deployments["statewriter"])["containers"]
    assert writer["image"] == local_images.image_reference("statewriter")
    joined = " ".join(writer["args"])
    assert "--brokers unit-1=streaming-1.autocloud-eu.svc.cluster.local:9092" in joined
    assert "--brokers unit-2=streaming-2.autocloud-eu.svc.cluster.local:9092" in joined
    assert "--topic telemetry" in joined and "--store mongodb://state.autocloud-eu.svc.cluster.local:27017/" in joined
    writer_env = {e["name"]: e.get("value", e.get("valueFrom")) for e in writer["env"]}
    assert writer_env["STATEWRITER_STORE_PASSWORD"] == password_ref
    assert writer["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080, "scheme": "HTTP"}

    assert pulumi_harness.value(store.endpoints) == StateEndpoints(
        documents="mongodb://state.autocloud-eu.svc.cluster.local:27017/",
        database=STATE_DATABASE,
        container=STATE_CONTAINER,
    )


def test_state_store_without_streams_runs_no_writer(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    pulumi_harness.run(lambda: LocalVehicleStateStore("eu-state", LocalVehicleStateStoreArgs(placement())))
    deployment, _, _ = the_workload(mocks, "autocloud-eu", "eu")
    assert deployment.inputs["metadata"]["name"] == "state"


def test_state_store_uses_a_given_key(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    args = LocalVehicleStateStoreArgs(placement(), key=pulumi.Output.secret("given-key"))
    pulumi_harness.run(lambda: LocalVehicleStateStore("s", args))
    secret = mocks.one(SECRET)
    assert secret.inputs["stringData"] == {"password": "given-key"} and "stringData" in secret.secret_paths


def test_maps_stub_runs_unprivileged(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    maps = pulumi_harness.run(lambda: LocalMapsService("eu-maps", LocalMapsServiceArgs(placement())))
    deployment, _, _ = the_workload(mocks, "autocloud-eu", "eu")
    spec = pod_spec(deployment)
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]
    assert container["image"].startswith("autocloud.local/busybox:")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    body = json.loads(next(e["value"] for e in container["env"] if e["name"] == "BODY"))
    assert body == {"region": "eu", "service": "maps", "stub": True}
    assert pulumi_harness.value(maps.endpoints) == MapsEndpoints(api="http://maps.autocloud-eu.svc.cluster.local:8080")


def test_quota_fits_every_workload_twice() -> None:
    services = EU.services
    quota = namespace_quota(services, 3)
    from components.local import maps, provisioning, state, streaming, telemetry

    workloads = [telemetry.RESOURCES] * 3 + [provisioning.RESOURCES]
    workloads += [streaming.RESOURCES] * 3 + [state.RESOURCES, state.WRITER_RESOURCES]
    once = sum([*workloads, maps.RESOURCES], NO_RESOURCES)
    assert quota.resources == once * 2
    assert (quota.pods, quota.services) == (20, 20)
    # Each hub, the DPS and each Kafka broker has its ConfigMap, and the fleet CA one, besides
    # kube-root-ca.crt; all of them twice, so creates an interrupted run left charged never block the run
    # resumed after it.
    assert quota.config_maps == (3 + 1 + 1 + 3 + 1) * 2
    assert quota.secrets == 2 * 2, "the store's password and the device endpoints' TLS"


def test_scale_units_follow_the_plan_but_stay_small() -> None:
    assert local_scale_units(plan_capacity(1_000, 60, 1)) == 1
    assert local_scale_units(plan_capacity(2_000_000, 60, 1)) == 3
    assert plan_capacity(20_000_000, 60, 1).scale_units > MAX_LOCAL_SCALE_UNITS
    assert local_scale_units(plan_capacity(20_000_000, 60, 1)) == MAX_LOCAL_SCALE_UNITS


def test_platform_wires_each_unit_to_its_own_broker(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    args = RegionalPlatformArgs(
        profile=EU, plan=plan_for_profile(EU), namespace="fleet-eu", fleet_ca_certificate=fleet_ca_pem()
    )
    platform = pulumi_harness.run(lambda: LocalRegionalPlatform("eu", args))
    assert platform.namespace == "fleet-eu" and platform.scale_units == 3
    routes = {
        c.inputs["metadata"]["name"]: c.inputs["data"]["routes.json"]
        for c in mocks.of_type(CONFIG_MAP)
        if "routes.json" in c.inputs["data"]
    }
    for unit in (1, 2, 3):
        assert f"streaming-{unit}.fleet-eu.svc.cluster.local:9092" in routes[f"telemetry-{unit}"]
    partitions = f"--partitions={args.plan.eventhubs.telemetry_partitions}"
    ingests = [d for d in mocks.of_type(DEPLOYMENT) if d.inputs["metadata"]["name"].startswith("telemetry-")]
    assert len(ingests) == 3 and all(partitions in pod_spec(d)["containers"][0]["args"] for d in ingests)
    endpoints = pulumi_harness.value(platform.endpoints)
    assert set(endpoints) == set(PlatformEndpoints.__annotations__)
    assert endpoints["provisioning"] == {
        "device_endpoint": "dps.fleet-eu.svc.cluster.local",
        "id_scope": "0ne-local-eu",
    }
    assert [t["mqtt"] for t in endpoints["telemetry"]] == [
        f"telemetry-{u}.fleet-eu.svc.cluster.local:8883" for u in (1, 2, 3)
    ]
    dps = json.loads(
        next(c for c in mocks.of_type(CONFIG_MAP) if c.inputs["metadata"]["name"] == "dps").inputs["data"]["dps.json"]
    )
    assert dps == {
        "idScope": "0ne-local-eu",
        "hubs": [
            {
                "hostname": f"telemetry-{u}.fleet-eu.svc.cluster.local",
                "registry": f"http://telemetry-{u}.fleet-eu.svc.cluster.local:8080/devices/",
            }
            for u in (1, 2, 3)
        ],
    }, "DPS links every unit's hub in unit order, as hashed allocation indexes them"
    # Everything namespaced waits for the namespace, its quota and its NetworkPolicies.
    assert all(r.inputs["metadata"]["namespace"] == "fleet-eu" for r in mocks.resources if r.type != NAMESPACE
               and r.type.startswith("kubernetes:"))  # fmt: skip


def test_state_writer_runs_beside_real_brokers_on_the_embedded_cluster(
    pulumi_harness: PulumiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("components.local.platform.targets_embedded_cluster", lambda: True)
    mocks = pulumi_harness.start("local-eu")
    args = RegionalPlatformArgs(
        profile=EU, plan=plan_for_profile(EU), namespace="fleet-eu", fleet_ca_certificate=fleet_ca_pem()
    )
    pulumi_harness.run(lambda: LocalRegionalPlatform("eu", args))
    deployments = {d.inputs["metadata"]["name"]: d for d in mocks.of_type(DEPLOYMENT)}
    assert {"state", "statewriter"} <= set(deployments)
    assert all("nodeSelector" not in pod_spec(d) for d in deployments.values()), "every image is built here"


def test_no_state_writer_where_the_brokers_are_simulated(
    pulumi_harness: PulumiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the embedded cluster an unbuilt Kafka image runs on the simulated node: nothing would answer."""
    monkeypatch.setattr("components.local.platform.targets_embedded_cluster", lambda: True)
    monkeypatch.setattr("components.local.platform.image_reference", lambda image: "apache/kafka:3.9.0")
    mocks = pulumi_harness.start("local-eu")
    args = RegionalPlatformArgs(
        profile=EU, plan=plan_for_profile(EU), namespace="fleet-eu", fleet_ca_certificate=fleet_ca_pem()
    )
    pulumi_harness.run(lambda: LocalRegionalPlatform("eu", args))
    names = {d.inputs["metadata"]["name"] for d in mocks.of_type(DEPLOYMENT)}
    assert "state" in names and "statewriter" not in names


def test_local_names_match_the_azure_target() -> None:
    from components import streaming
    from components.local import streaming as local_streaming

    assert (local_streaming.TELEMETRY_TOPIC, local_streaming.EVENTS_TOPIC) == (
        streaming.TELEMETRY_HUB,
        streaming.EVENTS_HUB,
    )


# --- the provider ------------------------------------------------------------------------------------


def test_provider_passes_the_kubeconfig_as_a_secret_with_server_side_apply(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("local-eu")
    pulumi_harness.run(lambda: kubernetes_provider("local", kubeconfig="apiVersion: v1\nkind: Config\n"))
    provider = mocks.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_paths
    assert provider.inputs["kubeconfig"] == "apiVersion: v1\nkind: Config\n"
    assert provider.inputs["enableServerSideApply"] in (True, "true")


def test_provider_reads_no_kubeconfig_under_mocks(
    pulumi_harness: PulumiHarness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "kubeconfig").write_text("real credentials")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    mocks = pulumi_harness.start("local-eu")
    pulumi_harness.run(lambda: kubernetes_provider("local"))
    kubeconfig = mocks.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    assert kubeconfig == local_provider.OFFLINE_KUBECONFIG


def test_kubeconfig_comes_from_kubeconfig_else_the_embedded_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text("from KUBECONFIG")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'config'}:/elsewhere")
    from autocloud.runtime import cluster
    from platform_model.paths import STATE_DIR

    assert local_provider.kubeconfig_file() == tmp_path / "config" == cluster.kubeconfig_path()
    assert local_provider.load_kubeconfig() == "from KUBECONFIG"
    monkeypatch.delenv("KUBECONFIG")
    # the program's path (domain) and the cluster's (runtime) name the same file
    assert local_provider.kubeconfig_file() == STATE_DIR / "cluster" / "kubeconfig" == cluster.kubeconfig_path()
    with pytest.raises(pulumi.RunError, match=r"no kubeconfig at .*missing.*autocloud cluster start"):
        local_provider.load_kubeconfig(tmp_path / "missing")


# --- each local stack through the program ------------------------------------------------------------


def local_stack_and_overrides(region: str) -> tuple[str, dict[str, str]]:
    """The region's local stack, or (a region with no local stack) its azure stack on the local target."""
    if (REPO_ROOT / "stacks" / f"Pulumi.local-{region}.yaml").is_file():
        return f"local-{region}", {}
    return f"azure-{region}", {"autocloud:target": "local"}


@pytest.mark.parametrize("region", available_profiles())
def test_local_stack(pulumi_harness: PulumiHarness, region: str) -> None:
    stack, overrides = local_stack_and_overrides(region)
    run = pulumi_harness.run_program(stack, overrides)
    mocks = run.mocks
    profile = resolve_stack(stack, overrides=overrides).profile
    namespace = region_namespace(region)
    units = local_scale_units(plan_for_profile(profile))

    assert [r for r in mocks.resources if r.type.startswith("azure-native:")] == []
    [provider] = mocks.of_type("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_paths
    kubernetes = [r for r in mocks.resources if r.type.startswith("kubernetes:")]
    # Every object goes through the program's explicit provider, none through a default one.
    explicit = f"pulumi:providers:kubernetes::autocloud-{region}-local::"
    assert all(explicit in r.provider for r in kubernetes)

    [ns] = mocks.of_type(NAMESPACE)
    assert ns.inputs["metadata"]["name"] == namespace
    assert ns.inputs["metadata"]["labels"].items() >= ({REGION_LABEL: region} | region_labels(profile)).items()
    assert len(mocks.of_type(QUOTA)) == len(mocks.of_type(LIMITS)) == 1
    assert {p.inputs["metadata"]["name"] for p in mocks.of_type(POLICY)} == {
        "default-deny", "allow-same-namespace", "allow-dns",
    }  # fmt: skip
    for resource in kubernetes:
        if resource.type != NAMESPACE:
            assert resource.inputs["metadata"]["namespace"] == namespace
        assert resource.inputs["metadata"]["labels"][REGION_LABEL] == region

    deployments = {d.inputs["metadata"]["name"]: d for d in mocks.of_type(DEPLOYMENT)}
    expected = {f"telemetry-{u}" for u in range(1, units + 1)} | {f"streaming-{u}" for u in range(1, units + 1)}
    expected |= {"dps", "state", "statewriter"} | ({"maps"} if profile.services.maps else set())
    assert set(deployments) == expected
    for deployment in deployments.values():
        assert_secure_workload(deployment, namespace, region)
    [writer] = pod_spec(deployments["statewriter"])["containers"]
    assert [a for a in writer["args"] if "=streaming-" in a] == [
        f"unit-{u}=streaming-{u}.{namespace}.svc.cluster.local:9092" for u in range(1, units + 1)
    ]
    assert {s.inputs["metadata"]["name"] for s in mocks.of_type(SERVICE)} == expected
    assert {a.inputs["metadata"]["name"] for a in mocks.of_type(ACCOUNT)} == expected
    secrets = {s.inputs["metadata"]["name"]: s for s in mocks.of_type(SECRET)}
    assert set(secrets) == {"state-key", "device-tls"}
    assert all("stringData" in secret.secret_paths for secret in secrets.values())

    # The quota admits every pod the stack creates, twice over.
    hard = mocks.one(QUOTA).inputs["spec"]["hard"]
    requests = [pod_spec(d)["containers"][0]["resources"]["requests"] for d in deployments.values()]
    assert sum(millicores(r["cpu"]) for r in requests) * 2 == millicores(hard["requests.cpu"])
    assert sum(mebibytes(r["memory"]) for r in requests) * 2 == mebibytes(hard["requests.memory"])
    assert int(hard["pods"]) == 2 * len(deployments)
    # On a busy node the acknowledgement path (hubs, Kafka) outweighs the backlog (store, writer) many times
    # over in CPU shares, which cgroup v1 derives from the requests (at least 2).
    shares = {name: max(2, millicores(r["cpu"]) * 1024 // 1000) for name, r in zip(deployments, requests, strict=True)}
    backlog = max(shares["state"], shares["statewriter"])
    assert all(shares[name] >= 25 * backlog for name in shares if name.startswith(("telemetry-", "streaming-")))

    endpoints = run.outputs["endpoints"]
    assert len(endpoints["telemetry"]) == len(endpoints["streaming"]) == run.outputs["scale_units"] == units
    assert (endpoints["maps"] is None) == (not profile.services.maps)
    assert endpoints["registry"] is None and endpoints["services"] is None, "applied directly, from images built here"
    assert all(f".{namespace}.svc.cluster.local:" in t["mqtt"] for t in endpoints["telemetry"])
    assert run.outputs["platform"]["name"] == namespace
    assert run.outputs["location"] == profile.primary

    views = [ResourceView.of(r.type, r.inputs, r.name, stack=f"local-{region}") for r in mocks.resources]
    evaluation = Evaluator(ALL_RULES).run(views, context_for_profile(profile), f"local-{region}")
    assert evaluation.violations == []


def test_maps_is_absent_in_cn(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("local-cn")
    assert not [r for r in run.mocks.resources if "maps" in r.name]
    assert run.outputs["endpoints"]["maps"] is None


def test_namespace_override_moves_every_object(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("local-us", {"autocloud:namespace": "fleet-us"})
    namespaced = [r for r in run.mocks.resources if r.type.startswith("kubernetes:") and r.type != NAMESPACE]
    assert {r.inputs["metadata"]["namespace"] for r in namespaced} == {"fleet-us"}
    assert run.outputs["endpoints"]["streaming"][0]["kafka"] == "streaming-1.fleet-us.svc.cluster.local:9092"


def test_the_packs_refuse_a_local_stack_reaching_another_region(pulumi_harness: PulumiHarness) -> None:
    """The rules see what the components make: one broker route pointed at the US namespace is caught."""
    run = pulumi_harness.run_program("local-eu")
    views = []
    for r in run.mocks.resources:
        props = dict(r.inputs)
        if r.type == CONFIG_MAP and props["metadata"]["name"] == "telemetry-1":
            data = props["data"]
            props["data"] = data | {"routes.json": data["routes.json"].replace(".autocloud-eu.", ".autocloud-us.")}
        views.append(ResourceView.of(r.type, props, r.name, stack="local-eu"))
    evaluation = Evaluator(ALL_RULES).run(views, context_for_profile(EU), "local-eu")
    assert {v.policy for v in evaluation.mandatory} == {"kubernetes-cross-region-endpoint"}
    assert {v.urn.rsplit("::", 1)[1] for v in evaluation.mandatory} == {"eu-telemetry-1-config"}


def test_go_programs_get_a_soft_memory_limit_under_their_containers() -> None:
    from components.local import state, streaming, telemetry
    from components.local.kube import pod_spec as workload_pod_spec
    from components.services import StateWriterWiring, writer_workload
    from components.workloads import Workload, go_memory_limit

    place = placement()

    def env(workload: Workload) -> dict[str, str]:
        [container] = workload_pod_spec(workload)["containers"]
        return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}

    hub, _ = telemetry.ingest_workload(place, 1, None, "autocloud.local/ingest:v1", place.host("dps"))
    store = state.docstore_workload("autocloud.local/ferretdb:v1", "state-key")
    writer = writer_workload(
        StateWriterWiring(
            image="w",
            streams=(),
            topic="telemetry",
            store_uri="mongodb://state:27017/",
            resources=state.WRITER_RESOURCES,
        )
    )
    # 90% of each container's limit (MiB): the hub's 2 GiB, the store's 512 MiB, the writer's 512 MiB.
    assert [env(w).get("GOMEMLIMIT") for w in (hub, store, writer)] == ["1843MiB", "460MiB", "460MiB"]
    # Only the store collects less often than the default: its heap is garbage at its write rate.
    assert [env(w).get("GOGC") for w in (hub, store, writer)] == [None, state.STORE_GOGC, None]
    assert go_memory_limit(hub.resources) == "1843MiB"
    broker, _ = streaming.broker_workload(place, 1, 8, "autocloud.local/kafka:v1")
    assert "GOMEMLIMIT" not in env(broker), "the Java broker is not a Go program"
