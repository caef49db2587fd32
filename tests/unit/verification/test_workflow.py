"""The pull-request workflow's shape and the comment it posts (actionlint runs in tests/integration)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.verification import pr_comment
from autocloud.verification.check.command import run_check
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT, STACKS_DIR
from platform_model.stack import resolve_stack
from policies.packs import PACK_RULES

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "preview.yml"
PINNED = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def _steps(workflow: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    steps = workflow["jobs"][job]["steps"]
    assert isinstance(steps, list)
    return steps


def test_runs_on_pull_requests_with_no_default_permissions(workflow: dict[Any, Any]) -> None:
    # PyYAML reads the bare key `on` as True.
    assert "pull_request" in (workflow.get("on") or workflow.get(True) or {})
    assert workflow["permissions"] == {}


def test_each_job_asks_only_for_what_it_uses(workflow: dict[Any, Any]) -> None:
    assert workflow["jobs"]["check"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert workflow["jobs"]["preview"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_every_action_is_pinned_to_a_commit_with_its_tag_beside_it(workflow: dict[Any, Any]) -> None:
    uses = [step["uses"] for job in workflow["jobs"] for step in _steps(workflow, job) if "uses" in step]
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses and len(lines) == len(uses)
    loose = [line.strip() for line in lines if not PINNED.match(line)]
    assert loose == [], f"actions not pinned to a commit SHA with its tag: {loose}"


def test_preview_runs_in_the_protected_environment(workflow: dict[Any, Any]) -> None:
    """The Azure identity trusts only this environment's OIDC subject (README: Pull-request previews)."""
    assert workflow["jobs"]["preview"]["environment"] == "preview"
    assert "environment" not in workflow["jobs"]["check"], "the offline check needs no environment"


def test_check_job_comments_before_it_fails(workflow: dict[Any, Any]) -> None:
    steps = _steps(workflow, "check")
    names = [s.get("name", s.get("uses", "")) for s in steps]
    check = next(i for i, s in enumerate(steps) if s.get("id") == "check")
    comment = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/github-script@"))
    fail = names.index("Fail on policy violations")
    assert check < comment < fail
    run = steps[check]["run"]
    assert "autocloud check --all --format markdown > check.md" in run
    assert "set +e" in run, "a violation must not stop the job before the comment is posted"
    assert ".venv/bin/autocloud pr-comment check.md" in run
    assert steps[fail]["if"] == "steps.check.outputs.exit-code != '0'"


def test_comment_script_finds_its_comment_by_the_marker_line(workflow: dict[Any, Any]) -> None:
    script = next(s for s in _steps(workflow, "check") if "github-script" in s.get("uses", ""))["with"]["script"]
    assert "body.split('\\n', 1)[0]" in script
    assert "updateComment" in script and "createComment" in script
    assert pr_comment.MARKER.startswith("<!--") and pr_comment.MARKER.endswith("-->")


def test_preview_covers_every_azure_stack_and_skips_without_credentials(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["preview"]
    stacks = sorted(e["stack"] for e in job["strategy"]["matrix"]["include"])
    shipped = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.azure-*.yaml"))
    assert stacks == shipped
    assert "vars.AZURE_CLIENT_ID != ''" in job["if"]
    login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) >= {"client-id", "tenant-id", "subscription-id"}
    pulumi = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    packs = pulumi["with"]["policyPacks"].splitlines()
    configs = pulumi["with"]["policyPackConfigs"].splitlines()
    assert packs == [f"policies/{pack}" for pack in PACK_RULES]
    assert len(configs) == len(packs)
    for pack in packs:
        assert (REPO_ROOT / pack / "PulumiPolicy.yaml").is_file()


@pytest.mark.parametrize("name", ["preview.yml", "drift.yml"])
def test_each_matrix_entry_signs_in_to_its_stacks_cloud(name: str) -> None:
    """Every azure stack has one matrix entry in both workflows, and the entry's Azure environment and identity
    are those of the cloud its region profile names (Azure China's own, CN_ variables)."""
    data = yaml.safe_load((WORKFLOW.parent / name).read_text())
    entries = data["jobs"]["preview" if name == "preview.yml" else "drift"]["strategy"]["matrix"]["include"]
    shipped = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.azure-*.yaml"))
    assert sorted(e["stack"] for e in entries) == shipped
    for entry in entries:
        china = resolve_stack(entry["stack"]).profile.cloud == "china"
        assert entry["environment"] == ("AzureChinaCloud" if china else "AzureCloud"), entry["stack"]
        assert entry["prefix"] == ("CN_" if china else ""), entry["stack"]


