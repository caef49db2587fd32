"""``autocloud size``: the plan as a table or JSON; a configuration error names the file or option."""

from __future__ import annotations

import io
import json
from pathlib import Path

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


def test_the_measured_local_rate_is_shown_as_what_one_azure_scale_unit_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocloud.verification import sizing_report

    recorded = tmp_path / "local.json"
    recorded.write_text(
        json.dumps({"measured_at": "2026-12-05T19:07:31Z", "figures": {"eu_end_to_end": {"messages_per_second": 6000}}})
    )
    fleet = tmp_path / "fleet.json"
    monkeypatch.setattr(sizing_report, "LOCAL_BENCHMARKS", ((fleet, "one_unit_flat_out"), (recorded, "eu_end_to_end")))
    measured = json.loads(run("eu", fmt=OutputFormat.JSON))["measured_locally"]
    # 6,000 msg/s of 1 KB: 518 M metered messages a day is two S3 units (300 M each); 6,000 events/s is 6 TUs.
    assert (measured["iothub_tier"], measured["iothub_units"], measured["throughput_units"]) == ("S3", 2, 6)
    assert measured["source"].endswith("local.json eu_end_to_end, 2026-12-05")
    assert "measured locally, messages/s" in run("eu")

    # One scale unit flat out is the better measure; a run that lost messages measured no end-to-end rate.
    unit = {"messages_per_second": 3000, "lost": 0}
    fleet.write_text(json.dumps({"measured_at": "2026-12-06T03:00:00Z", "figures": {"one_unit_flat_out": unit}}))
    assert json.loads(run("eu", fmt=OutputFormat.JSON))["measured_locally"]["source"].endswith(
        "fleet.json one_unit_flat_out, 2026-12-06"
    )
    fleet.write_text(json.dumps({"figures": {"one_unit_flat_out": unit | {"lost": 3}}}))
    assert "local.json" in json.loads(run("eu", fmt=OutputFormat.JSON))["measured_locally"]["source"]

    monkeypatch.setattr(sizing_report, "LOCAL_BENCHMARKS", ((tmp_path / "absent.json", "eu_end_to_end"),))
    assert "measured_locally" not in json.loads(run("eu", fmt=OutputFormat.JSON))
    assert "measured locally" not in run("eu")


def test_the_report_line_says_the_rate_its_source_and_the_azure_capacity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocloud.verification import sizing_report
    from platform_model.profiles import load_profile

    recorded = tmp_path / "local.json"
    figures = {"eu_end_to_end": {"messages_per_second": 500}}
    recorded.write_text(json.dumps({"measured_at": "2026-12-05", "figures": figures}))
    monkeypatch.setattr(sizing_report, "LOCAL_BENCHMARKS", ((recorded, "eu_end_to_end"),))
    line = sizing_report.measured_line(load_profile("eu"))
    assert line is not None and line.startswith("500 msg/s end to end on the local platform (")
    assert line.endswith("needs IoT Hub S2 x 8, 1 TU, Cosmos DB max 3,000 RU/s")
