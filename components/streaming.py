"""Event streaming on Azure: one Event Hubs namespace per scale unit, captured to in-region storage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import STATE_WRITER_GROUP, TELEMETRY_STREAM, StreamingEndpoints, streaming_endpoints
from components.placement import STORAGE_BLOB_DATA_CONTRIBUTOR, AzurePlacement, grant_role
from components.private_link import private_endpoint
from platform_model.locations import storage_sku
from platform_model.sizing import EventHubsPlan

TELEMETRY_HUB = TELEMETRY_STREAM
EVENTS_HUB = "events"
KAFKA_PORT = 9093
"""Event Hubs' Kafka endpoint: ``<namespace>.servicebus.windows.net:9093`` with SASL_SSL
(https://learn.microsoft.com/azure/developer/java/spring-framework/migrate-kafka-to-passwordless-connection)."""
CAPTURE_CONTAINER = "capture"
DEFAULT_CONSUMER_GROUPS: tuple[str, ...] = ("stream-processor", STATE_WRITER_GROUP)
CAPTURE_INTERVAL_SECONDS = 300
CAPTURE_SIZE_BYTES = 300 * 1024 * 1024


@dataclass(frozen=True)
class BrandHub:
    """A brand's own telemetry hub in a scale unit's namespace."""

    brand: str
    """Required. The brand (``platform_model.brands``)."""
    hub: str
    """Required. The event hub's name, ``telemetry-<brand>``."""
    partitions: int
    """Required. ``BrandPlan.telemetry_partitions`` (1-32 on Standard)."""
    consumer_groups: Sequence[str]
    """Required. Its readers' groups: the brand writer's, and the region's stream processor's."""


@dataclass(frozen=True)
class EventStreamingArgs:
    """One scale unit's Event Hubs namespace and its capture storage."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary), cloud, tags, private endpoint."""
    sku: EventHubsPlan
    """Required. Throughput units and partitions from ``platform_model.sizing``."""
    capture_account_name: str
    """Required. Globally unique storage account name (``placement.storage_account_name``)."""
    namespace_name: str | None = None
    """Optional, default autonamed. A plain namespace name (``placement.eventhub_namespace_name``), so the
    namespace's network rule set refers to it by a value known at preview."""
    allowed_subnet_id: pulumi.Input[str] | None = None
    """Optional, default None: the namespace is private-endpoint only (publicNetworkAccess Disabled),
    which also shuts out IoT Hub routing's trusted-service path. Set it (the region's node subnet, with
    a Microsoft.EventHub service endpoint) to put the namespace on "selected networks": that subnet,
    private endpoints and trusted Microsoft services only."""
    consumer_groups: Sequence[str] = DEFAULT_CONSUMER_GROUPS
    """Optional, default stream-processor and the state writer's group (``STATE_WRITER_GROUP``, the one
    its Kafka consumer joins): readers of both hubs."""
    retention_days: int = 1
    """Optional, default 1: capture keeps the long-term copy in region."""
    brand_hubs: Sequence[BrandHub] = ()
    """Optional, default none: the region's one ``telemetry`` hub. With brands, one hub per brand in its place
    (IoT Hub routes each brand's vehicles to their own), so a brand's identity can be given its own hub and
    no other (``components.platform``); ``events`` stays the region's."""


class EventStreaming(pulumi.ComponentResource):
    """Event Hubs namespace with ``telemetry`` and ``events`` hubs, consumer groups and capture.

    Capture writes to a storage account in the same location with zone- or locally-redundant
    storage only: GRS/RA-GRS would replicate to the paired region, which may leave the boundary.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    endpoint_uri: pulumi.Output[str]
    kafka_bootstrap: str | None
    """``<namespace>.<servicebus suffix>:9093`` as a plain string where the program names the namespace
    (``EventStreamingArgs.namespace_name``), for workload arguments; None for an autonamed namespace."""
    capture_storage_id: pulumi.Output[str]
    telemetry_hub: str
    """The region's telemetry hub; with brands, the first brand's."""
    events_hub: str
    brand_hub_scopes: dict[str, pulumi.Output[str]]
    """With brands: brand -> ARM id of its own hub (``<namespace id>/eventhubs/<hub>``), the scope of its
    writer's Data Receiver role; empty without brands."""
    endpoints: pulumi.Output[StreamingEndpoints]

    def __init__(self, name: str, args: EventStreamingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:streaming:EventStreaming", name, None, opts)
        placement = args.placement
        self.location = placement.location
        self.telemetry_hub = args.brand_hubs[0].hub if args.brand_hubs else TELEMETRY_HUB
        self.events_hub = EVENTS_HUB

        namespace = self._build_namespace(name, args)
        if args.allowed_subnet_id is not None:
            self._build_network_rules(name, args, namespace, args.allowed_subnet_id)
        storage = self._build_capture_account(name, args)
        capture_ready = self._build_capture_access(name, args, namespace, storage)
        hubs = self._build_hubs(name, args, namespace, storage, capture_ready)
        self.brand_hub_scopes = {
            b.brand: pulumi.Output.all(namespace.id, hubs[b.hub].name).apply(lambda v: f"{v[0]}/eventhubs/{v[1]}")
            for b in args.brand_hubs
        }
        private_endpoint(f"{name}-pe", self, placement, namespace.id, "namespace", ("servicebus",))
        private_endpoint(f"{name}-capture-pe", self, placement, storage.id, "blob", ("blob",))

        self.name = namespace.name
        self.resource_id = namespace.id
        self.capture_storage_id = storage.id
        suffix = placement.dns.servicebus
        self.kafka_bootstrap = f"{args.namespace_name}.{suffix}:{KAFKA_PORT}" if args.namespace_name else None
        self.endpoint_uri = namespace.name.apply(lambda n: f"sb://{n}.{suffix}")
        brand_topics = {b.brand: b.hub for b in args.brand_hubs}
        self.endpoints = namespace.name.apply(
            lambda n: streaming_endpoints(f"{n}.{suffix}:{KAFKA_PORT}", self.telemetry_hub, EVENTS_HUB, brand_topics)
        )
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "endpoint_uri": self.endpoint_uri,
                "capture_storage_id": self.capture_storage_id,
                "endpoints": self.endpoints,
            }
        )

    def _build_namespace(self, name: str, args: EventStreamingArgs) -> azure_native.eventhub.Namespace:
        """Entra-only, TLS 1.2, fixed throughput units; public access only for "selected networks"."""
        placement = args.placement
        return azure_native.eventhub.Namespace(
            f"{name}-namespace",
            namespace_name=args.namespace_name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": args.sku.sku, "tier": args.sku.sku, "capacity": args.sku.throughput_units},
            is_auto_inflate_enabled=False,
            identity={"type": azure_native.eventhub.ManagedServiceIdentityType.SYSTEM_ASSIGNED},
            disable_local_auth=True,
            minimum_tls_version="1.2",
            public_network_access="Disabled" if args.allowed_subnet_id is None else "Enabled",
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_network_rules(
        self,
        name: str,
        args: EventStreamingArgs,
        namespace: azure_native.eventhub.Namespace,
        subnet_id: pulumi.Input[str],
    ) -> None:
        """ "Selected networks": IoT Hub routing reaches the namespace through the trusted-services
        exception, which the docs set up on selected networks, not on Disabled
        (https://learn.microsoft.com/azure/iot-hub/virtual-network-support, "Egress connectivity to event
        hubs endpoints for routing"). Event Hubs treats a rule set without any IP or VNet rule as open to
        the internet even with defaultAction Deny
        (https://learn.microsoft.com/azure/event-hubs/event-hubs-ip-filtering), so the region's own node
        subnet is the one network selected; no IP rule."""
        azure_native.eventhub.NamespaceNetworkRuleSet(
            f"{name}-network",
            resource_group_name=args.placement.resource_group_name,
            namespace_name=args.namespace_name or namespace.name,
            default_action="Deny",
            public_network_access="Enabled",
            ip_rules=[],
            virtual_network_rules=[{"subnet": {"id": subnet_id}, "ignore_missing_vnet_service_endpoint": False}],
            trusted_service_access_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )

    def _build_capture_account(self, name: str, args: EventStreamingArgs) -> azure_native.storage.StorageAccount:
        """Capture storage in the namespace's location, zone- or locally-redundant, Entra-only."""
        placement = args.placement
        return azure_native.storage.StorageAccount(
            f"{name}-capture",
            account_name=args.capture_account_name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": storage_sku(placement.location)},
            kind="StorageV2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            allow_cross_tenant_replication=False,
            default_to_o_auth_authentication=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            # Capture writes as the namespace's identity through the trusted-services exception, which
            # applies to "selected networks" (Enabled + default Deny + bypass AzureServices), not to
            # Disabled (https://learn.microsoft.com/azure/event-hubs/event-hubs-capture-managed-identity,
            # learn.microsoft.com/azure/storage/common/storage-network-security-trusted-azure-services).
            # No IP or VNet rule: nothing else gets in but the private endpoint (for Storage, unlike Event
            # Hubs, default Deny without rules denies).
            public_network_access="Enabled",
            network_rule_set={
                "default_action": azure_native.storage.DefaultAction.DENY,
                "bypass": "AzureServices",
                "ip_rules": [],
                "virtual_network_rules": [],
            },
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_capture_access(
        self,
        name: str,
        args: EventStreamingArgs,
        namespace: azure_native.eventhub.Namespace,
        storage: azure_native.storage.StorageAccount,
    ) -> list[pulumi.Resource]:
        """The capture container and the namespace identity's right to write it: what hubs wait for."""
        container = azure_native.storage.BlobContainer(
            f"{name}-capture-container",
            resource_group_name=args.placement.resource_group_name,
            account_name=storage.name,
            container_name=CAPTURE_CONTAINER,
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        writer = grant_role(
            f"{name}-capture-writer",
            self,
            storage.id,
            namespace.identity.apply(lambda i: i.principal_id if i else ""),
            STORAGE_BLOB_DATA_CONTRIBUTOR,
        )
        return [writer, container]

    def _build_hubs(
        self,
        name: str,
        args: EventStreamingArgs,
        namespace: azure_native.eventhub.Namespace,
        storage: azure_native.storage.StorageAccount,
        capture_ready: list[pulumi.Resource],
    ) -> dict[str, azure_native.eventhub.EventHub]:
        """The ``telemetry`` (or each brand's) and ``events`` hubs, captured to storage, each with its
        consumer groups; the resource logical names of a stack without brands are the ones it always had."""
        rg = args.placement.resource_group_name
        wanted: dict[str, tuple[int, Sequence[str]]] = (
            {b.hub: (b.partitions, b.consumer_groups) for b in args.brand_hubs}
            if args.brand_hubs
            else {TELEMETRY_HUB: (args.sku.telemetry_partitions, args.consumer_groups)}
        )
        wanted[EVENTS_HUB] = (args.sku.events_partitions, args.consumer_groups)
        built: dict[str, azure_native.eventhub.EventHub] = {}
        for hub_name, (partitions, groups) in wanted.items():
            hub = azure_native.eventhub.EventHub(
                f"{name}-{hub_name}",
                resource_group_name=rg,
                namespace_name=namespace.name,
                event_hub_name=hub_name,
                partition_count=partitions,
                message_retention_in_days=args.retention_days,
                capture_description=_capture_description(storage.id),
                opts=pulumi.ResourceOptions(parent=self, depends_on=capture_ready),
            )
            built[hub_name] = hub
            for group in groups:
                azure_native.eventhub.ConsumerGroup(
                    f"{name}-{hub_name}-{group}",
                    resource_group_name=rg,
                    namespace_name=namespace.name,
                    event_hub_name=hub.name,
                    consumer_group_name=group,
                    opts=pulumi.ResourceOptions(parent=self),
                )
        return built


def _capture_description(
    storage_id: pulumi.Output[str],
) -> azure_native.eventhub.CaptureDescriptionArgsDict:
    """Avro capture into the capture container, written as the namespace's system identity."""
    return {
        "enabled": True,
        "encoding": azure_native.eventhub.EncodingCaptureDescription.AVRO,
        "interval_in_seconds": CAPTURE_INTERVAL_SECONDS,
        "size_limit_in_bytes": CAPTURE_SIZE_BYTES,
        "skip_empty_archives": True,
        "destination": {
            "name": "EventHubArchive.AzureBlockBlob",
            "storage_account_resource_id": storage_id,
            "blob_container": CAPTURE_CONTAINER,
            "archive_name_format": "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}",
            "identity": {"type": azure_native.eventhub.CaptureIdentityType.SYSTEM_ASSIGNED},
        },
    }
