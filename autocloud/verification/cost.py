"""`autocloud cost`: the monthly cost of each Azure stack, from what its program declares and a cited price table.

Offline, like `autocloud check`: the stack's program runs under the same mocks (`check.command.record`),
and each billable resource's own properties give its capacity (hub units, throughput or processing units,
RU/s, node counts and VM sizes; an autoscale range as low-high). Capacity times the price table's rate
(``platform_model/catalog/prices.yaml``) over a month of 730 hours is the estimate. What the table cannot
price (a meter or location without a price, a type nobody priced, a type we do not know) is listed as
unpriced and never counted as zero; meters billed by use (messages, GB ingested) are shown with their
rate and left out of the total, since a program does not declare its traffic.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autocloud.verification.check.command import Recording, record
from autocloud.verification.check.targets import CheckError, Target, resolve_targets
from autocloud.verification.common import map_targets, md_cell, short_type
from platform_model.errors import EXIT_BAD_INPUT, AutocloudError
from platform_model.formats import OutputFormat
from platform_model.locations import CLOUD_NAMES, find_location
from platform_model.paths import REPO_ROOT
from platform_model.prices import HOURS_PER_MONTH, Price, PriceTable, price_table
from platform_model.stack import stack_config, stack_names
from policies.model import canonical_type


class IncompleteCost(AutocloudError):
    """A stack's program could not run to the end (what it declared was priced and printed): exit 2."""

    exit_code: ClassVar[int] = EXIT_BAD_INPUT


# --- capacity: what each resource declares --------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """How many units a resource holds: a single number, or an autoscale range."""

    low: float
    high: float

    @classmethod
    def of(cls, value: float) -> Quantity:
        return cls(value, value)

    def __str__(self) -> str:
        return _number(self.low) if self.low == self.high else f"{_number(self.low)}-{_number(self.high)}"


@dataclass(frozen=True)
class Charge:
    """One meter a resource runs, in one location: ``quantity`` None for a meter billed by use."""

    resource: str
    type: str
    meter: str
    location: str
    quantity: Quantity | None
    note: str = ""


@dataclass(frozen=True)
class Unpriced:
    """A resource (or one of its meters) the table cannot price, and why."""

    resource: str
    type: str
    reason: str
    meter: str = ""


@dataclass(frozen=True)
class Free:
    """A resource of a type that costs nothing of its own in its cloud, with the page that says so."""

    resource: str
    type: str
    source: str


@dataclass(frozen=True)
class Line:
    """A charge with its price: a monthly cost (a range under autoscale), or a rate for a usage meter."""

    charge: Charge
    price: Price

    @property
    def monthly(self) -> tuple[float, float] | None:
        per_month = self.price.per_month
        if per_month is None or self.charge.quantity is None:
            return None
        return self.charge.quantity.low * per_month, self.charge.quantity.high * per_month

    def as_dict(self) -> dict[str, Any]:
        monthly = self.monthly
        return {
            "resource": self.charge.resource,
            "type": self.charge.type,
            "meter": self.charge.meter,
            "location": self.charge.location,
            "quantity": None if self.charge.quantity is None else [self.charge.quantity.low, self.charge.quantity.high],
            "note": self.charge.note,
            "unit_price": self.price.unit_price,
            "unit": self.price.unit_of_measure,
            "billing": self.price.billing,
            "currency": self.price.currency_code,
            "monthly": None if monthly is None else list(monthly),
            "source": self.price.source,
            "taken": self.price.taken.isoformat(),
        }


class _Records:
    """The stack's recorded registrations, for the mappers that look across resources."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records = records

    def of_type(self, type_: str) -> list[Mapping[str, Any]]:
        return [r for r in self.records if canonical_type(r["type"]) == type_]


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:,.0f}"


def _num(value: Any) -> float | None:
    """A declared number (the mocks pass numbers as floats); None for an unknown or missing one."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _sku(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    sku = inputs.get("sku")
    return sku if isinstance(sku, Mapping) else {}


Mapper = Callable[[Mapping[str, Any], _Records], list[Charge]]


