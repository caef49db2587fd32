"""RegionalPlatform on Azure: one region profile in, every capability of the region out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from components.compute import ComputeCluster, ComputeClusterArgs
from components.contracts import (
    STATE_WRITER_GROUP,
    PlatformEndpoints,
    RegionalPlatformArgs,
    ServicesEndpoints,
    StateTenant,
    region_labels,
    state_tenants,
)
from components.delivery import ServiceDelivery, ServiceDeliveryArgs
from components.identity import WorkloadIdentity, WorkloadIdentityArgs
from components.maps import MapsService, MapsServiceArgs
from components.monitoring import DataPathKind, RegionalMonitoring, RegionalMonitoringArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.placement import (
    EVENT_HUBS_DATA_RECEIVER,
    AzurePlacement,
    container_registry_name,
    eventhub_namespace_name,
    grant_role,
    storage_account_name,
)
from components.registry import ContainerRegistry, ContainerRegistryArgs
from components.services import azure_writer_wiring, writer_workload
from components.state import VehicleStateStore, VehicleStateStoreArgs
from components.streaming import DEFAULT_CONSUMER_GROUPS, BrandHub, EventStreaming, EventStreamingArgs
from components.telemetry import (
    BrandRoute,
    DeviceAccess,
    DeviceProvisioning,
    DeviceProvisioningArgs,
    DpsLinkKeys,
    EventHubsRoute,
    LinkedHub,
    TelemetryIngest,
    TelemetryIngestArgs,
    dps_link_keys,
    dps_link_secret,
)
from components.workloads import render_workload
from platform_model.locations import dps_private_endpoints, find_location
from platform_model.profiles import Services
from platform_model.vocabulary import BRAND_TAG, Cloud, region_namespace


class RegionalPlatform(pulumi.ComponentResource):
    """A region built from scale units, private and tagged throughout.

    Each scale unit (``plan.scale_units`` of them) gets its own IoT Hub routed to its own Event
    Hubs namespace; one DPS links every hub; Cosmos DB, AKS and Maps serve the whole region. Every
    resource's location is a plain string from the profile. In Azure China, pass the China provider
    in ``opts`` (``providers=[...]``): children inherit it through ``parent``.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    region: str
    scale_units: int
    telemetry: list[TelemetryIngest]
    streaming: list[EventStreaming]
    provisioning: DeviceProvisioning | None
    compute: ComputeCluster | None
    registry: ContainerRegistry | None
    state: VehicleStateStore | None
    maps: MapsService | None
    monitoring: RegionalMonitoring
    services: ServiceDelivery | None
    tenants: tuple[StateTenant, ...]
    """Whose state the region keeps: one per brand, or the one implicit tenant."""
    endpoints: pulumi.Output[PlatformEndpoints]

    def __init__(self, name: str, args: RegionalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:platform:RegionalPlatform", name, None, opts)
        profile = args.profile
        self.location = profile.primary
        self.region = profile.name
        self.scale_units = args.plan.scale_units
        self.tenants = state_tenants(args.brands, args.plan)

        tags = args.tags
        group = azure_native.resources.ResourceGroup(
            f"{name}-rg", location=profile.primary, tags=tags, opts=pulumi.ResourceOptions(parent=self)
        )
        base = AzurePlacement(resource_group_name=group.name, location=profile.primary, cloud=profile.cloud, tags=tags)
        self.monitoring = RegionalMonitoring(
            f"{name}-monitoring",
            RegionalMonitoringArgs(placement=base, settings=profile.monitoring),
            pulumi.ResourceOptions(parent=self),
        )
        network = self._build_network(name, args, base)
        placement = replace(
            base,
            private_endpoint_subnet_id=network.private_endpoint_subnet_id,
            private_dns_zone_ids=network.dns_zone_ids,
        )
        services = profile.services
        self._link_secret = dps_link_secret(f"{name}-dps-link", self) if services.iothub and services.dps else None
        self.streaming, self.telemetry = self._build_scale_units(name, args, placement, network)
        self.provisioning = self._build_provisioning(name, args, placement, self.telemetry)
        self.registry = self._build_registry(name, args, placement)
        self.compute = self._build_compute(name, args, placement, network, self.registry)
        self.state = self._build_state(name, args, placement)
        self.maps = self._build_maps(name, args, placement)
        self._services_endpoints: pulumi.Output[ServicesEndpoints] | None = None
        self.services = self._build_services(name, args, placement)
        for unit, stream in enumerate(self.streaming, start=1):
            self._diagnose(f"streaming-{unit}", stream, "eventhubs")
        for unit, hub in enumerate(self.telemetry, start=1):
            self._diagnose(f"telemetry-{unit}", hub, "iothub")
        self._diagnose("provisioning", self.provisioning, "dps")
        self._diagnose("state", self.state, "cosmosdb")

        self.name = group.name
        self.resource_id = group.id
        self.endpoints = _collect_endpoints(self)
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "region": self.region,
                "scale_units": self.scale_units,
                "endpoints": self.endpoints,
            }
        )

    def _diagnose(self, part: str, component: Any, kind: DataPathKind) -> None:
        """The data path's resource logs of ``component`` (if built) into the region's own workspace."""
        if component is not None:
            self.monitoring.diagnose(part, component.resource_id, kind)

    def _build_network(self, name: str, args: RegionalPlatformArgs, base: AzurePlacement) -> PrivateNetwork:
        """The VNet, its subnets and a private DNS zone for each enabled service's private endpoints."""
        plan_net = args.profile.network
        return PrivateNetwork(
            f"{name}-network",
            PrivateNetworkArgs(
                placement=base,
                zone_keys=_private_zone_keys(args.profile.services, args.profile.cloud),
                address_space=str(plan_net.vnet),
                endpoint_prefix=str(plan_net.endpoints_subnet),
                node_prefix=str(plan_net.nodes_subnet),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_scale_units(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement, network: PrivateNetwork
    ) -> tuple[list[EventStreaming], list[TelemetryIngest]]:
        """Per scale unit, an Event Hubs namespace and the IoT Hub routed into it (either may be off)."""
        services = args.profile.services
        streaming: list[EventStreaming] = []
        telemetry: list[TelemetryIngest] = []
        for unit in range(1, args.plan.scale_units + 1):
            stream = self._build_streaming(name, args, placement, network, unit) if services.eventhubs else None
            if stream is not None:
                streaming.append(stream)
            if services.iothub:
                route = _route_to(stream, self.tenants)
                telemetry.append(self._build_telemetry(name, args, placement, unit, route))
        return streaming, telemetry

    def _build_streaming(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement, network: PrivateNetwork, unit: int
    ) -> EventStreaming:
        region = args.profile.name
        return EventStreaming(
            f"{name}-streaming-{unit}",
            EventStreamingArgs(
                placement=placement,
                sku=args.plan.eventhubs,
                capture_account_name=storage_account_name(region, "capture", unit),
                namespace_name=eventhub_namespace_name(region, unit),
                allowed_subnet_id=network.node_subnet_id,
                consumer_groups=_consumer_groups(self.tenants),
                brand_hubs=_brand_hubs(self.tenants),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_telemetry(
        self,
        name: str,
        args: RegionalPlatformArgs,
        placement: AzurePlacement,
        unit: int,
        route: EventHubsRoute | None,
    ) -> TelemetryIngest:
        profile = args.profile
        primary = find_location(profile.primary)
        return TelemetryIngest(
            telemetry_name(name, unit),
            TelemetryIngestArgs(
                placement=placement,
                sku=args.plan.iothub,
                data_residency=profile.residency.iot_data_residency,
                min_tls=bool(primary and primary.iothub_min_tls),
                dps_link=self._dps_link(unit),
                devices=_device_access(args),
                route=route,
                routing="staged" if unit in args.routing_staged_units else "live",
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_provisioning(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement, hubs: list[TelemetryIngest]
    ) -> DeviceProvisioning | None:
        """One DPS linking every hub of the region, where the profile enables it and there are hubs; each
        link carries the key the stack gave that hub's policy (hub ``i`` is scale unit ``i``)."""
        if not (args.profile.services.dps and hubs):
            return None
        keys = [self._dps_link(unit) for unit in range(1, len(hubs) + 1)]
        linked = [
            LinkedHub(name=hub.name, location=hub.location, key=link.primary)
            for hub, link in zip(hubs, keys, strict=True)
            if link is not None
        ]
        return DeviceProvisioning(
            f"{name}-provisioning",
            DeviceProvisioningArgs(
                placement=placement,
                hubs=linked,
                units=args.plan.dps_units,
                data_residency=args.profile.residency.iot_data_residency,
                devices=_device_access(args),
                ca_certificate=args.fleet_ca_certificate,
                brand_ca_certificates={t.brand: t.fleet_ca for t in self.tenants if t.brand and t.fleet_ca},
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _dps_link(self, unit: int) -> DpsLinkKeys | None:
        """Scale unit ``unit``'s hub link keys, derived from the stack's secret under a label fixed by the
        unit (so they stay the same from run to run); None where no DPS links hubs."""
        return dps_link_keys(self._link_secret, f"unit-{unit}") if self._link_secret is not None else None

    def _build_registry(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement
    ) -> ContainerRegistry | None:
        """The region's private image registry, wherever the region runs AKS (its only puller)."""
        if not args.profile.services.aks:
            return None
        return ContainerRegistry(
            f"{name}-registry",
            ContainerRegistryArgs(placement=placement, registry_name=container_registry_name(args.profile.name)),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_compute(
        self,
        name: str,
        args: RegionalPlatformArgs,
        placement: AzurePlacement,
        network: PrivateNetwork,
        registry: ContainerRegistry | None,
    ) -> ComputeCluster | None:
        profile = args.profile
        if not profile.services.aks:
            return None
        primary = find_location(profile.primary)
        plan_net = profile.network
        return ComputeCluster(
            f"{name}-compute",
            ComputeClusterArgs(
                placement=placement,
                sku=args.plan.aks,
                dns_prefix=f"autocloud-{profile.name}",
                zones=bool(primary and primary.zones),
                service_cidr=str(plan_net.service_cidr),
                dns_service_ip=str(plan_net.dns_service_ip),
                pod_cidr=str(plan_net.pod_cidr),
                node_subnet_id=network.node_subnet_id,
                cluster_admins=args.cluster_admins,
                registry_id=registry.resource_id if registry is not None else None,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_state(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement
    ) -> VehicleStateStore | None:
        profile = args.profile
        if not profile.services.cosmosdb:
            return None
        return VehicleStateStore(
            f"{name}-state",
            VehicleStateStoreArgs(
                placement=placement,
                secondary=profile.secondary,
                sku=args.plan.cosmos,
                brands=tuple(t for t in self.tenants if t.brand),
                zone_redundant=profile.resilience.zone_redundant,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _build_services(
        self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement
    ) -> ServiceDelivery | None:
        """The state writers on the region's cluster, from the local target's workload definition.

        Each tenant's writer (the region's one, or one per brand) runs as its own workload identity, which
        may receive from its telemetry stream in every scale unit (the region's one writer: the namespace, as
        before brands; a brand's writer: its own ``telemetry-<brand>`` hub only, checked by
        ``residency-brand-stream-scope``) and write its own vehicle-state container, and nothing else; Flux
        delivers them (``components/delivery.py``). Only where the region has everything they
        connect: a cluster with its registry, Event Hubs and Cosmos DB.
        """
        compute, registry, state = self.compute, self.registry, self.state
        if compute is None or registry is None or state is None or not self.streaming:
            return None
        region = args.profile.name
        namespace = region_namespace(region)
        kafka = [_kafka_bootstrap(stream) for stream in self.streaming]
        documents = state.endpoints.apply(lambda e: e["documents"])
        labels = region_labels(args.profile)
        manifests: list[dict[str, Any]] = []
        ready: list[pulumi.Resource] = []
        client_ids: dict[str, pulumi.Output[str]] = {}
        for tenant in self.tenants:
            # The region's one writer keeps the names it always had, so a stack without brands is unchanged.
            part = f"{name}-writer" if tenant.brand is None else f"{name}-writer-{tenant.brand}"
            tenant_placement = (
                placement
                if tenant.brand is None
                else replace(placement, tags={**placement.tags, BRAND_TAG: tenant.brand})
            )
            writer = WorkloadIdentity(
                part,
                WorkloadIdentityArgs(tenant_placement, compute.oidc_issuer_url, namespace, tenant.writer),
                pulumi.ResourceOptions(parent=self),
            )
            receiver = EVENT_HUBS_DATA_RECEIVER
            ready += [
                grant_role(
                    f"{part}-receives-{unit}", self, _receive_scope(stream, tenant), writer.principal_id, receiver
                )
                for unit, stream in enumerate(self.streaming, start=1)
            ]
            ready += [state.grant_data_contributor(f"{part}-stores", self, writer.principal_id, tenant.container)]
            ready.append(writer.federation)
            wiring = azure_writer_wiring(
                registry.login_server, kafka, documents, writer.client_id, topic=tenant.telemetry, tenant=tenant
            )
            manifests += render_workload(writer_workload(wiring), namespace, labels)
            client_ids[tenant.brand or ""] = writer.client_id
        delivery = ServiceDelivery(
            f"{name}-services",
            ServiceDeliveryArgs(
                placement=placement,
                cluster_name=compute.name,
                oidc_issuer_url=compute.oidc_issuer_url,
                namespace=namespace,
                namespace_labels=labels,
                manifests=manifests,
                storage_account_name=storage_account_name(region, "deliver", 1),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[compute, *ready]),
        )
        self._services_endpoints = pulumi.Output.all(delivery.manifest_url, client_ids).apply(
            lambda v: _services_endpoints(delivery.flux_configuration_name, v[0], v[1])
        )
        return delivery

    def _build_maps(self, name: str, args: RegionalPlatformArgs, placement: AzurePlacement) -> MapsService | None:
        """Azure Maps in the profile's maps location, where the profile enables it and one is set."""
        maps_location = args.profile.maps_location
        if not args.profile.services.maps or maps_location is None:
            return None
        return MapsService(
            f"{name}-maps",
            MapsServiceArgs(placement=replace(placement, location=maps_location)),
            pulumi.ResourceOptions(parent=self),
        )


def telemetry_name(platform: str, unit: int) -> str:
    """The TelemetryIngest of scale unit ``unit`` (1-based) of the platform named ``platform``."""
    return f"{platform}-telemetry-{unit}"


def _private_zone_keys(services: Services, cloud: Cloud) -> list[str]:
    """The private DNS zones the enabled services' private endpoints register in (DPS only where it can
    have a private endpoint: not in Azure China)."""
    wanted = (
        ("servicebus", services.iothub or services.eventhubs),
        ("iothub", services.iothub),
        ("dps", services.dps and dps_private_endpoints(cloud)),
        ("blob", services.eventhubs),
        ("cosmos", services.cosmosdb),
        ("registry", services.aks),
    )
    return [key for key, enabled in wanted if enabled]


def _consumer_groups(tenants: tuple[StateTenant, ...]) -> tuple[str, ...]:
    """The consumer groups of the region's hubs (``events``, and ``telemetry`` where there are no brands): the
    stream processor's and the region's one writer's. A brand's writer's group is on its own hub only
    (``_brand_hubs``)."""
    shared = [group for group in DEFAULT_CONSUMER_GROUPS if group != STATE_WRITER_GROUP]
    return tuple(dict.fromkeys([*shared, *(t.group for t in tenants if t.brand is None)]))


def _brand_hubs(tenants: tuple[StateTenant, ...]) -> tuple[BrandHub, ...]:
    """Each brand's own telemetry hub, read by its writer's group and the region's stream processor's; none
    without brands. The stream processor (a consumer group, no service deployed yet) would read a brand's hub
    only under a platform identity granted on it, never a brand's."""
    shared = [group for group in DEFAULT_CONSUMER_GROUPS if group != STATE_WRITER_GROUP]
    return tuple(
        BrandHub(t.brand, t.telemetry, t.telemetry_partitions, (*shared, t.group))
        for t in tenants
        if t.brand is not None and t.telemetry_partitions is not None
    )


def _receive_scope(stream: EventStreaming, tenant: StateTenant) -> pulumi.Output[str]:
    """Where a tenant's writer may receive in a scale unit: a brand's own hub, or (no brands) the namespace."""
    if tenant.brand is None:
        return stream.resource_id
    return stream.brand_hub_scopes[tenant.brand]


def _services_endpoints(flux_configuration: str, manifests: str, client_ids: dict[str, str]) -> ServicesEndpoints:
    """The delivery's endpoints; with brands, each brand writer's client id as well."""
    first = next(iter(client_ids.values()))
    endpoints = ServicesEndpoints(flux_configuration=flux_configuration, manifests=manifests, writer_client_id=first)
    brands = {brand: client for brand, client in client_ids.items() if brand}
    if brands:
        endpoints["brand_writer_client_ids"] = brands
    return endpoints


def _device_access(args: RegionalPlatformArgs) -> DeviceAccess:
    devices = args.profile.devices
    return DeviceAccess(public=devices.access == "public", ip_filter=tuple(str(c) for c in devices.ip_filter))


def _kafka_bootstrap(stream: EventStreaming) -> str:
    """A scale unit's Kafka endpoint for the writer's arguments; every unit's namespace is named here
    (``eventhub_namespace_name``), so a unit without one would be a unit the writer silently skips."""
    if stream.kafka_bootstrap is None:
        raise ValueError("every scale unit's Event Hubs namespace must be named for the state writer to read it")
    return stream.kafka_bootstrap


def _route_to(stream: EventStreaming | None, tenants: tuple[StateTenant, ...]) -> EventHubsRoute | None:
    """IoT Hub routing into a scale unit's Event Hubs namespace (with brands, each brand's vehicles to its own
    hub), or None without one."""
    if stream is None:
        return None
    return EventHubsRoute(
        namespace_id=stream.resource_id,
        endpoint_uri=stream.endpoint_uri,
        telemetry_hub=stream.telemetry_hub,
        events_hub=stream.events_hub,
        brands=tuple(BrandRoute(t.telemetry, t.vehicle_prefix) for t in tenants if t.brand and t.vehicle_prefix),
    )


def _collect_endpoints(platform: RegionalPlatform) -> pulumi.Output[PlatformEndpoints]:
    """One output holding every endpoint of the region, None for a capability it does not deploy."""

    def endpoints_of(component: Any) -> pulumi.Output[Any]:
        return pulumi.Output.from_input(component.endpoints if component is not None else None)

    def combine(values: dict[str, Any]) -> PlatformEndpoints:
        return PlatformEndpoints(
            telemetry=list(values["telemetry"]),
            provisioning=values["provisioning"],
            streaming=list(values["streaming"]),
            compute=values["compute"],
            registry=values["registry"],
            services=values["services"],
            state=values["state"],
            maps=values["maps"],
        )

    return pulumi.Output.all(
        telemetry=pulumi.Output.all(*[t.endpoints for t in platform.telemetry]),
        streaming=pulumi.Output.all(*[s.endpoints for s in platform.streaming]),
        provisioning=endpoints_of(platform.provisioning),
        compute=endpoints_of(platform.compute),
        registry=endpoints_of(platform.registry),
        services=pulumi.Output.from_input(platform._services_endpoints),
        state=endpoints_of(platform.state),
        maps=endpoints_of(platform.maps),
    ).apply(combine)
