"""What every implementation of a capability promises, whichever target builds it.

The azure components (this package) and the local ones (``components.local``) take the same
:class:`RegionalPlatformArgs` and expose the same attributes and endpoint keys, so the program,
``autocloud check`` and the tests treat both targets alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NotRequired, Protocol, TypedDict

import pulumi

from platform_model.brands import Brand
from platform_model.profiles import RegionProfile
from platform_model.sizing import CapacityPlan, CosmosPlan
from platform_model.vocabulary import (
    REGION_LABEL,
    brand_container,
    brand_telemetry,
    brand_vehicle_prefix,
    brand_writer,
    region_namespace,
)

DATA_CLASSIFICATION = "vehicle-data"


def region_tags(profile: RegionProfile, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tags of every resource in a region: the profile's own tags win over ours, extras win over both."""
    return {"region": profile.name, "data-classification": DATA_CLASSIFICATION} | profile.tags | dict(extra or {})


def region_labels(profile: RegionProfile) -> dict[str, str]:
    """Kubernetes labels carrying the same facts as :func:`region_tags` (label-safe keys)."""
    return {
        REGION_LABEL: profile.name,
        "autocloud.io/data-classification": DATA_CLASSIFICATION,
        "autocloud.io/data-residency": profile.tags.get("data-residency", profile.name),
    }


@dataclass(frozen=True)
class RegionalPlatformArgs:
    """Inputs of a RegionalPlatform, for both targets. Everything is a plain, validated value."""

    profile: RegionProfile
    """Required. The region profile, fleet overrides already applied."""
    plan: CapacityPlan
    """Required. ``platform_model.sizing.plan_for_profile(profile)``: scale units, tiers, units."""
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    """Optional, default none. Tags added to :func:`region_tags` (e.g. a cost centre)."""
    namespace: str | None = None
    """Optional, local target only. Kubernetes namespace; default ``autocloud-<region>``."""
    cluster_admins: tuple[str, ...] = ()
    """Optional, azure target only; default the deploying identity. Entra object ids given AKS RBAC
    Cluster Admin on the region's cluster."""
    fleet_ca_certificate: str | None = None
    """The region's fleet CA (PEM). Azure: optional, registered with DPS. Local: required where the profile
    has IoT Hub (the local DPS and hubs trust it)."""
    routing_staged_units: tuple[int, ...] = ()
    """Optional, azure target only; default none (every hub live). Scale units whose IoT Hub is built in
    routing phase ``staged`` (``components.telemetry.RoutingPhase``)."""
    brands: tuple[Brand, ...] = ()
    """Optional, default none (one implicit tenant). The brands the region serves (``autocloud:brands``),
    in the order of ``plan.brands``: each its own fleet CA, state container and state writer."""

    @property
    def tags(self) -> dict[str, str]:
        return region_tags(self.profile, self.extra_tags)

    @property
    def local_namespace(self) -> str:
        return self.namespace or region_namespace(self.profile.name)


STATE_DATABASE = "vehicles"
"""The state store's database, the same on both targets so readers need not know which one runs."""
STATE_CONTAINER = "vehicle-state"
"""The state store's container (Cosmos DB) or collection (the local document store)."""
STATE_WRITER = "statewriter"
"""The state writer's Deployment, Service and ServiceAccount where the region serves no brands."""
TELEMETRY_STREAM = "telemetry"
"""The region's telemetry stream, the same on both targets: the event hub (Azure) or Kafka topic (local) that
device messages are routed to where the region serves no brands. With brands each brand's messages go to its
own stream instead (``StateTenant.telemetry``)."""
STATE_WRITER_GROUP = "statewriter"
"""The state writer's consumer group, the same on both targets: the consumer group every Event Hub has
(``components/streaming.py``) and the ``--group`` the writer's workload passes (``components/services.py``).
Local Kafka creates a group on first use, so the local stacks keep the name they always ran with."""


@dataclass(frozen=True)
class StateTenant:
    """Whose vehicle state one container holds, and the one writer that may write it.

    A region without brands is one tenant with today's names (``vehicle-state``, ``statewriter``); each
    brand is a tenant of its own (``vehicle-state-<brand>``, ``statewriter-<brand>``) whose writer stores
    only vehicles whose id starts with ``<brand>-`` (``platform_model.brands``)."""

    brand: str | None
    """None: the region's one implicit tenant."""
    container: str
    """The Cosmos DB container (local: collection) it owns."""
    writer: str
    """Its writer's Deployment, Service, ServiceAccount (and on Azure the federated credential's subject)."""
    group: str
    """Its writer's consumer group in every scale unit."""
    vehicle_prefix: str | None
    """The registration id prefix of its vehicles; None: every vehicle (no brands)."""
    cosmos: CosmosPlan
    """Its container's throughput."""
    fleet_ca: str | None = None
    """The brand's own fleet CA (PEM), if the stack gave one."""
    telemetry: str = TELEMETRY_STREAM
    """The telemetry stream its writer reads in every scale unit: the region's ``telemetry`` (no brands), or
    the brand's own ``telemetry-<brand>``, which only the brand's vehicles are routed to."""
    telemetry_partitions: int | None = None
    """Partitions of the brand's own stream (``BrandPlan.telemetry_partitions``); None: the region's stream."""


