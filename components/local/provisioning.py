"""Device provisioning on the local target: the region's fleet CA and device-endpoint TLS, and its DPS.

On Azure a vehicle registers with the region's Device Provisioning Service (an X.509 enrollment group
trusting the region's fleet CA, hashed allocation over the scale units' hubs), then connects to the hub
DPS assigned over MQTT on TLS. Here the same: :class:`LocalDeviceTrust` holds what both ends of that
exchange trust (the fleet CA, a ConfigMap; the endpoints' server certificate, a Secret), and
:class:`LocalProvisioning` runs ``ingest dps`` (``cmd/ingest/dps.go``), which answers DPS's MQTT
registration protocol on 8883 and creates each device in the registry of the hub it assigns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import ProvisioningEndpoints
from components.local.device_tls import ServerCertificate
from components.local.kube import (
    ContainerResources,
    HttpProbe,
    LocalPlacement,
    Mount,
    Workload,
    config_hash,
    deploy_config,
    deploy_workload,
)
from platform_model.local_images import NONROOT_UID, image_reference

DEVICE_PORT = 8883
"""MQTT over TLS, as IoT Hub's and DPS's device endpoints: "MQTT ... port 8883"
(https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-protocols#port-numbers)."""
BACKEND_PORT = 8080
"""Readiness, stats and registries, inside the namespace only (nothing device-facing)."""
OBJECT_NAME = "dps"
TLS_SECRET = "device-tls"
"""Secret with ``tls.crt``, ``tls.key`` and ``ca.crt`` (the CA vehicles trust for the endpoints)."""
FLEET_CA_CONFIG = "fleet-ca"
"""ConfigMap with ``ca.pem``: the region's fleet CA, the enrollment group's and every hub's client CA."""
TLS_DIR = "/etc/device-tls"
FLEET_DIR = "/etc/fleet"
CONFIG_DIR = "/etc/dps"
SECRET_FILE_MODE = 0o440
"""Owner and group (the pod's fsGroup) read the key; nobody else."""
RESOURCES = ContainerResources(cpu_request_m=25, memory_request_mi=32, cpu_limit_m=1000, memory_limit_mi=512)
"""A fleet registers at once after a region comes up: DPS holds a TLS connection per registering vehicle
(as the hubs, see ``telemetry.RESOURCES``)."""


def id_scope(region: str) -> str:
    """The local DPS's id scope. Azure assigns one per instance (``0ne`` and hex digits); here one per region."""
    return f"0ne-local-{region}"


def tls_mounts() -> list[Mount]:
    """The endpoint certificate and the fleet CA, read-only, for a device endpoint's pod."""
    return [
        Mount("device-tls", TLS_DIR, {"secret": {"secretName": TLS_SECRET, "defaultMode": SECRET_FILE_MODE}}, True),
        Mount("fleet-ca", FLEET_DIR, {"configMap": {"name": FLEET_CA_CONFIG}}, True),
    ]


def tls_args() -> list[str]:
    """The ingest flags that make an endpoint IoT Hub's: TLS with X.509 clients from the fleet CA."""
    return [f"--tls-cert={TLS_DIR}/tls.crt", f"--tls-key={TLS_DIR}/tls.key", f"--fleet-ca={FLEET_DIR}/ca.pem"]


@dataclass(frozen=True)
class DeviceEndpoint:
    """What differs between the ingest binary's device-facing endpoints (a hub, the DPS)."""

    name: str
    component: str
    image: str
    config: Mount
    """Its ConfigMap, mounted read-only."""
    data: dict[str, str]
    """The ConfigMap's data: its hash rolls the pod when it changes."""
    leading_args: Sequence[str] = ()
    trailing_args: Sequence[str] = ()
    resources: ContainerResources = RESOURCES


def device_endpoint_workload(endpoint: DeviceEndpoint) -> Workload:
    """A device endpoint as IoT Hub's and DPS's are: MQTT over TLS on :data:`DEVICE_PORT` only, X.509 clients
    from the fleet CA, and readiness, stats and registries on :data:`BACKEND_PORT` inside the namespace."""
    return Workload(
        name=endpoint.name,
        app="ingest",
        component=endpoint.component,
        image=endpoint.image,
        port=DEVICE_PORT,
        port_name="mqtts",
        extra_ports={"http": BACKEND_PORT},
        resources=endpoint.resources,
        go_program=True,
        run_as_user=NONROOT_UID,
        args=[
            *endpoint.leading_args,
            f"--mqtt=:{DEVICE_PORT}",
            f"--http=:{BACKEND_PORT}",
            *tls_args(),
            *endpoint.trailing_args,
        ],
        mounts=[endpoint.config, *tls_mounts()],
        read_only_root=True,
        config_hash=config_hash(endpoint.data),
        readiness=HttpProbe("/ready", BACKEND_PORT),
    )


@dataclass(frozen=True)
class LocalDeviceTrustArgs:
    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    fleet_ca_certificate: str
    """Required. The region's fleet CA (PEM), the one the Azure stack registers with its DPS."""
    hosts: Sequence[str]
    """Required. Every device endpoint's in-cluster name (the DPS's and each hub's)."""


class LocalDeviceTrust(pulumi.ComponentResource):
    """The fleet CA ConfigMap and the device endpoints' TLS Secret (server certificate made once)."""

    ca_pem: pulumi.Output[str]
    """The CA vehicles trust for the local endpoints (public)."""
    objects: list[pulumi.Resource]
    """The ConfigMap and the Secret: a device endpoint's Deployment depends on them."""

    def __init__(self, name: str, args: LocalDeviceTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:DeviceTrust", name, None, opts)
        placement = args.placement
        after = pulumi.ResourceOptions(parent=self, depends_on=list(placement.depends_on))

        def metadata(object_name: str) -> dict[str, object]:
            labels = placement.object_labels(object_name, "ingest", "device-trust")
            return {"name": object_name, "namespace": placement.namespace, "labels": labels}

        certificate = ServerCertificate(
            f"{name}-certificate", placement.region, args.hosts, pulumi.ResourceOptions(parent=self)
        )
        fleet = k8s.core.v1.ConfigMap(
            f"{name}-fleet-ca",
            metadata=metadata(FLEET_CA_CONFIG),
            data={"ca.pem": args.fleet_ca_certificate},
            opts=after,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-tls",
            metadata=metadata(TLS_SECRET),
            type="kubernetes.io/tls",
            string_data={"tls.crt": certificate.cert_pem, "tls.key": certificate.key_pem, "ca.crt": certificate.ca_pem},
            opts=after,
        )
        self.ca_pem = certificate.ca_pem
        self.objects = [fleet, secret]
        self.register_outputs({"ca_pem": self.ca_pem})


@dataclass(frozen=True)
class LinkedHub:
    """A hub the DPS assigns vehicles to."""

    hostname: str
    """What a vehicle connects to, and what DPS answers as ``assignedHub``."""
    registry: str
    """The hub's device registry on its back-end port (``http://<host>:8080/devices/``)."""


@dataclass(frozen=True)
class LocalProvisioningArgs:
    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    hubs: Sequence[LinkedHub]
    """Required. The scale units' hubs in unit order: hashed allocation picks among them by position."""
    trust: LocalDeviceTrust
    """Required. The fleet CA and TLS the DPS serves with."""
    image: str = field(default_factory=partial(image_reference, "ingest"))
    """Optional, default the ingest image built here (``ingest dps``)."""


def dps_config(region: str, hubs: Sequence[LinkedHub]) -> str:
    """``dps.json`` as ``cmd/ingest/dps.go`` reads it."""
    linked = [{"hostname": hub.hostname, "registry": hub.registry} for hub in hubs]
    return json.dumps({"idScope": id_scope(region), "hubs": linked}, indent=2, sort_keys=True) + "\n"


def dps_workload(placement: LocalPlacement, hubs: Sequence[LinkedHub], image: str) -> tuple[Workload, dict[str, str]]:
    """The DPS workload and its ConfigMap data (both named ``dps``)."""
    data = {"dps.json": dps_config(placement.region, hubs)}
    endpoint = DeviceEndpoint(
        name=OBJECT_NAME,
        component="device-provisioning",
        image=image,
        config=Mount("config", CONFIG_DIR, {"configMap": {"name": OBJECT_NAME}}, read_only=True),
        data=data,
        leading_args=["dps", f"--config={CONFIG_DIR}/dps.json"],
    )
    return device_endpoint_workload(endpoint), data


class LocalProvisioning(pulumi.ComponentResource):
    """The region's DPS device endpoint (Deployment + Service), its linked hubs in a ConfigMap."""

    endpoints: pulumi.Output[ProvisioningEndpoints]

    def __init__(self, name: str, args: LocalProvisioningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:Provisioning", name, None, opts)
        placement = args.placement
        workload, data = dps_workload(placement, args.hubs, args.image)
        config = deploy_config(f"{name}-config", self, placement, workload, data)
        deployed = deploy_workload(
            f"{name}-service", self, placement, workload, depends_on=[config, *args.trust.objects]
        )
        self.endpoints = pulumi.Output.from_input(
            ProvisioningEndpoints(device_endpoint=deployed.host, id_scope=id_scope(placement.region))
        )
        self.register_outputs({"endpoints": self.endpoints})


def registry_url(host: str) -> str:
    """A hub's device registry on its back-end port."""
    return f"http://{host}:{BACKEND_PORT}/devices/"


def registry_source(dps_host: str, hub_host: str) -> str:
    """Where a hub reads its registry back at start: the DPS's records of the devices it assigned there."""
    return f"http://{dps_host}:{BACKEND_PORT}/hubs/{hub_host}/devices"
