"""Vehicle state on Azure: a Cosmos DB account replicated only between the profile's two locations."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from components.contracts import STATE_CONTAINER, STATE_DATABASE, BrandStateEndpoints, StateEndpoints, StateTenant
from components.placement import AzurePlacement
from components.private_link import private_endpoint
from platform_model.locations import has_zones
from platform_model.sizing import CosmosPlan
from platform_model.vocabulary import BRAND_TAG

PARTITION_KEY = "/vehicleId"
"""One item per vehicle: the state writer (``cmd/statewriter``, ``partitionKeyField``) writes ``id`` =
``vehicleId`` = the vehicle id."""
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
"""Cosmos DB Built-in Data Contributor, a data-plane role of every NoSQL account (see ``grant_data_contributor``)."""
INDEXED_PATHS: tuple[str, ...] = ("/vehicleId/?", "/lastSeen/?")
"""Index only what lookups use: keeps a 1 KB upsert near the 5 RU the sizing assumes. ``lastSeen`` is
the writer's timestamp field (an RFC 3339 UTC string), for "not seen since" queries."""


@dataclass(frozen=True)
class VehicleStateStoreArgs:
    """The region's Cosmos DB account, database and ``vehicle-state`` container."""

    placement: AzurePlacement
    """Required. Resource group, write location (the profile's primary), cloud, tags, private endpoint."""
    secondary: str | None
    """Required. The profile's secondary: the only replica and failover location (None: none, one region)."""
    sku: CosmosPlan
    """Required. Autoscale max RU/s from ``platform_model.sizing``."""
    zone_redundant: bool = False
    """Optional, default False: zone-redundant replicas and backups (``profile.resilience``). Zone backup
    storage needs zones in every replica location ("Zone-redundant backup storage is only available in
    regions with availability zones": https://learn.microsoft.com/azure/cosmos-db/periodic-backup-storage-redundancy)."""
    brands: tuple[StateTenant, ...] = ()
    """Optional, default none: one ``vehicle-state`` container sized by ``sku``. Otherwise one container
    per brand, ``vehicle-state-<brand>``, sized by the brand's own plan, with the same partition key and
    indexing (``components.contracts.state_tenants``)."""


