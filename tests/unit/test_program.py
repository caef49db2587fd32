"""The Pulumi program (``__main__.py``) under mocks, once per shipped azure stack."""

from __future__ import annotations

import json
import sys
import types
from collections import Counter
from typing import Any

import pulumi
import pytest
import yaml

from autocloud.operations.images_push import AZURE_IMAGES
from autocloud.runtime.images import program_images
from autocloud.verification.check.runner import arm_id
from components.contracts import STATE_CONTAINER, RegionalPlatformArgs
from components.services import registry_image
from components.telemetry import derive_link_key
from platform_model.paths import STACKS_DIR
from platform_model.profiles import available_profiles, load_profile
from platform_model.sizing import plan_for_profile
from platform_model.vocabulary import REQUIRED_TAGS
from tests.conftest import DYNAMIC_RESOURCE, MOCK_LINK_SECRET, ProgramRun, PulumiHarness, Recorded
from tests.unit.components.test_delivery import TARGET_PATHS, flatten

STACKS = tuple(f"azure-{region}" for region in available_profiles())
"""Every region profile's azure stack: a new profile is in every test below without naming it."""
SLOTS = ("primary", "secondary")
GLOBAL_TYPES = {"azure-native:privatedns:PrivateZone", "azure-native:privatedns:VirtualNetworkLink"}
PER_SCALE_UNIT = {
    "azure-native:iothub:IotHubResource": 1,
    "azure-native:eventhub:Namespace": 1,
    "azure-native:eventhub:EventHub": 2,
    "azure-native:storage:StorageAccount": 1,
}
SERVICES_ACCOUNTS = 1
"""The storage account Flux reads the services' manifests from, one per region beside the capture accounts."""
PER_REGION = {
    "azure-native:resources:ResourceGroup": 1,
    "azure-native:network:VirtualNetwork": 1,
    "azure-native:deviceprovisioningservices:IotDpsResource": 1,
    "azure-native:containerservice:ManagedCluster": 1,
    "azure-native:operationalinsights:Workspace": 2,  # AKS Container insights, and the data path's
    "azure-native:cosmosdb:DatabaseAccount": 1,
    "azure-native:cosmosdb:SqlResourceSqlContainer": 1,
    "azure-native:containerregistry:Registry": 1,
}
PRIVATE_ZONES = {"public": 6, "china": 5}
"""One zone per private-link target; Azure China has no DPS zone (no Private Link for DPS there)."""


def public_access(resource: Recorded) -> object:
    if "publicNetworkAccess" in resource.inputs:
        return resource.inputs["publicNetworkAccess"]
    return (resource.inputs.get("properties") or {}).get("publicNetworkAccess")


@pytest.fixture(scope="module")
def program_runs() -> dict[str, ProgramRun]:
    """Each shipped stack run once under its own mocks; tests read the recorded, plain data.

    Synthesis costs about 20 ms per resource in the SDK, so the recordings are shared by the
    read-only tests of this module; the harness (mocks, config, event loop) is reset right after.
    """
    harness = PulumiHarness()
    try:
        return {stack: harness.run_program(stack) for stack in STACKS}
    finally:
        harness.close()


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest, program_runs: dict[str, ProgramRun]) -> tuple[str, ProgramRun]:
    return request.param, program_runs[request.param]


