"""Two brands as tenants of one local region, added by config alone and deployed through the real CLI.

A stack file that lists brands ``alpha`` (with a fleet CA of its own, made by ``autocloud fleet ca
--brand``) and ``beta`` (trusted through the region's CA, as on Azure it enrolls through the region's
group) in a namespace of its own. Each brand's vehicles register through the region's DPS and land in
their brand's own store and collection, and one brand's writer credentials are refused by the other's
store. Each brand's messages are in its own Kafka topic ``telemetry-<brand>`` only (the ingest's route with
the brand's device id prefix), none in the region's ``telemetry``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo
import pytest
import yaml
from pymongo.errors import OperationFailure

from autocloud.operations import device, simulate
from autocloud.runtime import fleet_pki
from components.contracts import STATE_DATABASE
from components.local.kube import INSTANCE_LABEL
from platform_model.paths import REPO_ROOT
from platform_model.vocabulary import brand_container

from .conftest import EmbeddedCluster, deployed, project_copy
from .kube import Kubectl

pytestmark = pytest.mark.integration

STACK = "local-brands"
REGION = "us"
NAMESPACE = "autocloud-brands"
NAMESPACES = (NAMESPACE,)
BRANDS = ("alpha", "beta")


@dataclass(frozen=True)
class BrandRegion:
    cluster: EmbeddedCluster
    work: Path
    state: Path

    @property
    def fleet(self) -> Path:
        return self.state / "fleet"

    @property
    def reach(self) -> simulate.EmbeddedReach:
        return simulate.EmbeddedReach(self.cluster.layout, self.cluster.ports)

    def simulate(self, brand: str, vehicles: int, messages: int) -> simulate.SimulationResult:
        args = simulate.SimulationArgs(
            REGION, vehicles, messages, namespace=NAMESPACE, fleet_dir=self.fleet, brand=brand, settle_seconds=90
        )
        return simulate.run(args, self.reach)


@pytest.fixture(scope="module")
def brand_region(test_cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrandRegion]:
    base = tmp_path_factory.mktemp("local-brands")
    work = project_copy(base / "project", REPO_ROOT / "__main__.py")
    # Brands by config alone: a stack file, no code.
    config = {
        "autocloud:region": REGION,
        "autocloud:target": "local",
        "autocloud:namespace": NAMESPACE,
        "autocloud:brands": [{"name": brand, "vehicles": 2000} for brand in BRANDS],
    }
    (work / "stacks" / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    state = base / "state"
    state.mkdir()
    region = BrandRegion(test_cluster, work, state)
    fleet_pki.ensure_ca(REGION, fleet_dir=region.fleet, brand="alpha")
    with deployed(test_cluster, STACK, work, state):
        yield region


def _store(region: BrandRegion, brand: str) -> simulate.RegionEndpoints:
    return simulate.discover(region.reach, NAMESPACE, brand)


def _documents(port: int, user: str, password: str, collection: str) -> list[dict[str, Any]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        "127.0.0.1", port, directConnection=True, username=user, password=password, authSource=STATE_DATABASE,
        serverSelectionTimeoutMS=5000,
    )  # fmt: skip
    with client:
        return list(client[STATE_DATABASE][collection].find({}, {"_id": 1, "messages": 1}))


def test_each_brands_vehicles_land_in_its_own_store(brand_region: BrandRegion) -> None:
    alpha = brand_region.simulate("alpha", vehicles=4, messages=3)
    beta = brand_region.simulate("beta", vehicles=3, messages=2)
    for result, sent in ((alpha, 12), (beta, 6)):
        assert result.refused == {}
        assert result.sent == result.delivered == sent
        assert result.lost == 0 and result.stored >= sent

    _assert_each_brands_messages_are_in_its_own_topic(brand_region, {"alpha": (alpha, 3), "beta": (beta, 2)})

    stores = {brand: _store(brand_region, brand) for brand in BRANDS}
    with brand_region.reach.forward(NAMESPACE, [s.store for s in stores.values()]) as ports:
        held = {
            brand: {
                doc["_id"]: doc["messages"]
                for doc in _documents(ports[s.store], s.store_user, s.store_password, brand_container(brand))
            }
            for brand, s in stores.items()
        }
        assert held["alpha"] == {f"alpha-vehicle-{n:06d}": 3 for n in range(1, 5)}
        assert held["beta"] == {f"beta-vehicle-{n:06d}": 2 for n in range(1, 4)}, "no alpha vehicle in beta's store"

        # Beta's writer identity is worthless on alpha's store, and the other way round.
        for reader, owner in (("beta", "alpha"), ("alpha", "beta")):
            with pytest.raises(OperationFailure, match=r"(?i)authentication failed"):
                _documents(
                    ports[stores[owner].store],
                    stores[reader].store_user,
                    stores[reader].store_password,
                    brand_container(owner),
                )


def _assert_each_brands_messages_are_in_its_own_topic(
    region: BrandRegion, runs: dict[str, tuple[simulate.SimulationResult, int]]
) -> None:
    """In every scale unit's Kafka, topic ``telemetry-<brand>`` holds exactly the messages of that brand's
    vehicles DPS assigned to the unit, and the region's ``telemetry`` topic none (read in the broker's pod)."""
    kubectl = Kubectl(region.cluster.kubeconfig)
    units = {
        int(hub.split(".", 1)[0].removeprefix("telemetry-"))
        for result, _ in runs.values()
        for hub in result.assignments.values()
    }
    assert units, "the simulations reported the hubs DPS assigned"
    for unit in sorted(units):
        broker = kubectl.pod_of(NAMESPACE, f"{INSTANCE_LABEL}=streaming-{unit}")
        for brand, (result, messages) in runs.items():
            mine = {v for v, hub in result.assignments.items() if hub.startswith(f"telemetry-{unit}.")}
            held = {
                (r.key, json.loads(r.value)["seq"])
                for r in kubectl.kafka_records(NAMESPACE, broker, f"telemetry-{brand}")
            }
            assert held == {(v, seq) for v in mine for seq in range(1, messages + 1)}, (
                f"unit {unit}: telemetry-{brand} holds {brand}'s vehicles' messages and no other brand's"
            )
        shared = kubectl.kafka_records(NAMESPACE, broker, "telemetry")
        assert shared == [], f"unit {unit}: with brands the region's telemetry topic stays empty"


def test_the_region_trusts_a_brand_ca_only_once_up_was_given_it(brand_region: BrandRegion) -> None:
    """Alpha's vehicles (signed by alpha's own CA, passed by ``up``) register; a vehicle signed by a brand CA
    made after the deploy is refused by the region's DPS, so the trust came from the run, not from any CA."""
    alpha = fleet_pki.vehicle_credentials(REGION, "alpha-trust-1", fleet_dir=brand_region.fleet, brand="alpha")
    alpha_ca = fleet_pki.load_ca(REGION, fleet_dir=brand_region.fleet, brand="alpha")
    assert alpha_ca is not None and alpha.cert_path.is_relative_to(alpha_ca.cert_path.parent)
    fleet_pki.ensure_ca(REGION, fleet_dir=brand_region.fleet, brand="beta")
    late = fleet_pki.vehicle_credentials(REGION, "beta-trust-1", fleet_dir=brand_region.fleet, brand="beta")
    endpoints = simulate.discover(brand_region.reach, NAMESPACE, "alpha")
    with brand_region.reach.forward(NAMESPACE, [endpoints.dps]) as ports:
        dps = device.Endpoint("127.0.0.1", ports[endpoints.dps])
        registered = device.register(
            "alpha-trust-1", dps, endpoints.id_scope, device.tls_context(alpha, endpoints.server_ca)
        )
        assert registered.device_id == "alpha-trust-1"
        with pytest.raises(device.RegistrationRefused, match="DPS refused"):
            device.register("beta-trust-1", dps, endpoints.id_scope, device.tls_context(late, endpoints.server_ca))