def _iothub(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    sku = _sku(r["inputs"])
    units = _num(sku.get("capacity"))
    name = _text(sku.get("name"), "?")
    return [_charge(r, f"iothub/{name}/unit", None if units is None else Quantity.of(units), "hub units")]


def _dps(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    name = _text(_sku(r["inputs"]).get("name"), "?")
    return [_charge(r, f"dps/{name}/operations", None, "per 1,000 operations, by use")]


def _eventhubs(r: Mapping[str, Any], records: _Records) -> list[Charge]:
    inputs = r["inputs"]
    sku = _sku(inputs)
    tier = _text(sku.get("tier")) or _text(sku.get("name"), "?")
    units = _num(sku.get("capacity"))
    quantity = None if units is None else Quantity.of(units)
    most = _num(inputs.get("maximumThroughputUnits"))
    if quantity is not None and inputs.get("isAutoInflateEnabled") is True and most is not None:
        quantity = Quantity(units or 0.0, most)
    if tier == "Premium":
        return [_charge(r, "eventhubs/Premium/pu", quantity, "processing units (capture included)")]
    charges = [_charge(r, f"eventhubs/{tier}/tu", quantity, "throughput units")]
    namespace = _text(inputs.get("namespaceName"), r["name"])
    captured = [
        hub["name"]
        for hub in records.of_type("azure-native:eventhub:EventHub")
        if hub["inputs"].get("namespaceName") == namespace
        and isinstance(hub["inputs"].get("captureDescription"), Mapping)
        and hub["inputs"]["captureDescription"].get("enabled") is True
    ]
    if captured and tier == "Standard":
        charges.append(_charge(r, "eventhubs/Standard/capture", quantity, f"capture on {', '.join(captured)}"))
    charges.append(_charge(r, f"eventhubs/{tier}/ingress", None, "per million events, by use"))
    return charges


def _cosmos_account_of(r: Mapping[str, Any], records: _Records) -> Mapping[str, Any] | None:
    wanted = r["inputs"].get("accountName")
    for account in records.of_type("azure-native:cosmosdb:DatabaseAccount"):
        if wanted in (account["inputs"].get("accountName"), account["name"]):
            return account
    return None


def _cosmos_locations(account: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    locations = account["inputs"].get("locations")
    return [loc for loc in locations if isinstance(loc, Mapping)] if isinstance(locations, list) else []


def _cosmos_throughput(table: PriceTable) -> Mapper:
    """Dedicated throughput (a container's or a shared database's): reserved in every location of the
    account ("the total provisioned throughput ... is equal to T x N", understand-your-bill), autoscale
    between its floor and maximum at the autoscale rate (the table's factors)."""

    def mapper(r: Mapping[str, Any], records: _Records) -> list[Charge]:
        options = r["inputs"].get("options")
        options = options if isinstance(options, Mapping) else {}
        autoscale = options.get("autoscaleSettings")
        fixed = _num(options.get("throughput"))
        if isinstance(autoscale, Mapping) and _num(autoscale.get("maxThroughput")) is not None:
            most = _num(autoscale.get("maxThroughput")) or 0.0
            note = f"autoscale {_number(table.autoscale_floor * most)}-{_number(most)} RU/s"
        elif fixed is not None:
            most, autoscale = fixed, None
            note = f"{_number(fixed)} RU/s"
        else:
            return []  # no throughput of its own: it shares its database's
        account = _cosmos_account_of(r, records)
        if account is None:
            return [_charge(r, "cosmosdb/provisioned/100rus", None, "its account is not declared")]
        multiwrite = account["inputs"].get("enableMultipleWriteLocations") is True
        meter = "cosmosdb/provisioned-multiwrite/100rus" if multiwrite else "cosmosdb/provisioned/100rus"
        # Multi-region-write autoscale is billed at the multi-write standard rate (autoscale FAQ): no factor.
        rate = 1.0 if autoscale is None or multiwrite else table.autoscale_rate
        low = (table.autoscale_floor * most if autoscale is not None else most) / 100 * rate
        units = Quantity(low, most / 100 * rate)
        charges: list[Charge] = []
        for location in _cosmos_locations(account):
            where = _text(location.get("locationName"))
            charges.append(Charge(r["name"], canonical_type(r["type"]), meter, where, units, f"{note}, per 100 RU/s"))
            if location.get("isZoneRedundant") is True:
                charges.append(
                    Charge(r["name"], canonical_type(r["type"]), "cosmosdb/zone-redundancy", where, units, note)
                )
        return charges

    return mapper


def _cosmos_account(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    return [
        Charge(r["name"], canonical_type(r["type"]), "cosmosdb/storage", _text(loc.get("locationName")), None, "GB")
        for loc in _cosmos_locations(r)
    ]


def _aks(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    inputs = r["inputs"]
    charges: list[Charge] = []
    tier = _text(_sku(inputs).get("tier"), "Free")
    if tier != "Free":
        charges.append(_charge(r, f"aks/{tier}/cluster", Quantity.of(1), f"{tier} tier cluster management"))
    pools = inputs.get("agentPoolProfiles")
    for pool in pools if isinstance(pools, list) else ():
        if not isinstance(pool, Mapping):
            continue
        size = _text(pool.get("vmSize"), "?")
        os_type = _text(pool.get("osType"), "Linux").lower()
        if pool.get("enableAutoScaling") is True and _num(pool.get("minCount")) is not None:
            nodes: Quantity | None = Quantity(_num(pool.get("minCount")) or 0.0, _num(pool.get("maxCount")) or 0.0)
        else:
            count = _num(pool.get("count"))
            nodes = None if count is None else Quantity.of(count)
        charges.append(_charge(r, f"vm/{size}/{os_type}", nodes, f"pool {_text(pool.get('name'), '?')} nodes"))
    return charges


def _per_sku(prefix: str, suffix: str, quantity: Quantity | None, note: str) -> Mapper:
    def mapper(r: Mapping[str, Any], _: _Records) -> list[Charge]:
        return [_charge(r, f"{prefix}/{_text(_sku(r['inputs']).get('name'), '?')}/{suffix}", quantity, note)]

    return mapper


def _private_endpoint(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    return [
        _charge(r, "privatelink/endpoint", Quantity.of(1), "endpoint"),
        _charge(r, "privatelink/data", None, "GB processed, by use"),
    ]


def _private_zone(r: Mapping[str, Any], _: _Records) -> list[Charge]:
    return [_charge(r, "privatedns/zone", Quantity.of(1), "hosted zone")]


def _charge(r: Mapping[str, Any], meter: str, quantity: Quantity | None, note: str) -> Charge:
    return Charge(r["name"], canonical_type(r["type"]), meter, _text(r["inputs"].get("location")), quantity, note)


def mappers(table: PriceTable) -> Mapping[str, Mapper]:
    """Each billable type's mapper from its declared properties to the meters it runs."""
    throughput = _cosmos_throughput(table)
    return {
        "azure-native:iothub:IotHubResource": _iothub,
        "azure-native:deviceprovisioningservices:IotDpsResource": _dps,
        "azure-native:eventhub:Namespace": _eventhubs,
        "azure-native:cosmosdb:DatabaseAccount": _cosmos_account,
        "azure-native:cosmosdb:SqlResourceSqlContainer": throughput,
        "azure-native:cosmosdb:SqlResourceSqlDatabase": throughput,
        "azure-native:containerservice:ManagedCluster": _aks,
        "azure-native:containerregistry:Registry": _per_sku("acr", "registry", Quantity.of(1), "registry"),
        "azure-native:operationalinsights:Workspace": _per_sku(
            "loganalytics", "ingestion", None, "GB ingested, by use"
        ),
        "azure-native:storage:StorageAccount": _per_sku("storage", "data", None, "GB stored and operations, by use"),
        "azure-native:maps:Account": _per_sku("maps", "transactions", None, "transactions, by use"),
        "azure-native:network:PrivateEndpoint": _private_endpoint,
        "azure-native:privatedns:PrivateZone": _private_zone,
    }


# --- estimate -------------------------------------------------------------------------------------


@dataclass
class StackCost:
    """One stack's estimate: the model every format renders."""

    label: str
    region: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    free: list[Free] = field(default_factory=list)
    error: str | None = None

    @property
    def fixed(self) -> list[Line]:
        return [line for line in self.lines if line.monthly is not None]

    @property
    def usage(self) -> list[Line]:
        return [line for line in self.lines if line.monthly is None]

    def totals(self) -> dict[str, tuple[float, float]]:
        """Currency -> the month's (low, high) over the priced capacity meters."""
        sums: dict[str, tuple[float, float]] = {}
        for line in self.fixed:
            low, high = line.monthly or (0.0, 0.0)
            before = sums.get(line.price.currency_code, (0.0, 0.0))
            sums[line.price.currency_code] = (before[0] + low, before[1] + high)
        return sums

    def unpriced_groups(self) -> list[tuple[Unpriced, list[str]]]:
        """Unpriced items with the same type, meter and reason together (13 private endpoints are one line)."""
        groups: dict[tuple[str, str, str], tuple[Unpriced, list[str]]] = {}
        for item in self.unpriced:
            key = (item.type, item.meter, item.reason)
            groups.setdefault(key, (item, []))[1].append(item.resource)
        return list(groups.values())

    def free_groups(self) -> list[tuple[Free, list[str]]]:
        """Resources of no charge, one group per type and source (17 identities are one line)."""
        groups: dict[tuple[str, str], tuple[Free, list[str]]] = {}
        for item in self.free:
            groups.setdefault((item.type, item.source), (item, []))[1].append(item.resource)
        return list(groups.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.label,
            "region": self.region,
            "hours_per_month": HOURS_PER_MONTH,
            "totals": {currency: {"low": low, "high": high} for currency, (low, high) in self.totals().items()},
            "lines": [line.as_dict() for line in self.fixed],
            "usage": [line.as_dict() for line in self.usage],
            "unpriced": [vars(u) for u in self.unpriced],
            "no_charge": [vars(f) for f in self.free],
            "error": self.error,
        }


def _no_charge(r: Mapping[str, Any], type_: str, table: PriceTable) -> Free | Unpriced:
    """Free where the table cites a page saying so for the resource's cloud (found from its location);
    else unpriced: a page for one cloud says nothing of the other."""
    location = find_location(_text(r["inputs"].get("location")))
    cited = table.no_charge[type_].get(location.cloud) if location is not None else None
    if cited is not None:
        return Free(r["name"], type_, cited.source)
    where = CLOUD_NAMES[location.cloud] if location is not None else "an undeclared or unknown location"
    return Unpriced(r["name"], type_, f"no source found that it costs nothing in {where}")


def estimate(records: Iterable[Mapping[str, Any]], table: PriceTable, label: str = "", region: str = "") -> StackCost:
    """Price every custom resource a program registered; what cannot be priced is listed, not zeroed."""
    records = [r for r in records if r.get("custom") and not str(r["type"]).startswith("pulumi:providers:")]
    known = mappers(table)
    context = _Records(records)
    cost = StackCost(label, region)
    for r in records:
        type_ = canonical_type(r["type"])
        if type_ in table.billed_through:
            continue
        if type_ in table.unpriced_types:
            cost.unpriced.append(Unpriced(r["name"], type_, table.unpriced_types[type_]))
            continue
        if type_ in table.no_charge:
            item = _no_charge(r, type_, table)
            if isinstance(item, Free):
                cost.free.append(item)
            else:
                cost.unpriced.append(item)
            continue
        mapper = known.get(type_)
        if mapper is None:
            cost.unpriced.append(Unpriced(r["name"], type_, "no meter mapping for this type"))
            continue
        for charge in mapper(r, context):
            price = table.lookup(charge.meter, charge.location) if charge.location else None
            if price is None:
                where = charge.location or "an undeclared location"
                reason = f"no price for {charge.meter} in {where} in the price table"
                cost.unpriced.append(Unpriced(charge.resource, type_, reason, charge.meter))
            elif price.billing != "usage" and charge.quantity is None:
                reason = f"{charge.note or 'capacity'}: not declared (unknown before deployment)"
                cost.unpriced.append(Unpriced(charge.resource, type_, reason, charge.meter))
            else:
                cost.lines.append(Line(charge, price))
    return cost


# --- running stacks --------------------------------------------------------------------------------


def cost_targets(stacks: Sequence[str] | None, all_stacks: bool, root: Path) -> list[Target]:
    """The azure stacks to price: ``--stack`` names (a local stack is refused: it has no Azure meters)
    or ``--all`` (every azure stack); CheckError or ConfigError (exit 2) on bad input."""
    if all_stacks and stacks:
        raise CheckError("use either --stack or --all, not both")
    if not all_stacks and not stacks:
        raise CheckError("nothing to price: give --stack STACK or --all")
    names = list(stacks or ())
    if all_stacks:
        names = [name for name in stack_names(root / "stacks") if not stack_config(name, root).is_local]
        if not names:
            raise CheckError("--all: no azure stack under stacks/")
    targets = resolve_targets(names, False, None, None, root)
    for target in targets:
        if stack_config(target.stack, root).is_local:
            raise CheckError(f"--stack {target.stack}: a local stack runs on your cluster and has no Azure prices")
    return targets


def price_target(target: Target, table: PriceTable, recorder: Callable[[Target], Recording] = record) -> StackCost:
    """Run the target's program under the check's mocks and price what it declared."""
    try:
        recording = recorder(target)
    except CheckError as error:
        return StackCost(target.label, target.ctx.region, error=str(error))
    cost = estimate(recording.records, table, target.label, target.ctx.region)
    cost.error = recording.error
    return cost


# --- output ----------------------------------------------------------------------------------------

_SYMBOL = {"USD": "$", "CNY": "¥"}


def money(value: float, currency: str) -> str:
    return f"{_SYMBOL.get(currency, '')}{value:,.2f} {currency}"


def money_range(low: float, high: float, currency: str) -> str:
    if round(low, 2) == round(high, 2):
        return money(low, currency)
    return f"{money(low, currency)} - {money(high, currency)}"


def _total_text(cost: StackCost) -> str:
    totals = cost.totals()
    if not totals:
        return "nothing priced"
    return "; ".join(money_range(low, high, currency) for currency, (low, high) in sorted(totals.items()))


def summary(cost: StackCost) -> str:
    """One line for the report beside the capacity plan: the priced month and what is left out of it."""
    left_out = len(cost.unpriced_groups())
    tail = f"; {left_out} item(s) unpriced, not in the total" if left_out else ""
    return f"{_total_text(cost)} per month ({HOURS_PER_MONTH} h, priced capacity only){tail}"


def _names(resources: Sequence[str], shown: int = 3) -> str:
    rest = len(resources) - shown
    return ", ".join(resources[:shown]) + (f" and {rest} more" if rest > 0 else "")


def _rate(line: Line) -> str:
    return f"{line.price.unit_price:g} {line.price.currency_code} / {line.price.unit_of_measure}"


HEADLINE = (
    f"monthly = {HOURS_PER_MONTH} hours; priced capacity only, usage meters and unpriced items are not in the total"
)


def render_text(costs: Sequence[StackCost], out: TextIO) -> None:
    console = Console(file=out, width=None if out.isatty() else 200, highlight=False)
    console.print(escape(HEADLINE))
    for cost in costs:
        table = Table(title=f"{escape(cost.label)} (region {escape(cost.region)})", title_justify="left")
        for column in ("resource", "meter", "location", "quantity", "capacity", "rate"):
            table.add_column(column)
        table.add_column("per month", justify="right")
        for line in cost.fixed:
            low, high = line.monthly or (0.0, 0.0)
            quantity = str(line.charge.quantity) if line.charge.quantity is not None else ""
            table.add_row(
                escape(line.charge.resource),
                line.charge.meter,
                line.charge.location,
                quantity,
                escape(line.charge.note),
                _rate(line),
                money_range(low, high, line.price.currency_code),
            )
        console.print(table)
        console.print(f"total {escape(cost.label)}: {escape(_total_text(cost))} per month")
        for line in cost.usage:
            console.print(
                f"  by use, not in the total: {escape(line.charge.resource)} {line.charge.meter} "
                f"({line.charge.location}): {escape(_rate(line))}"
            )
        for free, resources in cost.free_groups():
            console.print(
                f"  no charge: {len(resources)} x {short_type(free.type)} ({escape(_names(resources))}): "
                f"{escape(free.source)}"
            )
        for item, resources in cost.unpriced_groups():
            meter = f" {item.meter}" if item.meter else ""
            console.print(
                f"  unpriced: {len(resources)} x {short_type(item.type)}{meter}: {escape(item.reason)} "
                f"({escape(_names(resources))})"
            )
        if cost.error:
            console.print(f"[red]INCOMPLETE[/red] {escape(cost.label)}: {escape(cost.error)}")


def render_json(costs: Sequence[StackCost]) -> str:
    document = {"hours_per_month": HOURS_PER_MONTH, "stacks": [cost.as_dict() for cost in costs]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_markdown(costs: Sequence[StackCost]) -> str:
    lines = [
        "## Monthly cost",
        "",
        f"_{HEADLINE}._",
        "",
        "| stack | region | per month | unpriced items |",
        "|---|---|---|---|",
    ]
    for cost in costs:
        lines.append(
            f"| {md_cell(cost.label)} | {md_cell(cost.region)} | {md_cell(_total_text(cost))} | {len(cost.unpriced)} |"
        )
    for cost in costs:
        lines += ["", f"### {md_cell(cost.label)}", "", "| resource | meter | location | quantity | rate | per month |"]
        lines.append("|---|---|---|---|---|---|")
        for line in cost.fixed:
            low, high = line.monthly or (0.0, 0.0)
            cells = (
                line.charge.resource,
                line.charge.meter,
                line.charge.location,
                str(line.charge.quantity),
                _rate(line),
                money_range(low, high, line.price.currency_code),
            )
            lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
        if cost.unpriced:
            lines += ["", "<details><summary>unpriced</summary>", ""]
            lines += [
                f"- {len(names)} x {short_type(u.type)} {u.meter}: {md_cell(u.reason)} ({md_cell(_names(names))})"
                for u, names in cost.unpriced_groups()
            ]
            lines += ["", "</details>"]
        if cost.error:
            lines += ["", f"**incomplete:** {md_cell(cost.error)}"]
    return "\n".join(lines) + "\n"


Format = Literal[OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN]


def run_cost(
    stacks: Sequence[str] | None,
    all_stacks: bool,
    fmt: OutputFormat,
    *,
    root: Path | None = None,
    out: TextIO | None = None,
    table: PriceTable | None = None,
) -> int:
    """`autocloud cost`: 0 when every stack was priced; CheckError/ConfigError (exit 2) on bad input before
    anything ran, IncompleteCost (exit 2) after the estimate is written when a program stopped early."""
    out = out or sys.stdout
    base = (root or REPO_ROOT).resolve()
    prices = table or price_table()
    targets = cost_targets(stacks, all_stacks, base)
    costs = map_targets(lambda t: price_target(t, prices), targets)
    if fmt == OutputFormat.JSON:
        out.write(render_json(costs))
    elif fmt == OutputFormat.MARKDOWN:
        out.write(render_markdown(costs))
    else:
        render_text(costs, out)
    failed = [f"{c.label}: {c.error}" for c in costs if c.error is not None]
    if failed:
        raise IncompleteCost("; ".join(failed))
    return 0


# --- the pull request's cost change ---------------------------------------------------------------


def _document_totals(document: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, tuple[float, float]]]]:
    """Stack -> (region, currency -> (low, high)) from what `autocloud cost --format json` printed."""
    found: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {}
    for stack in document.get("stacks", []):
        totals = {
            currency: (float(total["low"]), float(total["high"])) for currency, total in stack.get("totals", {}).items()
        }
        found[str(stack["stack"])] = (str(stack.get("region", "")), totals)
    return found


def _signed(low: float, high: float, currency: str) -> str:
    def one(value: float) -> str:
        sign = "+" if value > 0.005 else ("-" if value < -0.005 else "±")
        return f"{sign}{money(abs(value), currency)}"

    return one(low) if round(low, 2) == round(high, 2) else f"{one(low)} / {one(high)}"


def cost_change_markdown(current: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """Each region's monthly cost and its change against the base branch's (both `cost --format json`);
    the comment's cost section. Unpriced counts stay visible: a change in them is a change in what is known."""
    now = _document_totals(current)
    before = _document_totals(base) if base is not None else {}
    unpriced = {str(s["stack"]): len(s.get("unpriced", [])) for s in current.get("stacks", [])}
    lines = [
        "### Monthly cost per region",
        "",
        f"_{HOURS_PER_MONTH} hours a month; priced capacity only ([how](docs/cost.md))._",
        "",
        "| stack | region | per month | base branch | change | unpriced items |",
        "|---|---|---|---|---|---|",
    ]
    for stack in sorted(set(now) | set(before)):
        region, totals = now.get(stack, before.get(stack, ("", {})))
        old = before.get(stack, ("", {}))[1] if stack in before else None
        current_text = (
            "; ".join(money_range(lo, hi, c) for c, (lo, hi) in sorted(totals.items())) if stack in now else "removed"
        )
        if old is None:
            base_text, change = "-", "new" if base is not None else "-"
        else:
            base_text = "; ".join(money_range(lo, hi, c) for c, (lo, hi) in sorted(old.items())) or "nothing priced"
            changes = []
            for currency in sorted(set(totals) | set(old)):
                lo_now, hi_now = totals.get(currency, (0.0, 0.0)) if stack in now else (0.0, 0.0)
                lo_old, hi_old = old.get(currency, (0.0, 0.0))
                changes.append(_signed(lo_now - lo_old, hi_now - hi_old, currency))
            change = "; ".join(changes) or "±0"
        cells = (stack, region, current_text or "nothing priced", base_text, change, str(unpriced.get(stack, "-")))
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
