"""The platform's own services as workloads, one definition for both targets.

A service is built by one function from a small typed *wiring*: what differs between the local
stacks and Azure is only where the service's inputs are, how it authenticates to them, and the CPU it
asks for on a shared node. Locally the
state writer reads Kafka without auth and writes the FerretDB stand-in with a password from a
Kubernetes Secret; on Azure it reads Event Hubs' Kafka endpoint and writes Cosmos DB for NoSQL, both
with Entra ID through AKS workload identity (no password anywhere). Flags the program takes
(``cmd/statewriter``): ``--kafka-auth none|entra`` and ``--store-kind mongodb|cosmos-nosql``, whose
defaults are the local behaviour, so they are passed only when they are not the default.

Only the state writer has an Azure counterpart's job to do: the local MQTT broker and DPS stand-in are
IoT Hub and DPS on Azure, the maps stub is Azure Maps, the document store is Cosmos DB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.contracts import STATE_CONTAINER, STATE_DATABASE, STATE_WRITER, STATE_WRITER_GROUP, StateTenant
from components.workloads import ContainerResources, HttpProbe, Workload
from platform_model.local_images import NONROOT_UID, REGISTRY, image_reference

KafkaAuth = Literal["none", "entra"]
"""``none``: plaintext Kafka (local). ``entra``: SASL OAUTHBEARER over TLS with an Entra ID token, as
Event Hubs' Kafka endpoint takes it (https://learn.microsoft.com/azure/event-hubs/authenticate-application)."""
StoreKind = Literal["mongodb", "cosmos-nosql"]
"""``mongodb``: the local FerretDB (MongoDB wire protocol). ``cosmos-nosql``: Azure Cosmos DB for NoSQL."""

WRITER_NAME = STATE_WRITER
"""Object name of the state writer's ServiceAccount, Deployment and Service (and the federated
credential's subject on Azure: ``system:serviceaccount:<region namespace>:statewriter``)."""
WRITER_PORT = 8080
AZURE_WRITER_RESOURCES = ContainerResources(
    cpu_request_m=25, memory_request_mi=64, cpu_limit_m=500, memory_limit_mi=512
)
"""The limit holds a poll being written and the next fetch (4 MB a partition, the units' 32 MiB fetch budget,
cmd/statewriter/writer.go).
The local stacks ask less CPU (``components.local.state.WRITER_RESOURCES``)."""


@dataclass(frozen=True)
class StateStream:
    """One scale unit's Kafka, as the state writer reads it."""

    unit: str
    """Required. A name that stays the same across deployments (e.g. ``unit-1``): stored offsets are
    keyed by it, so renaming a unit would count its replayed messages again."""
    bootstrap: str
    """Required. The unit's Kafka bootstrap address, ``host:port`` (Event Hubs: ``<namespace>.<servicebus
    suffix>:9093``)."""


@dataclass(frozen=True)
class StorePassword:
    """A store user whose password the writer reads from a Kubernetes Secret (the local store only)."""

    username: str
    """Required. The store's user name."""
    secret: str
    """Required. Name of the Secret holding the password."""
    key: str
    """Required. Key of the password in that Secret."""


@dataclass(frozen=True)
class StateWriterWiring:
    """Everything that places the state writer on a target: its image, its streams and its store."""

    image: pulumi.Input[str]
    """Required. The writer's image: ``autocloud.local/statewriter:<tag>`` locally,
    ``<registry login server>/statewriter:<tag>`` on Azure (:func:`registry_image`)."""
    streams: Sequence[StateStream]
    """Required. Every scale unit's Kafka bootstrap address."""
    topic: str
    """Required. The telemetry topic (the Event Hub of that name on Azure)."""
    store_uri: pulumi.Input[str]
    """Required. ``mongodb://<host>:27017/`` locally; the Cosmos DB account endpoint
    (``https://<account>.documents.azure.com:443/``) on Azure."""
    resources: ContainerResources
    """Required. :data:`AZURE_WRITER_RESOURCES` on Azure; locally the same with a smaller CPU request
    (``components.local.state.WRITER_RESOURCES``)."""
    kafka_auth: KafkaAuth = "none"
    """Optional, default ``none`` (local)."""
    store_kind: StoreKind = "mongodb"
    """Optional, default ``mongodb`` (local)."""
    store_password: StorePassword | None = None
    """Optional, default None: no password (Entra ID on Azure). The local store's user and Secret."""
    identity_client_id: pulumi.Input[str] | None = None
    """Optional, default None (local). On Azure, the client id of the writer's user-assigned identity,
    required by ``entra`` and ``cosmos-nosql``."""
    database: str = STATE_DATABASE
    """Optional, default ``vehicles``: the store's database."""
    tenant: StateTenant | None = None
    """Optional, default None: the region's one writer (``statewriter`` into ``vehicle-state``). A brand's
    tenant names its own writer, consumer group and container, and the vehicle prefix it keeps to."""

    def __post_init__(self) -> None:
        needs_identity = self.kafka_auth == "entra" or self.store_kind == "cosmos-nosql"
        if needs_identity and self.identity_client_id is None:
            raise ValueError("kafka_auth 'entra' and store_kind 'cosmos-nosql' need identity_client_id")
        if self.store_kind == "cosmos-nosql" and self.store_password is not None:
            raise ValueError("Cosmos DB is reached with Entra ID only: store_password must be None")