def test_resources_match_the_plan(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    profile = load_profile(stack.removeprefix("azure-"))
    plan = plan_for_profile(profile)
    counts = Counter(r.type for r in run.mocks.resources)
    for type_, per_unit in PER_SCALE_UNIT.items():
        extra = SERVICES_ACCOUNTS if type_ == "azure-native:storage:StorageAccount" else 0
        assert counts[type_] == per_unit * plan.scale_units + extra, type_
    for type_, count in PER_REGION.items():
        assert counts[type_] == count, type_
    assert counts["azure-native:privatedns:PrivateZone"] == PRIVATE_ZONES[profile.cloud]
    assert counts["azure-native:maps:Account"] == (1 if profile.services.maps else 0)

    for hub in run.mocks.of_type("azure-native:iothub:IotHubResource"):
        assert hub.inputs["sku"] == {"name": plan.iothub.tier, "capacity": plan.iothub.units}
    for namespace in run.mocks.of_type("azure-native:eventhub:Namespace"):
        assert namespace.inputs["sku"]["capacity"] == plan.eventhubs.throughput_units
    telemetry = [
        h for h in run.mocks.of_type("azure-native:eventhub:EventHub") if h.inputs["eventHubName"] == "telemetry"
    ]
    assert {h.inputs["partitionCount"] for h in telemetry} == {plan.eventhubs.telemetry_partitions}
    container = run.mocks.one("azure-native:cosmosdb:SqlResourceSqlContainer")
    assert container.inputs["options"]["autoscaleSettings"]["maxThroughput"] == plan.cosmos.max_throughput_ru
    user_pool = run.mocks.one("azure-native:containerservice:ManagedCluster").inputs["agentPoolProfiles"][1]
    assert (user_pool["minCount"], user_pool["maxCount"]) == (plan.aks.user_min_nodes, plan.aks.user_max_nodes)
    dps = run.mocks.one("azure-native:deviceprovisioningservices:IotDpsResource")
    assert len(dps.inputs["properties"]["iotHubs"]) == plan.scale_units
    assert dps.inputs["sku"]["capacity"] == plan.dps_units


def test_every_location_is_a_plain_string_inside_the_boundary(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    profile = load_profile(stack.removeprefix("azure-"))
    located = [r for r in run.mocks.azure() if "location" in r.inputs]
    outside = [
        (r.type, r.name, r.inputs["location"])
        for r in located
        if r.inputs["location"] not in profile.boundary
        and not (r.type in GLOBAL_TYPES and r.inputs["location"] == "global")
    ]
    assert outside == []
    group = run.mocks.one("azure-native:resources:ResourceGroup")
    assert group.inputs["location"] == profile.primary
    dps = run.mocks.one("azure-native:deviceprovisioningservices:IotDpsResource")
    assert {h["location"] for h in dps.inputs["properties"]["iotHubs"]} <= set(profile.boundary)
    untagged = [(r.type, r.name) for r in located if not set(REQUIRED_TAGS) <= set(r.inputs.get("tags") or {})]
    assert untagged == []


def test_residency_switches_come_from_the_profile(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    profile = load_profile(stack.removeprefix("azure-"))
    # enableDataResidency on every hub and the DPS where the profile asks (Brazil), on none elsewhere.
    iot = [r for r in run.mocks.azure() if r.type.endswith(("IotHubResource", "IotDpsResource"))]
    flags = {r.inputs["properties"].get("enableDataResidency") for r in iot}
    assert len(iot) > 1 and flags == ({True} if profile.residency.iot_data_residency else {None})
    cosmos = run.mocks.one("azure-native:cosmosdb:DatabaseAccount")
    expected = [profile.primary] if profile.secondary is None else [profile.primary, profile.secondary]
    assert [loc["locationName"] for loc in cosmos.inputs["locations"]] == expected
    backup = cosmos.inputs["backupPolicy"]["periodicModeProperties"]["backupStorageRedundancy"]
    assert backup == ("Zone" if profile.resilience.zone_redundant else "Local")
    aks = run.mocks.one("azure-native:containerservice:ManagedCluster").inputs["networkProfile"]
    assert (aks["serviceCidr"], aks["dnsServiceIP"], aks["podCidr"]) == (
        str(profile.network.service_cidr),
        str(profile.network.dns_service_ip),
        str(profile.network.pod_cidr),
    )
    vnet = run.mocks.one("azure-native:network:VirtualNetwork").inputs["addressSpace"]["addressPrefixes"]
    assert vnet == [str(profile.network.vnet)]
    skus = {s.inputs["sku"]["name"] for s in run.mocks.of_type("azure-native:storage:StorageAccount")}
    assert skus <= {"Standard_ZRS", "Standard_LRS"}


def test_data_services_are_private_and_device_endpoints_public(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    region = stack.removeprefix("azure-")
    for type_ in ("azure-native:cosmosdb:DatabaseAccount", "azure-native:containerregistry:Registry"):
        for resource in run.mocks.of_type(type_):
            assert public_access(resource) == "Disabled", resource.name
    # Selected networks that select nothing: private endpoints and trusted services only.
    for rules in run.mocks.of_type("azure-native:eventhub:NamespaceNetworkRuleSet"):
        assert (rules.inputs["defaultAction"], rules.inputs["ipRules"]) == ("Deny", [])
        assert len(rules.inputs["virtualNetworkRules"]) == 1
    names = [n.inputs["namespaceName"] for n in run.mocks.of_type("azure-native:eventhub:Namespace")]
    rule_sets = [r.inputs["namespaceName"] for r in run.mocks.of_type("azure-native:eventhub:NamespaceNetworkRuleSet")]
    # Registration order of the two types differs run to run: compare the sets of names.
    assert sorted(names) == sorted(rule_sets) and len(set(names)) == len(names)
    assert all(name.startswith(f"ac-{region}-stream-") and len(name) <= 50 for name in names)
    for storage in run.mocks.of_type("azure-native:storage:StorageAccount"):
        assert storage.inputs["networkRuleSet"]["defaultAction"] == "Deny"
        assert storage.inputs["networkRuleSet"]["ipRules"] == []
    # Vehicles are on the internet: device endpoints are public, with X.509-only device auth.
    for hub in run.mocks.of_type("azure-native:iothub:IotHubResource"):
        props = hub.inputs["properties"]
        assert public_access(hub) == "Enabled", hub.name
        assert props["disableDeviceSAS"] is True and props["disableModuleSAS"] is True
    assert public_access(run.mocks.one("azure-native:deviceprovisioningservices:IotDpsResource")) == "Enabled"
    # The API server is private; publicNetworkAccess stays Enabled, as Disabled blocks more (Azure/AKS#4220).
    aks = run.mocks.one("azure-native:containerservice:ManagedCluster")
    assert aks.inputs["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert public_access(aks) == "Enabled"
    targets = Counter(
        e.inputs["privateLinkServiceConnections"][0]["groupIds"][0]
        for e in run.mocks.of_type("azure-native:network:PrivateEndpoint")
    )
    units = len(run.mocks.of_type("azure-native:iothub:IotHubResource"))
    dps = 1 if run.outputs["cloud"] == "public" else 0  # no Private Link for DPS in Azure China
    assert targets == Counter(
        {"iotHub": units, "namespace": units, "blob": units + SERVICES_ACCOUNTS, "iotDps": dps, "Sql": 1, "registry": 1}
    )


def test_every_data_path_resource_logs_to_the_regions_own_workspace(stack_run: tuple[str, ProgramRun]) -> None:
    """Each hub, DPS, namespace and the Cosmos DB account: exactly one diagnostic setting, to the region's
    monitoring workspace, which sits where the resource does (the profile's primary)."""
    stack, run = stack_run
    profile = load_profile(stack.removeprefix("azure-"))
    ids = {arm_id(r.type, r.name, r.inputs): r for r in run.mocks.azure()}
    workspaces = run.mocks.of_type("azure-native:operationalinsights:Workspace")
    [workspace] = [w for w in workspaces if w.name == f"{profile.name}-monitoring-logs"]
    targets = [
        r
        for type_ in (
            "azure-native:iothub:IotHubResource",
            "azure-native:deviceprovisioningservices:IotDpsResource",
            "azure-native:eventhub:Namespace",
            "azure-native:cosmosdb:DatabaseAccount",
        )
        for r in run.mocks.of_type(type_)
    ]
    settings = run.mocks.of_type("azure-native:monitor:DiagnosticSetting")
    assert len(settings) == len(targets) == 2 * plan_for_profile(profile).scale_units + 2
    for target in targets:
        mine = [s for s in settings if s.inputs["resourceUri"] == arm_id(target.type, target.name, target.inputs)]
        assert len(mine) == 1, target.name
        assert ids[mine[0].inputs["workspaceId"]] == workspace
        assert workspace.inputs["location"] == target.inputs["location"] == profile.primary


def test_secrets_stay_secret(stack_run: tuple[str, ProgramRun]) -> None:
    _, run = stack_run
    units = len(run.mocks.of_type("azure-native:iothub:IotHubResource"))
    keys = {derive_link_key(MOCK_LINK_SECRET, f"unit-{u}", slot) for u in range(1, units + 1) for slot in SLOTS}
    assert run.secret_outputs == set()
    shown = json.dumps(run.outputs)
    assert MOCK_LINK_SECRET not in shown and not any(key in shown for key in keys)
    assert "SharedAccessKey" not in shown
    holders = set()
    for resource in run.mocks.azure():
        inputs = json.dumps(resource.inputs)
        if MOCK_LINK_SECRET in inputs or any(key in inputs for key in keys):
            holders.add(resource.type)
            assert "properties" in resource.secret_paths, resource.name
    assert holders == {"azure-native:iothub:IotHubResource", "azure-native:deviceprovisioningservices:IotDpsResource"}


def test_exports(stack_run: tuple[str, ProgramRun]) -> None:
    stack, run = stack_run
    profile = load_profile(stack.removeprefix("azure-"))
    out = run.outputs
    assert (out["region"], out["target"], out["cloud"], out["location"]) == (
        profile.name,
        "azure",
        profile.cloud,
        profile.primary,
    )
    assert out["boundary"] == list(profile.boundary)
    endpoints = out["endpoints"]
    assert len(endpoints["telemetry"]) == len(endpoints["streaming"]) == out["scale_units"]
    suffix = ".cn" if profile.cloud == "china" else ".net"
    assert all(t["hostname"].endswith(f"azure-devices{suffix}") for t in endpoints["telemetry"])
    device_endpoint = endpoints["provisioning"]["device_endpoint"]
    assert device_endpoint.endswith(f"azure-devices-provisioning{suffix}")
    assert not device_endpoint.startswith("global.")
    assert endpoints["state"]["container"] == STATE_CONTAINER
    assert (endpoints["maps"] is None) is (not profile.services.maps)


def test_china_uses_one_explicit_china_provider(program_runs: dict[str, ProgramRun]) -> None:
    run = program_runs["azure-cn"]
    providers = [r for r in run.mocks.resources if r.type.startswith("pulumi:providers:")]
    assert [(p.type, p.inputs.get("environment"), p.inputs.get("location")) for p in providers] == [
        ("pulumi:providers:azure-native", "china", "chinanorth3")
    ]
    china = f"::{providers[0].name}-provider-id"
    assert [r.name for r in run.mocks.azure() if not r.provider.endswith(china)] == []
    assert run.mocks.calls and all(c.provider.endswith(china) for c in run.mocks.calls)
    assert not run.mocks.of_type("azure-native:maps:Account")
    assert not run.mocks.of_type("autocloud:maps:MapsService")


@pytest.mark.parametrize("stack", [s for s in STACKS if load_profile(s.removeprefix("azure-")).cloud == "public"])
def test_public_cloud_uses_the_default_provider_and_maps_only_where_the_profile_has_it(
    program_runs: dict[str, ProgramRun], stack: str
) -> None:
    run = program_runs[stack]
    profile = load_profile(stack.removeprefix("azure-"))
    assert not [r for r in run.mocks.resources if r.type.startswith("pulumi:providers:")]
    accounts = run.mocks.of_type("azure-native:maps:Account")
    assert len(accounts) == (1 if profile.services.maps else 0)
    for maps in accounts:
        assert maps.inputs["location"] in profile.boundary
        assert maps.inputs["properties"]["disableLocalAuth"] is True


def test_regions_outside_the_maps_geographies_and_brazils_failover(program_runs: dict[str, ProgramRun]) -> None:
    """Region facts: Azure Maps has account locations in the EU and US geographies only, so the UK gets no Maps
    account; Brazil South's pair is abroad, so Brazil's hubs and DPS keep their data with data residency, and
    its Cosmos DB account has no second region (Brazil Southeast is access-restricted)."""
    assert program_runs["azure-eu"].mocks.of_type("azure-native:maps:Account")
    assert not program_runs["azure-uk"].mocks.of_type("azure-native:maps:Account")
    brazil = program_runs["azure-br"].mocks
    iot = [r for r in brazil.azure() if r.type.endswith(("IotHubResource", "IotDpsResource"))]
    assert iot and all(r.inputs["properties"]["enableDataResidency"] is True for r in iot)
    [account] = brazil.of_type("azure-native:cosmosdb:DatabaseAccount")
    assert [loc["locationName"] for loc in account.inputs["locations"]] == ["brazilsouth"]


def test_fleet_override_resizes_the_region(pulumi_harness: PulumiHarness) -> None:
    # The profile's 2 M vehicles need 3 scale units; 1,000 vehicles sending 8 KB (two 4 KB blocks)
    # 60 times an hour meter 1,000 x 60 x 24 x 2 x 1.2 = 3,456,000 messages/day: one hub,
    # S1 x 9 units ($225) being cheaper than S2 x 1 ($250).
    run = pulumi_harness.run_program("azure-eu", {"autocloud:vehicles": "1000", "autocloud:messageKb": "8"})
    assert run.outputs["scale_units"] == 1
    [hub] = run.mocks.of_type("azure-native:iothub:IotHubResource")
    assert hub.inputs["sku"] == {"name": "S1", "capacity": 9}
    assert len(run.mocks.of_type("azure-native:eventhub:Namespace")) == 1


def hub_routing(run: ProgramRun, region: str, unit: int) -> tuple[dict[str, Any], list[Recorded], str]:
    """Scale unit ``unit``'s hub routing, the Data Sender grants naming its hub's component, and the name
    of the unit's own Event Hubs namespace."""
    component = f"{region}-telemetry-{unit}"
    [hub] = [h for h in run.mocks.of_type("azure-native:iothub:IotHubResource") if h.name == f"{component}-iothub"]
    grants = [g for g in run.mocks.of_type("azure-native:authorization:RoleAssignment") if g.name.startswith(component)]
    namespaces = run.mocks.of_type("azure-native:eventhub:Namespace")
    [namespace] = [n for n in namespaces if n.name == f"{region}-streaming-{unit}-namespace"]
    return hub.inputs["properties"]["routing"], grants, namespace.inputs["namespaceName"]


def test_every_hub_routes_live_as_its_own_identity_into_its_own_namespace(
    stack_run: tuple[str, ProgramRun],
) -> None:
    stack, run = stack_run
    region = stack.removeprefix("azure-")
    hubs = run.mocks.of_type("azure-native:iothub:IotHubResource")
    assert [h.inputs["identity"] for h in hubs] == [{"type": "SystemAssigned"}] * len(hubs)
    for unit in range(1, run.outputs["scale_units"] + 1):
        routing, grants, namespace = hub_routing(run, region, unit)
        endpoints = routing["endpoints"]["eventHubs"]
        assert len(endpoints) == 2 and len(routing["routes"]) == 3
        assert all(e["authenticationType"] == "identityBased" and "identity" not in e for e in endpoints)
        assert all(e["endpointUri"].startswith(f"sb://{namespace}.") for e in endpoints)
        [grant] = grants
        assert grant.inputs["principalId"] == f"principal-{region}-telemetry-{unit}-iothub"
        assert grant.inputs["scope"].endswith(f"/{namespace}")


def test_staged_units_route_nowhere_until_their_live_apply(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-eu", {"autocloud:routingStagedUnits": "[2]"})
    assert run.outputs["scale_units"] == 3
    staged, grants, namespace = hub_routing(run, "eu", 2)
    assert "endpoints" not in staged and "routes" not in staged
    assert staged["fallbackRoute"]["endpointNames"] == ["events"]
    [grant] = grants
    assert grant.inputs["principalId"] == "principal-eu-telemetry-2-iothub"
    assert grant.inputs["scope"].endswith(f"/{namespace}")
    for unit in (1, 3):
        live, _, _ = hub_routing(run, "eu", unit)
        assert [e["name"] for e in live["endpoints"]["eventHubs"]] == ["telemetry", "vehicle-events"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"autocloud:vehicles": "0"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:vehicles: Input should be greater than 0 (got '0')",
        ),
        (
            {"azure-native:location": "eastus"},
            "stacks/Pulumi.azure-eu.yaml: azure-native:location: 'eastus' is not the primary of region 'eu' "
            "(expected westeurope)",
        ),
        (
            {"autocloud:vehicles": "80000000"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:vehicles: 80,000,000 vehicles at 60 msg/h need 96 scale "
            "units; one DPS links at most 50 hubs: split the region",
        ),
        (
            {"autocloud:routingStagedUnits": "[4]"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:routingStagedUnits: no scale unit 4 (region eu plans 3)",
        ),
        (
            {"autocloud:routingStagedUnits": "[1, 1]"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:routingStagedUnits: lists a scale unit twice: [1, 1]",
        ),
        (
            {"autocloud:routingStagedUnits": "[0]"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:routingStagedUnits[0]: Input should be greater than or equal "
            "to 1 (got 0)",
        ),
        (
            {"autocloud:rolePropagationSeconds": "soon"},
            "stacks/Pulumi.azure-eu.yaml: autocloud:rolePropagationSeconds: Input should be a valid integer, "
            "unable to parse string as an integer (got 'soon')",
        ),
    ],
)
def test_bad_config_stops_with_one_line(pulumi_harness: PulumiHarness, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        pulumi_harness.run_program("azure-eu", overrides)
    assert str(caught.value) == message
    assert pulumi_harness.mocks.azure() == []


def test_local_target_builds_the_local_platform_lazily(
    pulumi_harness: PulumiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[str, RegionalPlatformArgs]] = []

    class FakeLocalPlatform(pulumi.ComponentResource):
        def __init__(self, name: str, args: RegionalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("autocloud:platform:LocalRegionalPlatform", name, None, opts)
            received.append((name, args))
            self.name = pulumi.Output.from_input(args.local_namespace)
            self.resource_id = pulumi.Output.from_input(f"namespace/{args.local_namespace}")
            self.location = args.profile.primary
            self.region = args.profile.name
            self.scale_units = args.plan.scale_units
            self.endpoints: pulumi.Output[dict[str, list[str]]] = pulumi.Output.from_input({"telemetry": []})
            self.register_outputs({})

    fake = types.ModuleType("components.local")
    fake.LocalRegionalPlatform = FakeLocalPlatform  # type: ignore[attr-defined]
    fake.kubernetes_provider = lambda name: pulumi.ProviderResource("kubernetes", name, {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "components.local", fake)
    run = pulumi_harness.run_program(
        "azure-us", {"autocloud:target": "local", "autocloud:namespace": "fleet-us", "autocloud:vehicles": "1000"}
    )
    [(name, args)] = received
    assert name == "us"
    assert args.local_namespace == "fleet-us" and args.profile.fleet.vehicles == 1000
    assert args.plan.scale_units == 1
    assert run.mocks.azure() == []
    assert [r.type for r in run.mocks.resources if r.type.startswith("pulumi:providers:")] == [
        "pulumi:providers:kubernetes"
    ]
    assert run.outputs["target"] == "local" and run.outputs["platform"]["name"] == "fleet-us"


def test_dps_links_each_hub_with_the_key_its_policy_has(stack_run: tuple[str, ProgramRun]) -> None:
    """The stack owns the link keys: one secret per stack, one key pair per hub, and DPS's connection
    string to each hub carries that hub's primary key."""
    _, run = stack_run
    secrets = [
        r.name for r in run.mocks.of_type(DYNAMIC_RESOURCE) if "__provider" in r.inputs and "blob" not in r.inputs
    ]
    assert [name.rsplit("-", 2)[-2:] for name in secrets] == [["dps", "link"]]
    hubs = run.mocks.of_type("azure-native:iothub:IotHubResource")
    primaries = {}  # hub name (the mocks' physical name is the logical one) -> its policy's primary key
    for hub in hubs:
        (policy,) = hub.inputs["properties"]["authorizationPolicies"]
        assert (policy["keyName"], policy["rights"]) == ("dps-link", "RegistryWrite, ServiceConnect")
        assert policy["secondaryKey"] != policy["primaryKey"]
        primaries[hub.name] = policy["primaryKey"]
    assert len(set(primaries.values())) == len(hubs) > 0
    dps = run.mocks.one("azure-native:deviceprovisioningservices:IotDpsResource")
    linked = {}
    for link in dps.inputs["properties"]["iotHubs"]:
        fields = dict(part.split("=", 1) for part in link["connectionString"].split(";"))
        assert fields["SharedAccessKeyName"] == "dps-link"
        linked[fields["HostName"].split(".", 1)[0]] = fields["SharedAccessKey"]
    assert linked == primaries


@pytest.mark.parametrize("stack", STACKS)
def test_a_preview_invokes_only_what_a_reader_may_call(pulumi_harness: PulumiHarness, stack: str) -> None:
    """A preview of an applied stack (the link secret known from the state) calls Azure only through
    ``get*`` functions, which read; no ``list*`` action such as listIotHubResourceKeysForKeyName, which
    the Reader role of the preview workflow may not call (README, "Pull-request previews")."""
    run = pulumi_harness.run_program(stack, preview=True)
    assert pulumi.runtime.is_dry_run()
    functions = [call.token.rsplit(":", 1)[-1] for call in run.mocks.calls]
    assert functions, "the program invoked nothing: the test would pass vacuously"
    assert [f for f in functions if not f.startswith("get")] == []
    assert run.mocks.of_type("azure-native:deviceprovisioningservices:IotDpsResource")


def test_the_state_writer_runs_on_aks_as_its_own_identity(stack_run: tuple[str, ProgramRun]) -> None:
    """Every region delivers the state writer: its identity is trusted only for its ServiceAccount in the
    region namespace, may receive from each unit's namespace and write the store, and the delivered
    Deployment connects to exactly those with Entra ID."""
    stack, run = stack_run
    region = stack.removeprefix("azure-")
    namespace = f"autocloud-{region}"
    cluster = run.mocks.one("azure-native:containerservice:ManagedCluster")
    identities = {r.name: r for r in run.mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")}
    writer = identities[f"{region}-writer-identity"]
    federations = {
        r.inputs["subject"]: r for r in run.mocks.of_type("azure-native:managedidentity:FederatedIdentityCredential")
    }
    federation = federations[f"system:serviceaccount:{namespace}:statewriter"]
    assert federation.inputs["resourceName"] == writer.name, "the credential trusts the writer's own identity"
    assert federation.inputs["audiences"] == ["api://AzureADTokenExchange"]
    assert (
        federation.inputs["issuer"]
        == f"https://{cluster.inputs['location']}.oic.prod-aks.azure.com/tenant/{cluster.name}/"
    )

    namespaces = sorted(n.inputs["namespaceName"] for n in run.mocks.of_type("azure-native:eventhub:Namespace"))
    receivers = [
        r.inputs
        for r in run.mocks.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith("/a638d3c7-ab3a-418d-83e6-5f17a39d4fde")
    ]
    assert sorted(r["scope"].rsplit("/", 1)[-1] for r in receivers) == namespaces
    assert {r["principalId"] for r in receivers} == {f"principal-{writer.name}"}
    (store_role,) = run.mocks.of_type("azure-native:cosmosdb:SqlResourceSqlRoleAssignment")
    account = run.mocks.one("azure-native:cosmosdb:DatabaseAccount")
    account_id = arm_id(account.type, account.name, account.inputs)
    assert store_role.inputs["principalId"] == f"principal-{writer.name}"
    assert store_role.inputs["accountName"] == account.name
    assert store_role.inputs["roleDefinitionId"] == (
        f"{account_id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002"
    )
    # The vehicle-state container only, not the account: readMetadata at a container's scope covers the SDK.
    assert store_role.inputs["scope"] == f"{account_id}/dbs/vehicles/colls/{STATE_CONTAINER}"

    blob = next(r for r in run.mocks.of_type(DYNAMIC_RESOURCE) if "blob" in r.inputs)
    documents = list(yaml.safe_load_all(blob.inputs["content"]))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == namespace
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    registry = run.mocks.one("azure-native:containerregistry:Registry").inputs["registryName"]
    assert container["image"].startswith(f"{registry.lower()}.azurecr.")
    args = container["args"]
    brokers = sorted(args[i + 1].split("=", 1)[1].split(".", 1)[0] for i, a in enumerate(args) if a == "--brokers")
    assert brokers == namespaces
    assert args[args.index("--kafka-auth") + 1] == "entra" and args[args.index("--store-kind") + 1] == "cosmos-nosql"
    assert ".documents.azure." in args[args.index("--store") + 1]
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    service_account = next(d for d in documents if d["kind"] == "ServiceAccount")
    assert service_account["metadata"]["annotations"]["azure.workload.identity/client-id"] == f"client-{writer.name}"
    # What an operator needs to follow the delivery: the Flux configuration, the blob, the writer's identity.
    blob_host = "blob.core.chinacloudapi.cn" if run.outputs["cloud"] == "china" else "blob.core.windows.net"
    assert run.outputs["endpoints"]["services"] == {
        "flux_configuration": f"{namespace}-services",
        "manifests": f"https://{blob.inputs['account']}.{blob_host}/manifests/{namespace}/services.yaml",
        "writer_client_id": f"client-{writer.name}",
    }
    # The ServiceAccount the pods run as is the one the federated credential names.
    assert (service_account["metadata"]["namespace"], service_account["metadata"]["name"]) == (namespace, "statewriter")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == service_account["metadata"]["name"]


WRITER_KINDS = {
    "ServiceAccount": "kubernetes:core/v1:ServiceAccount",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "Service": "kubernetes:core/v1:Service",
}
"""The state writer's objects, by kind, and the pulumi-kubernetes type the local target applies each as."""


@pytest.fixture(scope="module")
def local_runs() -> dict[str, ProgramRun]:
    """Each region on the local target, run once under its own mocks (as ``program_runs`` does for Azure): its
    local stack where it has one, else its azure stack with ``autocloud:target: local``."""
    harness = PulumiHarness()
    try:
        return {stack: local_run(harness, stack) for stack in STACKS}
    finally:
        harness.close()


def local_run(harness: PulumiHarness, stack: str) -> ProgramRun:
    local = stack.replace("azure-", "local-")
    if (STACKS_DIR / f"Pulumi.{local}.yaml").is_file():
        return harness.run_program(local)
    return harness.run_program(stack, {"autocloud:target": "local"})


def by_path(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Every leaf of the objects, keyed ``<Kind>/<name>:<path>`` (``test_delivery.flatten``)."""
    out: dict[str, Any] = {}
    for obj in objects:
        flatten(obj, f"{obj['kind']}/{obj['metadata']['name']}:", out)
    return {key.replace(":.", ":"): value for key, value in out.items()}


def test_the_azure_stack_delivers_the_local_stacks_writer(
    stack_run: tuple[str, ProgramRun], local_runs: dict[str, ProgramRun]
) -> None:
    """One platform: the writer objects in the blob Flux applies on AKS and the ones the local stack of the
    same region applies differ only in endpoints, identity and auth settings (``TARGET_PATHS``), as the
    programs really build them, not only as the wiring functions would."""
    stack, run = stack_run
    blob = next(r for r in run.mocks.of_type(DYNAMIC_RESOURCE) if "blob" in r.inputs)
    delivered = [d for d in yaml.safe_load_all(blob.inputs["content"]) if d["kind"] in WRITER_KINDS]
    local_mocks = local_runs[stack].mocks
    applied = [
        r.inputs
        for kind, type_ in WRITER_KINDS.items()
        for r in local_mocks.of_type(type_)
        if r.inputs["metadata"]["name"] == "statewriter"
    ]
    assert sorted(d["kind"] for d in delivered) == sorted(a["kind"] for a in applied) == sorted(WRITER_KINDS)

    azure, local = by_path(delivered), by_path(applied)
    assert len(local) > 40, "the comparison covers the whole objects"
    differing = {path for path in azure.keys() | local.keys() if azure.get(path) != local.get(path)}
    assert differing == TARGET_PATHS


def test_images_push_pushes_every_image_the_stack_delivers(stack_run: tuple[str, ProgramRun]) -> None:
    """``autocloud images push --stack`` pushes exactly the references the delivered Deployments pull, to the
    registry the stack exports: nothing delivered is missing from the registry after a push."""
    _, run = stack_run
    login_server = run.outputs["endpoints"]["registry"]["login_server"]
    blob = next(r for r in run.mocks.of_type(DYNAMIC_RESOURCE) if "blob" in r.inputs)
    delivered = {
        container["image"]
        for document in yaml.safe_load_all(blob.inputs["content"])
        if document["kind"] == "Deployment"
        for container in document["spec"]["template"]["spec"]["containers"]
    }
    pushed = {str(registry_image(login_server, s.reference)) for s in program_images() if s.name in AZURE_IMAGES}
    assert delivered == pushed
