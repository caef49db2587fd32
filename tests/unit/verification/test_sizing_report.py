"""``autocloud size``: the plan as a table or JSON; a configuration error names the file or option."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from autocloud.verification.sizing_report import size_command
from platform_model.errors import ConfigError
from platform_model.formats import OutputFormat
from platform_model.profiles import available_profiles


def run(region: str, vehicles: int | None = None, fmt: OutputFormat = OutputFormat.TABLE) -> str:
    buffer = io.StringIO()
    size_command(region, vehicles, fmt, console=Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_table_shows_why_the_region_has_its_scale_units() -> None:
    text = run("eu", 5_000_000)
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
    text = run("cn", fmt=OutputFormat.JSON)
    data = json.loads(text)
    assert (data["region"], data["cloud"], data["primary"]) == ("cn", "china", "chinanorth3")
    assert data["plan"]["vehicles"] == 1_000_000
    assert data["plan"]["scale_units"] == data["plan"]["hubs"] == 2


@pytest.mark.parametrize(
    ("region", "vehicles", "message"),
    [
        ("apac", None, f"regions/apac.yaml: no region profile 'apac' (available: {', '.join(available_profiles())})"),
        ("eu", 0, "--vehicles: Input should be greater than 0 (got 0)"),
    ],
)
def test_errors_name_the_file_or_option_before_printing(region: str, vehicles: int | None, message: str) -> None:
    buffer = io.StringIO()
    with pytest.raises(ConfigError) as raised:
        size_command(region, vehicles, console=Console(file=buffer))
    assert (str(raised.value), buffer.getvalue()) == (message, "")