class VehicleStateStore(pulumi.ComponentResource):
    """Cosmos DB (NoSQL API): Entra-only data access, private, TLS 1.2, backups kept in region.

    Replicas are the primary and the secondary (if any), nothing else, and periodic backups use zone- or
    locally-redundant storage: the default geo-redundant backup copies to the paired region.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    replica_locations: tuple[str, ...]
    endpoints: pulumi.Output[StateEndpoints]

    def __init__(self, name: str, args: VehicleStateStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:state:VehicleStateStore", name, None, opts)
        placement = args.placement
        self.location = placement.location
        self.replica_locations = (placement.location,) + ((args.secondary,) if args.secondary else ())

        account = self._build_account(name, args)
        database = self._build_database(name, args, account)
        if args.brands:
            self._containers = {
                t.container: self._build_container(f"{name}-container-{t.brand}", args, account, database, t)
                for t in args.brands
            }
        else:
            self._containers = {STATE_CONTAINER: self._build_container(f"{name}-container", args, account, database)}
        private_endpoint(f"{name}-pe", self, placement, account.id, "Sql", ("cosmos",))

        self._placement = placement
        self.name = account.name
        self.resource_id = account.id
        suffix = placement.dns.cosmos
        containers = list(self._containers)
        brands = {t.brand: t.container for t in args.brands if t.brand}
        self.endpoints = account.name.apply(lambda n: _endpoints(f"https://{n}.{suffix}:443/", containers, brands))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "replica_locations": list(self.replica_locations),
                "endpoints": self.endpoints,
            }
        )

    def grant_data_contributor(
        self,
        name: str,
        parent: pulumi.Resource,
        principal_id: pulumi.Input[str],
        container: str = STATE_CONTAINER,
    ) -> azure_native.cosmosdb.SqlResourceSqlRoleAssignment:
        """Cosmos DB Built-in Data Contributor for ``principal_id`` on one container of this store only
        (``vehicle-state``, or a brand's ``vehicle-state-<brand>``).

        Data-plane access with Entra ID is a Cosmos DB role assignment, not an Azure one. Built-in role
        ``00000000-0000-0000-0000-000000000002`` holds ``readMetadata`` and every container and item action,
        and an assignment's scope is the account (``/``), a database (``/dbs/<database>``) or a container
        (``/dbs/<database>/colls/<container>``), in ARM written under the account's id
        (https://learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac, "Built-in role definitions",
        "Concepts"; the REST API's SqlRoleAssignment example scopes ``.../databaseAccounts/<account>/dbs/
        <database>/colls/<container>``). The SDK's metadata reads need no wider scope: ``readMetadata`` "can be
        assigned at the account, database, or container scope", and at a container's it allows "Reading
        container metadata", "Listing physical partitions under the container" and "Resolving the address of
        each physical partition" (same page, "Metadata requests"), which is all the writer reads besides its
        items (``cmd/statewriter/store_cosmos.go``: item read, create, upsert, and a container read for
        readiness). So the writer can read and write this container and nothing else of the account: a
        brand's writer cannot read another brand's container (``residency-brand-state-scope`` checks it).
        """
        built = self._containers.get(container)
        if built is None:
            raise ValueError(f"no container {container!r} in this store (it has {', '.join(self._containers)})")
        scope = self.resource_id.apply(lambda a: f"{a}/dbs/{STATE_DATABASE}/colls/{container}")
        return azure_native.cosmosdb.SqlResourceSqlRoleAssignment(
            name,
            resource_group_name=self._placement.resource_group_name,
            account_name=self.name,
            role_definition_id=self.resource_id.apply(lambda a: f"{a}/sqlRoleDefinitions/{COSMOS_DATA_CONTRIBUTOR}"),
            scope=scope,
            principal_id=principal_id,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[built]),
        )

    def _build_account(self, name: str, args: VehicleStateStoreArgs) -> azure_native.cosmosdb.DatabaseAccount:
        """Replicas in the primary and the secondary (if any) only; Entra-only, private, TLS 1.2."""
        placement = args.placement
        replicas = self.replica_locations
        zone_backup = args.zone_redundant and all(has_zones(loc) for loc in replicas)
        return azure_native.cosmosdb.DatabaseAccount(
            f"{name}-account",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="GlobalDocumentDB",
            database_account_offer_type=azure_native.cosmosdb.DatabaseAccountOfferType.STANDARD,
            locations=[
                {
                    "location_name": loc,
                    "failover_priority": priority,
                    "is_zone_redundant": args.zone_redundant and has_zones(loc),
                }
                for priority, loc in enumerate(replicas)
            ],
            enable_automatic_failover=True,
            enable_multiple_write_locations=False,
            consistency_policy={"default_consistency_level": azure_native.cosmosdb.DefaultConsistencyLevel.SESSION},
            backup_policy={
                "type": "Periodic",
                "periodic_mode_properties": {"backup_storage_redundancy": "Zone" if zone_backup else "Local"},
            },
            disable_key_based_metadata_write_access=True,
            disable_local_auth=True,
            public_network_access="Disabled",
            minimal_tls_version="Tls12",
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_database(
        self, name: str, args: VehicleStateStoreArgs, account: azure_native.cosmosdb.DatabaseAccount
    ) -> azure_native.cosmosdb.SqlResourceSqlDatabase:
        placement = args.placement
        return azure_native.cosmosdb.SqlResourceSqlDatabase(
            f"{name}-database",
            resource_group_name=placement.resource_group_name,
            account_name=account.name,
            database_name=STATE_DATABASE,
            location=placement.location,
            resource={"id": STATE_DATABASE},
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _build_container(
        self,
        resource: str,
        args: VehicleStateStoreArgs,
        account: azure_native.cosmosdb.DatabaseAccount,
        database: azure_native.cosmosdb.SqlResourceSqlDatabase,
        tenant: StateTenant | None = None,
    ) -> azure_native.cosmosdb.SqlResourceSqlContainer:
        """``vehicle-state`` (or a brand's own), partitioned by vehicle, autoscaled to the plan's RU/s (the
        brand's), indexing only lookups."""
        placement = args.placement
        container = tenant.container if tenant else STATE_CONTAINER
        sku = tenant.cosmos if tenant else args.sku
        tags = dict(placement.tags) | ({BRAND_TAG: tenant.brand} if tenant and tenant.brand else {})
        return azure_native.cosmosdb.SqlResourceSqlContainer(
            resource,
            resource_group_name=placement.resource_group_name,
            account_name=account.name,
            database_name=database.name,
            container_name=container,
            location=placement.location,
            resource={
                "id": container,
                "partition_key": {"paths": [PARTITION_KEY], "kind": "Hash", "version": 2},
                "indexing_policy": {
                    "automatic": True,
                    "indexing_mode": "consistent",
                    "included_paths": [{"path": p} for p in INDEXED_PATHS],
                    "excluded_paths": [{"path": "/*"}],
                },
            },
            options={"autoscale_settings": {"max_throughput": sku.max_throughput_ru}},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _endpoints(documents: str, containers: list[str], brands: dict[str, str]) -> StateEndpoints:
    """The account endpoint and its container; with brands, each brand's container too."""
    endpoints = StateEndpoints(documents=documents, database=STATE_DATABASE, container=containers[0])
    if brands:
        endpoints["brands"] = {
            brand: BrandStateEndpoints(documents=documents, database=STATE_DATABASE, container=container)
            for brand, container in brands.items()
        }
    return endpoints
