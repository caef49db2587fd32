"""Vehicle state on the local target: the Cosmos DB emulator (vNext, NoSQL API) behind a Service.

Its account key is a Pulumi secret kept in a Kubernetes Secret and mounted as a file (the emulator's
``KEY_FILE``), never an environment value or a plain output. Unless the caller passes a key, one is
generated on the first ``up`` and then kept: the Secret ignores later changes to its data, because a
fresh random value on every run would otherwise show as a change (and restart the store) each time.
The key lives in the cluster and, encrypted, in the stack's state. To rotate it, replace the Secret
(``pulumi up --replace <urn of ...-key>``) and restart the emulator.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import StateEndpoints
from components.local.kube import ContainerResources, LocalPlacement, Mount, Workload, deploy_workload

EMULATOR_IMAGE = "mcr.microsoft.com/cosmosdb/linux/azure-cosmos-emulator:vnext-EN20251223"
EMULATOR_PORT = 8081
RESOURCES = ContainerResources(cpu_request_m=200, memory_request_mi=384, cpu_limit_m=1000, memory_limit_mi=1536)
DATABASE = "vehicles"
CONTAINER = "vehicle-state"
"""Same database and container names as the Azure target (``components.state``)."""
KEY_DIR = "/etc/cosmos"
KEY_ITEM = "key"
KEY_BYTES = 64
"""Cosmos DB account keys are 64 random bytes, base64-encoded."""
OBJECT_NAME = "state"


def generate_key() -> str:
    """A new random account key in Cosmos DB's format."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@dataclass(frozen=True)
class LocalVehicleStateStoreArgs:
    """The region's Cosmos DB emulator."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    key: pulumi.Input[str] | None = None
    """Optional, default None: generate a key on the first ``up`` and keep it. A given key is used
    as is (and a changed one replaces the Secret)."""
    image: str = EMULATOR_IMAGE
    """Optional, default the pinned vNext emulator image."""


class LocalVehicleStateStore(pulumi.ComponentResource):
    """Cosmos DB emulator over HTTPS, with its key in a Secret, telemetry to Microsoft off."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    key_secret_name: str
    endpoints: pulumi.Output[StateEndpoints]

    def __init__(self, name: str, args: LocalVehicleStateStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:VehicleStateStore", name, None, opts)
        placement = args.placement
        self.location = placement.location
        self.key_secret_name = f"{OBJECT_NAME}-key"
        generated = args.key is None
        key = pulumi.Output.secret(generate_key() if args.key is None else args.key)

        secret = k8s.core.v1.Secret(
            f"{name}-key",
            metadata={
                "name": self.key_secret_name,
                "namespace": placement.namespace,
                "labels": placement.object_labels(self.key_secret_name, "cosmos-emulator", "vehicle-state-store"),
            },
            type="Opaque",
            string_data={KEY_ITEM: key},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(placement.depends_on),
                ignore_changes=["stringData", "data"] if generated else None,
            ),
        )
        host = placement.host(OBJECT_NAME)
        workload = Workload(
            name=OBJECT_NAME,
            app="cosmos-emulator",
            component="vehicle-state-store",
            image=args.image,
            port=EMULATOR_PORT,
            port_name="https",
            resources=RESOURCES,
            # The emulator image does not document a non-root user; it keeps its own.
            run_as_user=None,
            env={
                "PROTOCOL": "https",
                "PORT": str(EMULATOR_PORT),
                "KEY_FILE": f"{KEY_DIR}/{KEY_ITEM}",
                "DATA_PATH": "/data",
                "GATEWAY_PUBLIC_ENDPOINT": host,
                "ENABLE_EXPLORER": "false",
                # Usage data would leave the region.
                "ENABLE_TELEMETRY": "false",
            },
            mounts=[
                Mount(
                    "key",
                    KEY_DIR,
                    # Readable by whichever user the image runs as; only this container mounts it.
                    {"secret": {"secretName": self.key_secret_name, "defaultMode": 0o444}},
                    read_only=True,
                ),
                Mount("data", "/data", {"emptyDir": {}}),
            ],
        )
        deployed = deploy_workload(f"{name}-emulator", self, placement, workload, depends_on=[secret])

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or OBJECT_NAME)
        self.resource_id = deployed.deployment.id
        self.endpoints = pulumi.Output.from_input(
            StateEndpoints(documents=f"https://{host}:{EMULATOR_PORT}/", database=DATABASE, container=CONTAINER)
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
