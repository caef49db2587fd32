"""Each azure component alone under mocks: secure defaults, sizing and residency on recorded inputs."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest

from components.compute import ComputeCluster, ComputeClusterArgs
from components.contracts import STATE_CONTAINER
from components.maps import MapsService, MapsServiceArgs
from components.network import PrivateNetwork, PrivateNetworkArgs
from components.placement import (
    AKS_RBAC_CLUSTER_ADMIN,
    EVENT_HUBS_DATA_SENDER,
    NETWORK_CONTRIBUTOR,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    AzurePlacement,
    storage_account_name,
)
from components.state import VehicleStateStore, VehicleStateStoreArgs
from components.streaming import EventStreaming, EventStreamingArgs
from components.telemetry import (
    DeviceAccess,
    DeviceProvisioning,
    DeviceProvisioningArgs,
    DpsLinkKeys,
    EventHubsRoute,
    LinkedHub,
    TelemetryIngest,
    TelemetryIngestArgs,
    derive_link_key,
    dps_link_keys,
    dps_link_secret,
)
from platform_model.sizing import AksPlan, CosmosPlan, EventHubsPlan, IotHubPlan
from tests.conftest import DYNAMIC_RESOURCE, MOCK_LINK_SECRET, SUBSCRIPTION, PulumiHarness

TAGS = {"region": "eu", "data-classification": "vehicle-data", "data-residency": "eu"}
SUBNET = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/pe"
NAMESPACE_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/ns1"
ZONES = {
    key: f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/{key}"
    for key in ("iothub", "dps", "servicebus", "blob", "cosmos")
}


def placement(location: str = "westeurope", cloud: Any = "public", private: bool = True) -> AzurePlacement:
    return AzurePlacement(
        resource_group_name="rg",
        location=location,
        cloud=cloud,
        tags=TAGS,
        private_endpoint_subnet_id=SUBNET if private else None,
        private_dns_zone_ids=ZONES if private else {},
    )


def route() -> EventHubsRoute:
    return EventHubsRoute(
        namespace_id=NAMESPACE_ID,
        endpoint_uri="sb://ns1.servicebus.windows.net",
        telemetry_hub="telemetry",
        events_hub="events",
    )


def outputs(h: PulumiHarness, component: Any, *names: str) -> dict[str, Any]:
    return {name: h.value(getattr(component, name)) for name in names}


def test_telemetry_ingest_is_reachable_by_vehicles_x509_only_and_sized(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = IotHubPlan(tier="S3", units=5, partitions=8, devices=1_000_000)
    ingest = pulumi_harness.run(
        lambda: TelemetryIngest(
            "eu-telemetry-1", TelemetryIngestArgs(placement(), sku, False, min_tls=True, route=route())
        )
    )

    hub = mocks.one("azure-native:iothub:IotHubResource")
    assert hub.name == "eu-telemetry-1-iothub"
    assert hub.inputs["location"] == "westeurope"
    assert hub.inputs["sku"] == {"name": "S3", "capacity": 5}
    props = hub.inputs["properties"]
    assert props["minTlsVersion"] == "1.2"
    # Shared access stays allowed for the DPS link only; vehicles use X.509 (no device or module SAS).
    assert props["disableLocalAuth"] is False
    assert (props["disableDeviceSAS"], props["disableModuleSAS"]) == (True, True)
    assert props["publicNetworkAccess"] == "Enabled" and props["ipFilterRules"] == []
    assert "enableDataResidency" not in props
    assert props["eventHubEndpoints"]["events"]["partitionCount"] == 8
    assert [(p["keyName"], p["rights"]) for p in props["authorizationPolicies"]] == [
        ("dps-link", "RegistryWrite, ServiceConnect")
    ]
    assert hub.inputs["identity"] == {"type": "SystemAssigned"}
    assert hub.inputs["tags"] == TAGS

    # Live (the default): routes into the unit's namespace as the hub's system-assigned identity.
    routing = props["routing"]
    endpoints = routing["endpoints"]["eventHubs"]
    assert {e["entityPath"] for e in endpoints} == {"telemetry", "events"}
    assert all(e["authenticationType"] == "identityBased" and "identity" not in e for e in endpoints)
    assert all(e["endpointUri"] == "sb://ns1.servicebus.windows.net" for e in endpoints)
    assert all("connectionString" not in e for e in endpoints)
    assert {r["source"] for r in routing["routes"]} == {
        "DeviceMessages",
        "DeviceLifecycleEvents",
        "DeviceConnectionStateEvents",
    }
    assert routing["fallbackRoute"]["endpointNames"] == ["events"]
    assert routing["fallbackRoute"]["isEnabled"] is True
    assert not mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")
    assert_sender_grant(mocks, "eu-telemetry-1")

    endpoint = mocks.one("azure-native:network:PrivateEndpoint")
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["iotHub"]
    assert endpoint.inputs["subnet"] == {"id": SUBNET}
    zones = mocks.one("azure-native:network:PrivateDnsZoneGroup").inputs["privateDnsZoneConfigs"]
    assert [z["name"] for z in zones] == ["iothub", "servicebus"]

    out = outputs(pulumi_harness, ingest, "name", "resource_id", "endpoints")
    assert out["endpoints"] == {
        "mqtt": "eu-telemetry-1-iothub.azure-devices.net:8883",
        "hostname": "eu-telemetry-1-iothub.azure-devices.net",
    }
    assert out["resource_id"].endswith("/eu-telemetry-1-iothub")
    assert ingest.location == "westeurope"


def assert_sender_grant(mocks: Any, component: str, namespace_id: str = NAMESPACE_ID) -> None:
    """The one role assignment of a hub: Event Hubs Data Sender for its own system identity on its
    unit's namespace."""
    grants = [g for g in mocks.of_type("azure-native:authorization:RoleAssignment") if g.name.startswith(component)]
    assert [g.name for g in grants] == [f"{component}-trusted-sender"]
    grant = grants[0].inputs
    assert grant["principalId"] == f"principal-{component}-iothub"
    assert grant["principalType"] == "ServicePrincipal"
    assert grant["scope"] == namespace_id
    assert grant["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{EVENT_HUBS_DATA_SENDER}"
    )


