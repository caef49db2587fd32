"""Brands as tenants of a regional platform (``autocloud:brands``).

A region serves one or more of the group's brands. Each brand has its own fleet (the region is sized
for the sum), its own fleet CA and enrollment, its own vehicle-state container and its own consumer
identity, so one brand's services cannot read another brand's state. A stack without brands is one
implicit tenant and deploys as it always did.

Which brand a vehicle belongs to is decided by its registration id: ``<brand>-<rest>`` (the device id
and the vehicle id are the same string). Why the prefix and not the CA that signed the certificate:
every hop of the data path sees the device id (IoT Hub stamps it on each message, the Kafka record is
keyed by it, the state document's id is it), while the signing CA is seen only at the TLS handshake
and is not carried past it. The brand's CA still decides who may enrol as the brand: its enrollment
group trusts that CA only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from platform_model.profiles import PEM_CERTIFICATE, Vehicles
from platform_model.vocabulary import brand_vehicle_prefix

BRAND_NAME = r"^[a-z]([-a-z0-9]{0,49}[a-z0-9])?$"
"""A lowercase DNS label that starts with a letter, at most 51 characters: the brand's Kubernetes Service
``statewriter-<brand>`` must be an RFC 1035 label of at most 63 characters (letter first)."""

BrandName = Annotated[str, Field(pattern=BRAND_NAME)]


class Brand(BaseModel):
    """One brand served by the region."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: BrandName
    """Required. Lowercase DNS label; the vehicles' registration ids start with ``<name>-``."""
    vehicles: Vehicles
    """Required, at least 1. The brand's fleet in the region; the plan is sized for the sum."""
    fleet_ca: str | None = Field(default=None, pattern=PEM_CERTIFICATE)
    """Optional PEM of the brand's fleet CA (``autocloud fleet ca --brand``): registered with DPS as
    ``fleet-ca-<name>`` (Azure), trusted by the local DPS and hubs (local)."""

    @property
    def vehicle_prefix(self) -> str:
        return brand_vehicle_prefix(self.name)


def brand_problem(brands: Sequence[Brand]) -> tuple[int, str] | None:
    """The first brand (index, message) that clashes with an earlier one, else None: names must be
    unique, and no brand's vehicle prefix may start another's (``a-`` would claim ``a-b-1`` of brand
    ``a-b``)."""
    for index, brand in enumerate(brands):
        for other in brands[:index]:
            if brand.name == other.name:
                return index, f"brand {brand.name!r} is listed twice"
            shorter, longer = sorted((brand, other), key=lambda b: len(b.name))
            if longer.vehicle_prefix.startswith(shorter.vehicle_prefix):
                return index, (
                    f"brand {brand.name!r} and brand {other.name!r}: vehicle ids {longer.vehicle_prefix}... "
                    f"would also start with {shorter.vehicle_prefix} (pick names that are not a prefix of another)"
                )
    return None


def brand_of(vehicle_id: str, brands: Sequence[Brand]) -> Brand | None:
    """The brand whose prefix ``vehicle_id`` starts with, or None."""
    return next((b for b in brands if vehicle_id.startswith(b.vehicle_prefix)), None)
