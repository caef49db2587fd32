"""Vehicle assignment and the simulator's arguments and arithmetic (the run itself is an integration test)."""

from __future__ import annotations

from collections import Counter

import pytest
from typer.testing import CliRunner

from autocloud.assignment import scale_unit_for
from autocloud.cli import app
from autocloud.simulate import SimulationArgs, SimulationResult


def test_assignment_is_stable_and_spreads_evenly() -> None:
    vehicles = [f"eu-vehicle-{i:06d}" for i in range(3000)]
    first = [scale_unit_for(v, 3) for v in vehicles]
    assert first == [scale_unit_for(v, 3) for v in vehicles]
    counts = Counter(first)
    assert set(counts) == {1, 2, 3}
    assert all(900 < n < 1100 for n in counts.values())
    assert {scale_unit_for(v, 1) for v in vehicles} == {1}
    with pytest.raises(ValueError, match="at least 1"):
        scale_unit_for("v", 0)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("vehicles", 0, "--vehicles must be at least 1"),
    ("messages", -2, "--messages must be at least 1"),
    ("rate", 0.0, "--rate must be positive"),
])
def test_bad_arguments_are_refused(field: str, value: float, message: str) -> None:
    values: dict[str, float | None] = {"vehicles": 2, "messages": 2, "rate": None}
    values[field] = value
    with pytest.raises(ValueError, match=message):
        SimulationArgs("eu", int(values["vehicles"] or 0), int(values["messages"] or 0), values["rate"])


def test_result_counts_loss_duplicates_and_percentiles() -> None:
    result = SimulationResult(sent=10, delivered=9, stored=11, latencies_ms=[float(i) for i in range(1, 101)])
    assert result.lost == 1
    assert result.duplicates == 1
    assert result.percentile(0.5) == 50.0
    assert result.percentile(0.99) == 99.0
    clean = SimulationResult(sent=4, delivered=4, stored=4)
    assert clean.lost == 0 and clean.duplicates == 0


@pytest.mark.parametrize("argv", [
    ["simulate", "--region", "mars"],
    ["simulate", "--region", "eu", "--vehicles", "0"],
    ["simulate", "--region", "eu", "--format", "xml"],
])
def test_cli_bad_arguments_exit_2_with_one_line(argv: list[str]) -> None:
    outcome = CliRunner().invoke(app, argv)
    assert outcome.exit_code == 2
    assert len(outcome.output.strip().splitlines()) == 1
