"""`autocloud report`: per region, where every resource sits, what the policies say, and how big it is.

A reviewer or an auditor asks three things of a region: does every resource stay inside its
boundary, do the policy packs agree, and is it sized for its fleet. The report answers all three
from the same sources the rest of the toolkit uses, so it cannot drift from them: the program is
run under mocks and judged by `autocloud.verification.check`'s machinery (`resolve_targets`, `record`,
`views_from_records`, the policies' `Evaluator`), the plan comes from `platform_model.sizing`, and the
telemetry flow is read off the components the program declared. Jinja2 renders Markdown (for pull
requests and wikis) and HTML (autoescaped, one self-contained page).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from autocloud.verification import common
from autocloud.verification.check.command import Status as Status_
from autocloud.verification.check.command import record, views_from_records
from autocloud.verification.check.targets import CheckError, Target, resolve_targets
from autocloud.verification.common import all_packs, map_targets, templates
from autocloud.verification.cost import estimate
from autocloud.verification.cost import summary as cost_summary
from autocloud.verification.sizing_report import measured_line
from platform_model.errors import ConfigError, InputError
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from platform_model.prices import price_table
from platform_model.profiles import RegionProfile
from platform_model.sizing import CapacityPlan
from platform_model.stack import StackConfig, resolve_stack
from platform_model.vocabulary import normalise_location
from policies.engine import Evaluator
from policies.facts.azure import AZURE_NATIVE_PROVIDER, GLOBAL_TYPES, Locations, is_located, location_of
from policies.facts.kubernetes import NAMESPACE, Namespaces, is_kubernetes, namespace_of, object_name
from policies.model import ResourceView, RuleContext, Violation, ViolationCounts

FILE_NAMES: Mapping[OutputFormat, str] = {OutputFormat.MARKDOWN: "report.md", OutputFormat.HTML: "report.html"}
"""The formats a report is written in, and its file name in each."""
TEMPLATES = common.TEMPLATES / "report"

Status = Literal["inside", "outside", "global", "unset", "unverified", "n/a"]
"""Where a resource sits relative to its region (its own location, else the one azure-native gives
it from its resource group or provider): inside or outside the boundary, one of the few services that
only exist `global`ly, a located type with no location at all, one whose location is only known at
deployment (an existing resource group, an output), or nothing to place (components, role
assignments, cluster-wide objects)."""


@dataclass(frozen=True)
class Placement:
    """One resource of the stack, where it is, and how many findings name it."""

    name: str
    type: str
    urn: str
    location: str
    status: Status
    findings: int = 0


@dataclass(frozen=True)
class FlowStage:
    """One hop of telemetry from the vehicle to the state store, as this stack builds it."""

    title: str
    service: str
    instances: int
    sizing: str
    where: tuple[str, ...]
    inside: bool | None
    """True when every located resource of the stage is inside the boundary, None if none is located."""


@dataclass
class RegionReport(ViolationCounts):
    """Everything the report says about one stack."""

    stack: str
    region: str
    cloud: str
    target: str
    boundary: tuple[str, ...]
    primary: str = ""
    secondary: str = ""
    resources: list[Placement] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    plan: CapacityPlan | None = None
    flow: list[FlowStage] = field(default_factory=list)
    error: str | None = None
    """Why the program could not be run or judged; the rest of the region's report is then partial."""
    cost: str | None = None
    """Azure stacks: the monthly estimate (``autocloud cost``) in one line; None on the local target."""
    measured: str | None = None
    """The local platform's measured rate as Azure capacity, in one line (``autocloud size``); None if unmeasured."""

    @property
    def status(self) -> Status_:
        """The same verdict `autocloud check` gives the stack (clean, violations, incomplete, error)."""
        if self.error is not None:
            return "incomplete" if self.resources else "error"
        return "violations" if self.mandatory else "clean"

    @property
    def outside(self) -> int:
        return sum(p.status in ("outside", "unset") for p in self.resources)

    @property
    def located(self) -> int:
        return sum(p.status != "n/a" for p in self.resources)

    @property
    def ok(self) -> bool:
        return self.error is None and self.mandatory == 0


@dataclass
class Report:
    regions: list[RegionReport]
    generated: str

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.regions)


# --- placement -----------------------------------------------------------------------------------


