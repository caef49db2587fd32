"""Sizing worked examples: the arithmetic is written out next to each assertion."""

from __future__ import annotations

import math

import pytest

from platform_model.errors import ConfigError
from platform_model.profiles import available_profiles, load_profile
from platform_model.sizing import (
    HEADROOM,
    MAX_LINKED_HUBS,
    plan_capacity,
    plan_for_profile,
)


def test_five_million_vehicles_one_1kb_message_a_minute() -> None:
    plan = plan_capacity(vehicles=5_000_000, messages_per_vehicle_per_hour=60, message_kb=1)

    # Load: 5,000,000 vehicles x 60 msg/h / 3,600 s = 83,333 msg/s; x 86,400 s = 7.2 bn msg/day
    # (1 KB fits one 4 KB meter block). With headroom 1.2: 100,000 msg/s, 8.64 bn/day, 6 M devices.
    assert HEADROOM == 1.2
    assert plan.messages_per_second == pytest.approx(83_333.33, rel=1e-6)
    assert plan.metered_messages_per_day == 7_200_000_000

    # Devices: 6,000,000 / 1,000,000 per hub = 6 hubs  <- the deciding quota
    # Messages/day: 8.64 bn / (10 S3 units x 300 M) = 2.88 -> 3 hubs
    # Sends/s: 100,000 / (10 S3 units x 6,000) = 1.67 -> 2 hubs
    # Event Hubs: 100,000 events/s / 1,000 per TU = 100 TU; / 32 usable TU per namespace = 3.1 -> 4
    assert plan.scale_units_by_limit == {
        "iothub-devices": 6,
        "iothub-messages-per-day": 3,
        "iothub-sends-per-second": 2,
        "eventhubs-throughput-units": 4,
    }
    assert plan.scale_units == 6
    assert plan.hubs >= 5
    assert plan.namespaces > 1

    # Each hub: 8.64 bn / 6 = 1.44 bn msg/day -> S3 (300 M/unit) needs ceil(4.8) = 5 units;
    # 16,667 sends/s / 6,000 = 2.8 -> 3 units; S2 would need 240 units (> 200), so S3 x 5.
    assert (plan.iothub.tier, plan.iothub.units) == ("S3", 5)
    assert plan.iothub.devices == 1_000_000

    # Each namespace: 16,667 events/s / 1,000 = 16.7 -> 17 TU, 17 partitions (>= 1 per TU, <= 32).
    assert plan.eventhubs.throughput_units == 17
    assert plan.eventhubs.telemetry_partitions == 17

    # Cosmos: 83,333 writes/s x 5 RU x 1.2 = 500,000 RU/s autoscale max; / 10,000 = 50 partitions.
    assert plan.cosmos.max_throughput_ru == 500_000
    assert plan.cosmos.physical_partitions == 50

    # AKS: 83,333 msg/s / 5,000 per node = 16.7 -> 17 nodes at average; x3 peak = 50 nodes max.
    assert (plan.aks.user_min_nodes, plan.aks.user_max_nodes) == (17, 50)

    # DPS: 6 M registrations / 1 M per unit = 6 units.
    assert plan.dps_units == 6


def test_design_example_one_message_every_30_seconds() -> None:
    # DESIGN.md: 5 M vehicles, 1 KB every 30 s = 120 msg/h -> 166,667 msg/s.
    plan = plan_capacity(5_000_000, 120, 1)
    assert plan.messages_per_second == pytest.approx(166_666.67, rel=1e-6)
    # 166,667 x 1.2 = 200,000 events/s = 200 TU / 32 = 6.25 -> 7 namespaces; devices alone say 6 hubs.
    assert plan.scale_units_by_limit["eventhubs-throughput-units"] == 7
    assert plan.scale_units == 7
    assert plan.hubs >= 5 and plan.namespaces > 1
    # Per unit: 200,000 / 7 = 28,571 events/s -> 29 TU, still within a namespace.
    assert plan.eventhubs.throughput_units == 29