def state_tenants(brands: tuple[Brand, ...], plan: CapacityPlan) -> tuple[StateTenant, ...]:
    """The region's tenants: one per brand, or the one implicit tenant where there are no brands."""
    if not brands:
        return (StateTenant(None, STATE_CONTAINER, STATE_WRITER, STATE_WRITER_GROUP, None, plan.cosmos),)
    sized = {b.name: b.cosmos for b in plan.brands}
    partitions = {b.name: b.telemetry_partitions for b in plan.brands}
    return tuple(
        StateTenant(
            brand=b.name,
            container=brand_container(b.name),
            writer=brand_writer(b.name),
            group=brand_writer(b.name),
            vehicle_prefix=brand_vehicle_prefix(b.name),
            cosmos=sized[b.name],
            fleet_ca=b.fleet_ca,
            telemetry=brand_telemetry(b.name),
            telemetry_partitions=partitions[b.name],
        )
        for b in brands
    )


def brand_fleet_ca_name(brand: str) -> str:
    """The name a brand's fleet CA is registered under in the region's DPS (``fleet-ca-<brand>``)."""
    return f"{FLEET_CA_NAME}-{brand}"


def brand_enrollment_group(brand: str) -> str:
    """The id of a brand's DPS enrollment group (``fleet-<brand>``), trusting ``fleet-ca-<brand>``."""
    return f"fleet-{brand}"


# --- endpoint contracts: same keys on both targets -------------------------------------------------


class TelemetryEndpoints(TypedDict):
    """Where vehicles of one scale unit send telemetry."""

    mqtt: str
    """``host:port`` of the MQTT endpoint (IoT Hub: ``<hub>.azure-devices.net:8883``)."""
    hostname: str


class ProvisioningEndpoints(TypedDict):
    """Where vehicles enrol; one per region, spreading vehicles across the scale units' hubs."""

    device_endpoint: str
    """The instance's own provisioning host (``<dps>.azure-devices-provisioning.net``), never the
    ``global.`` one, so provisioning stays in the DPS's region."""
    id_scope: str


FLEET_CA_NAME = "fleet-ca"
"""The name of the fleet CA registered (verified) in a region's DPS: ``components.telemetry`` uploads it
under this name, and ``autocloud fleet enroll`` points the enrollment group's CA reference at it."""


class StreamingEndpoints(TypedDict):
    """Where consumers read one scale unit's events (Kafka protocol on both targets)."""

    kafka: str
    """``host:port`` of the Kafka endpoint."""
    telemetry_topic: str
    """The region's telemetry topic; with brands, the first brand's (each brand's is in ``brand_telemetry_topics``)."""
    events_topic: str
    brand_telemetry_topics: NotRequired[dict[str, str]]
    """With brands only: brand -> its own telemetry topic (event hub), which only its writer may read."""


def streaming_endpoints(
    kafka: str, telemetry_topic: str, events_topic: str, brand_topics: Mapping[str, str]
) -> StreamingEndpoints:
    """A scale unit's streaming endpoints on either target; ``brand_telemetry_topics`` only with brands."""
    endpoints = StreamingEndpoints(kafka=kafka, telemetry_topic=telemetry_topic, events_topic=events_topic)
    if brand_topics:
        endpoints["brand_telemetry_topics"] = dict(brand_topics)
    return endpoints


class ComputeEndpoints(TypedDict):
    api_server: str


class RegistryEndpoints(TypedDict):
    """Where the cluster pulls the region's images (Azure only: the local target imports images into its node)."""

    login_server: str


class ServicesEndpoints(TypedDict):
    """How the platform's own services reach the region's private cluster (Azure only: the local target
    applies them directly)."""

    flux_configuration: str
    """The cluster's ``fluxConfigurations`` resource that applies them
    (``az k8s-configuration flux show --cluster-type managedClusters --name <it>``)."""
    manifests: str
    """URL of the blob Flux applies."""
    writer_client_id: str
    """Client id of the state writer's workload identity (what its ServiceAccount annotation names); with
    brands, the first brand's (each brand's is in ``brand_writer_client_ids``)."""
    brand_writer_client_ids: NotRequired[dict[str, str]]
    """With brands only: brand -> client id of that brand's writer identity."""


class BrandStateEndpoints(TypedDict):
    """One brand's state: its own container (Azure: in the region's account; local: in its own store)."""

    documents: str
    database: str
    container: str


class StateEndpoints(TypedDict):
    documents: str
    """The store: the Cosmos DB account endpoint, or the local store's URI (with brands: the first brand's)."""
    database: str
    container: str
    """The container (with brands: the first brand's)."""
    brands: NotRequired[dict[str, BrandStateEndpoints]]
    """With brands only: brand -> where its state is."""


class MapsEndpoints(TypedDict):
    api: str


class PlatformEndpoints(TypedDict):
    """Everything a region offers, exported by the program as ``endpoints``."""

    telemetry: list[TelemetryEndpoints]
    """One entry per scale unit."""
    provisioning: ProvisioningEndpoints | None
    streaming: list[StreamingEndpoints]
    """One entry per scale unit."""
    compute: ComputeEndpoints | None
    registry: RegistryEndpoints | None
    """None on the local target, whose node imports the images built here."""
    services: ServicesEndpoints | None
    """None on the local target and where an Azure region delivers no service."""
    state: StateEndpoints | None
    maps: MapsEndpoints | None
    """None where the profile disables Maps (Azure China)."""


class Component(Protocol):
    """The outputs every component exposes, so the program, the contract tests and the report treat
    any component, Azure or local, alike."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    """Plain string from the profile, so policies can evaluate it at preview."""


class RegionalPlatformContract(Component, Protocol):
    """What the program needs from a RegionalPlatform, azure or local."""

    region: str
    scale_units: int
    endpoints: pulumi.Output[PlatformEndpoints]
