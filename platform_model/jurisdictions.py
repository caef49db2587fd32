"""Jurisdictions: where a market's law lets vehicle data live, and whether Azure can keep it there.

Each jurisdiction is one cited file, ``platform_model/catalog/jurisdictions/<name>.yaml``: the rule for vehicle and
personal data (what must stay, what may leave and under what condition, its source and the date it was read), the
Azure locations inside the country, and a verdict with its reason. What each location is (restricted, paired with,
offering which service) stays in the region catalog (``catalog/regions.yaml``): this module joins the two and works
out where each of the platform's services puts its data, so the declared verdict is checked against the facts at
load and a file that claims more than Azure offers is refused with one line naming the file and the key.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from platform_model.errors import ConfigError, excerpt, from_validation_error
from platform_model.inputs import load_mapping
from platform_model.locations import CLOUD_NAMES, SERVICE_NAMES, SERVICES, AzureLocation, Catalog, Service, catalog
from platform_model.paths import REPO_ROOT
from platform_model.vocabulary import Cloud, normalise_location

JURISDICTIONS_DIR = Path(__file__).resolve().parent / "catalog" / "jurisdictions"

Verdict = Literal["deployable", "deployable-without", "not-deployable"]

IOT_SERVICES: tuple[Service, ...] = ("iothub", "dps")
"""The services that fail over to the paired region unless data residency is on."""


def _location(value: object) -> object:
    return normalise_location(value) if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Rule(_Strict):
    law: str = Field(min_length=1)
    """The law (and its article) that governs vehicle and personal data leaving the country."""
    must_stay: str = Field(min_length=1)
    """What must be stored in the country ("nothing by a general rule" where that is so)."""
    may_leave: str = Field(min_length=1)
    """What may leave, and under which condition."""
    source: str = Field(pattern=r"^https://\S+$")
    quote: str = Field(min_length=1)
    """A short passage of the source that says it."""


class _File(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")]
    title: str = Field(min_length=1)
    read: datetime.date
    """The day the sources were read."""
    cloud: Cloud
    rule: _Rule
    locations: tuple[Annotated[str, BeforeValidator(_location)], ...]
    """Every Azure location in the country (restricted ones included); empty where Azure has none."""
    locations_source: str = Field(pattern=r"^https://\S+$")
    verdict: Verdict
    without: tuple[Service, ...] = ()
    """With ``deployable-without``: the services whose data would leave the country."""
    reason: str = Field(min_length=1)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    """The law for vehicle and personal data, as read on ``read``."""

    law: str
    must_stay: str
    may_leave: str
    source: str
    quote: str


@dataclass(frozen=True)
class ServiceFlow:
    """Where one service's data goes in a jurisdiction."""

    service: Service
    kept: bool
    """The data can stay in the jurisdiction (perhaps only under ``condition``)."""
    where: str
    """Where the data goes, in words."""
    source: str
    condition: str = ""
    """What a profile must set for the data to stay (empty: nothing)."""

    @property
    def limited(self) -> bool:
        """Left out, or kept only under a condition: worth telling the operator."""
        return not self.kept or bool(self.condition)


@dataclass(frozen=True)
class Jurisdiction:
    """One validated jurisdiction with the data flows worked out from the region catalog."""

    name: str
    title: str
    read: datetime.date
    cloud: Cloud
    rule: Rule
    locations: tuple[str, ...]
    restricted: tuple[str, ...]
    """The access-restricted ones among ``locations`` (disaster recovery by request only)."""
    locations_source: str
    verdict: Verdict
    without: tuple[Service, ...]
    reason: str
    notes: tuple[str, ...]
    flows: Mapping[Service, ServiceFlow]
    file: str

    @property
    def open_locations(self) -> tuple[str, ...]:
        """The locations a platform may be deployed to without asking for access."""
        return tuple(loc for loc in self.locations if loc not in self.restricted)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source the jurisdiction's facts rest on, each once, the law first."""
        found = [self.rule.source, self.locations_source]
        found += [part for flow in self.flows.values() for part in flow.source.split("; ") if part]
        return tuple(dict.fromkeys(found))


