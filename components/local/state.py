"""Vehicle state on the local target: FerretDB, a document store speaking MongoDB's wire protocol, fed
from Kafka by the state writer.

The Cosmos DB emulator cannot be pulled here (no registry is reachable), so the stand-in is built
from the Go toolchain: FerretDB on its embedded SQLite backend, which Cosmos DB's API for MongoDB
matches in shape. How the Azure target's names map:

- Cosmos DB database ``vehicles`` -> MongoDB database ``vehicles``;
- container ``vehicle-state`` -> collection ``vehicle-state``;
- partition key ``/vehicleId`` -> every document carries ``vehicleId`` and its ``_id`` is the same
  vehicle id, so one vehicle is one document. There is one SQLite file per database and nothing to
  shard; Cosmos DB's MongoDB API would use ``vehicleId`` as the shard key.

What differs: no RU/s or autoscale (the sizing's figure is Azure's only), no replicas, failover or
multi-region writes, no indexing policy (FerretDB indexes ``_id``), no TTL on documents (none is set
on Azure either), and access is a database user with a password instead of Entra ID.

The data lives on a PersistentVolumeClaim of the cluster's default class (``deploy_claim``): it
outlives the pod, a node restart and a cluster stop and start, as Kafka's log does, so the documents'
stored offsets and the brokers' committed ones stay in step.

The state writer (``cmd/statewriter``) is one Deployment per region that reads the
telemetry topic of every scale unit's Kafka and upserts each vehicle's last-known state, at least
once: it commits Kafka offsets after the upsert, and each document remembers the last offset
applied per unit and partition, so a replay after a crash does not count a message twice.

The store's password is a Pulumi secret kept in a Kubernetes Secret. Unless the caller passes one, it
is generated on the first ``up`` and then kept: the Secret ignores later changes to its data, because
a fresh random value on every run would otherwise show as a change (and restart the store) each
time. FerretDB reads it only from its environment, so both pods take it through ``secretKeyRef``
(the pod spec holds the reference, never the value). To rotate it, replace the Secret (``pulumi up
--replace <urn of ...-key>``) and delete the store's data (the user is created on an empty store).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import STATE_CONTAINER, STATE_DATABASE, StateEndpoints, StateTenant
from components.local.kube import (
    ContainerResources,
    HttpProbe,
    LocalPlacement,
    Mount,
    Workload,
    data_claim,
    deploy_claim,
    deploy_workload,
)
from components.local.streaming import TELEMETRY_TOPIC
from components.services import AZURE_WRITER_RESOURCES, StateWriterWiring, StorePassword, writer_workload
from components.services import WRITER_NAME as WRITER_NAME  # re-exported: the writer is defined there
from components.services import StateStream as StateStream
from platform_model.local_images import NONROOT_UID, image_reference

STORE_PORT = 27017
STORE_HEALTH_PORT = 8088
"""FerretDB's debug HTTP listener: ``/debug/readyz`` pings the store over the wire protocol with the
set-up user, so the pod is ready only when it serves MongoDB clients."""
BACKLOG_CPU_REQUEST_M = 1
"""The CPU request of the store and its writer here: the least there is (on the embedded node's cgroup v1,
1m is 2 CPU shares, the floor, where a hub's 50m is 51). On a busy node the CPU is divided by requests, and
these two only work off a backlog that may trail, while the hubs and Kafka stand in for IoT Hub and Event
Hubs, whose acknowledgements vehicles wait for and which on Azure run on hardware of their own. At S3's
rate, interleaved runs with the store at 10m and the writer at 25m had PUBACK p50 11.5-12.7 ms and p99
93-125 ms; at 1m, 7.5-8.2 ms and 70-81 ms, with the same store lag, 5.3-7.6 s (docs/benchmarks.md)."""
RESOURCES = ContainerResources(
    cpu_request_m=BACKLOG_CPU_REQUEST_M, memory_request_mi=128, cpu_limit_m=2000, memory_limit_mi=512
)
"""The document store's. Its limit is two cores, the embedded node's: once the vehicles stop, the store
catches up on what is idle (at one core it was throttled at its limit while a core stood idle, 10,000
vehicles' backlog)."""
WRITER_RESOURCES = replace(AZURE_WRITER_RESOURCES, cpu_request_m=BACKLOG_CPU_REQUEST_M)
"""The state writer's here: Azure's with the backlog's CPU request."""
STORE_GOGC = "1000"
"""FerretDB's garbage collector waits until the heap has grown by ten times what is live, not by as much as is
live (GOGC's default, 100): every update
decodes and encodes a whole vehicle document, so the store makes garbage at its write rate. "A collection is
triggered when the ratio of freshly allocated data to live data remaining after the previous collection
reaches this percentage" (https://pkg.go.dev/runtime, GOGC; https://go.dev/doc/gc-guide#GOGC): fewer
collections for more heap. Measured at 1,000 vehicles: 767 -> 1,070 writes/s, peak 40 -> 78 MB
resident; GOMEMLIMIT (:func:`components.workloads.go_memory_limit`) still caps the heap under the container's
limit."""
DATA_SIZE = "1Gi"
"""The store's claim: one small document per vehicle; the embedded cluster's folders do not enforce it."""
USERNAME = "statewriter"
PASSWORD_ITEM = "password"
PASSWORD_BYTES = 32
OBJECT_NAME = "state"


def generate_password() -> str:
    """A new random password for the store's user."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def store_name(tenant: StateTenant | None = None) -> str:
    """The store's Deployment and Service: ``state``, or a brand's own ``state-<brand>``."""
    return f"{OBJECT_NAME}-{tenant.brand}" if tenant and tenant.brand else OBJECT_NAME


def store_username(tenant: StateTenant | None = None) -> str:
    """The store's one user: ``statewriter``, or the brand writer's own name."""
    return tenant.writer if tenant and tenant.brand else USERNAME


def docstore_workload(
    image: str, password_secret: str, tenant: StateTenant | None = None, data: Mapping[str, Any] | None = None
) -> Workload:
    """FerretDB on SQLite in ``/data`` (on ``data``, default an ``emptyDir``; the component passes its claim),
    creating its one user on an empty store; also run as is by the integration test of the image. A brand's
    store (``tenant``) is its own instance with its own user."""
    return Workload(
        name=store_name(tenant),
        app="ferretdb",
        component="vehicle-state-store",
        image=image,
        port=STORE_PORT,
        port_name="mongodb",
        resources=RESOURCES,
        go_program=True,
        run_as_user=NONROOT_UID,
        read_only_root=True,
        env={
            "FERRETDB_HANDLER": "sqlite",
            # FerretDB opens SQLite in WAL mode; NORMAL syncs the log at checkpoints instead of at every
            # commit: "Transactions are durable across application crashes regardless of the synchronous
            # setting", though one "committed in WAL mode with synchronous=NORMAL might roll back following
            # a power loss or system crash" (https://www.sqlite.org/pragma.html#pragma_synchronous): what
            # the local Kafka promises too (it leaves flushing to the OS). A commit per vehicle write was
            # the store's ceiling under a fleet.
            "FERRETDB_SQLITE_URL": "file:/data/?_pragma=synchronous(normal)",
            "GOGC": STORE_GOGC,
            "FERRETDB_STATE_DIR": "/data",
            "FERRETDB_LISTEN_ADDR": f":{STORE_PORT}",
            "FERRETDB_DEBUG_ADDR": f":{STORE_HEALTH_PORT}",
            # Usage reports would leave the region.
            "FERRETDB_TELEMETRY": "disable",
            # FerretDB 1.x creates a user at start only with its newer authentication.
            "FERRETDB_TEST_ENABLE_NEW_AUTH": "true",
            "FERRETDB_SETUP_DATABASE": STATE_DATABASE,
            "FERRETDB_SETUP_USERNAME": store_username(tenant),
        },
        secret_env={"FERRETDB_SETUP_PASSWORD": (password_secret, PASSWORD_ITEM)},
        mounts=[Mount("data", "/data", data or {"emptyDir": {}}), Mount("tmp", "/tmp", {"emptyDir": {}})],
        readiness=HttpProbe("/debug/readyz", STORE_HEALTH_PORT),
    )


def local_writer_wiring(
    image: str,
    password_secret: str,
    streams: Sequence[StateStream],
    topic: str,
    store_uri: str,
    tenant: StateTenant | None = None,
) -> StateWriterWiring:
    """The state writer's wiring here: plaintext Kafka in the namespace, FerretDB with a password; a brand's
    writer writes its own store as its own user."""
    return StateWriterWiring(
        image=image,
        streams=streams,
        topic=topic,
        store_uri=store_uri,
        resources=WRITER_RESOURCES,
        store_password=StorePassword(username=store_username(tenant), secret=password_secret, key=PASSWORD_ITEM),
        tenant=tenant if tenant and tenant.brand else None,
    )


@dataclass(frozen=True)
class LocalVehicleStateStoreArgs:
    """The region's document store and its state writer."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    streams: Sequence[StateStream] = ()
    """Optional, default none: no state writer (a region without event streaming)."""
    telemetry_topic: str = TELEMETRY_TOPIC
    """Optional, default ``telemetry``: the topic the writer reads in every unit."""
    key: pulumi.Input[str] | None = None
    """Optional, default None: generate the store's password on the first ``up`` and keep it. A given
    password is used as is (and a changed one replaces the Secret)."""
    image: str = field(default_factory=partial(image_reference, "docstore"))
    """Optional, default FerretDB as built here."""
    writer_image: str = field(default_factory=partial(image_reference, "statewriter"))
    """Optional, default the state writer as built here."""
    tenant: StateTenant | None = None
    """Optional, default None: the region's one store (``state``, collection ``vehicle-state``). A brand's
    tenant gets a store of its own, ``state-<brand>`` with user ``statewriter-<brand>``, password Secret
    ``state-<brand>-key`` and collection ``vehicle-state-<brand>``, and a writer keeping that brand's vehicles."""


class LocalVehicleStateStore(pulumi.ComponentResource):
    """FerretDB on SQLite with authentication on, and the state writer that fills it from Kafka."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    store_name: str
    """The store's Deployment and Service (``state``, or ``state-<brand>``)."""
    username: str
    """The store's one user."""
    container: str
    """The collection its writer fills."""
    key_secret_name: str
    endpoints: pulumi.Output[StateEndpoints]

    def __init__(self, name: str, args: LocalVehicleStateStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:VehicleStateStore", name, None, opts)
        placement = args.placement
        self.location = placement.location
        tenant = args.tenant if args.tenant and args.tenant.brand else None
        self.store_name = store_name(tenant)
        self.username = store_username(tenant)
        self.container = tenant.container if tenant else STATE_CONTAINER
        self.key_secret_name = f"{self.store_name}-key"
        secret = self._build_key_secret(name, args)
        store = docstore_workload(args.image, self.key_secret_name, tenant, data_claim(self.store_name))
        claim = deploy_claim(f"{name}-data", self, placement, store, DATA_SIZE)
        deployed = deploy_workload(f"{name}-docstore", self, placement, store, depends_on=[secret, claim])
        store_uri = f"mongodb://{deployed.host}:{STORE_PORT}/"
        if args.streams:
            self._build_writer(name, args, store_uri, secret)

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or self.store_name)
        self.resource_id = deployed.deployment.id
        self.endpoints = pulumi.Output.from_input(
            StateEndpoints(documents=store_uri, database=STATE_DATABASE, container=self.container)
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "key_secret_name": self.key_secret_name,
                "endpoints": self.endpoints,
            }
        )

    def _build_key_secret(self, name: str, args: LocalVehicleStateStoreArgs) -> k8s.core.v1.Secret:
        """The store user's password: given, or generated once and then left alone by later runs."""
        placement = args.placement
        generated = args.key is None
        password = pulumi.Output.secret(generate_password() if args.key is None else args.key)
        return k8s.core.v1.Secret(
            f"{name}-key",
            metadata={
                "name": self.key_secret_name,
                "namespace": placement.namespace,
                "labels": placement.object_labels(self.key_secret_name, "ferretdb", "vehicle-state-store"),
            },
            type="Opaque",
            string_data={PASSWORD_ITEM: password},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(placement.depends_on),
                ignore_changes=["stringData", "data"] if generated else None,
            ),
        )

    def _build_writer(
        self, name: str, args: LocalVehicleStateStoreArgs, store_uri: str, secret: k8s.core.v1.Secret
    ) -> None:
        """The writer filling the store from every unit's broker; it waits for the Secret its password comes from."""
        wiring = local_writer_wiring(
            args.writer_image, self.key_secret_name, args.streams, args.telemetry_topic, store_uri, args.tenant
        )
        writer = writer_workload(wiring)
        deploy_workload(f"{name}-writer", self, args.placement, writer, depends_on=[secret])
