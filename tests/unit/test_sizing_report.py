"""``autocloud size``: the plan as a table or JSON; configuration errors are one line and exit 2."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from autocloud.verification.sizing_report import size_command


def run(region: str, vehicles: int | None = None, fmt: str = "table") -> tuple[int, str]:
    buffer = io.StringIO()
    code = size_command(region, vehicles, fmt, console=Console(file=buffer, width=200, color_system=None))
    return code, buffer.getvalue()


def test_table_shows_why_the_region_has_its_scale_units() -> None:
    code, text = run("eu", 5_000_000)
    assert code == 0
    assert "Capacity plan: region eu" in text
    assert "5,000,000" in text
    lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip() for line in text.splitlines() if line.count("│") == 4
    }
    assert lines["scale units needed: iothub-devices"] == "6"
    assert lines["scale units"] == "6"
    assert lines["IoT Hub tier x units (each hub)"] == "S3 x 5"
    assert lines["Event Hubs namespaces"] == "6"


def test_json_is_the_plan() -> None:
    code, text = run("cn", fmt="json")
    assert code == 0
    data = json.loads(text)
    assert (data["region"], data["cloud"], data["primary"]) == ("cn", "china", "chinanorth3")
    assert data["plan"]["vehicles"] == 1_000_000
    assert data["plan"]["scale_units"] == data["plan"]["hubs"] == 2


@pytest.mark.parametrize(
    ("region", "vehicles", "fmt", "message"),
    [
        ("apac", None, "table", "error: regions/apac.yaml: no region profile 'apac' (available: cn, eu, us)"),
        ("eu", 0, "table", "error: --vehicles: Input should be greater than 0 (got 0)"),
        ("eu", None, "yaml", "error: --format: unknown format 'yaml' (allowed: table, json)"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], region: str, vehicles: int | None, fmt: str, message: str
) -> None:
    code, text = run(region, vehicles, fmt)
    assert code == 2
    assert text == ""
    assert capsys.readouterr().err == message + "\n"
