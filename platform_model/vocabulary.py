"""Names every layer shares: clouds, the region label and the required tags.

The offline check loads ``policies.model`` (and so this module) inside a checked program's own
environment, which has the Pulumi SDK and nothing else of ours: the ``offline-check`` import contract
(pyproject.toml) keeps it to the standard library.
"""

from __future__ import annotations

from typing import Literal

Cloud = Literal["public", "china"]
"""``public`` is Azure's global cloud; ``china`` is Azure China (its own endpoints and provider)."""

REGION_LABEL = "autocloud.io/region"
"""Kubernetes label naming a namespace's region (local target; NetworkPolicies select on it)."""


def normalise_location(name: str) -> str:
    """``West Europe``, ``west europe`` and ``westeurope`` are the same location: ``westeurope``."""
    return "".join(name.split()).lower()


def region_namespace(region: str) -> str:
    """The Kubernetes namespace a region deploys into on the local target unless its stack names one."""
    return f"autocloud-{region}"


REQUIRED_TAGS: tuple[str, ...] = ("region", "data-classification", "data-residency")
"""Tags every taggable Azure resource carries; the components set them, the baseline policy checks them."""

PROFILE_TAGS: tuple[str, ...] = ("data-residency",)
"""Tags a region profile must declare itself (the rest of ``REQUIRED_TAGS`` the components derive)."""


BRAND_STATE_PREFIX = "vehicle-state-"
"""A brand's vehicle-state container (Cosmos DB) or collection (the local store) is ``vehicle-state-<brand>``."""
BRAND_WRITER_PREFIX = "statewriter-"
"""A brand's state writer, its ServiceAccount and (Azure) its workload identity's subject: ``statewriter-<brand>``."""
BRAND_TELEMETRY_PREFIX = "telemetry-"
"""A brand's own telemetry stream: event hub (Azure) or Kafka topic (local) ``telemetry-<brand>``."""
BRAND_TAG = "brand"
"""The tag (Azure) naming the brand a brand's own resource serves; the brand-scope rule reads it."""


def brand_container(brand: str) -> str:
    """The brand's own vehicle-state container (Cosmos DB) or collection (the local store)."""
    return f"{BRAND_STATE_PREFIX}{brand}"


def brand_writer(brand: str) -> str:
    """The brand's state writer: Deployment, ServiceAccount and consumer group."""
    return f"{BRAND_WRITER_PREFIX}{brand}"


def brand_telemetry(brand: str) -> str:
    """The brand's own telemetry stream, which only its vehicles' messages are routed to and only its
    writer may read."""
    return f"{BRAND_TELEMETRY_PREFIX}{brand}"


def brand_vehicle_prefix(brand: str) -> str:
    """What every registration id (= device id = vehicle id) of the brand starts with: ``<brand>-``."""
    return f"{brand}-"