def _azure_placement(view: ResourceView, ctx: RuleContext, locations: Locations) -> tuple[str, Status]:
    if view.type == AZURE_NATIVE_PROVIDER:
        location = location_of(view)
        if location is None:
            return ("-", "n/a")
    else:
        placed = locations.of(view)
        if placed.unverifiable is not None:
            return ("unknown before deployment", "unverified")
        location = placed.location
        if location is None:
            return ("not set", "unset")
    if not isinstance(location, str) or not location.strip():
        return (repr(location), "unset")
    name = normalise_location(location)
    if name == "global":
        return ("global", "global" if view.type in GLOBAL_TYPES else "outside")
    return (name, "inside" if ctx.in_boundary(name) else "outside")


def placements(views: Sequence[ResourceView], ctx: RuleContext, violations: Sequence[Violation]) -> list[Placement]:
    """Every resource with its location (Azure) or namespace (Kubernetes) and its boundary status,
    using the same property readers the residency rules use."""
    namespaces = Namespaces(views, ctx)
    locations = Locations(views)
    findings: dict[str, int] = {}
    for violation in violations:
        findings[violation.urn] = findings.get(violation.urn, 0) + 1
    result: list[Placement] = []
    for view in views:
        location: str = "-"
        status: Status = "n/a"
        if is_located(view) or view.type == AZURE_NATIVE_PROVIDER:
            location, status = _azure_placement(view, ctx, locations)
        elif is_kubernetes(view):
            namespace = object_name(view) if view.type == NAMESPACE else namespace_of(view)
            if namespace is not None:
                region = namespaces.region_of(namespace)
                location = f"namespace {namespace}"
                status = "inside" if region == ctx.region else "outside" if region is not None else "unset"
        result.append(Placement(view.name, view.type, view.urn, location, status, findings.get(view.urn, 0)))
    return result


# --- telemetry flow ------------------------------------------------------------------------------


def _type_chain(urn: str) -> list[str]:
    """The parent types and own type a URN spells (``...::a$b$c::name`` -> [a, b, c])."""
    parts = urn.split("::")
    return parts[2].split("$") if len(parts) >= 4 else []


@dataclass(frozen=True)
class _Stage:
    title: str
    component: str
    """Last segment of the component type token both targets share (``...:TelemetryIngest``)."""
    azure: str
    local: str
    sizing: Callable[[CapacityPlan], str]


_STAGES: tuple[_Stage, ...] = (
    _Stage(
        "Provisioning",
        "DeviceProvisioning",
        "Device Provisioning Service",
        "-",
        lambda p: f"{p.dps_units} unit(s), links {p.hubs} hub(s)",
    ),
    _Stage(
        "Ingest",
        "TelemetryIngest",
        "IoT Hub",
        "MQTT broker",
        lambda p: f"{p.hubs} hub(s) x {p.iothub.tier} with {p.iothub.units} unit(s), {p.iothub.devices:,} devices each",
    ),
    _Stage(
        "Streaming",
        "EventStreaming",
        "Event Hubs",
        "Kafka-compatible broker",
        lambda p: (
            f"{p.namespaces} namespace(s) x {p.eventhubs.throughput_units} TU, "
            f"{p.eventhubs.telemetry_partitions} partitions"
        ),
    ),
    _Stage(
        "Processing",
        "ComputeCluster",
        "AKS consumers",
        "namespace consumers",
        lambda p: (
            f"{p.aks.system_nodes} system + {p.aks.user_min_nodes}-{p.aks.user_max_nodes} user nodes ({p.aks.vm_size})"
        ),
    ),
    _Stage(
        "Vehicle state",
        "VehicleStateStore",
        "Cosmos DB",
        "FerretDB fed by the state writer",
        lambda p: (
            f"autoscale up to {p.cosmos.max_throughput_ru:,} RU/s, {p.cosmos.physical_partitions} physical partition(s)"
        ),
    ),
)


def telemetry_flow(placed: Sequence[Placement], target: str, plan: CapacityPlan | None, region: str) -> list[FlowStage]:
    """Vehicle -> DPS -> IoT Hub(s) -> Event Hubs -> AKS consumers -> Cosmos DB, each hop with the
    component instances the program declared, the plan's sizing and where the resources sit."""
    vehicles = f"{plan.vehicles:,} vehicles, {plan.messages_per_second:,.0f} msg/s" if plan else "-"
    flow = [FlowStage("Vehicles", "connected vehicles", plan.vehicles if plan else 0, vehicles, (region,), None)]
    for stage in _STAGES:
        suffix = f":{stage.component}"
        instances = sum(1 for p in placed if p.type.endswith(suffix) and p.type.startswith("autocloud:"))
        members = [p for p in placed if p.status != "n/a" and any(t.endswith(suffix) for t in _type_chain(p.urn)[:-1])]
        where = tuple(dict.fromkeys(p.location for p in members))
        inside = all(p.status in ("inside", "global") for p in members) if members else None
        service = stage.local if target == "local" else stage.azure
        sizing = stage.sizing(plan) if plan and instances else ("not deployed" if not instances else "-")
        flow.append(FlowStage(stage.title, service, instances, sizing, where, inside))
    return flow


