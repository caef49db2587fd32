"""Hashed allocation: the one function the simulator and the local DPS (cmd/ingest, ScaleUnitFor) share."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from platform_model.assignment import scale_unit_for
from platform_model.paths import REPO_ROOT

FIXTURE = REPO_ROOT / "cmd" / "ingest" / "testdata" / "assignments.json"
"""The answers cmd/ingest's Go test holds ScaleUnitFor to; this side holds the Python function to them."""


def test_go_and_python_assign_alike() -> None:
    cases = json.loads(FIXTURE.read_text())["cases"]
    assert cases
    for case in cases:
        assert scale_unit_for(case["id"], case["units"]) == case["unit"], case


def test_allocation_spreads_vehicles_over_every_unit() -> None:
    counts = Counter(scale_unit_for(f"eu-car-{n:06d}", 3) for n in range(3000))
    assert set(counts) == {1, 2, 3} and min(counts.values()) > 900


def test_units_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        scale_unit_for("eu-car-1", 0)