def registry_image(login_server: pulumi.Input[str], local_reference: str) -> pulumi.Input[str]:
    """``<login server>/<repo>:<tag>`` for an image built here as ``autocloud.local/<repo>:<tag>``:
    the same repository and tag, pushed to the region's container registry. Plain when the login
    server is (a registry's login server is ``<name>.azurecr.io``, ``.azurecr.cn`` in Azure China)."""
    prefix = f"{REGISTRY}/"
    if not local_reference.startswith(prefix):
        raise ValueError(f"{local_reference!r} is not an image built here (expected {prefix}<repo>:<tag>)")
    path = local_reference.removeprefix(prefix)
    if isinstance(login_server, str):
        return f"{login_server}/{path}"
    return pulumi.Output.concat(login_server, "/", path)


def azure_writer_wiring(
    login_server: pulumi.Input[str],
    kafka_hosts: Sequence[str],
    cosmos_endpoint: pulumi.Input[str],
    identity_client_id: pulumi.Input[str],
    topic: str = "telemetry",
    tenant: StateTenant | None = None,
) -> StateWriterWiring:
    """The state writer's wiring on Azure: every scale unit's Event Hubs Kafka endpoint with Entra ID,
    Cosmos DB for NoSQL with Entra ID, one identity, the image from the region's registry.

    ``kafka_hosts`` are the scale units' Event Hubs Kafka endpoints, unit 1 first:
    ``<namespace>.servicebus.windows.net:9093`` (``.servicebus.chinacloudapi.cn`` in Azure China). Units are
    named ``unit-<n>`` as locally, so offsets stored per unit mean the same on both targets.
    """
    return StateWriterWiring(
        image=registry_image(login_server, image_reference("statewriter")),
        streams=[StateStream(f"unit-{n}", host) for n, host in enumerate(kafka_hosts, start=1)],
        topic=topic,
        store_uri=cosmos_endpoint,
        resources=AZURE_WRITER_RESOURCES,
        kafka_auth="entra",
        store_kind="cosmos-nosql",
        identity_client_id=identity_client_id,
        tenant=tenant,
    )


def writer_workload(wiring: StateWriterWiring) -> Workload:
    """The state writer reading ``wiring.topic`` of every unit into the store, on either target; a brand's
    writer (``wiring.tenant``) keeps its own vehicles only (``--vehicle-prefix``)."""
    tenant = wiring.tenant
    name = tenant.writer if tenant else WRITER_NAME
    group = tenant.group if tenant else STATE_WRITER_GROUP
    collection = tenant.container if tenant else STATE_CONTAINER
    prefix = ["--vehicle-prefix", tenant.vehicle_prefix] if tenant and tenant.vehicle_prefix else []
    brokers = [arg for s in wiring.streams for arg in ("--brokers", f"{s.unit}={s.bootstrap}")]
    kafka_auth = ["--kafka-auth", wiring.kafka_auth] if wiring.kafka_auth != "none" else []
    store_kind = ["--store-kind", wiring.store_kind] if wiring.store_kind != "mongodb" else []
    password = wiring.store_password
    return Workload(
        name=name,
        app="statewriter",
        component="vehicle-state-writer",
        image=wiring.image,
        port=WRITER_PORT,
        port_name="http",
        resources=wiring.resources,
        go_program=True,
        run_as_user=NONROOT_UID,
        read_only_root=True,
        args=[
            *brokers,
            *kafka_auth,
            "--topic",
            wiring.topic,
            "--group",
            group,
            *prefix,
            *store_kind,
            "--store",
            wiring.store_uri,
            "--database",
            wiring.database,
            "--collection",
            collection,
            "--listen",
            f":{WRITER_PORT}",
        ],
        env={"STATEWRITER_STORE_USERNAME": password.username} if password else {},
        secret_env={"STATEWRITER_STORE_PASSWORD": (password.secret, password.key)} if password else {},
        readiness=HttpProbe("/ready", WRITER_PORT),
        # It keeps nothing itself; a rolling update hands the consumer groups over.
        recreate=False,
        identity_client_id=wiring.identity_client_id,
    )