def test_comment_starts_with_the_marker_and_keeps_the_report() -> None:
    body = pr_comment.build_comment("## autocloud check: ✅ all stacks comply\n\n| a |\n", 0, "https://ci/run/1")
    assert body.splitlines()[0] == pr_comment.MARKER
    assert "## autocloud check: ✅ all stacks comply" in body
    assert "exited 0: all stacks comply" in body
    assert "(https://ci/run/1)" in body


def test_comment_for_a_check_that_printed_nothing() -> None:
    body = pr_comment.build_comment("  \n", 2)
    assert body.startswith(pr_comment.MARKER + "\n")
    assert "no report" in body
    assert "exited 2: a stack could not be checked completely" in body


def test_comment_is_cut_to_githubs_limit_on_a_line_boundary() -> None:
    line = "| `azure-eu` | **mandatory** | `residency-resource-location` | somewhere far away |\n"
    huge = "## autocloud check: ❌ policy violations\n\n" + line * 2000
    body = pr_comment.build_comment(huge, 1, "https://ci/run/2")
    assert len(body) <= pr_comment.MAX_COMMENT_CHARS
    assert body.startswith(pr_comment.MARKER)
    assert "was cut" in body
    assert "exited 1: mandatory policy violations" in body
    kept = body.split("\n\n> The report is too long")[0]
    assert kept.endswith(line.rstrip("\n"))


def test_pr_comment_command_writes_the_comment(tmp_path: Path) -> None:
    check_md = tmp_path / "check.md"
    check_md.write_text("## autocloud check: ❌ policy violations\n")
    out = tmp_path / "comment.md"
    runner = CliRunner()
    result = runner.invoke(app, ["pr-comment", str(check_md), "--exit-code", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith(pr_comment.MARKER + "\n## autocloud check: ❌ policy violations")
    result = runner.invoke(app, ["pr-comment", str(tmp_path / "missing.md"), "--exit-code", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no report" in out.read_text()
    printed = runner.invoke(app, ["pr-comment", str(check_md), "--exit-code", "1", "--run-url", "https://ci/run/3"])
    assert printed.output.startswith(pr_comment.MARKER) and "(https://ci/run/3)" in printed.output


def test_comment_wraps_what_autocloud_check_prints_for_a_violation() -> None:
    out = io.StringIO()
    code = run_check(
        None, False, REPO_ROOT / "tests" / "programs" / "location_outside", "eu", OutputFormat.MARKDOWN, out=out
    )
    assert code == 1
    body = pr_comment.build_comment(out.getvalue(), code)
    assert body.startswith(f"{pr_comment.MARKER}\n## autocloud check: ❌ policy violations")
    assert "`residency-resource-location`" in body
    assert "exited 1: mandatory policy violations" in body


def test_preview_uses_the_teams_secrets_provider(workflow: dict[Any, Any]) -> None:
    """The stack's provider comes from the toolkit's resolver, fed the same variables engineers export;
    an existing stack's own provider is read from its state (docs/engine.md, "Secrets providers")."""
    job = workflow["jobs"]["preview"]
    assert job["env"]["AUTOCLOUD_SECRETS_PROVIDER"] == "${{ vars.AUTOCLOUD_SECRETS_PROVIDER }}"
    assert job["env"]["AUTOCLOUD_SECRETS_PROVIDER_CN"] == "${{ vars.AUTOCLOUD_SECRETS_PROVIDER_CN }}"
    steps = _steps(workflow, "preview")
    resolve = next(step for step in steps if step.get("id") == "secrets")
    assert 'autocloud secrets-provider "${STACK}"' in resolve["run"]
    pulumi = next(step for step in steps if str(step.get("uses", "")).startswith("pulumi/actions@"))
    assert steps.index(resolve) < steps.index(pulumi)
    assert pulumi["with"]["secrets-provider"] == "${{ steps.secrets.outputs.provider }}"
    assert pulumi["env"]["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true"
