"""The CLI's contract for bad input: one line naming the file or option, exit code 2, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autocloud import images
from autocloud.cli import app

runner = CliRunner()


def test_unknown_region_for_up_is_a_usage_error() -> None:
    result = runner.invoke(app, ["up", "--region", "xx"])
    assert result.exit_code == 2
    assert "no stack local-xx in stacks/" in result.output
    assert "Traceback" not in result.output


def test_invalid_rollout_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nwaves:\n  - name: a\n    stacks: [local-eu, nope]\n")
    result = runner.invoke(app, ["rollout", str(bad), "--preview"])
    assert result.exit_code == 2
    assert f"{bad}: waves[0].stacks[1]: unknown stack 'nope'" in " ".join(result.output.split())


def test_rollout_without_yes_and_without_a_terminal_refuses_to_apply() -> None:
    result = runner.invoke(app, ["rollout", "rollouts/local.yaml"], input="")
    assert result.exit_code == 2
    assert "pass --yes" in result.output


def test_bad_rollout_format_option() -> None:
    result = runner.invoke(app, ["rollout", "rollouts/local.yaml", "--preview", "--format", "xml"])
    assert result.exit_code == 2
    assert "--format" in result.output


def test_size_json_is_machine_readable() -> None:
    result = runner.invoke(app, ["size", "--region", "eu", "--vehicles", "5000000", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["region"] == "eu"
    assert plan["plan"]["vehicles"] == 5000000
    assert plan["plan"]["scale_units"] >= 5, "1 M devices per hub: 5 M vehicles need at least 5 hubs"


def test_check_unknown_stack_is_a_usage_error() -> None:
    result = runner.invoke(app, ["check", "--stack", "nope"])
    assert result.exit_code == 2


def test_images_build_lists_each_image_and_whether_it_was_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "kafka-3.9.2.tar"
    tarball.write_bytes(b"x" * 2**20)
    built = [images.BuiltImage("autocloud.local/kafka:3.9.2", tarball, rebuilt=False)]
    monkeypatch.setattr(images, "build", lambda out: built)
    result = runner.invoke(app, ["images", "build"])
    assert result.exit_code == 0, result.output
    assert "autocloud.local/kafka:3.9.2  1.0 MiB  up to date" in result.output


def test_images_build_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out: Path) -> list[images.BuiltImage]:
        raise images.ImageError("mvn not found: install Debian's maven (make system-deps)")

    monkeypatch.setattr(images, "build", fail)
    result = runner.invoke(app, ["images", "build"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: mvn not found: install Debian's maven (make system-deps)"


def test_check_takes_config_like_the_pulumi_cli() -> None:
    program = "tests/programs/foreign/configured"
    args = ["check", "--program", program, "--region", "eu", "--format", "json"]
    result = runner.invoke(app, [*args, "-c", "location=eastus", "--config", "adminPassword=x"])
    assert result.exit_code == 1, result.output
    result = runner.invoke(app, [*args, "--config-file", f"{program}/Pulumi.dev.yaml"])
    assert result.exit_code == 0, result.output
