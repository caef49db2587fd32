"""Brands in stack config: validated with one line naming the file and key, and the plan sized for their sum."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from platform_model.brands import brand_of
from platform_model.errors import ConfigError
from platform_model.sizing import plan_capacity
from platform_model.stack import resolve_values, stack_config_from_values

SOURCE = "stacks/Pulumi.local-eu.yaml"


def values(brands: Any, **extra: str) -> dict[str, Any]:
    return {"autocloud:region": "eu", "autocloud:target": "local", "autocloud:brands": brands, **extra}


def error_of(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        stack_config_from_values(config, SOURCE)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_brands_is_todays_stack() -> None:
    config = stack_config_from_values({"autocloud:region": "eu", "autocloud:target": "local"}, SOURCE)
    assert config.brands == ()
    resolved = resolve_values("local-eu", {"autocloud:region": "eu", "autocloud:target": "local"}, SOURCE)
    assert resolved.plan.brands == ()


def test_brands_from_the_engine_json_and_from_yaml_agree() -> None:
    listed = [{"name": "alpha", "vehicles": 100}, {"name": "beta", "vehicles": 50}]
    from_yaml = stack_config_from_values(values(listed), SOURCE)
    from_engine = stack_config_from_values(values(json.dumps(listed)), SOURCE)
    assert from_yaml == from_engine
    assert [b.name for b in from_yaml.brands] == ["alpha", "beta"]


def test_plan_is_sized_for_the_sum_of_the_brands() -> None:
    brands = [{"name": "alpha", "vehicles": 1_200_000}, {"name": "beta", "vehicles": 800_000}]
    resolved = resolve_values("local-eu", values(brands), SOURCE)
    assert resolved.profile.fleet.vehicles == 2_000_000
    whole = plan_capacity(2_000_000, resolved.profile.fleet.messages_per_vehicle_per_hour, 1)
    assert resolved.plan.scale_units == whole.scale_units
    assert [(b.name, b.vehicles) for b in resolved.plan.brands] == [("alpha", 1_200_000), ("beta", 800_000)]
    alpha, beta = (b.cosmos.max_throughput_ru for b in resolved.plan.brands)
    # Each container takes its own brand's upserts: 1.2 M vehicles x 60/h = 20,000/s x 5 RU x 1.2 headroom.
    assert (alpha, beta) == (120_000, 80_000)


@pytest.mark.parametrize(
    ("brands", "key", "message"),
    [
        ([{"name": "Alpha", "vehicles": 1}], "autocloud:brands[0].name", "String should match pattern"),
        ([{"name": "alpha_1", "vehicles": 1}], "autocloud:brands[0].name", "String should match pattern"),
        ([{"name": "alpha", "vehicles": 0}], "autocloud:brands[0].vehicles", "greater than 0"),
        ([{"name": "alpha"}], "autocloud:brands[0].vehicles", "required key is missing"),
        ([{"name": "alpha", "vehicles": 1, "colour": "red"}], "autocloud:brands[0].colour", "unknown key"),
        ([{"name": "alpha", "vehicles": 1, "fleetCa": "not a pem"}], "autocloud:brands[0].fleetCa", "pattern"),
        (
            [{"name": "alpha", "vehicles": 1}, {"name": "alpha", "vehicles": 2}],
            "autocloud:brands[1].name",
            "'alpha' is listed twice",
        ),
        (
            [{"name": "alpha", "vehicles": 1}, {"name": "alpha-x", "vehicles": 2}],
            "autocloud:brands[1].name",
            "would also start with alpha-",
        ),
    ],
)
def test_refuses_bad_brand(brands: list[dict[str, Any]], key: str, message: str) -> None:
    error = error_of(values(brands))
    assert error.startswith(f"{SOURCE}: {key}: "), error
    assert message in error


def test_refuses_vehicles_beside_brands() -> None:
    error = error_of(values([{"name": "alpha", "vehicles": 1}], **{"autocloud:vehicles": "5"}))
    assert error.startswith(f"{SOURCE}: autocloud:vehicles: set by autocloud:brands")


def test_a_fleet_too_large_names_the_brands_key() -> None:
    brands = [{"name": "alpha", "vehicles": 40_000_000}, {"name": "beta", "vehicles": 40_000_000}]
    with pytest.raises(ConfigError) as caught:
        resolve_values("local-eu", values(brands), SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: autocloud:brands: ")


def test_a_namespace_holds_events_and_at_most_nine_brands_hubs() -> None:
    nine = [{"name": f"b{i}", "vehicles": 1000} for i in range(9)]
    assert len(resolve_values("local-eu", values(nine), SOURCE).plan.brands) == 9
    with pytest.raises(ConfigError) as caught:
        resolve_values("local-eu", values([*nine, {"name": "b9", "vehicles": 1000}]), SOURCE)
    assert str(caught.value) == (
        f"{SOURCE}: autocloud:brands: 10 brands need 11 event hubs per namespace (events and one telemetry hub per"
        " brand); a Standard namespace holds at most 10: split the region's brands"
    )


def test_each_brands_hub_gets_its_share_of_the_telemetry_partitions() -> None:
    brands = [{"name": "alpha", "vehicles": 9_000_000}, {"name": "beta", "vehicles": 1_000_000}]
    plan = resolve_values("local-eu", values(brands), SOURCE).plan
    alpha, beta = (b.telemetry_partitions for b in plan.brands)
    # 10 M vehicles at 60/h over the plan's scale units: alpha takes 90 % of a unit's partitions, beta the floor.
    assert alpha == math.ceil(plan.eventhubs.telemetry_partitions * 0.9)
    assert beta == 4


def test_a_vehicle_belongs_to_the_brand_its_id_starts_with() -> None:
    config = stack_config_from_values(
        values([{"name": "alpha", "vehicles": 1}, {"name": "beta", "vehicles": 1}]), SOURCE
    )
    found = brand_of("beta-000017", config.brands)
    assert found is not None and found.name == "beta"
    assert brand_of("alphabet-1", config.brands) is None
    assert brand_of("gamma-1", config.brands) is None
