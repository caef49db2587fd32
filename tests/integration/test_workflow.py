"""actionlint, built from its Go module into .toolchain/bin, accepts the workflows (the pull-request
preview, the daily drift report, and what `autocloud rollout --emit github` writes) and rejects broken
copies of the preview (so a pass means something)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN

pytestmark = pytest.mark.integration

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "preview.yml"
ACTIONLINT = TOOLCHAIN_BIN / "actionlint"


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.is_file():
        pytest.fail(f"{ACTIONLINT} is missing: run `make toolchain`", pytrace=False)
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", str(path)], cwd=path.parent, capture_output=True, text=True, timeout=120
    )


PINNED = re.compile(r"@[0-9a-f]{40} # (v\d+)[.\d]*$", re.MULTILINE)


def _by_tag(text: str) -> str:
    """The workflow with each SHA pin replaced by its major tag: actionlint knows the inputs of the
    popular actions by tag only, so this copy is what checks the inputs the workflow passes."""
    return PINNED.sub(r"@\1", text)


@pytest.mark.parametrize("name", ["preview.yml", "drift.yml", "rollout-world.yml"])
def test_workflow_passes_actionlint(tmp_path: Path, name: str) -> None:
    workflow = WORKFLOWS / name
    result = _actionlint(workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    tagged = tmp_path / ".github" / "workflows" / name
    tagged.parent.mkdir(parents=True)
    tagged.write_text(_by_tag(workflow.read_text()))
    assert "@v5\n" in tagged.read_text()
    result = _actionlint(tagged)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("original", "broken", "complaint"),
    [
        # an input the pinned action does not have
        ("persist-credentials: false", "persist-credential: false", 'input "persist-credential" is not defined'),
        # a step output of a step id that does not exist
        ("if: steps.check.outputs.exit-code != '0'", "if: steps.chek.outputs.exit-code != '0'", '"chek"'),
        # a permission scope GitHub does not know
        ("      pull-requests: write", "      pull-request: write", 'unknown permission scope "pull-request"'),
        # an expression that does not parse
        ("${{ vars[matrix.state] }}", "${{ vars[matrix.state }}", "expecting"),
    ],
    ids=["unknown-input", "unknown-step", "unknown-permission", "bad-expression"],
)
def test_actionlint_rejects_a_broken_copy(tmp_path: Path, original: str, broken: str, complaint: str) -> None:
    text = WORKFLOW.read_text()
    assert original in text, "the workflow changed; update this test's breakage"
    copy = tmp_path / ".github" / "workflows" / "preview.yml"
    copy.parent.mkdir(parents=True)
    copy.write_text(_by_tag(text.replace(original, broken, 1)))
    result = _actionlint(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert complaint in result.stdout, result.stdout


@pytest.mark.parametrize("source", ["azure.yaml", "world.yaml"])
def test_emitted_rollout_workflow_passes_actionlint(tmp_path: Path, source: str) -> None:
    """`autocloud rollout FILE --emit github` writes what actionlint accepts, pinned and by tag: the shipped
    rollouts, one plain and one with a canary, gates and bake times."""
    from autocloud.operations import emit_github
    from autocloud.operations.rollout import load_rollout

    path = REPO_ROOT / "rollouts" / source
    text = emit_github.workflow(load_rollout(path), path)
    assert ("Bake 30m" in text) == (source == "world.yaml")
    emitted = tmp_path / "emitted" / ".github" / "workflows" / "rollout.yml"
    emitted.parent.mkdir(parents=True)
    emitted.write_text(text)
    result = _actionlint(emitted)
    assert result.returncode == 0, result.stdout + result.stderr
    emitted.write_text(_by_tag(text))
    assert "@v5\n" in emitted.read_text()
    result = _actionlint(emitted)
    assert result.returncode == 0, result.stdout + result.stderr