def test_staged_hub_routes_nowhere_yet_but_its_identity_is_granted(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = IotHubPlan(tier="S1", units=1, partitions=4, devices=10)
    pulumi_harness.run(
        lambda: TelemetryIngest(
            "eu-telemetry-2",
            TelemetryIngestArgs(placement(), sku, False, min_tls=True, route=route(), routing="staged"),
        )
    )
    hub = mocks.one("azure-native:iothub:IotHubResource")
    assert hub.inputs["identity"] == {"type": "SystemAssigned"}
    routing = hub.inputs["properties"]["routing"]
    assert "endpoints" not in routing and "routes" not in routing
    assert routing["fallbackRoute"]["endpointNames"] == ["events"]
    assert_sender_grant(mocks, "eu-telemetry-2")


def test_telemetry_ingest_without_route_keeps_fallback_only(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = IotHubPlan(tier="S1", units=1, partitions=4, devices=10)
    pulumi_harness.run(
        lambda: TelemetryIngest(
            "t", TelemetryIngestArgs(placement(private=False), sku, data_residency=False, min_tls=True)
        )
    )
    hub = mocks.one("azure-native:iothub:IotHubResource")
    assert "enableDataResidency" not in hub.inputs["properties"]
    assert "endpoints" not in hub.inputs["properties"]["routing"]
    assert hub.inputs["identity"]["type"] == "SystemAssigned"
    assert not mocks.of_type("azure-native:network:PrivateEndpoint")
    assert not mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")


def test_device_provisioning_links_every_hub_with_secret_keys(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    keys = [f"a2V5LW9mLWh1Yi0{i}" for i in range(1, 4)]
    hubs = [
        LinkedHub(name=f"hub-{i}", location="westeurope", key=pulumi.Output.secret(key))
        for i, key in enumerate(keys, start=1)
    ]
    dps = pulumi_harness.run(
        lambda: DeviceProvisioning("eu-provisioning", DeviceProvisioningArgs(placement(), hubs, 3, True))
    )
    resource = mocks.one("azure-native:deviceprovisioningservices:IotDpsResource")
    props = resource.inputs["properties"]
    assert [h["connectionString"] for h in props["iotHubs"]] == [
        f"HostName=hub-{i}.azure-devices.net;SharedAccessKeyName=dps-link;SharedAccessKey={key}"
        for i, key in enumerate(keys, start=1)
    ]
    assert all(h["location"] == "westeurope" for h in props["iotHubs"])
    assert props["allocationPolicy"] == "Hashed"
    assert props["publicNetworkAccess"] == "Enabled"
    assert props["enableDataResidency"] is True
    assert resource.inputs["sku"] == {"name": "S1", "capacity": 3}
    # The hubs' keys only ever travel as a secret, and come from the stack: nothing is read from Azure.
    assert "properties" in resource.secret_paths
    assert mocks.calls == []

    endpoints = pulumi_harness.value(dps.endpoints)
    # The instance's own endpoint, never global.azure-devices-provisioning.net (provisioning stays in region).
    assert endpoints == {
        "device_endpoint": "eu-provisioning-dps.azure-devices-provisioning.net",
        "id_scope": "0ne00000001",
    }
    assert not pulumi_harness.is_secret(dps.endpoints)


def test_device_provisioning_in_china_uses_china_endpoints(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-cn")
    hubs = [LinkedHub(name="hub-1", location="chinanorth3", key="a2V5")]
    dps = pulumi_harness.run(
        lambda: DeviceProvisioning(
            "cn-provisioning", DeviceProvisioningArgs(placement("chinanorth3", "china"), hubs, 1, True)
        )
    )
    props = mocks.one("azure-native:deviceprovisioningservices:IotDpsResource").inputs["properties"]
    assert props["iotHubs"][0]["connectionString"].startswith("HostName=hub-1.azure-devices.cn;")
    assert pulumi_harness.value(dps.endpoints)["device_endpoint"] == "cn-provisioning-dps.azure-devices-provisioning.cn"


def test_link_keys_derive_from_the_stack_secret_one_per_hub_and_slot() -> None:
    first = derive_link_key(MOCK_LINK_SECRET, "unit-1", "primary")
    # 32 bytes in standard base64, as Azure's own keys (IoT Hub signs with the key decoded from base64).
    assert len(base64.b64decode(first, validate=True)) == 32
    assert derive_link_key(MOCK_LINK_SECRET, "unit-1", "primary") == first
    others = {
        derive_link_key(MOCK_LINK_SECRET, "unit-1", "secondary"),
        derive_link_key(MOCK_LINK_SECRET, "unit-2", "primary"),
        derive_link_key(MOCK_LINK_SECRET.swapcase(), "unit-1", "primary"),
    }
    assert first not in others and len(others) == 3
    assert MOCK_LINK_SECRET not in first


def test_hub_link_policy_carries_the_stack_keys_as_secrets(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = IotHubPlan(tier="S1", units=1, partitions=4, devices=10)

    def program() -> DpsLinkKeys:
        keys = dps_link_keys(dps_link_secret("eu-dps-link", pulumi.ComponentResource("t:t:T", "p")), "unit-1")
        args = TelemetryIngestArgs(placement(private=False), sku, data_residency=False, min_tls=True, dps_link=keys)
        TelemetryIngest("eu-telemetry-1", args)
        return keys

    keys = pulumi_harness.run(program)
    secret = mocks.one(DYNAMIC_RESOURCE)
    assert secret.name == "eu-dps-link"
    assert "__provider" in secret.inputs
    assert pulumi_harness.is_secret(keys.primary) and pulumi_harness.is_secret(keys.secondary)
    hub = mocks.one("azure-native:iothub:IotHubResource")
    policies = hub.inputs["properties"]["authorizationPolicies"]
    assert policies == [
        {
            "keyName": "dps-link",
            "rights": "RegistryWrite, ServiceConnect",
            "primaryKey": derive_link_key(MOCK_LINK_SECRET, "unit-1", "primary"),
            "secondaryKey": derive_link_key(MOCK_LINK_SECRET, "unit-1", "secondary"),
        }
    ]
    # The keys make the hub's properties a secret (in the state too); they are no output of the hub.
    assert "properties" in hub.secret_paths
    assert mocks.calls == []


@pytest.mark.parametrize(("location", "storage"), [("westeurope", "Standard_ZRS"), ("germanynorth", "Standard_LRS")])
def test_event_streaming_sized_private_and_captured_in_region(
    pulumi_harness: PulumiHarness, location: str, storage: str
) -> None:
    mocks = pulumi_harness.start()
    sku = EventHubsPlan(sku="Standard", throughput_units=17, telemetry_partitions=17, events_partitions=4)
    account = storage_account_name("eu", "capture", 1)
    stream = pulumi_harness.run(
        lambda: EventStreaming(
            "eu-streaming-1",
            EventStreamingArgs(
                placement(location), sku, account, namespace_name="ac-eu-stream-1-x", allowed_subnet_id=SUBNET
            ),
        )
    )

    namespace = mocks.one("azure-native:eventhub:Namespace")
    assert namespace.inputs["sku"] == {"name": "Standard", "tier": "Standard", "capacity": 17}
    assert namespace.inputs["location"] == location
    assert namespace.inputs["minimumTlsVersion"] == "1.2"
    assert namespace.inputs["disableLocalAuth"] is True
    # Selected networks: the node subnet, private endpoints and trusted services (IoT Hub routing) only.
    assert namespace.inputs["publicNetworkAccess"] == "Enabled"
    rules = mocks.one("azure-native:eventhub:NamespaceNetworkRuleSet").inputs
    assert (rules["defaultAction"], rules["ipRules"]) == ("Deny", [])
    assert rules["virtualNetworkRules"] == [{"subnet": {"id": SUBNET}, "ignoreMissingVnetServiceEndpoint": False}]
    assert rules["trustedServiceAccessEnabled"] is True
    # The rule set names its namespace by a plain value, known at preview.
    assert (namespace.inputs["namespaceName"], rules["namespaceName"]) == ("ac-eu-stream-1-x", "ac-eu-stream-1-x")

    capture = mocks.one("azure-native:storage:StorageAccount")
    assert capture.inputs["accountName"] == account and len(account) <= 24 and account.isalnum()
    assert capture.inputs["location"] == location
    assert capture.inputs["sku"] == {"name": storage}
    assert capture.inputs["allowBlobPublicAccess"] is False
    assert capture.inputs["allowSharedKeyAccess"] is False
    assert capture.inputs["minimumTlsVersion"] == "TLS1_2"
    assert capture.inputs["publicNetworkAccess"] == "Enabled"
    assert capture.inputs["networkRuleSet"] == {
        "defaultAction": "Deny",
        "bypass": "AzureServices",
        "ipRules": [],
        "virtualNetworkRules": [],
    }

    hubs = {h.inputs["eventHubName"]: h.inputs for h in mocks.of_type("azure-native:eventhub:EventHub")}
    assert hubs["telemetry"]["partitionCount"] == 17
    assert hubs["events"]["partitionCount"] == 4
    for hub in hubs.values():
        destination = hub["captureDescription"]["destination"]
        assert hub["captureDescription"]["enabled"] is True
        assert destination["storageAccountResourceId"].endswith(f"/{account}")
        assert destination["identity"] == {"type": "SystemAssigned"}
    groups = {
        (g.inputs["eventHubName"], g.inputs["consumerGroupName"])
        for g in mocks.of_type("azure-native:eventhub:ConsumerGroup")
    }
    assert groups == {(h, g) for h in ("telemetry", "events") for g in ("stream-processor", "statewriter")}

    writer = mocks.one("azure-native:authorization:RoleAssignment")
    assert writer.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_CONTRIBUTOR)
    assert writer.inputs["principalId"] == "principal-eu-streaming-1-namespace"
    groups_ids = sorted(
        e.inputs["privateLinkServiceConnections"][0]["groupIds"][0]
        for e in mocks.of_type("azure-native:network:PrivateEndpoint")
    )
    assert groups_ids == ["blob", "namespace"]

    # the endpoint is built from the namespace's Azure name (its namespaceName), as Azure answers it
    namespace_name = mocks.one("azure-native:eventhub:Namespace").inputs["namespaceName"]
    assert pulumi_harness.value(stream.endpoint_uri) == f"sb://{namespace_name}.servicebus.windows.net"
    assert pulumi_harness.value(stream.endpoints)["kafka"] == f"{namespace_name}.servicebus.windows.net:9093"


def test_compute_cluster_private_rbac_autoscaled(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = AksPlan(vm_size="Standard_D4s_v5", system_nodes=3, user_min_nodes=7, user_max_nodes=20)
    cluster = pulumi_harness.run(
        lambda: ComputeCluster(
            "eu-compute",
            ComputeClusterArgs(
                placement(),
                sku,
                "autocloud-eu",
                True,
                "10.100.0.0/16",
                "10.100.0.10",
                "10.244.0.0/16",
                SUBNET,
                cluster_admins=["00000000-0000-0000-0000-0000000000aa"],
            ),
        )
    )
    aks = mocks.one("azure-native:containerservice:ManagedCluster").inputs
    assert aks["location"] == "westeurope"
    assert aks["aadProfile"] == {"managed": True, "enableAzureRBAC": True}
    assert aks["disableLocalAccounts"] is True
    assert aks["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert aks["apiServerAccessProfile"]["enablePrivateClusterPublicFQDN"] is False
    pools = {p["name"]: p for p in aks["agentPoolProfiles"]}
    assert pools["system"]["mode"] == "System" and pools["system"]["count"] == 3
    assert pools["user"]["enableAutoScaling"] is True
    assert (pools["user"]["minCount"], pools["user"]["maxCount"]) == (7, 20)
    assert all(p["vnetSubnetID"] == SUBNET and p["availabilityZones"] == ["1", "2", "3"] for p in pools.values())
    assert aks["addonProfiles"]["omsagent"]["enabled"] is True
    workspace = mocks.one("azure-native:operationalinsights:Workspace").inputs
    assert workspace["location"] == "westeurope" and workspace["features"]["disableLocalAuth"] is True
    assert aks["addonProfiles"]["omsagent"]["config"]["logAnalyticsWorkspaceResourceID"].endswith("/eu-compute-logs")
    network = aks["networkProfile"]
    assert (network["serviceCidr"], network["dnsServiceIP"], network["podCidr"]) == (
        "10.100.0.0/16",
        "10.100.0.10",
        "10.244.0.0/16",
    )
    assert workspace["publicNetworkAccessForQuery"] == "Enabled"
    rule = mocks.one("azure-native:monitor:DataCollectionRule").inputs
    assert rule["dataFlows"] == [
        {"streams": ["Microsoft-ContainerInsights-Group-Default"], "destinations": ["ciworkspace"]}
    ]
    assert rule["destinations"]["logAnalytics"][0]["workspaceResourceId"].endswith("/eu-compute-logs")
    association = mocks.one("azure-native:monitor:DataCollectionRuleAssociation").inputs
    assert association["resourceUri"].endswith("/eu-compute-aks")
    assert association["dataCollectionRuleId"].endswith("/eu-compute-insights")
    grants = {g.name: g.inputs for g in mocks.of_type("azure-native:authorization:RoleAssignment")}
    subnet = grants["eu-compute-subnet-access"]
    assert subnet["scope"] == SUBNET and subnet["roleDefinitionId"].endswith(NETWORK_CONTRIBUTOR)
    admin = grants["eu-compute-admin-0"]
    assert admin["scope"].endswith("/eu-compute-aks")
    assert admin["principalId"] == "00000000-0000-0000-0000-0000000000aa"
    assert admin["roleDefinitionId"].endswith(AKS_RBAC_CLUSTER_ADMIN)
    assert pulumi_harness.value(cluster.endpoints) == {"api_server": "eu-compute-aks.privatelink.westeurope.azmk8s.io"}


def test_vehicle_state_store_replicates_only_inside_the_profile(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = CosmosPlan(writes_per_second=33_333.3, max_throughput_ru=201_000, physical_partitions=21)
    store = pulumi_harness.run(
        lambda: VehicleStateStore("eu-state", VehicleStateStoreArgs(placement(), "northeurope", sku, True))
    )
    account = mocks.one("azure-native:cosmosdb:DatabaseAccount").inputs
    assert [(loc["locationName"], loc["failoverPriority"]) for loc in account["locations"]] == [
        ("westeurope", 0),
        ("northeurope", 1),
    ]
    assert account["backupPolicy"]["periodicModeProperties"]["backupStorageRedundancy"] == "Zone"
    assert account["disableKeyBasedMetadataWriteAccess"] is True
    assert account["disableLocalAuth"] is True
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["minimalTlsVersion"] == "Tls12"
    container = mocks.one("azure-native:cosmosdb:SqlResourceSqlContainer").inputs
    assert container["containerName"] == STATE_CONTAINER
    assert container["resource"]["partitionKey"]["paths"] == ["/vehicleId"]
    assert container["options"] == {"autoscaleSettings": {"maxThroughput": 201_000}}
    assert mocks.one("azure-native:network:PrivateEndpoint").inputs["privateLinkServiceConnections"][0]["groupIds"] == [
        "Sql"
    ]
    assert store.replica_locations == ("westeurope", "northeurope")
    assert pulumi_harness.value(store.endpoints)["documents"] == "https://eu-state-account.documents.azure.com:443/"


def test_maps_service_uses_geography_endpoint(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-us")
    maps = pulumi_harness.run(lambda: MapsService("us-maps", MapsServiceArgs(placement("eastus"))))
    account = mocks.one("azure-native:maps:Account").inputs
    assert account["location"] == "eastus"
    assert account["properties"]["disableLocalAuth"] is True
    assert account["sku"] == {"name": "G2"}
    assert pulumi_harness.value(maps.endpoints) == {"api": "https://us.atlas.microsoft.com"}
    assert pulumi_harness.value(maps.client_id) == "unique-us-maps-account"


def test_maps_service_refuses_azure_china(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-cn")
    with pytest.raises(ValueError, match="Azure Maps is not offered in Azure China"):
        pulumi_harness.run(lambda: MapsService("cn-maps", MapsServiceArgs(placement("chinanorth3", "china"))))
    assert not mocks.of_type("azure-native:maps:Account")


def test_private_network_zones_are_global_and_linked(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start("azure-cn")
    network = pulumi_harness.run(
        lambda: PrivateNetwork(
            "cn-network", PrivateNetworkArgs(placement("chinanorth3", "china", private=False), ["iothub", "cosmos"])
        )
    )
    assert mocks.one("azure-native:network:VirtualNetwork").inputs["location"] == "chinanorth3"
    zones = mocks.of_type("azure-native:privatedns:PrivateZone")
    assert sorted(z.inputs["privateZoneName"] for z in zones) == [
        "privatelink.azure-devices.cn",
        "privatelink.documents.azure.cn",
    ]
    assert {z.inputs["location"] for z in zones} == {"global"}
    links = mocks.of_type("azure-native:privatedns:VirtualNetworkLink")
    assert len(links) == 2 and all(link.inputs["registrationEnabled"] is False for link in links)
    subnets = {s.name: s.inputs for s in mocks.of_type("azure-native:network:Subnet")}
    assert subnets["cn-network-endpoints"]["privateEndpointNetworkPolicies"] == "Disabled"
    assert set(network.dns_zone_ids) == {"iothub", "cosmos"}


def test_components_never_read_config(pulumi_harness: PulumiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("components must not call pulumi.Config()")

    pulumi_harness.start()
    monkeypatch.setattr(pulumi.Config, "__init__", refuse)
    sku = IotHubPlan(tier="S1", units=1, partitions=4, devices=10)
    pulumi_harness.run(lambda: TelemetryIngest("t", TelemetryIngestArgs(placement(), sku, False, True, route=route())))


def test_vehicle_state_store_without_zones_backs_up_locally(pulumi_harness: PulumiHarness) -> None:
    """China East 2 has no availability zones: neither its replica nor the backups can be zonal."""
    mocks = pulumi_harness.start("azure-cn")
    sku = CosmosPlan(writes_per_second=100, max_throughput_ru=4_000, physical_partitions=1)
    pulumi_harness.run(
        lambda: VehicleStateStore(
            "cn-state", VehicleStateStoreArgs(placement("chinanorth3", "china"), "chinaeast2", sku, False)
        )
    )
    account = mocks.one("azure-native:cosmosdb:DatabaseAccount").inputs
    assert account["backupPolicy"]["periodicModeProperties"]["backupStorageRedundancy"] == "Local"
    assert [loc["isZoneRedundant"] for loc in account["locations"]] == [False, False]


def test_device_endpoints_private_or_filtered_on_request(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = IotHubPlan(tier="S1", units=1, partitions=4, devices=10)
    pulumi_harness.run(
        lambda: [
            TelemetryIngest(
                "apn", TelemetryIngestArgs(placement(), sku, False, min_tls=True, devices=DeviceAccess(public=False))
            ),
            TelemetryIngest(
                "filtered",
                TelemetryIngestArgs(
                    placement(), sku, False, min_tls=False, devices=DeviceAccess(ip_filter=["198.51.100.0/24"])
                ),
            ),
        ]
    )
    hubs = {h.name: h.inputs["properties"] for h in mocks.of_type("azure-native:iothub:IotHubResource")}
    assert hubs["apn-iothub"]["publicNetworkAccess"] == "Disabled"
    assert hubs["filtered-iothub"]["publicNetworkAccess"] == "Enabled"
    assert "minTlsVersion" not in hubs["filtered-iothub"]
    assert hubs["filtered-iothub"]["ipFilterRules"] == [
        {"filterName": "allow-0", "action": "Accept", "ipMask": "198.51.100.0/24"},
        {"filterName": "reject-others", "action": "Reject", "ipMask": "0.0.0.0/0"},
    ]


def test_device_provisioning_registers_the_fleet_ca(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    hubs = [LinkedHub(name="hub-1", location="westeurope", key="a2V5")]
    pulumi_harness.run(
        lambda: DeviceProvisioning(
            "eu-provisioning", DeviceProvisioningArgs(placement(), hubs, 1, False, ca_certificate=pem)
        )
    )
    certificate = mocks.one("azure-native:deviceprovisioningservices:DpsCertificate").inputs
    assert certificate["properties"] == {"certificate": pem.strip(), "isVerified": True}
    assert certificate["certificateName"] == "fleet-ca"


def test_event_streaming_without_a_network_is_private_endpoint_only(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    sku = EventHubsPlan(sku="Standard", throughput_units=1, telemetry_partitions=4, events_partitions=2)
    pulumi_harness.run(lambda: EventStreaming("s", EventStreamingArgs(placement(private=False), sku, "acsx1")))
    assert mocks.one("azure-native:eventhub:Namespace").inputs["publicNetworkAccess"] == "Disabled"
    assert not mocks.of_type("azure-native:eventhub:NamespaceNetworkRuleSet")
