"""Region profile -> RuleContext -> policy-config JSON, and back."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autocloud.cli import app
from platform_model.profiles import available_profiles, load_profile
from policies.config import context_for_profile, pack_config_for_region, validate_relaxed
from policies.model import RuleContext
from policies.packs import ALL_RULES


def test_context_round_trips_through_policy_config(eu: RuleContext) -> None:
    relaxed = dataclasses.replace(eu, relaxed=frozenset({"baseline-required-tags"}), device_access="private")
    assert RuleContext.from_config(relaxed.to_config()) == relaxed


def test_policy_config_normalises_locations(eu: RuleContext) -> None:
    config = eu.to_config() | {"boundary": ["West Europe", "north europe"]}
    assert RuleContext.from_config(config).boundary == {"westeurope", "northeurope"}


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("region", None, "'region' is missing"),
        ("cloud", "moon", "'cloud' must be one of"),
        ("boundary", [], "'boundary' is missing or empty"),
        ("boundary", "westeurope", "'boundary' must be a list"),
        ("requiredTags", ["x"], "'requiredTags' must be an object"),
        ("deviceAccess", "vpn", "'deviceAccess' must be one of public, private"),
    ],
)
def test_refuses_bad_policy_config(eu: RuleContext, key: str, value: object, problem: str) -> None:
    config = eu.to_config()
    if value is None:
        del config[key]
    else:
        config[key] = value
    with pytest.raises(ValueError, match=problem):
        RuleContext.from_config(config)


def test_context_for_real_profiles() -> None:
    regions = available_profiles()
    eu = context_for_profile(load_profile("eu"), regions=regions)
    # EU's pairs stay in Europe: IoT Hub data residency is neither offered nor needed there.
    assert eu.cloud == "public" and eu.maps_allowed and not eu.iot_data_residency
    assert "westeurope" in eu.boundary and "eastus" not in eu.boundary
    assert eu.required_tags == {"region": "eu", "data-residency": "eu"}
    assert eu.foreign_regions == set(regions) - {"eu"}
    assert eu.jurisdiction == "eu-eea" and RuleContext.from_config(eu.to_config()).jurisdiction == "eu-eea"
    cn = context_for_profile(load_profile("cn"))
    assert cn.cloud == "china" and not cn.maps_allowed
    assert {"eu", "us"} <= cn.foreign_regions


def test_pack_config_covers_every_policy_with_the_region() -> None:
    config = pack_config_for_region(load_profile("us"), relaxed=["baseline-min-tls-version"], regions=["us", "eu"])
    assert set(config) == {rule.name for rule in ALL_RULES}
    assert all(entry["region"] == "us" and "eastus2" in entry["boundary"] for entry in config.values())
    assert config["baseline-min-tls-version"]["enforcementLevel"] == "advisory"
    assert config["residency-resource-location"]["enforcementLevel"] == "mandatory"
    entry = dict(config["residency-resource-location"])
    assert RuleContext.from_config(entry).relaxed == {"baseline-min-tls-version"}


def test_refuses_relaxing_a_residency_rule() -> None:
    with pytest.raises(ValueError, match="'residency-resource-location' cannot be relaxed"):
        validate_relaxed(["residency-resource-location"])


def test_policy_config_command_writes_the_file_pulumi_reads(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "cn.json"
    result = CliRunner().invoke(app, ["policy-config", "--region", "cn", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["residency-maps-allowed"]["mapsAllowed"] is False
    printed = CliRunner().invoke(app, ["policy-config", "--region", "eu", "--relax", "baseline-required-tags"])
    config = json.loads(printed.output)
    assert config["residency-resource-location"]["cloud"] == "public"
    assert config["baseline-required-tags"]["enforcementLevel"] == "advisory"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--region", "mars"], "no region profile 'mars'"),
        (["--region", "eu", "--relax", "residency-resource-location"], "residency-resource-location"),
    ],
)
def test_policy_config_command_refuses_bad_input_in_one_line(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, ["policy-config", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.output
