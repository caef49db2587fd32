"""RegionalPlatform on the local target: one region in one namespace of any Kubernetes cluster.

The same :class:`~components.contracts.RegionalPlatformArgs` and outputs as the Azure platform, so
the program, the checks and the tests treat both targets alike. Scale units follow the capacity
plan but are capped at :data:`MAX_LOCAL_SCALE_UNITS`, each with one MQTT broker and one Kafka broker,
so that three regions fit a laptop-sized cluster.
"""

from __future__ import annotations

import pulumi

from components.contracts import (
    BrandStateEndpoints,
    PlatformEndpoints,
    RegionalPlatformArgs,
    StateEndpoints,
    StateTenant,
    region_labels,
    state_tenants,
)
from components.local import maps, provisioning, state, streaming, telemetry
from components.local.compute import LocalComputeCluster, LocalComputeClusterArgs, NamespaceQuota
from components.local.kube import NO_RESOURCES, ContainerResources, LocalPlacement
from components.local.maps import LocalMapsService, LocalMapsServiceArgs
from components.local.provider import targets_embedded_cluster
from components.local.provisioning import (
    LinkedHub,
    LocalDeviceTrust,
    LocalDeviceTrustArgs,
    LocalProvisioning,
    LocalProvisioningArgs,
    registry_url,
)
from components.local.state import LocalVehicleStateStore, LocalVehicleStateStoreArgs, StateStream
from components.local.streaming import LocalEventStreaming, LocalEventStreamingArgs
from components.local.telemetry import (
    KafkaBrandRoute,
    KafkaRoute,
    LocalTelemetryIngest,
    LocalTelemetryIngestArgs,
    hub_name,
)
from platform_model.local_images import image_reference
from platform_model.profiles import Services
from platform_model.sizing import CapacityPlan

MAX_LOCAL_SCALE_UNITS = 3
ROLLOUT_FACTOR = 2
"""Quota room for every workload to run a second pod at once (a rolling update of all of them), and
for every counted object (Services, ConfigMaps, Secrets) twice: a create that an interrupted run
cancelled stays charged to the quota until the quota controller next recounts, and with no room the
run resumed right after it would be refused."""


def local_scale_units(plan: CapacityPlan) -> int:
    """The plan's scale units, at least one and at most :data:`MAX_LOCAL_SCALE_UNITS`."""
    return max(1, min(plan.scale_units, MAX_LOCAL_SCALE_UNITS))


def namespace_quota(services: Services, units: int, stores: int = 1) -> NamespaceQuota:
    """The quota that fits the workloads the platform deploys twice over (see ROLLOUT_FACTOR); ``stores`` is
    how many state stores (and writers) run: one, or one per brand."""
    workloads: list[ContainerResources] = []
    if services.iothub:
        workloads += [telemetry.RESOURCES] * units + [provisioning.RESOURCES]
    if services.eventhubs:
        workloads += [streaming.RESOURCES] * units
    if services.cosmosdb:
        workloads += [state.RESOURCES] * stores
        if services.eventhubs:
            workloads += [state.WRITER_RESOURCES] * stores
    if services.maps:
        workloads.append(maps.RESOURCES)
    total = sum(workloads, NO_RESOURCES)

    def room(count: int) -> int:
        return max(1, count * ROLLOUT_FACTOR)

    return NamespaceQuota(
        resources=total * ROLLOUT_FACTOR,
        pods=room(len(workloads)),
        services=room(len(workloads)),
        # Broker configs, the DPS's and the fleet CA, plus the API server's kube-root-ca.crt.
        config_maps=room((units + 2 if services.iothub else 0) + (units if services.eventhubs else 0) + 1),
        # Each document store's password; the device endpoints' TLS.
        secrets=room((stores if services.cosmosdb else 0) + (1 if services.iothub else 0)),
        # Each broker's log and each store's data: claims outlive the pods, so a rollout needs no room.
        volume_claims=(units if services.eventhubs else 0) + (stores if services.cosmosdb else 0),
    )


