"""What a failed deployment reports (the engine's diagnosis in one line, a missing plugin named), and
what happens to operations an interrupted run left pending."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi.automation import errors
from pulumi.automation._cmd import CommandResult

from autocloud.operations import deploy
from autocloud.operations.deploy import StackResult
from autocloud.runtime import engine
from autocloud.runtime.checkpoint import clear_pending
from autocloud.runtime.engine_errors import missing_plugin, short_error
from autocloud.runtime.toolchain import PULUMI_HOME
from platform_model.paths import TOOLCHAIN_BIN

#: What the engine prints when the azure-native plugin is not where it looks (automatic download off).
ENGINE_ERROR = (
    "Previewing update (azure-eu):\n"
    "    pulumi:pulumi:Stack autocloud-azure-eu  error: could not load plugin for azure-native provider "
    "'default_3_29_0': no resource plugin 'pulumi-resource-azure-native' found in the workspace at version "
    "v3.29.0 or on your $PATH, install the plugin using `pulumi plugin install resource azure-native v3.29.0`\n"
    "Resources:\n"
)


def failure(stderr: str) -> errors.CommandError:
    return errors.CommandError(CommandResult(stdout="", stderr=stderr, code=255))


def test_missing_plugin_is_one_line_with_version_and_command() -> None:
    message = short_error(failure(ENGINE_ERROR))
    assert message == (
        "the Pulumi resource plugin azure-native v3.29.0 is not installed; install it with "
        f"`PULUMI_HOME={PULUMI_HOME} {TOOLCHAIN_BIN / 'pulumi'} plugin install resource azure-native 3.29.0` "
        "(README: Deploy to Azure)"
    )
    assert "\n" not in message


def test_other_errors_keep_the_engine_lines() -> None:
    assert missing_plugin("error: update failed") is None
    assert short_error(failure("  error: update failed\n")).endswith("error: update failed")


def test_multi_error_keeps_the_causes_listed_under_it() -> None:
    stderr = (
        "Updating (local-eu):\n"
        "error: 2 errors occurred:\n"
        "\t* failed to save checkpoint: open /state/.pulumi/stacks/local-eu.json: read-only file system\n"
        "\t* failed to release lock: remove /state/.pulumi/locks/x.json: read-only file system\n"
        "\n"
        "* not a cause: a bullet after a blank line and other output\n"
        "Resources:\n"
    )
    message = short_error(failure(stderr))
    assert message == (
        "error: 2 errors occurred: | "
        "* failed to save checkpoint: open /state/.pulumi/stacks/local-eu.json: read-only file system | "
        "* failed to release lock: remove /state/.pulumi/locks/x.json: read-only file system"
    )


#: What the engine printed for `make up` with the cluster's API server down: one cause, three times.
UNREACHABLE = "configured Kubernetes cluster is unreachable: dial tcp 127.0.0.1:36443: connect: connection refused"
UNREACHABLE_ERROR = (
    "Previewing update (local-eu):\n"
    f"    kubernetes:core/v1:Namespace autocloud-eu  error: {UNREACHABLE}\n"
    "Diagnostics:\n"
    "  kubernetes:core/v1:Namespace (autocloud-eu):\n"
    f"    error: {UNREACHABLE}\n"
    "  pulumi:pulumi:Stack (autocloud-local-eu):\n"
    f"    error: preview failed: {UNREACHABLE}\n"
    "    error: preview failed\n"
)


def test_a_cause_the_engine_repeats_is_reported_once() -> None:
    message = short_error(failure(UNREACHABLE_ERROR))
    assert message.count(UNREACHABLE) == 1
    assert message == f"error: preview failed: {UNREACHABLE}"


def test_distinct_causes_are_all_kept() -> None:
    stderr = "  a (x):\n    error: first cause\n  b (y):\n    error: second cause\n    error: update failed\n"
    assert short_error(failure(stderr)) == "error: first cause | error: second cause"


class FakeStack:
    """Stands in for an Automation API stack: a checkpoint with pending operations, refreshes recorded."""

    def __init__(self, pending: list[dict[str, Any]]) -> None:
        self.deployment = {"resources": [], "pending_operations": pending}
        self.refreshes: list[dict[str, Any]] = []

    def export_stack(self) -> SimpleNamespace:
        return SimpleNamespace(deployment=self.deployment)

    def refresh(self, **kwargs: Any) -> None:
        self.refreshes.append(kwargs)
        self.deployment["pending_operations"] = []


PENDING = [
    {"type": "creating", "resource": {"urn": "urn:pulumi:local-eu::autocloud::x::y"}},
    {"type": "updating", "resource": {"urn": "urn:pulumi:local-eu::autocloud::x::z"}},
]


def test_pending_operations_of_a_local_stack_are_cleared_by_a_refresh() -> None:
    stack = FakeStack(list(PENDING))
    lines: list[str] = []
    assert clear_pending(stack, "local-eu", lines.append) == 2  # type: ignore[arg-type]
    assert stack.refreshes == [{"clear_pending_creates": True}]
    assert lines == ["local-eu: cleared 2 pending operations (creating, updating) left by an interrupted run"]


def test_pending_operations_of_an_azure_stack_are_named_and_left() -> None:
    stack = FakeStack(list(PENDING))
    lines: list[str] = []
    assert clear_pending(stack, "azure-eu", lines.append) == 2  # type: ignore[arg-type]
    assert stack.refreshes == [], "a dropped create could orphan a cloud resource"
    assert len(lines) == 1 and "pulumi refresh --stack azure-eu" in lines[0]


def test_nothing_pending_costs_no_refresh() -> None:
    stack = FakeStack([])
    lines: list[str] = []
    assert clear_pending(stack, "local-eu", lines.append) == 0  # type: ignore[arg-type]
    assert stack.refreshes == [] and lines == []


class GatedStack(FakeStack):
    """A stack whose preview passes or is refused by the packs; what ran is recorded."""

    def __init__(self, preview_refused: bool = False) -> None:
        super().__init__([])
        self.preview_refused = preview_refused
        self.ran: list[tuple[str, tuple[str, ...]]] = []

    def preview(self, policy_packs: list[str], **_: Any) -> SimpleNamespace:
        self.ran.append(("preview", tuple(policy_packs)))
        if self.preview_refused:
            raise failure("  error: preview failed\n  [mandatory]  residency-resource-location  x is in us\n")
        return SimpleNamespace(change_summary={"create": 3, "same": 0})

    def up(self, policy_packs: list[str], **_: Any) -> SimpleNamespace:
        self.ran.append(("up", tuple(policy_packs)))
        summary = SimpleNamespace(result="succeeded", resource_changes={"create": 3})
        return SimpleNamespace(outputs={}, summary=summary)


@pytest.fixture()
def gated(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], GatedStack]:
    def make(preview_refused: bool = False) -> GatedStack:
        stack = GatedStack(preview_refused)
        monkeypatch.setattr(engine, "select_stack", lambda *_a, **_k: stack)
        return stack

    return make


def test_deploy_previews_with_the_packs_then_applies(gated: Callable[[bool], GatedStack], tmp_path: Path) -> None:
    stack = gated(False)
    heard: list[StackResult] = []
    result = deploy.deploy_stack("local-us", apply=True, on_previewed=heard.append, state_dir=tmp_path)
    assert [op for op, _ in stack.ran] == ["preview", "up"]
    assert all(len(packs) == len(deploy.PACKS) for _, packs in stack.ran)
    assert [h.changes for h in heard] == [{"create": 3}]
    assert (result.ok, result.operation, result.region, result.changes) == (True, "up", "us", {"create": 3})


def test_a_refused_preview_applies_nothing(gated: Callable[[bool], GatedStack], tmp_path: Path) -> None:
    stack = gated(True)
    heard: list[StackResult] = []
    result = deploy.deploy_stack("local-eu", apply=True, on_previewed=heard.append, state_dir=tmp_path)
    assert [op for op, _ in stack.ran] == ["preview"] and heard == []
    assert (result.ok, result.operation, result.region) == (False, "preview", "eu")
    assert "[mandatory]  residency-resource-location" in result.message


def test_preview_only_never_updates(gated: Callable[[bool], GatedStack], tmp_path: Path) -> None:
    stack = gated(False)
    result = deploy.deploy_stack("azure-cn", apply=False, state_dir=tmp_path)
    assert [op for op, _ in stack.ran] == ["preview"]
    assert (result.ok, result.operation, result.region, result.changes) == (True, "preview", "cn", {"create": 3})


def test_bad_override_comes_back_as_a_failed_result_before_the_engine(
    gated: Callable[[bool], GatedStack], tmp_path: Path
) -> None:
    stack = gated(False)
    result = deploy.deploy_stack("local-us", {"autocloud:vehicles": -5}, apply=True, state_dir=tmp_path)
    assert stack.ran == []
    assert not result.ok and "autocloud:vehicles" in result.message and "\n" not in result.message


def test_destroy_reports_the_stacks_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stack = GatedStack()
    destroyed = SimpleNamespace(summary=SimpleNamespace(result="succeeded", resource_changes={"delete": 2}))
    monkeypatch.setattr(stack, "destroy", lambda: destroyed, raising=False)
    monkeypatch.setattr(engine, "select_stack", lambda *_a, **_k: stack)
    result = deploy.destroy_stack("local-cn", state_dir=tmp_path)
    assert (result.ok, result.operation, result.region, result.changes) == (True, "destroy", "cn", {"delete": 2})


def test_down_destroys_the_local_stacks_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    stacks = deploy.local_stacks()
    together = threading.Barrier(len(stacks), timeout=10)

    def destroy(stack: str, **_kw: object) -> StackResult:
        together.wait()  # breaks (and fails the test) unless every destroy runs at once
        return StackResult(stack, "-", True, "destroy")

    monkeypatch.setattr(deploy, "destroy_stack", destroy)
    results = deploy.down_local(echo=lambda _line: None)
    assert [r.stack for r in results] == stacks and all(r.ok for r in results)
    assert all(s.startswith("local-") for s in stacks) and len(stacks) >= 2
