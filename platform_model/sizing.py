"""Fleet numbers -> capacity plan: how many scale units, and what each service gets.

Pure functions, no Pulumi: the program, ``autocloud size`` and the report all call
:func:`plan_capacity`. Every limit below is a published Azure quota (named next to it) or, where
marked, our own assumption. A region is built from *scale units*; each has its own IoT Hub and
Event Hubs namespace, and one DPS links every hub of the region. Cosmos DB and AKS are per region.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from platform_model.errors import ConfigError
from platform_model.profiles import (
    RegionProfile,
    parse_fleet,
)

HEADROOM = 1.2
"""Plan for 20% more than today's fleet and traffic: growth between rollouts and bursts."""

SECONDS_PER_DAY = 86_400

# --- IoT Hub ("IoT Hub quotas and throttling", "Choose the right IoT Hub tier") ---
IotHubTier = Literal["S1", "S2", "S3"]
DEVICES_PER_HUB = 1_000_000
"""Device identities per IoT hub (standard tiers)."""
IOTHUB_METER_KB = 4
"""Daily message quota is metered in 4 KB blocks: a 5 KB message counts as two."""


@dataclass(frozen=True)
class _Tier:
    messages_per_day_per_unit: int
    """Daily message quota per unit."""
    sends_per_second_per_unit: float
    """Device-to-cloud send throttle per unit."""
    min_sends_per_second: float
    """The throttle is 'the higher of' this or the per-unit rate."""
    max_units: int
    """Units per hub."""
    relative_price_per_unit: int
    """Price per unit and month relative to S1, used only to pick the cheapest tier that fits. The one price
    list readable here, Azure China's, gives S1 ¥254.40, S2 ¥2,544.00 and S3 ¥25,440.00 per unit and month
    (https://www.azure.cn/en-us/pricing/details/iot-hub, "Standard tier"): 1 : 10 : 100. The same ratio is
    taken for public Azure (its price pages render their figures in the browser); the cost itself is
    ``autocloud cost``'s, from ``platform_model/catalog/prices.yaml``."""


IOTHUB_TIERS: dict[IotHubTier, _Tier] = {
    "S1": _Tier(400_000, 12, 100, 200, 1),
    "S2": _Tier(6_000_000, 120, 100, 200, 10),
    "S3": _Tier(300_000_000, 6_000, 0, 10, 100),
}
IOTHUB_PARTITIONS = 4
"""Built-in endpoint partitions (2-32; fixed at creation). Fallback traffic only: routes carry the rest."""

# --- Device Provisioning Service ("DPS quotas and limits") ---
REGISTRATIONS_PER_DPS_UNIT = 1_000_000
"""Registrations per DPS service unit."""
MAX_LINKED_HUBS = 50
"""IoT hubs linked to one DPS instance; one DPS serves a region, so at most 50 scale units."""

# --- Event Hubs ("Event Hubs quotas and limits", Standard tier) ---
TU_INGRESS_MB_PER_SECOND = 1.0
"""One throughput unit takes 1 MB/s in ..."""
TU_INGRESS_EVENTS_PER_SECOND = 1_000
"""... or 1,000 events/s in, whichever comes first."""
MAX_TU_PER_NAMESPACE = 40
"""Throughput units per Standard namespace."""
MAX_PARTITIONS_PER_HUB = 32
"""Partitions per event hub (Standard)."""
MAX_TU_PER_SCALE_UNIT = min(MAX_TU_PER_NAMESPACE, MAX_PARTITIONS_PER_HUB)
"""A partition takes about one TU of ingress and nearly all ingress lands on the telemetry hub, so
a namespace is useful up to 32 TU, not 40."""
MAX_HUBS_PER_NAMESPACE = 10
"""Event hubs per Standard namespace ("Number of event hubs per namespace": Basic 10, Standard 10,
https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas). With brands a namespace holds ``events``
and one ``telemetry-<brand>`` per brand, so a region serves at most ``MAX_HUBS_PER_NAMESPACE - 1`` brands."""
MIN_PARTITIONS = 4
"""Our floor: consumers scale out to at least four readers per hub."""
EVENTS_PARTITIONS = 4
"""The ``events`` hub (lifecycle and alerts, a small fraction of telemetry) keeps the floor."""

# --- Cosmos DB ("Request units", "Partitioning and horizontal scaling") ---
RU_PER_KB_WRITE = 5
"""About 5 RU to write a 1 KB item (more with heavy indexing)."""
RU_PER_PHYSICAL_PARTITION = 10_000
"""Throughput one physical partition serves."""
AUTOSCALE_STEP_RU = 1_000
"""Autoscale max throughput is set in steps of 1,000 RU/s (minimum 1,000)."""
MAX_AUTOSCALE_RU_WITHOUT_TICKET = 1_000_000
"""Above this per container, Azure support must raise the limit."""
STATE_WRITES_PER_MESSAGE = 1.0
"""Assumption: every telemetry message upserts the vehicle's last-known state document."""