# --- building ------------------------------------------------------------------------------------


def _plan_for(stack: str, root: Path) -> tuple[StackConfig, RegionProfile, CapacityPlan]:
    resolved = resolve_stack(stack, root)
    return resolved.config, resolved.profile, resolved.plan


def region_report(target: Target, evaluator: Evaluator, root: Path) -> RegionReport:
    """Run one stack's program under mocks, judge it, place its resources, attach its plan."""
    ctx = target.ctx
    report = RegionReport(target.label, ctx.region, ctx.cloud, "-", tuple(sorted(ctx.boundary)))
    try:
        config, profile, plan = _plan_for(target.stack, root)
        report.target, report.plan = config.target, plan
        report.measured = measured_line(profile)
        report.boundary, report.primary = profile.boundary, profile.primary
        report.secondary = profile.secondary or ""
    except ConfigError as error:
        report.error = str(error)
    try:
        recording = record(target)
    except CheckError as error:
        report.error = str(error)
        return report
    report.error = recording.error or report.error
    views = views_from_records(recording.records, target, recording.located)
    report.violations = evaluator.run(views, ctx, stack=target.label).violations
    report.resources = placements(views, ctx, report.violations)
    report.flow = telemetry_flow(report.resources, report.target, report.plan, ctx.region)
    if report.target == "azure":
        report.cost = cost_summary(estimate(recording.records, price_table(), target.label, ctx.region))
    return report


def build_report(stacks: Sequence[str] | None, program_dir: Path | None = None, root: Path | None = None) -> Report:
    """The report for `stacks` (default: every stack under stacks/), optionally running another
    program with their config (tests use the violating programs this way).

    Raises CheckError/ConfigError on bad usage (unknown stack, bad stack file).
    """
    base = (root or REPO_ROOT).resolve()
    targets = resolve_targets(list(stacks) if stacks else None, not stacks, program_dir, None, base)
    evaluator = all_packs()
    regions = map_targets(lambda t: region_report(t, evaluator, base), targets)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Report(sorted(regions, key=lambda r: r.stack), generated)


# --- rendering -----------------------------------------------------------------------------------


def render(report: Report, fmt: OutputFormat) -> str:
    template = templates().get_template(f"{TEMPLATES.name}/{FILE_NAMES[fmt]}.j2")
    return template.render(report=report, regions=report.regions)


def _check_out(out: Path) -> None:
    """Refuse an `--out` that cannot take the report before any stack is checked: an existing file,
    a folder that cannot be made or written (`/proc/self`)."""
    if out.exists() and not out.is_dir():
        raise CheckError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckError(f"--out {out}: cannot create the folder: {error.strerror or error}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CheckError(f"--out {out}: the folder is not writable")


def write_report(report: Report, fmt: OutputFormat, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAMES[fmt]
    path.write_text(render(report, fmt), encoding="utf-8")
    return path


def report_command(
    fmt: OutputFormat,
    out: Path,
    stacks: list[str] | None,
    *,
    program_dir: Path | None = None,
    root: Path | None = None,
    echo: TextIO | None = None,
) -> int:
    """`autocloud report`: write `out/report.md` or `out/report.html`.

    0 when every region complies, 1 when the report shows a mandatory violation or a region that
    could not be checked (the report is written either way); bad usage or configuration, and an
    `--out` that cannot take the report, raise (exit 2) before any region is reported.
    """
    echo = echo or sys.stdout
    _check_out(out)
    try:
        report = build_report(stacks, program_dir, root)
    except ValueError as error:
        raise CheckError(str(error)) from None
    try:
        path = write_report(report, fmt, out)
    except OSError as error:
        raise InputError(f"--out {out}: cannot write the report: {error.strerror or error}") from None
    for region in report.regions:
        state = "ok" if region.ok else "FAIL"
        detail = region.error or (
            f"{len(region.resources)} resources, {region.outside} outside, "
            f"{region.mandatory} mandatory, {region.advisory} advisory"
        )
        print(f"{state} {region.stack} (region {region.region}): {detail}", file=echo)
    print(f"report: {path}", file=echo)
    return 0 if report.ok else 1
