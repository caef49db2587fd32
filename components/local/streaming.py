"""Event streaming on the local target: one single-node Kafka broker (KRaft) per scale unit.

Event Hubs speaks the Kafka protocol, so consumers use the same client code on both targets; only
the bootstrap address differs. Topics are the Azure hubs' names and get the plan's partition count.
The broker runs the Kafka image built here (``autocloud.runtime.kafka_image``): no registry is reachable.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pulumi

from components.contracts import TELEMETRY_STREAM, StreamingEndpoints, streaming_endpoints
from components.local.kube import (
    ContainerResources,
    LocalPlacement,
    Mount,
    Workload,
    config_hash,
    data_claim,
    deploy_claim,
    deploy_config,
    deploy_workload,
)
from platform_model import local_images
from platform_model.local_images import NONROOT_UID, image_reference
from platform_model.sizing import EventHubsPlan

KAFKA_PORT = 9092
"""Plain Kafka inside the namespace (Event Hubs takes Kafka over TLS on 9093)."""
CONTROLLER_PORT = 9093
RESOURCES = ContainerResources(cpu_request_m=100, memory_request_mi=224, cpu_limit_m=1000, memory_limit_mi=448)
"""Measured on the embedded node: about 160 MiB resident idle and 190 MiB taking 70 MB/s; the limit
also holds the startup probe's JVM (about 60 MiB for a second) and some page cache. The CPU request is
small on purpose: the embedded node has two cores for every region's brokers, and the limit lets a
starting JVM burst."""
HEAP = "-Xms128m -Xmx128m"
"""Enough for a local broker once the log cleaner's buffer is small (see ``server_properties``)."""
TELEMETRY_TOPIC = TELEMETRY_STREAM
EVENTS_TOPIC = "events"
"""Same names as the Azure target's event hubs (``components.streaming``)."""
DATA_DIR = "/var/lib/kafka/data"
LOG_SIZE = "2Gi"
"""The broker's log claim: the topics keep seven days at most (``server_properties``), far below this at
local rates; the embedded cluster's folders do not enforce it, another cluster's class may."""


