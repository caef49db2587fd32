"""Event streaming on the local target: one single-node Kafka broker (KRaft) per scale unit.

Event Hubs speaks the Kafka protocol, so consumers use the same client code on both targets; only
the bootstrap address differs. Topics are the Azure hubs' names and get the plan's partition count.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from autocloud.sizing import EventHubsPlan
from components.contracts import StreamingEndpoints
from components.local.kube import ContainerResources, LocalPlacement, Mount, Workload, deploy_workload

KAFKA_IMAGE = "apache/kafka:3.9.0"
KAFKA_PORT = 9092
"""Plain Kafka inside the namespace (Event Hubs takes Kafka over TLS on 9093)."""
CONTROLLER_PORT = 9093
KAFKA_UID = 1000
"""The image's ``appuser``."""
RESOURCES = ContainerResources(cpu_request_m=200, memory_request_mi=512, cpu_limit_m=1000, memory_limit_mi=768)
HEAP = "-Xms384m -Xmx384m"
"""Fits under the memory limit with room for the JVM's own overhead."""
TELEMETRY_TOPIC = "telemetry"
EVENTS_TOPIC = "events"
"""Same names as the Azure target's event hubs (``components.streaming``)."""
DATA_DIR = "/var/lib/kafka/data"


@dataclass(frozen=True)
class LocalEventStreamingArgs:
    """One scale unit's Kafka broker."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    unit: int
    """Required. Scale unit number (1-based); names the objects ``streaming-<unit>``."""
    sku: EventHubsPlan
    """Required. From ``autocloud.sizing``: the telemetry partitions become the default partition count."""
    image: str = KAFKA_IMAGE
    """Optional, default ``apache/kafka:3.9.0``."""


def broker_env(advertised_host: str, partitions: int) -> dict[str, str]:
    """KRaft single node (broker and controller in one process), advertised by its Service name."""
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{KAFKA_PORT},CONTROLLER://:{CONTROLLER_PORT}",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{advertised_host}:{KAFKA_PORT}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{CONTROLLER_PORT}",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_NUM_PARTITIONS": str(partitions),
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
        "KAFKA_LOG_DIRS": DATA_DIR,
        "KAFKA_HEAP_OPTS": HEAP,
    }


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
        self.telemetry_hub = TELEMETRY_TOPIC
        self.events_hub = EVENTS_TOPIC
        object_name = f"streaming-{args.unit}"
        workload = Workload(
            name=object_name,
            app="kafka",
            component="event-streaming",
            image=args.image,
            port=KAFKA_PORT,
            port_name="kafka",
            resources=RESOURCES,
            run_as_user=KAFKA_UID,
            env=broker_env(placement.host(object_name), args.sku.telemetry_partitions),
            # The image writes its generated server.properties under /opt/kafka, so the root
            # filesystem stays writable; the log lives on the emptyDir.
            mounts=[Mount("data", DATA_DIR, {"emptyDir": {}})],
        )
        deployed = deploy_workload(f"{name}-broker", self, placement, workload)

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or object_name)
        self.resource_id = deployed.deployment.id
        self.bootstrap = f"{deployed.host}:{deployed.port}"
        self.endpoints = pulumi.Output.from_input(
            StreamingEndpoints(kafka=self.bootstrap, telemetry_topic=TELEMETRY_TOPIC, events_topic=EVENTS_TOPIC)
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