# --- AKS ("AKS quotas, SKUs and regions") ---
AKS_VM_SIZE = "Standard_D4s_v5"
"""Assumption: 4 vCPU general-purpose nodes, offered in every profile's primary (Azure China too)."""
SYSTEM_NODES = 3
"""One system node per availability zone."""
MESSAGES_PER_NODE_PER_SECOND = 5_000
"""Assumption from our stream-processor benchmark on the VM size above."""
PEAK_FACTOR = 3
"""Assumption: rush-hour telemetry peaks at three times the daily average."""
MIN_USER_NODES = 2
MAX_NODES_PER_POOL = 1_000
"""Nodes per node pool."""


SCALE_LIMITS: dict[str, str] = {
    "iothub-devices": "1 M devices per hub",
    "iothub-messages-per-day": "10 S3 units x 300 M messages/day per hub",
    "iothub-sends-per-second": "10 S3 units x 6,000 sends/s per hub",
    "eventhubs-throughput-units": "32 TU per namespace (1 MB/s or 1,000 events/s each)",
}
"""The quotas that can force another scale unit, keyed as in ``CapacityPlan.scale_units_by_limit``."""


@dataclass(frozen=True)
class IotHubPlan:
    """One scale unit's IoT hub."""

    tier: IotHubTier
    units: int
    partitions: int
    devices: int
    """Vehicles this hub is planned for (with headroom)."""


@dataclass(frozen=True)
class EventHubsPlan:
    """One scale unit's Event Hubs namespace."""

    sku: Literal["Standard"]
    throughput_units: int
    telemetry_partitions: int
    events_partitions: int


@dataclass(frozen=True)
class CosmosPlan:
    """The region's vehicle-state container (autoscale)."""

    writes_per_second: float
    max_throughput_ru: int
    physical_partitions: int


@dataclass(frozen=True)
class BrandPlan:
    """One brand's share of a region: its own vehicle-state container, sized for its own fleet."""

    name: str
    vehicles: int
    cosmos: CosmosPlan
    telemetry_partitions: int = MIN_PARTITIONS
    """Partitions of the brand's own telemetry hub in each scale unit: its fleet's share of the plan's
    ``telemetry_partitions`` (a partition takes about one TU of ingress), at least ``MIN_PARTITIONS`` so its
    writer still scales out to four readers, at most ``MAX_PARTITIONS_PER_HUB``."""


@dataclass(frozen=True)
class AksPlan:
    """The region's cluster: a fixed system pool and an autoscaled user pool."""

    vm_size: str
    system_nodes: int
    user_min_nodes: int
    user_max_nodes: int


