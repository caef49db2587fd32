"""`autocloud regions`: every jurisdiction with its verdict, locations, limits, profile and sources, text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.verification import regions_report
from autocloud.verification.regions_report import jurisdiction_json, regions_command, serving_profiles
from platform_model.errors import ConfigError
from platform_model.formats import OutputFormat
from platform_model.jurisdictions import JURISDICTIONS_DIR, jurisdictions, load_jurisdictions
from platform_model.paths import REPO_ROOT
from platform_model.profiles import available_profiles, load_profile

runner = CliRunner()


def test_text_lists_every_jurisdiction_with_its_verdict_and_sources() -> None:
    result = runner.invoke(app, ["regions"])
    assert result.exit_code == 0, result.output
    out = result.output
    for name, found in jurisdictions().items():
        verdict = "deployable without " + ", ".join(found.without) if found.without else found.verdict
        assert f"{name} ({found.title}): {verdict}\n" in out
        assert f"    {found.rule.source}\n" in out
    assert "  Azure locations: brazilsouth, brazilsoutheast (restricted)\n" in out
    assert (
        "    Azure IoT Hub: only with iot_data_residency: true, primary in brazilsouth; fails over to a paired region "
        "outside brazil (brazilsouth -> southcentralus) unless data residency is on\n"
    ) in out
    assert "russia (Russia): not-deployable\n  why: Russian vehicle owners' personal data" in out
    assert "  limited services: all (no open Azure location)\n" in out


def test_text_names_the_profile_serving_each_jurisdiction() -> None:
    out = runner.invoke(app, ["regions"]).output
    blocks = {block.split(" ", 1)[0]: block for block in out.strip().split("\n\n")}
    assert list(blocks) == list(jurisdictions())
    served: dict[str, list[str]] = {}
    for name in available_profiles():
        served.setdefault(load_profile(name).jurisdiction, []).append(name)
    for name, block in blocks.items():
        assert f"\n  profile: {', '.join(served.get(name, [])) or 'none'}\n" in block
    assert "\n  profile: eu\n" in blocks["eu-eea"] and "\n  profile: none\n" in blocks["switzerland"]


def test_json_is_the_catalog_and_the_profiles() -> None:
    result = runner.invoke(app, ["regions", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    served = serving_profiles()
    expected = [jurisdiction_json(j, served.get(name, [])) for name, j in jurisdictions().items()]
    assert doc == {"jurisdictions": expected}
    by_name = {entry["name"]: entry for entry in doc["jurisdictions"]}
    assert by_name["eu-eea"]["verdict"] == "deployable" and by_name["eu-eea"]["profiles"] == ["eu"]
    assert by_name["eu-eea"]["limited"] == []
    uk = by_name["united-kingdom"]
    assert (uk["verdict"], uk["without"], uk["profiles"]) == ("deployable-without", ["maps"], ["uk"])
    assert [(x["service"], x["kept"]) for x in uk["limited"]] == [("maps", False)]
    assert "https://learn.microsoft.com/azure/azure-maps/geographic-scope" in uk["sources"]
    assert by_name["china"]["profiles"] == ["cn"] and by_name["china"]["read"] == "2026-12-05"


def test_format_outside_text_and_json_is_a_usage_error() -> None:
    result = runner.invoke(app, ["regions", "--format", "markdown"])
    assert result.exit_code == 2
    assert "--format" in result.output


def test_a_bad_jurisdiction_file_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((JURISDICTIONS_DIR / "japan.yaml").read_text())
    data["verdict"] = "deployable"
    (tmp_path / "japan.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(regions_report, "jurisdictions", lambda: load_jurisdictions(tmp_path))
    result = runner.invoke(app, ["regions", "--format", "json"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {tmp_path}/japan.yaml: verdict: 'deployable' but the facts say ")


def test_a_profile_naming_an_unknown_jurisdiction_is_refused(tmp_path: Path) -> None:
    (tmp_path / "regions").mkdir()
    data = yaml.safe_load((REPO_ROOT / "regions" / "eu.yaml").read_text()) | {"jurisdiction": "atlantis"}
    (tmp_path / "regions" / "eu.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        regions_command(OutputFormat.TEXT, root=tmp_path)
    assert str(caught.value).startswith("regions/eu.yaml: jurisdiction: 'atlantis' is not a jurisdiction (known: ")