@dataclass(frozen=True)
class LocalEventStreamingArgs:
    """One scale unit's Kafka broker."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    unit: int
    """Required. Scale unit number (1-based); names the objects ``streaming-<unit>``."""
    sku: EventHubsPlan
    """Required. From ``platform_model.sizing``: the telemetry partitions become the default partition count."""
    image: str = field(default_factory=partial(image_reference, "kafka"))
    """Optional, default the Kafka image built here (``autocloud.local/kafka:<version>``)."""
    brand_topics: Mapping[str, str] = field(default_factory=dict)
    """Optional, default none: the region's one ``telemetry`` topic. With brands, brand -> its own topic
    (``telemetry-<brand>``) in its place. The ingest creates them, with their routes' partitions, when it
    starts (as it creates ``telemetry`` and ``events``); this broker has no per-topic authorization."""


def server_properties(advertised_host: str, partitions: int) -> str:
    """KRaft single node: broker and controller in one process, advertised by its Service name.

    Topics are created on first use with the plan's partition count (the simpler choice: whoever
    produces first, the ingest or a test client, needs no admin step); every internal topic has one
    replica, there is one broker."""
    settings = {
        "node.id": "1",
        "process.roles": "broker,controller",
        "listeners": f"PLAINTEXT://:{KAFKA_PORT},CONTROLLER://:{CONTROLLER_PORT}",
        "advertised.listeners": f"PLAINTEXT://{advertised_host}:{KAFKA_PORT}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": f"1@localhost:{CONTROLLER_PORT}",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": DATA_DIR,
        "num.partitions": str(partitions),
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Threads for a local broker's trickle, not a production box's defaults (3 network, 8 I/O, 10
        # background): each is memory, and three regions of brokers share one small machine.
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        # The log cleaner (compacted __consumer_offsets) allocates this on the heap at start: 128 MiB
        # by default, more than the whole heap here.
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def cluster_id(namespace: str, unit: int) -> str:
    """A stable KRaft cluster ID (16 bytes, base64url as Kafka prints them) per namespace and unit:
    the same on every ``up``, so a pod that keeps its log directory is never refused as foreign."""
    digest = hashlib.sha256(f"{namespace}/streaming-{unit}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def broker_workload(
    placement: LocalPlacement,
    unit: int,
    partitions: int,
    image: str | None = None,
    log: Mapping[str, Any] | None = None,
) -> tuple[Workload, dict[str, str]]:
    """The broker's workload and its ConfigMap data (both named ``streaming-<unit>``). The log lives on
    ``log`` (default an ``emptyDir``; the component passes its claim, :func:`deploy_claim`).

    Started means a Kafka client got answers: the startup probe runs ``BrokerApiVersionsCommand``
    (metadata, then API versions), about 1 s and 0.7 CPU-seconds of a JVM, so only until it first passes.
    Ready then means the broker keeps answering a raw ApiVersions request on 9092 (BusyBox ``nc``, a few
    ms), checked every 5 s: an open port alone would prove less, as the kernel accepts on a listening
    socket whether or not the broker still answers, and a JVM every 5 s for the eight brokers of the
    three local regions would cost more than a whole core (8 x 0.7 CPU-s every 5 s)."""
    object_name = f"streaming-{unit}"
    data = {"server.properties": server_properties(placement.host(object_name), partitions)}
    workload = Workload(
        name=object_name,
        app="kafka",
        component="event-streaming",
        image=image or image_reference("kafka"),
        port=KAFKA_PORT,
        port_name="kafka",
        resources=RESOURCES,
        run_as_user=NONROOT_UID,
        env={
            "KAFKA_CLUSTER_ID": cluster_id(placement.namespace, unit),
            "KAFKA_HEAP_OPTS": HEAP,
            "KAFKA_PORT": str(KAFKA_PORT),
        },
        mounts=[
            Mount("config", local_images.KAFKA_CONFIG_DIR, {"configMap": {"name": object_name}}, read_only=True),
            Mount("data", DATA_DIR, log or {"emptyDir": {}}),
            Mount("tmp", "/tmp", {"emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}),
        ],
        read_only_root=True,
        config_hash=config_hash(data),
        ready_command=[local_images.KAFKA_READY],
        startup_command=[local_images.KAFKA_STARTED],
    )
    return workload, data


class LocalEventStreaming(pulumi.ComponentResource):
    """A Kafka broker (Deployment + Service) standing in for one Event Hubs namespace."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    bootstrap: str
    """``host:port`` of the broker inside the namespace."""
    telemetry_hub: str
    events_hub: str
    endpoints: pulumi.Output[StreamingEndpoints]

    def __init__(self, name: str, args: LocalEventStreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:EventStreaming", name, None, opts)
        placement = args.placement
        self.location = placement.location
        self.telemetry_hub = next(iter(args.brand_topics.values()), TELEMETRY_TOPIC)
        self.events_hub = EVENTS_TOPIC
        log = data_claim(f"streaming-{args.unit}")
        workload, data = broker_workload(placement, args.unit, args.sku.telemetry_partitions, args.image, log)
        config = deploy_config(f"{name}-config", self, placement, workload, data)
        claim = deploy_claim(f"{name}-log", self, placement, workload, LOG_SIZE)
        deployed = deploy_workload(f"{name}-broker", self, placement, workload, depends_on=[config, claim])

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or workload.name)
        self.resource_id = deployed.deployment.id
        self.bootstrap = f"{deployed.host}:{deployed.port}"
        self.endpoints = pulumi.Output.from_input(
            streaming_endpoints(self.bootstrap, self.telemetry_hub, EVENTS_TOPIC, args.brand_topics)
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "bootstrap": self.bootstrap,
                "endpoints": self.endpoints,
            }
        )
