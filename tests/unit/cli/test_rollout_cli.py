"""`autocloud rollout` with gates: options that do not go together are one line (exit 2), and a failing
gate is a non-zero exit with one line saying which check failed and how."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.operations import gates, runs

runner = CliRunner()

GATED = """
name: cli-gated
waves:
  - name: eu
    stacks: [local-eu]
    gate: {command: 'test "$AUTOCLOUD_OUTPUT_READY" = yes || { echo "ready is $AUTOCLOUD_OUTPUT_READY" >&2; exit 4; }'}
  - name: us
    stacks: [local-us]
"""


def lines(args: list[str]) -> tuple[int, list[str]]:
    result = runner.invoke(app, args, prog_name="autocloud")
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--only-stack", "azure-us"], "error: --only-stack: 'azure-us' is not a stack of "),
        (["--out", "x.yml"], "error: --out goes with --emit"),
        (
            ["--gate-only", "--preview"],
            "error: --gate-only runs gates alone: not with --preview, --resume or --no-gates",
        ),
        (["--emit", "gitlab"], "error: autocloud rollout: Invalid value for '--emit'"),
    ],
)
def test_options_that_do_not_fit_are_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    plan = tmp_path / "rollout.yaml"
    plan.write_text(GATED)
    code, out = lines(["rollout", str(plan), *extra])
    assert code == 2
    assert len(out) == 1 and out[0].startswith(message), out


@pytest.fixture()
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No toolchain, cluster or engine: the stack's outputs come from here."""
    monkeypatch.setattr(runs, "STATE_DIR", tmp_path)
    monkeypatch.setattr(runs, "ensure_local_runtime", lambda echo: None)
    monkeypatch.setattr(
        runs, "component_watch", lambda *_a, **_k: contextlib.nullcontext(SimpleNamespace(failure=None))
    )


@pytest.mark.usefixtures("offline")
def test_gate_only_failing_command_exits_one_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "rollout.yaml"
    plan.write_text(GATED)
    monkeypatch.setattr(gates.StackGate, "read_outputs", lambda _self, _stack: {"ready": "no"})
    code, out = lines(["rollout", str(plan), "--only-stack", "local-eu", "--gate-only"])
    assert code == 1
    assert out[-1].startswith("error: wave 'eu': gate failed: local-eu command: ")
    assert out[-1].endswith("exited 4: ready is no; the rollout stopped before the next wave")


@pytest.mark.usefixtures("offline")
def test_gate_only_passing_command_exits_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "rollout.yaml"
    plan.write_text(GATED)
    monkeypatch.setattr(gates.StackGate, "read_outputs", lambda _self, _stack: {"ready": "yes"})
    code, out = lines(["rollout", str(plan), "--only-stack", "local-eu", "--gate-only"])
    assert code == 0, out
    assert "[eu] gate: passed" in out