@dataclass(frozen=True)
class CapacityPlan:
    """What a region needs. ``scale_units`` copies of ``iothub`` and ``eventhubs``, one DPS, one
    Cosmos container and one AKS cluster."""

    vehicles: int
    messages_per_vehicle_per_hour: float
    message_kb: float
    headroom: float
    messages_per_second: float
    """Average device-to-cloud messages/s over the whole region, without headroom."""
    ingress_mb_per_second: float
    metered_messages_per_day: int
    """Messages per day as IoT Hub counts them (4 KB blocks), without headroom."""
    scale_units: int
    scale_units_by_limit: dict[str, int]
    """Scale units each quota alone would need; the plan takes the largest."""
    iothub: IotHubPlan
    dps_units: int
    eventhubs: EventHubsPlan
    cosmos: CosmosPlan
    aks: AksPlan
    notes: tuple[str, ...]
    """Limits that need a support ticket or a human look; the plan is still usable."""
    brands: tuple[BrandPlan, ...] = ()
    """Per brand (``autocloud:brands``), its container's throughput; empty: one region-wide container
    (``cosmos``). The rest of the plan is sized for the brands' sum."""

    @property
    def hubs(self) -> int:
        return self.scale_units

    @property
    def namespaces(self) -> int:
        return self.scale_units

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``autocloud size --format json``, reports)."""
        return asdict(self) | {"hubs": self.hubs, "namespaces": self.namespaces}


def _iothub_units(tier: _Tier, messages_per_day: float, sends_per_second: float) -> int:
    """Units one hub of ``tier`` needs for both the daily quota and the send throttle."""
    by_day = math.ceil(messages_per_day / tier.messages_per_day_per_unit)
    by_rate = (
        1
        if sends_per_second <= tier.min_sends_per_second
        else math.ceil(sends_per_second / tier.sends_per_second_per_unit)
    )
    return max(1, by_day, by_rate)


def _cheapest_tier(messages_per_day: float, sends_per_second: float) -> tuple[IotHubTier, int]:
    """The tier and units with the lowest list price that fit in one hub (ties go to the higher tier)."""
    fits = [
        (name, units)
        for name, tier in IOTHUB_TIERS.items()
        if (units := _iothub_units(tier, messages_per_day, sends_per_second)) <= tier.max_units
    ]
    if not fits:
        raise AssertionError("scale units are sized so that one S3 hub fits")
    return min(fits, key=lambda f: (IOTHUB_TIERS[f[0]].relative_price_per_unit * f[1], -int(f[0][1])))


def _throughput_units(messages_per_second: float, message_kb: float) -> int:
    """Event Hubs TUs for an ingress rate: the larger of the MB/s and events/s needs."""
    by_bytes = messages_per_second * message_kb / 1024 / TU_INGRESS_MB_PER_SECOND
    by_events = messages_per_second / TU_INGRESS_EVENTS_PER_SECOND
    return max(1, math.ceil(max(by_bytes, by_events)))


def _cosmos_plan(messages_per_second: float, message_kb: float) -> CosmosPlan:
    """Autoscale max RU/s for one container taking ``messages_per_second`` state upserts (plus headroom)."""
    writes = messages_per_second * STATE_WRITES_PER_MESSAGE
    ru = writes * math.ceil(message_kb) * RU_PER_KB_WRITE * HEADROOM
    max_ru = max(AUTOSCALE_STEP_RU, math.ceil(ru / AUTOSCALE_STEP_RU) * AUTOSCALE_STEP_RU)
    return CosmosPlan(
        writes_per_second=writes,
        max_throughput_ru=max_ru,
        physical_partitions=math.ceil(max_ru / RU_PER_PHYSICAL_PARTITION),
    )


def plan_capacity(
    vehicles: int,
    messages_per_vehicle_per_hour: float,
    message_kb: float,
    brands: Sequence[tuple[str, int]] = (),
) -> CapacityPlan:
    """Size a region for a fleet. Raises ConfigError for impossible input.

    ``brands`` (name, vehicles) split the fleet into tenants: ``vehicles`` must be their sum, and each
    brand's container is sized for its own vehicles at the region's message rate and size."""
    if brands and sum(v for _, v in brands) != vehicles:
        raise ValueError(f"vehicles {vehicles} is not the sum of the brands' {[v for _, v in brands]}")
    if len(brands) > MAX_HUBS_PER_NAMESPACE - 1:
        raise ConfigError(
            "",
            "brands",
            f"{len(brands)} brands need {len(brands) + 1} event hubs per namespace (events and one telemetry hub"
            f" per brand); a Standard namespace holds at most {MAX_HUBS_PER_NAMESPACE}: split the region's brands",
        )
    fleet = parse_fleet(vehicles, messages_per_vehicle_per_hour, message_kb)
    vehicles, messages_per_vehicle_per_hour, message_kb = (
        fleet.vehicles,
        fleet.messages_per_vehicle_per_hour,
        fleet.message_kb,
    )
    messages_per_second = vehicles * messages_per_vehicle_per_hour / 3600
    blocks = math.ceil(message_kb / IOTHUB_METER_KB)
    metered_per_day = messages_per_second * SECONDS_PER_DAY * blocks

    planned_devices = vehicles * HEADROOM
    planned_rate = messages_per_second * HEADROOM
    planned_day = metered_per_day * HEADROOM
    s3 = IOTHUB_TIERS["S3"]
    by_limit = {
        "iothub-devices": math.ceil(planned_devices / DEVICES_PER_HUB),
        "iothub-messages-per-day": math.ceil(planned_day / (s3.max_units * s3.messages_per_day_per_unit)),
        "iothub-sends-per-second": math.ceil(planned_rate / (s3.max_units * s3.sends_per_second_per_unit)),
        "eventhubs-throughput-units": math.ceil(_throughput_units(planned_rate, message_kb) / MAX_TU_PER_SCALE_UNIT),
    }
    scale_units = max(1, *by_limit.values())
    if scale_units > MAX_LINKED_HUBS:
        raise ConfigError(
            "",
            "fleet.vehicles",
            f"{vehicles:,} vehicles at {messages_per_vehicle_per_hour:g} msg/h need {scale_units} scale units;"
            f" one DPS links at most {MAX_LINKED_HUBS} hubs: split the region",
        )

    unit_rate = planned_rate / scale_units
    tier, units = _cheapest_tier(planned_day / scale_units, unit_rate)
    iothub = IotHubPlan(
        tier=tier,
        units=units,
        partitions=IOTHUB_PARTITIONS,
        devices=math.ceil(planned_devices / scale_units),
    )
    tus = _throughput_units(unit_rate, message_kb)
    eventhubs = EventHubsPlan(
        sku="Standard",
        throughput_units=tus,
        telemetry_partitions=min(MAX_PARTITIONS_PER_HUB, max(MIN_PARTITIONS, tus)),
        events_partitions=EVENTS_PARTITIONS,
    )

    cosmos = _cosmos_plan(messages_per_second, message_kb)
    brand_plans = tuple(
        BrandPlan(
            name,
            count,
            _cosmos_plan(count * messages_per_vehicle_per_hour / 3600, message_kb),
            _share_of_partitions(eventhubs.telemetry_partitions, count, vehicles),
        )
        for name, count in brands
    )

    user_min = max(MIN_USER_NODES, math.ceil(messages_per_second / MESSAGES_PER_NODE_PER_SECOND))
    user_max = max(user_min + 1, math.ceil(messages_per_second * PEAK_FACTOR / MESSAGES_PER_NODE_PER_SECOND))
    aks = AksPlan(
        vm_size=AKS_VM_SIZE,
        system_nodes=SYSTEM_NODES,
        user_min_nodes=min(user_min, MAX_NODES_PER_POOL),
        user_max_nodes=min(user_max, MAX_NODES_PER_POOL),
    )

    dps_units = math.ceil(planned_devices / REGISTRATIONS_PER_DPS_UNIT)
    notes: list[str] = []
    for label, plan in [("", cosmos)] if not brand_plans else [(f" (brand {b.name})", b.cosmos) for b in brand_plans]:
        if plan.max_throughput_ru > MAX_AUTOSCALE_RU_WITHOUT_TICKET:
            notes.append(
                f"Cosmos DB{label} {plan.max_throughput_ru:,} RU/s is above {MAX_AUTOSCALE_RU_WITHOUT_TICKET:,}:"
                " ask Azure support"
            )
    if user_max >= MAX_NODES_PER_POOL:
        notes.append(f"AKS user pool capped at {MAX_NODES_PER_POOL} nodes: add node pools or a second cluster")
    return CapacityPlan(
        vehicles=vehicles,
        messages_per_vehicle_per_hour=messages_per_vehicle_per_hour,
        message_kb=message_kb,
        headroom=HEADROOM,
        messages_per_second=messages_per_second,
        ingress_mb_per_second=messages_per_second * message_kb / 1024,
        metered_messages_per_day=round(metered_per_day),
        scale_units=scale_units,
        scale_units_by_limit=by_limit,
        iothub=iothub,
        dps_units=dps_units,
        eventhubs=eventhubs,
        cosmos=cosmos,
        aks=aks,
        notes=tuple(notes),
        brands=brand_plans,
    )


@dataclass(frozen=True)
class RateCapacity:
    """What one scale unit on Azure needs to carry a measured message rate: IoT Hub and Event Hubs for the
    rate itself (a measurement, not a forecast), Cosmos DB's autoscale maximum as the plan sets it (with
    :data:`HEADROOM`)."""

    messages_per_second: float
    message_kb: float
    iothub_tier: IotHubTier
    iothub_units: int
    throughput_units: int
    cosmos_max_ru: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def capacity_for_rate(messages_per_second: float, message_kb: float) -> RateCapacity:
    """The IoT Hub tier and units, Event Hubs TUs and Cosmos DB RU/s that ``messages_per_second`` of
    ``message_kb`` messages need in one scale unit: local figures beside Azure capacity (``autocloud size``)."""
    if messages_per_second <= 0 or message_kb <= 0:
        raise ValueError(f"a measured rate and message size must be positive, not {messages_per_second}, {message_kb}")
    per_day = messages_per_second * SECONDS_PER_DAY * math.ceil(message_kb / IOTHUB_METER_KB)
    tier, units = _cheapest_tier(per_day, messages_per_second)
    return RateCapacity(
        messages_per_second=messages_per_second,
        message_kb=message_kb,
        iothub_tier=tier,
        iothub_units=units,
        throughput_units=_throughput_units(messages_per_second, message_kb),
        cosmos_max_ru=_cosmos_plan(messages_per_second, message_kb).max_throughput_ru,
    )


def _share_of_partitions(partitions: int, brand_vehicles: int, vehicles: int) -> int:
    """A brand's share of a scale unit's telemetry partitions, rounded up, between the floor and the cap."""
    return min(MAX_PARTITIONS_PER_HUB, max(MIN_PARTITIONS, math.ceil(partitions * brand_vehicles / vehicles)))


def plan_for_profile(profile: RegionProfile, brands: Sequence[tuple[str, int]] = ()) -> CapacityPlan:
    """The plan for a profile's fleet (with any stack overrides already applied), split by ``brands``
    (name, vehicles) whose sum is the fleet."""
    fleet = profile.fleet
    return plan_capacity(fleet.vehicles, fleet.messages_per_vehicle_per_hour, fleet.message_kb, brands)
