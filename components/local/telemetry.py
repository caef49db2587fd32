"""Telemetry ingest on the local target: one IoT Hub per scale unit, routes in a ConfigMap.

The Azure target's IoT Hub routes device messages to its scale unit's Event Hubs; here the same
routes are written to the broker's ConfigMap (``routes.json``), pointing at the scale unit's Kafka
broker by its in-namespace address. The broker is autocloud's own ingest (``cmd/ingest``,
image ``autocloud.local/ingest``): it takes IoT Hub's device topics over MQTT and applies the routes
into Kafka, acknowledging a QoS 1 message only once Kafka has it.

It is IoT Hub's device endpoint: MQTT over TLS on 8883 only, a client certificate from the region's
fleet CA whose CN is the client id, IoT Hub's user name, and only devices the region's DPS registered
to this hub (its registry, read back from the DPS's records when the pod is replaced). The registry,
readiness and stats are on the back-end port, inside the namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial

import pulumi

from components.contracts import TelemetryEndpoints
from components.local.kube import (
    ContainerResources,
    LocalPlacement,
    Mount,
    Workload,
    deploy_config,
    deploy_workload,
)
from components.local.provisioning import (
    BACKEND_PORT,
    DeviceEndpoint,
    LocalDeviceTrust,
    device_endpoint_workload,
    registry_source,
)
from platform_model.local_images import image_reference

HTTP_PORT = BACKEND_PORT
"""The ingest's ``/ready``, ``/healthz``, ``/stats`` and device registry; ``/ready`` needs Kafka to answer
and the registry read back."""
ROUTES_DIR = "/etc/ingest"
RESOURCES = ContainerResources(cpu_request_m=50, memory_request_mi=32, cpu_limit_m=1000, memory_limit_mi=2048)
"""A hub stands in for one IoT Hub scale unit: thousands of TLS connections and up to S3's 6,000 messages/s.
At 200m and 128 MiB, 1,000 vehicles flat out queued their TLS handshakes (hub connect p50 4.5 s) and got the
hub OOM-killed; at 1 GiB 10,000 vehicles still did (about 80 KB a connection: TLS buffers and goroutines,
docs/benchmarks.md). The request stays small, so an idle region still fits the node, but its CPU shares
are 25 times the store's and the writer's (51 to 2, ``components.local.state.BACKLOG_CPU_REQUEST_M``):
requests set the shares a busy node divides by, and a device waits for its acknowledgement, while vehicle
state may trail (at S3's rate, PUBACK p99 was 313-336 ms with the hub at half the store's share, 174 ms at
five times; 119 ms with no store path at all)."""


@dataclass(frozen=True)
class KafkaBrandRoute:
    """One brand's device messages: to its own topic, as the Azure hub routes them to its own event hub."""

    topic: str
    """Required. The brand's topic, ``telemetry-<brand>``."""
    vehicle_prefix: str
    """Required. What the brand's device ids start with (``<brand>-``): the route's condition."""
    partitions: int
    """Required. The brand's topic's partitions (``BrandPlan.telemetry_partitions``)."""


@dataclass(frozen=True)
class KafkaRoute:
    """Where a broker's routes deliver: the Kafka broker of the same scale unit."""

    bootstrap: str
    """Required. ``host:port`` of the Kafka broker, an address in the same namespace."""
    telemetry_topic: str
    """Required. Topic receiving device messages."""
    events_topic: str
    """Required. Topic receiving lifecycle and connection-state events."""
    partitions: int = 1
    """Optional, default 1. Partitions of the topics, for the broker to create them when missing."""
    brands: tuple[KafkaBrandRoute, ...] = ()
    """Optional, default none: every device message to ``telemetry_topic``. With brands, each brand's to its
    own topic only and no route to ``telemetry_topic`` (as ``components.telemetry`` routes on Azure)."""


