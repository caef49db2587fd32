"""`autocloud rollout FILE --emit github`: the workflow's shape (one job per stack, waves as needs, gate
and bake as steps, an environment per wave, each cloud's identity and state), and what it refuses.
actionlint checks the emitted text in tests/integration/test_workflow.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.operations import emit_github
from autocloud.operations.rollout import load_rollout
from platform_model.errors import ConfigError, InputError
from platform_model.paths import REPO_ROOT

WORLD = """
name: world
waves:
  - name: EU canary
    canary: true
    stacks: [azure-eu]
    gate: {command: ./scripts/healthy.sh}
    bake: 10m
  - name: us+cn
    parallel: 2
    stacks: [azure-us, azure-cn]
    gate: {command: "true"}
    bake: 45s
  - name: last
    stacks: [{stack: local-eu}]
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout root holding the rollout file (the workflow names it relative to the root)."""
    monkeypatch.setattr(emit_github, "REPO_ROOT", tmp_path)
    (tmp_path / "rollouts").mkdir()
    return tmp_path


def emit(repo: Path, text: str, only: list[str] | None = None) -> dict[str, Any]:
    path = repo / "rollouts" / "world.yaml"
    path.write_text(text)
    rollout = load_rollout(path)
    if only:
        rollout = rollout.restricted(only)
    document = yaml.safe_load(emit_github.workflow(rollout, path, only))
    assert isinstance(document, dict)
    return document


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_one_job_per_stack_with_waves_as_needs(repo: Path) -> None:
    workflow = emit(repo, WORLD, ["azure-eu", "azure-us", "azure-cn"])
    jobs = workflow["jobs"]
    assert list(jobs) == ["deploy-azure-eu", "deploy-azure-us", "deploy-azure-cn"]
    assert "needs" not in jobs["deploy-azure-eu"]
    assert jobs["deploy-azure-us"]["needs"] == ["deploy-azure-eu"] == jobs["deploy-azure-cn"]["needs"]
    assert workflow["env"]["ROLLOUT"] == "rollouts/world.yaml"
    assert workflow["permissions"] == {} and workflow["concurrency"]["cancel-in-progress"] is False


def test_each_wave_has_its_own_protected_environment(repo: Path) -> None:
    jobs = emit(repo, WORLD, ["azure-eu", "azure-us", "azure-cn"])["jobs"]
    assert jobs["deploy-azure-eu"]["environment"] == "rollout-world-eu-canary"
    assert jobs["deploy-azure-us"]["environment"] == "rollout-world-us-cn" == jobs["deploy-azure-cn"]["environment"]
    assert jobs["deploy-azure-eu"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_apply_gate_and_bake_steps_use_the_same_file(repo: Path) -> None:
    jobs = emit(repo, WORLD, ["azure-eu", "azure-us", "azure-cn"])["jobs"]
    apply, gate, bake = _runs(jobs["deploy-azure-eu"])[-3:]
    assert apply == '.venv/bin/autocloud rollout "${ROLLOUT}" --only-stack "${STACK}" --yes --no-gates'
    assert gate == '.venv/bin/autocloud rollout "${ROLLOUT}" --only-stack "${STACK}" --gate-only'
    assert "while [" in bake and gate in bake
    step = jobs["deploy-azure-eu"]["steps"][-1]
    assert step["name"] == "Bake 10m (gate every 30s)"
    assert (step["env"]["BAKE_SECONDS"], step["env"]["INTERVAL"]) == ("600", "30")
    assert jobs["deploy-azure-us"]["steps"][-1]["env"]["INTERVAL"] == "9", "a fifth of a 45 s bake"
    # the gate's own command stays in the rollout file, read at run time
    assert "healthy.sh" not in yaml.safe_dump(jobs)
    assert jobs["deploy-azure-eu"]["timeout-minutes"] == emit_github.APPLY_MINUTES + 15


def test_a_wave_without_gate_or_bake_only_applies(repo: Path) -> None:
    text = "name: plain\nwaves:\n  - name: eu\n    stacks: [azure-eu]\n"
    job = emit(repo, text)["jobs"]["deploy-azure-eu"]
    assert [r for r in _runs(job) if "autocloud rollout" in r] == [
        '.venv/bin/autocloud rollout "${ROLLOUT}" --only-stack "${STACK}" --yes --no-gates'
    ]


def test_each_cloud_gets_its_identity_and_state(repo: Path) -> None:
    jobs = emit(repo, WORLD, ["azure-eu", "azure-us", "azure-cn"])["jobs"]
    eu, cn = jobs["deploy-azure-eu"], jobs["deploy-azure-cn"]
    assert eu["env"]["CLIENT_ID"] == "${{ vars.AZURE_CLIENT_ID }}"
    assert eu["env"]["AUTOCLOUD_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert cn["env"]["CLIENT_ID"] == "${{ vars.AZURE_CN_CLIENT_ID }}"
    assert cn["env"]["AUTOCLOUD_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL_CN }}"
    logins = [s for s in cn["steps"] if s.get("uses", "").startswith("azure/login@")]
    assert logins[0]["with"]["environment"] == "AzureChinaCloud"


def test_actions_are_pinned_as_the_preview_workflow_pins_them() -> None:
    preview = (REPO_ROOT / ".github" / "workflows" / "preview.yml").read_text()
    for action, pin in zip(
        ("actions/checkout", "actions/setup-python", "actions/setup-go", "azure/login"),
        emit_github.PINS.values(),
        strict=True,
    ):
        assert f"uses: {action}@{pin}" in preview


def test_a_local_stack_is_refused_naming_its_key(repo: Path) -> None:
    with pytest.raises(ConfigError) as info:
        emit(repo, WORLD)
    assert str(info.value).startswith(f"{repo}/rollouts/world.yaml: waves[2].stacks[0]: local-eu deploys to the local")


def test_a_bake_too_long_for_a_github_job_is_refused(repo: Path) -> None:
    text = "name: long\nwaves:\n  - name: eu\n    stacks: [azure-eu]\n    gate: {command: 'true'}\n    bake: 3h\n"
    with pytest.raises(ConfigError, match=r"waves\[0\]\.bake: 3h leaves a job no room to apply"):
        emit(repo, text)


def test_a_file_outside_the_repository_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "world.yaml"
    path.write_text("name: plain\nwaves:\n  - name: eu\n    stacks: [azure-eu]\n")
    with pytest.raises(InputError, match="must be inside the repository"):
        emit_github.workflow(load_rollout(path), path)


def test_the_cli_writes_the_workflow_to_out(tmp_path: Path) -> None:
    out = tmp_path / "wf" / "rollout-azure.yml"
    result = CliRunner().invoke(app, ["rollout", "rollouts/azure.yaml", "--emit", "github", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Rollout azure as a GitHub Actions workflow")
    assert re.findall(r"^  (deploy-[a-z-]+):$", text, re.MULTILINE) == [
        "deploy-azure-eu",
        "deploy-azure-us",
        "deploy-azure-cn",
    ]


def test_the_checked_in_world_workflow_is_the_one_its_rollout_file_emits() -> None:
    """`.github/workflows/rollout-world.yml` is generated from `rollouts/world.yaml`: regenerate it with
    `autocloud rollout rollouts/world.yaml --emit github --out .github/workflows/rollout-world.yml`."""
    path = REPO_ROOT / "rollouts" / "world.yaml"
    shipped = REPO_ROOT / ".github" / "workflows" / "rollout-world.yml"
    assert shipped.read_text() == emit_github.workflow(load_rollout(path), path)
