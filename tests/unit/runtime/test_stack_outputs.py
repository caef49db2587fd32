"""Reading a deployed stack's outputs selects the stack and never creates it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from autocloud.runtime import engine
from autocloud.runtime.backend import BACKEND_ENV
from platform_model.errors import InputError


@pytest.fixture(autouse=True)
def no_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    """No built Pulumi CLI and no team backend: the local file backend under the test's state dir."""
    monkeypatch.setattr(engine, "pulumi_command", lambda: None)
    monkeypatch.delenv(BACKEND_ENV, raising=False)


def test_outputs_are_plain_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []

    def select_stack(**kwargs: Any) -> Any:
        asked.append(kwargs)
        outputs = {"region": auto.OutputValue("eu", False), "endpoints": auto.OutputValue({"a": 1}, False)}
        return SimpleNamespace(outputs=lambda: outputs)

    monkeypatch.setattr(auto, "select_stack", select_stack)
    monkeypatch.setattr(auto, "create_or_select_stack", lambda **kwargs: pytest.fail("must not create"))
    assert engine.stack_outputs("azure-eu", state_dir=tmp_path) == {"region": "eu", "endpoints": {"a": 1}}
    assert asked[0]["stack_name"] == "azure-eu"
    assert asked[0]["opts"].env_vars["PULUMI_BACKEND_URL"] == (tmp_path / "backend").as_uri()


def test_a_stack_never_deployed_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def select_stack(**kwargs: Any) -> Any:
        raise auto.errors.StackNotFoundError(CommandResult("", "error: no stack named 'azure-eu' found", 255))

    monkeypatch.setattr(auto, "select_stack", select_stack)
    with pytest.raises(InputError) as raised:
        engine.stack_outputs("azure-eu", state_dir=tmp_path)
    assert str(raised.value) == (
        f"stack azure-eu is not deployed on backend {(tmp_path / 'backend').as_uri()} "
        "(AUTOCLOUD_BACKEND_URL names a team backend)"
    )
