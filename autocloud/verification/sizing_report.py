"""``autocloud size``: a region's capacity plan as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from platform_model.errors import ConfigError
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from platform_model.profiles import RegionProfile, load_profile
from platform_model.sizing import SCALE_LIMITS, CapacityPlan, RateCapacity, capacity_for_rate, plan_for_profile

RESULTS = REPO_ROOT / "bench" / "results"
LOCAL_BENCHMARKS: tuple[tuple[Path, str], ...] = (
    (RESULTS / "fleet.json", "one_unit_flat_out"),
    (RESULTS / "local.json", "eu_end_to_end"),
)
"""Where ``make bench`` records a rate measured end to end, best first: one scale unit flat out
(``tests/bench/bench_fleet.py``), else a region's short run (``tests/bench/bench_local.py``)."""


def measured_locally(sources: tuple[tuple[Path, str], ...] | None = None) -> tuple[float, str] | None:
    """The local platform's measured end-to-end rate (messages/s) and where it comes from; None if not
    recorded (no ``make bench`` run) or unreadable. A run that lost messages measured no end-to-end rate."""
    for path, key in sources or LOCAL_BENCHMARKS:
        try:
            data = json.loads(path.read_text())
            figures = data["figures"][key]
            rate = float(figures["messages_per_second"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if figures.get("lost", 0):
            continue
        when = str(data.get("measured_at", ""))[:10]
        where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        return rate, f"{where} {key}, {when}"
    return None


def measured_on_azure(profile: RegionProfile) -> tuple[RateCapacity, str] | None:
    """What the locally measured rate needs in one Azure scale unit, at the region's message size."""
    measured = measured_locally()
    if measured is None or measured[0] <= 0:
        return None
    return capacity_for_rate(measured[0], profile.fleet.message_kb), measured[1]


def plan_region(region: str, vehicles: int | None = None) -> tuple[RegionProfile, CapacityPlan]:
    """The profile (with an optional vehicles override) and its plan; ConfigError on bad input."""
    profile = load_profile(region)
    if vehicles is not None:
        try:
            profile = profile.with_fleet(vehicles=vehicles)
        except ConfigError as exc:
            raise ConfigError("--vehicles", "", exc.message) from None
    return profile, plan_for_profile(profile)


def measured_line(profile: RegionProfile) -> str | None:
    """The measured local rate and what one Azure scale unit needs for it, in one line (the report)."""
    if not (measured := measured_on_azure(profile)):
        return None
    rate, source = measured
    return (
        f"{rate.messages_per_second:,.0f} msg/s end to end on the local platform ({source}); one Azure scale "
        f"unit at that rate and {rate.message_kb:g} KB needs IoT Hub {rate.iothub_tier} x {rate.iothub_units}, "
        f"{rate.throughput_units} TU, Cosmos DB max {rate.cosmos_max_ru:,} RU/s"
    )


def plan_json(profile: RegionProfile, plan: CapacityPlan) -> dict[str, Any]:
    """The plan with the region facts that frame it (the ``--format json`` document)."""
    document: dict[str, Any] = {
        "region": profile.name,
        "cloud": profile.cloud,
        "primary": profile.primary,
        "secondary": profile.secondary,
        "plan": plan.to_dict(),
    }
    if measured := measured_on_azure(profile):
        document["measured_locally"] = measured[0].to_dict() | {"source": measured[1]}
    return document


def plan_table(profile: RegionProfile, plan: CapacityPlan) -> Table:
    """Inputs, load, why the region has N scale units, and what each service gets."""
    table = Table(title=f"Capacity plan: region {profile.name} ({profile.cloud}, primary {profile.primary})")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_column("basis")
    rows: list[tuple[str, str, str]] = [
        ("vehicles", f"{plan.vehicles:,}", "fleet"),
        ("messages / vehicle / hour", f"{plan.messages_per_vehicle_per_hour:g}", "fleet"),
        ("message size", f"{plan.message_kb:g} KB", "fleet"),
        ("headroom", f"x{plan.headroom:g}", "platform_model.sizing.HEADROOM"),
        ("device-to-cloud messages/s", f"{plan.messages_per_second:,.0f}", "average, no headroom"),
        ("ingress", f"{plan.ingress_mb_per_second:,.1f} MB/s", "average, no headroom"),
        ("metered messages/day", f"{plan.metered_messages_per_day:,}", "IoT Hub counts 4 KB blocks"),
    ]
    rows += [
        (f"scale units needed: {limit}", str(units), SCALE_LIMITS.get(limit, ""))
        for limit, units in plan.scale_units_by_limit.items()
    ]
    rows += [
        ("scale units", str(plan.scale_units), "largest of the above"),
        ("IoT hubs", str(plan.hubs), "one per scale unit"),
        ("IoT Hub tier x units (each hub)", f"{plan.iothub.tier} x {plan.iothub.units}", "cheapest tier that fits"),
        ("Event Hubs namespaces", str(plan.namespaces), "one per scale unit, Standard"),
        ("throughput units (each namespace)", str(plan.eventhubs.throughput_units), "1 MB/s or 1,000 events/s"),
        (
            "partitions telemetry / events",
            f"{plan.eventhubs.telemetry_partitions} / {plan.eventhubs.events_partitions}",
            "max 32 per hub",
        ),
        ("DPS units", str(plan.dps_units), "1 M registrations each"),
        ("Cosmos DB max RU/s (autoscale)", f"{plan.cosmos.max_throughput_ru:,}", "~5 RU per 1 KB write"),
        ("Cosmos DB physical partitions", str(plan.cosmos.physical_partitions), "10,000 RU/s each"),
        (
            "AKS nodes system / user",
            f"{plan.aks.system_nodes} / {plan.aks.user_min_nodes}-{plan.aks.user_max_nodes}",
            plan.aks.vm_size,
        ),
    ]
    rows += [("note", "", note) for note in plan.notes]
    if measured := measured_on_azure(profile):
        rate, source = measured
        rows += [
            ("measured locally, messages/s", f"{rate.messages_per_second:,.0f}", source),
            (
                "  on Azure: IoT Hub tier x units",
                f"{rate.iothub_tier} x {rate.iothub_units}",
                f"one scale unit at that rate, {rate.message_kb:g} KB messages",
            ),
            ("  on Azure: throughput units", str(rate.throughput_units), "1 MB/s or 1,000 events/s"),
            ("  on Azure: Cosmos DB max RU/s", f"{rate.cosmos_max_ru:,}", "~5 RU per 1 KB write"),
        ]
    for row in rows:
        table.add_row(*map(Text, row))
    return table


def size_command(
    region: str, vehicles: int | None = None, fmt: OutputFormat = OutputFormat.TABLE, console: Console | None = None
) -> None:
    """Print the plan for ``region`` as a table or JSON; ConfigError (exit 2) on bad input."""
    out = console or Console()
    profile, plan = plan_region(region, vehicles)
    if fmt == OutputFormat.JSON:
        out.print_json(json.dumps(plan_json(profile, plan)))
    else:
        out.print(plan_table(profile, plan))