def _label(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _maps_flow(name: str, cloud: Cloud, open_locations: Sequence[AzureLocation], facts: Catalog) -> ServiceFlow:
    if "maps" not in facts.cloud_services[cloud]:
        return ServiceFlow(
            "maps", False, f"Azure Maps is not offered in {CLOUD_NAMES[cloud]}", facts.cloud_sources.get(cloud, "")
        )
    inside = [loc.name for loc in open_locations if loc.name in facts.maps_locations]
    if inside:
        geography = facts.maps_locations[inside[0]]
        where = f"an account in {inside[0]} keeps requests in Azure Maps' {geography} geography ({geography}.atlas)"
        return ServiceFlow("maps", True, where, facts.maps_source)
    by_geo: dict[str, list[str]] = {}
    for location, geography in facts.maps_locations.items():
        by_geo.setdefault(geography, []).append(location)
    offered = "; ".join(f"{geo}: {', '.join(locs)}" for geo, locs in sorted(by_geo.items()))
    where = f"Azure Maps keeps data only in its {' and '.join(sorted(by_geo))} geographies ({offered}), none in {name}"
    return ServiceFlow("maps", False, where, facts.maps_source)


def _iot_flow(
    service: Service, name: str, open_locations: Sequence[AzureLocation], inside: frozenset[str], facts: Catalog
) -> ServiceFlow:
    """IoT Hub and DPS replicate to the paired region and fail over there; a nonpaired region does neither;
    Brazil South and Southeast Asia may opt out (data residency)."""
    source = facts.sources.get("iot_failover" if service == "iothub" else "dps_failover", "")
    candidates = [loc for loc in open_locations if service in loc.services]
    if not candidates:
        return ServiceFlow(service, False, f"no unrestricted location in {name} offers it", source)
    staying = [loc for loc in candidates if loc.pair is None or loc.pair in inside]
    if staying:
        parts = [f"{loc.name} -> {loc.pair}" if loc.pair else f"{loc.name} (no pair, no failover)" for loc in staying]
        return ServiceFlow(service, True, f"fails over inside {name}: {', '.join(parts)}", source)
    opt_out = [loc for loc in candidates if loc.iot_data_residency]
    leaving = ", ".join(f"{loc.name} -> {loc.pair}" for loc in candidates)
    if opt_out:
        where = f"fails over to a paired region outside {name} ({leaving}) unless data residency is on"
        condition = f"iot_data_residency: true, primary in {', '.join(loc.name for loc in opt_out)}"
        return ServiceFlow(service, True, where, f"{source}; {facts.iot_data_residency_source}", condition)
    return ServiceFlow(service, False, f"fails over to a paired region outside {name} ({leaving})", source)


def data_flows(name: str, cloud: Cloud, locations: Sequence[str], facts: Catalog) -> dict[Service, ServiceFlow]:
    """Where each of the platform's services puts its data when deployed in ``locations``."""
    found = [facts.locations[loc] for loc in locations]
    open_locations = [loc for loc in found if not loc.restricted]
    inside = frozenset(locations)
    locations_source = facts.sources.get("china_locations" if cloud == "china" else "locations", "")
    flows: dict[Service, ServiceFlow] = {}
    for service in SERVICES:
        if service == "maps":
            flows[service] = _maps_flow(name, cloud, open_locations, facts)
        elif service in IOT_SERVICES:
            flows[service] = _iot_flow(service, name, open_locations, inside, facts)
        elif any(service in loc.services for loc in open_locations):
            where = "stays in the locations the profile picks (replicas and failover partners too)"
            flows[service] = ServiceFlow(service, True, where, locations_source)
        else:
            flows[service] = ServiceFlow(
                service, False, f"no unrestricted location in {name} offers it", locations_source
            )
    return flows


def expected_verdict(
    open_locations: Sequence[str], flows: Mapping[Service, ServiceFlow]
) -> tuple[Verdict, tuple[Service, ...]]:
    """The verdict the facts support: nothing without an open Azure location, else without the services that
    cannot keep their data inside."""
    if not open_locations:
        return "not-deployable", ()
    without = tuple(service for service, flow in flows.items() if not flow.kept)
    return ("deployable-without" if without else "deployable"), without


def parse_jurisdiction(raw: Mapping[str, object], label: str, facts: Catalog) -> Jurisdiction:
    """Validate one jurisdiction file against the region catalog; ConfigError names ``label`` and the key."""
    try:
        data = _File.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(label, exc, _File) from None
    for index, location in enumerate(data.locations):
        key = f"locations[{index}]"
        found = facts.locations.get(location)
        if found is None:
            raise ConfigError(label, key, f"{excerpt(location)} is not in the region catalog (catalog/regions.yaml)")
        if found.cloud != data.cloud:
            raise ConfigError(
                label,
                key,
                f"{location!r} is a location of {CLOUD_NAMES[found.cloud]}, not of {CLOUD_NAMES[data.cloud]}",
            )
        if data.locations.index(location) != index:
            raise ConfigError(label, key, f"{location!r} is listed twice")
    flows = data_flows(data.name, data.cloud, data.locations, facts)
    open_locations = [loc for loc in data.locations if not facts.locations[loc].restricted]
    verdict, without = expected_verdict(open_locations, flows)
    if data.verdict != verdict:
        why = "; ".join(f"{SERVICE_NAMES[s]}: {flows[s].where}" for s in without) or (
            "no unrestricted Azure location" if verdict == "not-deployable" else "every service keeps its data inside"
        )
        raise ConfigError(label, "verdict", f"{data.verdict!r} but the facts say {verdict!r} ({why})")
    if tuple(sorted(data.without)) != tuple(sorted(without)):
        raise ConfigError(
            label, "without", f"{list(data.without)} but the services whose data would leave are {list(without)}"
        )
    return Jurisdiction(
        name=data.name,
        title=data.title,
        read=data.read,
        cloud=data.cloud,
        rule=Rule(data.rule.law, data.rule.must_stay, data.rule.may_leave, data.rule.source, data.rule.quote),
        locations=data.locations,
        restricted=tuple(loc for loc in data.locations if facts.locations[loc].restricted),
        locations_source=data.locations_source,
        verdict=data.verdict,
        without=without,
        reason=data.reason,
        notes=data.notes,
        flows=flows,
        file=label,
    )


def load_jurisdiction(path: Path, facts: Catalog | None = None) -> Jurisdiction:
    """Read and validate one jurisdiction file; its name must match the file's."""
    label = _label(path)
    found = parse_jurisdiction(load_mapping(path, label), label, facts or catalog())
    if found.name != path.stem:
        raise ConfigError(label, "name", f"{found.name!r} does not match the file name {path.stem!r}")
    return found


def load_jurisdictions(folder: Path = JURISDICTIONS_DIR, facts: Catalog | None = None) -> dict[str, Jurisdiction]:
    """Every jurisdiction file in ``folder``, by name, sorted."""
    return {path.stem: load_jurisdiction(path, facts) for path in sorted(folder.glob("*.yaml"))}


@cache
def jurisdictions() -> Mapping[str, Jurisdiction]:
    """The shipped jurisdictions, loaded on first use."""
    return load_jurisdictions()


# --- judging a deployment by a jurisdiction: one function per fact, used by the profile check at load
# (platform_model.profiles) and by the residency pack on the resources a program declares (policies/rules/residency).


def service_leaves(found: Jurisdiction, service: Service) -> str | None:
    """Why ``service``'s data would leave ``found`` wherever it is deployed there (Azure Maps outside its
    geographies), with the source; None when it can stay."""
    flow = found.flows[service]
    if flow.kept:
        return None
    return f"{SERVICE_NAMES[service]} would take data out of {found.name}: {flow.where} (source: {flow.source})"


def failover_leaves(
    found: Jurisdiction, location: str, data_residency: bool, facts: Catalog | None = None
) -> str | None:
    """Why IoT Hub or DPS in ``location`` would replicate its data out of ``found``, with the sources; None when
    the location has no pair, its pair is inside, or data residency is on (where Azure does not offer the flag, a
    deployment is refused instead: the deployability rule's and the profile's business)."""
    facts = facts or catalog()
    here = facts.locations.get(normalise_location(location))
    if data_residency or here is None or here.pair is None or here.pair in found.locations:
        return None
    sources = "; ".join(s for s in (facts.sources.get("iot_failover", ""), facts.iot_data_residency_source) if s)
    return (
        f"IoT Hub and DPS in {here.name!r} replicate to its paired region {here.pair!r}, outside {found.name} "
        f"(source: {sources})"
    )