class LocalRegionalPlatform(pulumi.ComponentResource):
    """A region on Kubernetes: a fenced namespace, brokers per scale unit, the state store (fed by its writer) and Maps.

    Pass the Kubernetes provider in ``opts`` (``providers=[...]``): children inherit it through
    ``parent``. ``location`` is the profile's primary, as on Azure, though nothing here has one.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    region: str
    namespace: str
    scale_units: int
    """Scale units deployed here (the plan's, capped); ``planned_scale_units`` is the plan's own."""
    planned_scale_units: int
    compute: LocalComputeCluster
    telemetry: list[LocalTelemetryIngest]
    device_trust: LocalDeviceTrust | None
    provisioning: LocalProvisioning | None
    streaming: list[LocalEventStreaming]
    state: LocalVehicleStateStore | None
    """The region's store, or with brands the first brand's (``states`` holds each)."""
    states: list[LocalVehicleStateStore]
    """One store per tenant: the region's one, or one per brand, each with its own user and writer."""
    tenants: tuple[StateTenant, ...]
    maps: LocalMapsService | None
    endpoints: pulumi.Output[PlatformEndpoints]

    def __init__(self, name: str, args: RegionalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:RegionalPlatform", name, None, opts)
        profile, plan = args.profile, args.plan
        self.location = profile.primary
        self.region = profile.name
        self.namespace = args.local_namespace
        self.planned_scale_units = plan.scale_units
        self.scale_units = local_scale_units(plan)
        self.tenants = state_tenants(args.brands, plan)

        self.compute = self._build_compute(name, args)
        placement = _region_placement(args, self.compute)
        self.device_trust = self._build_device_trust(name, args, placement)
        self.streaming, self.telemetry = self._build_scale_units(name, args, placement)
        self.provisioning = self._build_provisioning(name, placement)
        self.states = self._build_states(name, args, placement, self.streaming)
        self.state = self.states[0] if self.states else None
        self.maps = self._build_maps(name, args, placement)

        self.name = self.compute.name
        self.resource_id = self.compute.resource_id
        self.endpoints = _collect_endpoints(self, compute=profile.services.aks)
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "region": self.region,
                "namespace": self.namespace,
                "scale_units": self.scale_units,
                "planned_scale_units": self.planned_scale_units,
                "endpoints": self.endpoints,
            }
        )

    def _build_compute(self, name: str, args: RegionalPlatformArgs) -> LocalComputeCluster:
        """The region's namespace, fenced before anything runs in it; its quota fits what the units deploy."""
        profile = args.profile
        return LocalComputeCluster(
            f"{name}-compute",
            LocalComputeClusterArgs(
                namespace=self.namespace,
                region=profile.name,
                location=profile.primary,
                labels=region_labels(profile),
                quota=namespace_quota(profile.services, self.scale_units, len(self.tenants)),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _hub_hosts(self, placement: LocalPlacement) -> list[str]:
        return [placement.host(hub_name(unit)) for unit in range(1, self.scale_units + 1)]

    def _build_device_trust(
        self, name: str, args: RegionalPlatformArgs, placement: LocalPlacement
    ) -> LocalDeviceTrust | None:
        """The fleet CA and the device endpoints' certificate, where the region has IoT Hub."""
        if not args.profile.services.iothub:
            return None
        if not args.fleet_ca_certificate:
            raise ValueError(f"region {self.region}: the local device endpoints need the region's fleet CA")
        hosts = [placement.host(provisioning.OBJECT_NAME), *self._hub_hosts(placement)]
        # The region's CA and each brand's own: the local DPS and hubs trust any of them (one PEM bundle), as
        # Azure's DPS trusts each brand's CA through that brand's enrollment group.
        bundle = "\n".join(
            [args.fleet_ca_certificate.strip(), *(t.fleet_ca.strip() for t in self.tenants if t.fleet_ca)]
        )
        return LocalDeviceTrust(
            f"{name}-device-trust",
            LocalDeviceTrustArgs(placement=placement, fleet_ca_certificate=bundle + "\n", hosts=hosts),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_provisioning(self, name: str, placement: LocalPlacement) -> LocalProvisioning | None:
        """The region's DPS, linked to every scale unit's hub in unit order."""
        if self.device_trust is None:
            return None
        hubs = [LinkedHub(host, registry_url(host)) for host in self._hub_hosts(placement)]
        return LocalProvisioning(
            f"{name}-provisioning",
            LocalProvisioningArgs(placement=placement, hubs=hubs, trust=self.device_trust),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_scale_units(
        self, name: str, args: RegionalPlatformArgs, placement: LocalPlacement
    ) -> tuple[list[LocalEventStreaming], list[LocalTelemetryIngest]]:
        """Per scale unit, a Kafka broker and the ingest routed into it (either may be off)."""
        services = args.profile.services
        streaming: list[LocalEventStreaming] = []
        telemetry: list[LocalTelemetryIngest] = []
        for unit in range(1, self.scale_units + 1):
            stream = self._build_streaming(name, args, placement, unit) if services.eventhubs else None
            if stream is not None:
                streaming.append(stream)
            if self.device_trust is not None:
                route = _route_to(stream, args.plan.eventhubs.telemetry_partitions, self.tenants)
                telemetry.append(self._build_telemetry(name, placement, unit, route, self.device_trust))
        return streaming, telemetry

    def _build_streaming(
        self, name: str, args: RegionalPlatformArgs, placement: LocalPlacement, unit: int
    ) -> LocalEventStreaming:
        """One unit's broker, with the plan's partitions as the default for the topics it creates."""
        return LocalEventStreaming(
            f"{name}-streaming-{unit}",
            LocalEventStreamingArgs(
                placement=placement,
                unit=unit,
                sku=args.plan.eventhubs,
                brand_topics={t.brand: t.telemetry for t in self.tenants if t.brand},
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_telemetry(
        self, name: str, placement: LocalPlacement, unit: int, route: KafkaRoute | None, trust: LocalDeviceTrust
    ) -> LocalTelemetryIngest:
        """One unit's ingest; ``route`` is None where the region has no event streaming."""
        dps_host = placement.host(provisioning.OBJECT_NAME)
        return LocalTelemetryIngest(
            f"{name}-telemetry-{unit}",
            LocalTelemetryIngestArgs(placement=placement, unit=unit, trust=trust, dps_host=dps_host, route=route),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_states(
        self, name: str, args: RegionalPlatformArgs, placement: LocalPlacement, streaming: list[LocalEventStreaming]
    ) -> list[LocalVehicleStateStore]:
        """A document store per tenant, each with a writer reading every unit's broker where those brokers
        can answer.

        With brands, each brand has a FerretDB of its own with its own user and password Secret: FerretDB 1.x
        authenticates users but does not authorize them ("Support authorization", FerretDB issue #174, open),
        so any user of one instance could read every database in it; and a NetworkPolicy cannot separate
        collections within one store. Separate instances make a brand's credentials worthless on another
        brand's data. ``streaming`` holds one broker per unit, in order, so ``unit-<n>`` names the same unit."""
        if not args.profile.services.cosmosdb:
            return []
        streams = [StateStream(f"unit-{unit}", stream.bootstrap) for unit, stream in enumerate(streaming, start=1)]
        if placement.node_placement(image_reference("kafka")):
            # The brokers run on the simulated node, where nothing answers: a writer on the real
            # node would never be ready. It comes with brokers built here.
            streams = []
        return [
            LocalVehicleStateStore(
                f"{name}-state" if tenant.brand is None else f"{name}-state-{tenant.brand}",
                LocalVehicleStateStoreArgs(
                    placement=placement, streams=streams, telemetry_topic=tenant.telemetry, tenant=tenant
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for tenant in self.tenants
        ]

    def _build_maps(self, name: str, args: RegionalPlatformArgs, placement: LocalPlacement) -> LocalMapsService | None:
        """The Maps stub, where the profile enables Maps."""
        if not args.profile.services.maps:
            return None
        return LocalMapsService(
            f"{name}-maps", LocalMapsServiceArgs(placement=placement), pulumi.ResourceOptions(parent=self)
        )


def _region_placement(args: RegionalPlatformArgs, compute: LocalComputeCluster) -> LocalPlacement:
    """Where every workload goes: the region's namespace, once it is fenced (``compute`` and its children)."""
    profile = args.profile
    return LocalPlacement(
        namespace=args.local_namespace,
        region=profile.name,
        location=profile.primary,
        labels=region_labels(profile),
        depends_on=(compute,),
        simulate_unbuilt_images=targets_embedded_cluster(),
    )


def _route_to(
    stream: LocalEventStreaming | None, partitions: int, tenants: tuple[StateTenant, ...]
) -> KafkaRoute | None:
    """The ingest's routes into its scale unit's broker (with brands, each brand's vehicles to its own topic),
    or None without one."""
    if stream is None:
        return None
    brands = tuple(
        KafkaBrandRoute(t.telemetry, t.vehicle_prefix, t.telemetry_partitions)
        for t in tenants
        if t.brand and t.vehicle_prefix and t.telemetry_partitions
    )
    return KafkaRoute(stream.bootstrap, stream.telemetry_hub, stream.events_hub, partitions, brands)


def _state_endpoints(platform: LocalRegionalPlatform) -> pulumi.Output[StateEndpoints | None]:
    """The region's store; with brands the first brand's, and each brand's under ``brands``."""
    if not platform.states:
        return pulumi.Output.from_input(None)
    brands = {t.brand: s.endpoints for t, s in zip(platform.tenants, platform.states, strict=True) if t.brand}

    def combine(values: list[StateEndpoints]) -> StateEndpoints:
        first = StateEndpoints(**values[0])
        if brands:
            first["brands"] = {
                brand: BrandStateEndpoints(documents=v["documents"], database=v["database"], container=v["container"])
                for brand, v in zip(brands, values, strict=True)
            }
        return first

    return pulumi.Output.all(*[s.endpoints for s in platform.states]).apply(combine)


def _collect_endpoints(platform: LocalRegionalPlatform, compute: bool) -> pulumi.Output[PlatformEndpoints]:
    """Every endpoint of the region; ``compute`` is None where the profile has no AKS, though the
    namespace itself always exists."""

    def optional(component: object | None) -> pulumi.Output[object | None]:
        return pulumi.Output.from_input(getattr(component, "endpoints", None))

    return pulumi.Output.all(
        telemetry=pulumi.Output.all(*[t.endpoints for t in platform.telemetry]),
        streaming=pulumi.Output.all(*[s.endpoints for s in platform.streaming]),
        provisioning=optional(platform.provisioning),
        compute=optional(platform.compute if compute else None),
        registry=optional(None),
        services=optional(None),
        state=_state_endpoints(platform),
        maps=optional(platform.maps),
    ).apply(lambda e: PlatformEndpoints(**e))  # type: ignore[typeddict-item]
