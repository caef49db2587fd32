"""Region contexts for rule tests, built by hand so a change to regions/*.yaml cannot move a test."""

from __future__ import annotations

import pytest

from policies.model import RuleContext

EU_BOUNDARY = frozenset(
    {"westeurope", "northeurope", "germanywestcentral", "germanynorth", "francecentral", "swedencentral"}
)
REGIONS = frozenset({"eu", "us", "cn"})
TAGS = {"region": "eu", "data-residency": "eu"}
TAG_KEYS = frozenset({"region", "data-residency", "data-classification"})


@pytest.fixture
def eu() -> RuleContext:
    return RuleContext(
        region="eu",
        cloud="public",
        boundary=EU_BOUNDARY,
        maps_allowed=True,
        iot_data_residency=True,
        required_tags=TAGS,
        required_tag_keys=TAG_KEYS,
        known_regions=REGIONS,
    )


@pytest.fixture
def cn() -> RuleContext:
    return RuleContext(
        region="cn",
        cloud="china",
        boundary=frozenset({"chinanorth3", "chinaeast3", "chinanorth2", "chinaeast2"}),
        maps_allowed=False,
        iot_data_residency=True,
        required_tags={"region": "cn", "data-residency": "cn"},
        required_tag_keys=TAG_KEYS,
        known_regions=REGIONS,
    )