def test_large_messages_are_metered_in_4kb_blocks() -> None:
    # 10 KB -> 3 blocks of 4 KB: 1,000 vehicles x 60/h x 24 h x 3 = 4,320,000 metered messages/day.
    plan = plan_capacity(1_000, 60, 10)
    assert plan.metered_messages_per_day == 4_320_000
    # With headroom 5,184,000/day: S1 needs 13 units ($325), S2 needs 1 unit ($250) -> S2 x 1.
    assert (plan.iothub.tier, plan.iothub.units) == ("S2", 1)
    # Bytes decide Event Hubs here: 16.7 msg/s x 10 KB = 0.16 MB/s -> 1 TU.
    assert plan.eventhubs.throughput_units == 1


def test_small_fleet_gets_minimum_footprint() -> None:
    plan = plan_capacity(1_000, 1, 1)
    assert plan.scale_units == 1
    assert (plan.iothub.tier, plan.iothub.units) == ("S1", 1)
    assert plan.cosmos.max_throughput_ru == 1_000
    assert plan.aks.user_min_nodes == 2 and plan.aks.user_max_nodes == 3


def test_eu_plans_several_scale_units() -> None:
    # 2.0 M vehicles x 1.2 headroom = 2.4 M devices -> 3 hubs of at most 1 M devices each.
    assert plan_for_profile(load_profile("eu")).scale_units == 3


@pytest.mark.parametrize("region", available_profiles())
def test_every_shipped_region_fits_its_devices_into_its_hubs(region: str) -> None:
    profile = load_profile(region)
    plan = plan_for_profile(profile)
    devices = profile.fleet.vehicles * plan.headroom
    assert plan.scale_units * 1_000_000 >= devices, f"{region}: {plan.scale_units} hubs for {devices:,.0f} devices"


def test_plan_is_frozen_and_serialisable() -> None:
    plan = plan_capacity(1_000, 60, 1)
    with pytest.raises(AttributeError):
        plan.scale_units = 2  # type: ignore[misc]
    data = plan.to_dict()
    assert data["hubs"] == data["scale_units"] == 1
    assert data["iothub"]["tier"] == "S1"


@pytest.mark.parametrize(
    ("vehicles", "per_hour", "kb", "message"),
    [
        (0, 60, 1, "fleet.vehicles: Input should be greater than 0 (got 0)"),
        (-5, 60, 1, "fleet.vehicles: Input should be greater than 0 (got -5)"),
        (1.5, 60, 1, "fleet.vehicles: Input should be a valid integer, got a number with a fractional part (got 1.5)"),
        (1000, 0, 1, "fleet.messages_per_vehicle_per_hour: Input should be greater than 0 (got 0)"),
        (1000, 60, -1, "fleet.message_kb: Input should be greater than 0 (got -1)"),
        (1000, 60, 300, "fleet.message_kb: 300 KB is above IoT Hub's 256 KB message limit (got 300)"),
        (1000, math.nan, 1, "fleet.messages_per_vehicle_per_hour: Input should be a finite number (got nan)"),
    ],
)
def test_refuses_impossible_fleets(vehicles: int, per_hour: float, kb: float, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_capacity(vehicles, per_hour, kb)
    assert str(caught.value) == message


def test_refuses_fleet_beyond_one_dps() -> None:
    # 50 M vehicles x 1.2 = 60 M devices -> 60 hubs, more than the 50 one DPS can link.
    with pytest.raises(ConfigError) as caught:
        plan_capacity(50_000_000, 60, 1)
    assert str(caught.value) == (
        f"fleet.vehicles: 50,000,000 vehicles at 60 msg/h need 60 scale units; one DPS links at most "
        f"{MAX_LINKED_HUBS} hubs: split the region"
    )


def test_cosmos_above_default_limit_is_noted() -> None:
    # 10 M x 60/h = 166,667 writes/s x 5 RU x 1.2 = 1,000,000 RU/s: exactly at the limit, no note;
    # 11 M -> 1,100,000 RU/s: noted.
    assert plan_capacity(10_000_000, 60, 1).notes == ()
    notes = plan_capacity(11_000_000, 60, 1).notes
    assert any("1,100,000 RU/s" in note for note in notes)