@dataclass(frozen=True)
class LocalTelemetryIngestArgs:
    """One scale unit's MQTT broker."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    unit: int
    """Required. Scale unit number (1-based); names the objects ``telemetry-<unit>``."""
    trust: LocalDeviceTrust
    """Required. The fleet CA and the endpoint certificate."""
    dps_host: str
    """Required. The region's DPS, whose records the hub's registry is read back from."""
    route: KafkaRoute | None = None
    """Optional, default None: no routes (the region has no event streaming)."""
    image: str = field(default_factory=partial(image_reference, "ingest"))
    """Optional, default the ingest image built here."""


def routes_json(region: str, unit: int, route: KafkaRoute | None) -> str:
    """IoT Hub's routes (telemetry, or one per brand with its device id condition; lifecycle; connection
    state) as the ingest reads them."""
    routes: list[dict[str, object]] = []
    if route is not None:
        target = f"kafka://{route.bootstrap}"
        telemetry: list[dict[str, object]] = (
            [
                {"name": b.topic, "source": "DeviceMessages", "endpoint": target, "topic": b.topic,
                 "deviceIdPrefix": b.vehicle_prefix, "partitions": b.partitions}
                for b in route.brands
            ]
            if route.brands
            else [{"name": "telemetry", "source": "DeviceMessages", "endpoint": target, "topic": route.telemetry_topic}]
        )  # fmt: skip
        routes = [
            *telemetry,
            {"name": "lifecycle", "source": "DeviceLifecycleEvents", "endpoint": target, "topic": route.events_topic},
            {"name": "connection-state", "source": "DeviceConnectionStateEvents", "endpoint": target,
             "topic": route.events_topic},
        ]  # fmt: skip
    return json.dumps({"region": region, "scaleUnit": unit, "routes": routes}, indent=2, sort_keys=True) + "\n"


def hub_name(unit: int) -> str:
    """The object names of a scale unit's hub (and the first label of its host name)."""
    return f"telemetry-{unit}"


def ingest_workload(
    placement: LocalPlacement, unit: int, route: KafkaRoute | None, image: str, dps_host: str
) -> tuple[Workload, dict[str, str]]:
    """The ingest's workload and its ConfigMap data (both named ``telemetry-<unit>``): the routes are
    mounted read-only, and their hash rolls the pod when they change."""
    object_name = hub_name(unit)
    data = {"routes.json": routes_json(placement.region, unit, route)}
    partitions = route.partitions if route else 1
    workload = device_endpoint_workload(
        DeviceEndpoint(
            name=object_name,
            component="telemetry-ingest",
            image=image,
            config=Mount("routes", ROUTES_DIR, {"configMap": {"name": object_name}}, read_only=True),
            data=data,
            leading_args=[f"--routes={ROUTES_DIR}/routes.json", f"--partitions={partitions}"],
            trailing_args=[
                "--require-registration",
                f"--registry-source={registry_source(dps_host, placement.host(object_name))}",
            ],
            resources=RESOURCES,
        )
    )
    return workload, data


class LocalTelemetryIngest(pulumi.ComponentResource):
    """The ingest broker (Deployment + Service) with its routes in a ConfigMap."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    hostname: str
    endpoints: pulumi.Output[TelemetryEndpoints]

    def __init__(self, name: str, args: LocalTelemetryIngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:TelemetryIngest", name, None, opts)
        placement = args.placement
        self.location = placement.location
        workload, data = ingest_workload(placement, args.unit, args.route, args.image, args.dps_host)
        config = deploy_config(f"{name}-config", self, placement, workload, data)
        deployed = deploy_workload(
            f"{name}-broker", self, placement, workload, depends_on=[config, *args.trust.objects]
        )

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or workload.name)
        self.resource_id = deployed.deployment.id
        self.hostname = deployed.host
        self.endpoints = pulumi.Output.from_input(
            TelemetryEndpoints(mqtt=f"{deployed.host}:{deployed.port}", hostname=deployed.host)
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "hostname": self.hostname,
                "endpoints": self.endpoints,
            }
        )
