"""Brands on the local target, under mocks: each brand its own FerretDB, user, Secret, collection and writer.

FerretDB 1.x authenticates but does not authorize (every user of an instance reaches every database), so a
brand's data is kept from another brand's credentials by a store of its own, not by a user inside a shared one.
"""

from __future__ import annotations

import json
from typing import Any

from components.local import state
from components.local.platform import ROLLOUT_FACTOR, namespace_quota
from platform_model.profiles import load_profile
from tests.conftest import PulumiHarness, fleet_ca_pem

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
BRANDS = [{"name": "alpha", "vehicles": 600}, {"name": "beta", "vehicles": 400, "fleetCa": fleet_ca_pem()}]


def overrides() -> dict[str, Any]:
    return {"autocloud:brands": json.dumps(BRANDS), "autocloud:vehicles": None}


def env_of(deployment: Any) -> dict[str, Any]:
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def args_of(deployment: Any) -> list[str]:
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    return list(container.get("args", []))


def test_each_brand_has_its_own_store_user_secret_and_writer(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("local-eu", overrides())
    deployments = {d.inputs["metadata"]["name"]: d for d in run.mocks.of_type(DEPLOYMENT)}
    assert {"state-alpha", "state-beta", "statewriter-alpha", "statewriter-beta"} <= set(deployments)
    assert not {"state", "statewriter"} & set(deployments), "with brands there is no shared store"

    secrets = {s.inputs["metadata"]["name"]: s for s in run.mocks.of_type(SECRET)}
    assert {"state-alpha-key", "state-beta-key"} <= set(secrets)
    assert secrets["state-alpha-key"].inputs["stringData"] != secrets["state-beta-key"].inputs["stringData"]

    for brand, other in (("alpha", "beta"), ("beta", "alpha")):
        store = env_of(deployments[f"state-{brand}"])
        assert store["FERRETDB_SETUP_USERNAME"] == f"statewriter-{brand}"
        assert store["FERRETDB_SETUP_PASSWORD"] == {"secretKeyRef": {"name": f"state-{brand}-key", "key": "password"}}
        writer = deployments[f"statewriter-{brand}"]
        args = args_of(writer)
        assert args[args.index("--store") + 1] == f"mongodb://state-{brand}.autocloud-eu.svc.cluster.local:27017/"
        assert args[args.index("--collection") + 1] == f"vehicle-state-{brand}"
        assert args[args.index("--vehicle-prefix") + 1] == f"{brand}-"
        assert args[args.index("--group") + 1] == f"statewriter-{brand}"
        assert args[args.index("--topic") + 1] == f"telemetry-{brand}"
        wenv = env_of(writer)
        assert wenv["STATEWRITER_STORE_USERNAME"] == f"statewriter-{brand}"
        assert f"state-{other}-key" not in json.dumps(writer.inputs), "a brand's writer never sees another's password"

    state = run.outputs["endpoints"]["state"]
    assert state["brands"]["beta"] == {
        "documents": "mongodb://state-beta.autocloud-eu.svc.cluster.local:27017/",
        "database": "vehicles",
        "container": "vehicle-state-beta",
    }

    # The local DPS and hubs trust the region's CA and beta's own.
    [fleet_ca] = [c for c in run.mocks.of_type(CONFIG_MAP) if c.inputs["metadata"]["name"] == "fleet-ca"]
    assert fleet_ca.inputs["data"]["ca.pem"].count("BEGIN CERTIFICATE") == 2


def test_the_namespace_quota_counts_every_brands_store() -> None:
    services = load_profile("eu").services
    one, two = namespace_quota(services, 2), namespace_quota(services, 2, stores=2)
    # One more store and one more writer, each with room for a rolling update; one more password Secret.
    assert (two.pods - one.pods, two.secrets - one.secrets) == (2 * ROLLOUT_FACTOR, ROLLOUT_FACTOR)
    assert two.resources.cpu_request_m - one.resources.cpu_request_m == ROLLOUT_FACTOR * (
        state.RESOURCES.cpu_request_m + state.WRITER_RESOURCES.cpu_request_m
    )


def test_each_brands_messages_are_routed_to_its_own_topic(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("local-eu", overrides())
    configs = {c.inputs["metadata"]["name"]: c for c in run.mocks.of_type(CONFIG_MAP)}
    routes = json.loads(configs["telemetry-1"].inputs["data"]["routes.json"])["routes"]
    device = {r["name"]: r for r in routes if r["source"] == "DeviceMessages"}
    assert {name: (r["topic"], r["deviceIdPrefix"]) for name, r in device.items()} == {
        "telemetry-alpha": ("telemetry-alpha", "alpha-"),
        "telemetry-beta": ("telemetry-beta", "beta-"),
    }
    assert all(r["partitions"] >= 4 for r in device.values())
    assert {r["topic"] for r in routes if r["source"] != "DeviceMessages"} == {"events"}

    [streaming] = run.outputs["endpoints"]["streaming"][:1]
    assert streaming["brand_telemetry_topics"] == {"alpha": "telemetry-alpha", "beta": "telemetry-beta"}


def test_without_brands_every_message_goes_to_the_regions_topic(pulumi_harness: PulumiHarness) -> None:
    run = pulumi_harness.run_program("local-eu")
    configs = {c.inputs["metadata"]["name"]: c for c in run.mocks.of_type(CONFIG_MAP)}
    routes = json.loads(configs["telemetry-1"].inputs["data"]["routes.json"])["routes"]
    [device] = [r for r in routes if r["source"] == "DeviceMessages"]
    assert device == {
        "name": "telemetry",
        "source": "DeviceMessages",
        "endpoint": device["endpoint"],
        "topic": "telemetry",
    }
    deployments = {d.inputs["metadata"]["name"]: d for d in run.mocks.of_type(DEPLOYMENT)}
    writer = args_of(deployments["statewriter"])
    assert writer[writer.index("--topic") + 1] == "telemetry"
    assert "brand_telemetry_topics" not in run.outputs["endpoints"]["streaming"][0]
