"""Brands as tenants of a regional platform, under mocks: the whole program with ``autocloud:brands``.

Each brand gets its own Cosmos DB container, its own writer identity (federated to ServiceAccount
``statewriter-<brand>``) with a data role on that container only, its own writer reading its own consumer
group and storing only its own vehicles, and its fleet CA registered with DPS as ``fleet-ca-<brand>``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from components.contracts import STATE_DATABASE
from components.identity import service_account_subject
from platform_model.profiles import load_profile
from platform_model.sizing import plan_for_profile
from policies.config import context_for_profile
from policies.engine import Evaluator
from policies.model import ResourceView
from policies.packs import ALL_RULES
from tests.conftest import DYNAMIC_RESOURCE, PulumiHarness, fleet_ca_pem

EU = load_profile("eu")
BRANDS = [
    {"name": "alpha", "vehicles": 1_200_000, "fleetCa": fleet_ca_pem()},
    {"name": "beta", "vehicles": 300_000},
]
OVERRIDES = {"autocloud:brands": json.dumps(BRANDS)}


def inputs_by_name(run: Any, type_: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in run.mocks.of_type(type_)}


def test_each_brand_has_its_own_container_identity_and_writer(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-eu", OVERRIDES)

    containers = inputs_by_name(run, "azure-native:cosmosdb:SqlResourceSqlContainer")
    assert sorted(c["containerName"] for c in containers.values()) == ["vehicle-state-alpha", "vehicle-state-beta"]
    alpha = containers["eu-state-container-alpha"]
    assert alpha["resource"]["partitionKey"]["paths"] == ["/vehicleId"]
    assert alpha["tags"]["brand"] == "alpha"
    # Each container autoscales for its own fleet: 1.2 M and 0.3 M vehicles at the profile's rate.
    assert alpha["options"]["autoscaleSettings"]["maxThroughput"] == 120_000
    assert containers["eu-state-container-beta"]["options"]["autoscaleSettings"]["maxThroughput"] == 30_000

    identities = inputs_by_name(run, "azure-native:managedidentity:UserAssignedIdentity")
    assert identities["eu-writer-alpha-identity"]["tags"]["brand"] == "alpha"
    assert identities["eu-writer-beta-identity"]["tags"]["brand"] == "beta"
    subjects = {
        f["subject"] for f in inputs_by_name(run, "azure-native:managedidentity:FederatedIdentityCredential").values()
    }
    assert {service_account_subject("autocloud-eu", f"statewriter-{b}") for b in ("alpha", "beta")} <= subjects
    assert service_account_subject("autocloud-eu", "statewriter") not in subjects

    roles = inputs_by_name(run, "azure-native:cosmosdb:SqlResourceSqlRoleAssignment")
    assert set(roles) == {"eu-writer-alpha-stores", "eu-writer-beta-stores"}
    for brand in ("alpha", "beta"):
        role = roles[f"eu-writer-{brand}-stores"]
        assert role["principalId"] == f"principal-eu-writer-{brand}-identity"
        assert role["scope"].endswith(f"/dbs/{STATE_DATABASE}/colls/vehicle-state-{brand}")

    groups = {
        (g["eventHubName"], g["consumerGroupName"])
        for g in inputs_by_name(run, "azure-native:eventhub:ConsumerGroup").values()
    }
    assert {("telemetry-alpha", "statewriter-alpha"), ("telemetry-beta", "statewriter-beta")} <= groups
    assert {hub for hub, _ in groups} == {"telemetry-alpha", "telemetry-beta", "events"}
    assert ("telemetry-beta", "statewriter-alpha") not in groups
    assert not {group for _, group in groups} & {"statewriter"}

    certificates = inputs_by_name(run, "azure-native:deviceprovisioningservices:DpsCertificate")
    assert [c["certificateName"] for c in certificates.values()] == ["fleet-ca-alpha"]

    [blob] = run.mocks.of_type(DYNAMIC_RESOURCE)[-1:]
    deployments = [d for d in yaml.safe_load_all(blob.inputs["content"]) if d["kind"] == "Deployment"]
    args = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["args"] for d in deployments}
    assert set(args) == {"statewriter-alpha", "statewriter-beta"}
    for brand in ("alpha", "beta"):
        own = args[f"statewriter-{brand}"]
        assert own[own.index("--collection") + 1] == f"vehicle-state-{brand}"
        assert own[own.index("--group") + 1] == f"statewriter-{brand}"
        assert own[own.index("--vehicle-prefix") + 1] == f"{brand}-"
        assert own[own.index("--topic") + 1] == f"telemetry-{brand}"

    state = run.outputs["endpoints"]["state"]
    assert state["brands"]["beta"]["container"] == "vehicle-state-beta"
    assert set(run.outputs["endpoints"]["services"]["brand_writer_client_ids"]) == {"alpha", "beta"}


def test_the_brand_scope_rule_passes_the_program_and_refuses_a_widened_grant(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-eu", OVERRIDES)
    principals = {
        r.name: f"principal-{r.name}" for r in run.mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")
    }

    def views(widen: bool) -> list[ResourceView]:
        found = []
        for r in run.mocks.resources:
            props = dict(r.inputs)
            if r.name in principals:
                props["principalId"] = principals[r.name]
            if widen and r.name == "eu-writer-beta-stores":
                props["scope"] = props["scope"].split("/dbs/")[0]
            found.append(ResourceView.of(r.type, props, r.name, stack="azure-eu"))
        return found

    evaluator = Evaluator(ALL_RULES)
    clean = evaluator.run(views(False), context_for_profile(EU), "azure-eu").violations
    assert [v for v in clean if v.policy == "residency-brand-state-scope"] == []
    widened = evaluator.run(views(True), context_for_profile(EU), "azure-eu").violations
    assert [(v.policy, v.resource, v.enforcement) for v in widened if v.policy == "residency-brand-state-scope"] == [
        ("residency-brand-state-scope", "eu-writer-beta-stores", "mandatory")
    ]


def test_a_stack_without_brands_keeps_its_resources(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-eu")
    roles = inputs_by_name(run, "azure-native:cosmosdb:SqlResourceSqlRoleAssignment")
    assert set(roles) == {"eu-writer-stores"}
    assert roles["eu-writer-stores"]["scope"].endswith("/colls/vehicle-state")
    assert [
        c["containerName"] for c in inputs_by_name(run, "azure-native:cosmosdb:SqlResourceSqlContainer").values()
    ] == ["vehicle-state"]
    assert "brands" not in run.outputs["endpoints"]["state"]

    hubs = {h["eventHubName"] for h in inputs_by_name(run, "azure-native:eventhub:EventHub").values()}
    assert hubs == {"events", "telemetry"}
    iothub = inputs_by_name(run, "azure-native:iothub:IotHubResource")["eu-telemetry-1-iothub"]
    [device_route] = [r for r in iothub["properties"]["routing"]["routes"] if r["source"] == "DeviceMessages"]
    assert (device_route["name"], device_route["condition"]) == ("telemetry", "true")
    assignments = inputs_by_name(run, "azure-native:authorization:RoleAssignment")
    # The region's one writer receives the whole namespace, as before brands.
    assert "/eventhubs/" not in assignments["eu-writer-receives-1"]["scope"]
    assert "brand_telemetry_topics" not in run.outputs["endpoints"]["streaming"][0]


RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"


def test_each_brands_telemetry_goes_to_its_own_hub_which_only_its_writer_receives(
    pulumi_harness: PulumiHarness,
) -> None:
    run = pulumi_harness.run_program("azure-eu", OVERRIDES)
    fleet = EU.model_copy(update={"fleet": EU.fleet.model_copy(update={"vehicles": 1_500_000})})
    plan = {b.name: b for b in plan_for_profile(fleet, [("alpha", 1_200_000), ("beta", 300_000)]).brands}

    hubs = {h["eventHubName"]: h for h in inputs_by_name(run, "azure-native:eventhub:EventHub").values()}
    assert set(hubs) == {"telemetry-alpha", "telemetry-beta", "events"}
    # Each brand's hub gets its fleet's share of the plan's telemetry partitions (at least four).
    assert hubs["telemetry-alpha"]["partitionCount"] == plan["alpha"].telemetry_partitions
    assert plan["alpha"].telemetry_partitions > plan["beta"].telemetry_partitions >= 4

    iothub = inputs_by_name(run, "azure-native:iothub:IotHubResource")["eu-telemetry-1-iothub"]
    routing = iothub["properties"]["routing"]
    endpoints = {e["name"]: e["entityPath"] for e in routing["endpoints"]["eventHubs"]}
    assert endpoints == {
        "telemetry-alpha": "telemetry-alpha",
        "telemetry-beta": "telemetry-beta",
        "vehicle-events": "events",
    }
    device_routes = {r["name"]: r for r in routing["routes"] if r["source"] == "DeviceMessages"}
    assert {name: (r["condition"], r["endpointNames"]) for name, r in device_routes.items()} == {
        "telemetry-alpha": ("STARTS_WITH($connectionDeviceId, 'alpha-')", ["telemetry-alpha"]),
        "telemetry-beta": ("STARTS_WITH($connectionDeviceId, 'beta-')", ["telemetry-beta"]),
    }

    principals = {
        f"principal-{name}": name for name in inputs_by_name(run, "azure-native:managedidentity:UserAssignedIdentity")
    }
    receives = [
        (principals.get(r["principalId"], "not a writer"), r["scope"])
        for r in inputs_by_name(run, "azure-native:authorization:RoleAssignment").values()
        if r["roleDefinitionId"].endswith(RECEIVER)
    ]
    units = len(run.mocks.of_type("azure-native:eventhub:Namespace"))
    assert sorted(who for who, _ in receives) == sorted(
        [*["eu-writer-alpha-identity"] * units, *["eu-writer-beta-identity"] * units]
    )
    for who, scope in receives:
        brand = who.split("-")[2]
        assert scope.split("/eventhubs/")[1] == f"telemetry-{brand}"


def test_the_brand_stream_rule_passes_the_program_and_refuses_a_namespace_grant(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("azure-eu", OVERRIDES)
    principals = {
        r.name: f"principal-{r.name}" for r in run.mocks.of_type("azure-native:managedidentity:UserAssignedIdentity")
    }

    def views(widen: bool) -> list[ResourceView]:
        found = []
        for r in run.mocks.resources:
            props = dict(r.inputs)
            if r.name in principals:
                props["principalId"] = principals[r.name]
            if widen and r.name == "eu-writer-alpha-receives-1":
                props["scope"] = props["scope"].split("/eventhubs/")[0]
            found.append(ResourceView.of(r.type, props, r.name, stack="azure-eu"))
        return found

    evaluator = Evaluator(ALL_RULES)
    clean = evaluator.run(views(False), context_for_profile(EU), "azure-eu").violations
    assert [v for v in clean if v.policy == "residency-brand-stream-scope"] == []
    widened = evaluator.run(views(True), context_for_profile(EU), "azure-eu").violations
    assert [(v.policy, v.resource, v.enforcement) for v in widened if v.policy == "residency-brand-stream-scope"] == [
        ("residency-brand-stream-scope", "eu-writer-alpha-receives-1", "mandatory")
    ]
