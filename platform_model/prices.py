"""The price table `autocloud cost` prices a stack with: ``platform_model/catalog/prices.yaml``, validated once.

Prices are data with their sources (the Azure Retail Prices API's fields, the Azure China price pages);
this module only reads and checks them and answers "what does this meter cost here". A meter or location
the table lacks is None, which the cost report shows as unpriced: never a zero.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from platform_model.errors import ConfigError, from_validation_error
from platform_model.inputs import load_mapping
from platform_model.vocabulary import Cloud, normalise_location

PRICES_PATH = Path(__file__).resolve().parent / "catalog" / "prices.yaml"

HOURS_PER_MONTH = 730
"""The month `autocloud cost` prices: 730 hours (8,760 hours a year / 12), as Azure's calculator counts it."""

Billing = Literal["hour", "day", "month", "usage"]
"""How a quantity becomes a month's cost: per hour, per day, per month, or by use (not declared by a program)."""

Currency = Literal["USD", "CNY"]
"""USD for public Azure (the Retail Prices API's base currency), CNY for Azure China (azure.cn, tax included)."""

_PER_MONTH: Mapping[Billing, float] = {"hour": HOURS_PER_MONTH, "day": HOURS_PER_MONTH / 24, "month": 1.0}


class Price(BaseModel):
    """One meter's price in one location, with where it was read."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    meter: str = Field(min_length=1)
    """Our key for the meter (``iothub/S3/unit``), what `autocloud cost` maps a resource's capacity to."""
    service_name: str = Field(alias="serviceName", min_length=1)
    meter_name: str = Field(alias="meterName", min_length=1)
    arm_region_name: str = Field(alias="armRegionName", min_length=1)
    unit_price: float = Field(alias="unitPrice", ge=0)
    unit_of_measure: str = Field(alias="unitOfMeasure", min_length=1)
    currency_code: Currency = Field(alias="currencyCode")
    billing: Billing
    effective_start_date: datetime.date | None = Field(alias="effectiveStartDate")
    """The date the source gives for the price (None where it gives none)."""
    taken: datetime.date
    """The day the price was read from its source."""
    source: str = Field(min_length=1)
    quote: str = ""

    @model_validator(mode="after")
    def _normal_location(self) -> Price:
        if self.arm_region_name != normalise_location(self.arm_region_name):
            raise ValueError(f"armRegionName {self.arm_region_name!r} is not a normalised location name")
        return self

    @property
    def per_month(self) -> float | None:
        """What one unit costs in a month of 730 hours; None for a usage meter (its quantity is not declared)."""
        factor = _PER_MONTH.get(self.billing)
        return None if factor is None else self.unit_price * factor


class Factor(BaseModel):
    """A pricing rule's number with its source (e.g. autoscale's rate against standard throughput)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(gt=0)
    source: str = Field(min_length=1)
    quote: str = ""


class NoCharge(BaseModel):
    """A Microsoft page saying a resource type costs nothing of its own in one cloud, in its words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class _Factors(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cosmosdb_autoscale: Factor
    """Autoscale throughput's rate per 100 RU/s against standard (manual) throughput, single-write accounts."""
    cosmosdb_autoscale_floor: Factor
    """The least autoscale bills in an hour, as a fraction of its maximum RU/s."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prices: list[Price]
    factors: _Factors
    billed_through: dict[str, str] = {}
    unpriced_types: dict[str, str] = {}
    no_charge: dict[str, dict[Cloud, NoCharge]] = {}


@dataclass(frozen=True)
class PriceTable:
    """The validated table: prices by (meter, location), the pricing factors and the types without a meter."""

    prices: Mapping[tuple[str, str], Price]
    autoscale_rate: float
    autoscale_floor: float
    billed_through: Mapping[str, str]
    """Resource type -> the resource its cost is metered on."""
    unpriced_types: Mapping[str, str]
    """Resource type -> why it has no price."""
    no_charge: Mapping[str, Mapping[Cloud, NoCharge]]
    """Resource type -> cloud -> the page saying it costs nothing there (a cloud not listed: no such page found)."""

    def lookup(self, meter: str, location: str) -> Price | None:
        """The price of ``meter`` in ``location`` (any spelling); None when the table has none."""
        return self.prices.get((meter, normalise_location(location)))


def parse_table(data: Mapping[str, object], label: str) -> PriceTable:
    """A price table from its YAML data; ConfigError names the file and the key."""
    try:
        table = _Table.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(label, exc, _Table) from None
    prices: dict[tuple[str, str], Price] = {}
    for index, price in enumerate(table.prices):
        key = (price.meter, price.arm_region_name)
        if key in prices:
            raise ConfigError(label, f"prices[{index}]", f"a second price for {price.meter} in {price.arm_region_name}")
        prices[key] = price
    sections = {"billed_through": table.billed_through, "unpriced_types": table.unpriced_types}
    sections["no_charge"] = dict.fromkeys(table.no_charge, "")
    names = list(sections)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            both = sorted(set(sections[first]) & set(sections[second]))
            if both:
                raise ConfigError(label, f"{second}.{both[0]}", f"also listed under {first}")
    return PriceTable(
        prices,
        table.factors.cosmosdb_autoscale.value,
        table.factors.cosmosdb_autoscale_floor.value,
        dict(table.billed_through),
        dict(table.unpriced_types),
        {type_: dict(clouds) for type_, clouds in table.no_charge.items()},
    )


def load_prices(path: Path = PRICES_PATH) -> PriceTable:
    """Read and validate a price table file (bounded, as every input)."""
    return parse_table(load_mapping(path, path.name), path.name)


@cache
def price_table() -> PriceTable:
    """The shipped table, loaded on first use."""
    return load_prices()
