"""Which hubs a deploy stages first (decided from the stack's state), and the two applies that follow,
with the engine mocked."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from autocloud.operations import deploy, routing
from autocloud.runtime import engine
from platform_model.stack import ROLE_PROPAGATION_SECONDS, ROUTING_STAGED_KEY, STACK_CONFIG_KEYS, resolve_stack
from tests.conftest import PulumiHarness

PARENTS = "autocloud:platform:RegionalPlatform$autocloud:telemetry:TelemetryIngest"
State = list[dict[str, Any]]


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::autocloud::{PARENTS}${type_}::{name}"


def state_of(overrides: Mapping[str, Any] | None = None) -> State:
    """The state azure-eu would have after an apply with ``overrides``: every resource its program
    declares under mocks, with its inputs."""
    harness = PulumiHarness()
    try:
        run = harness.run_program("azure-eu", overrides)
    finally:
        harness.close()
    return [{"urn": urn("azure-eu", r.type, r.name), "type": r.type, "inputs": r.inputs} for r in run.mocks.resources]


@pytest.fixture(scope="module")
def applied() -> State:
    """An azure-eu stack applied live."""
    return state_of()


@pytest.fixture(scope="module")
def staged_1() -> State:
    """An azure-eu stack whose unit 1 was applied staged and not yet live."""
    return state_of({ROUTING_STAGED_KEY: "[1]"})


NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def granted(state: State, unit: int, seconds_ago: float) -> State:
    """``state`` with unit ``unit``'s Data Sender grant created ``seconds_ago`` before ``NOW``."""
    name = f"::eu-telemetry-{unit}-trusted-sender"
    created = (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    return [r | {"created": created} if r["urn"].endswith(name) else r for r in state]


def without(state: State, name: str) -> State:
    kept = [r for r in state if not r["urn"].endswith(f"::{name}")]
    assert len(kept) == len(state) - 1, f"{name} is not in the state"
    return kept


def test_the_keys_are_stack_config_keys() -> None:
    assert ROUTING_STAGED_KEY in STACK_CONFIG_KEYS
    assert "autocloud:rolePropagationSeconds" in STACK_CONFIG_KEYS
    assert resolve_stack("azure-eu").config.role_propagation_seconds == ROLE_PROPAGATION_SECONDS == 600


def test_an_applied_stack_stages_nothing(applied: State) -> None:
    assert routing.staged_units(resolve_stack("azure-eu"), applied) == ()


def test_a_new_stack_stages_every_hub() -> None:
    assert routing.staged_units(resolve_stack("azure-eu"), []) == (1, 2, 3)


@pytest.mark.parametrize(
    ("missing", "staged"),
    [
        ("eu-telemetry-2-iothub", (2,)),
        ("eu-telemetry-3-trusted-sender", (3,)),
    ],
)
def test_a_unit_missing_its_hub_or_its_grant_is_staged(applied: State, missing: str, staged: tuple[int, ...]) -> None:
    assert routing.staged_units(resolve_stack("azure-eu"), without(applied, missing)) == staged


def test_a_hub_pending_deletion_is_not_deployed(applied: State) -> None:
    state = [r | {"delete": True} if r["urn"].endswith("::eu-telemetry-1-iothub") else r for r in applied]
    assert routing.staged_units(resolve_stack("azure-eu"), state) == (1,)


def test_a_grown_fleet_stages_only_its_new_units(applied: State) -> None:
    grown = resolve_stack("azure-eu", overrides={"autocloud:vehicles": 4_000_000})
    assert grown.plan.scale_units > 3
    assert routing.staged_units(grown, applied) == tuple(range(4, grown.plan.scale_units + 1))


def test_nothing_is_staged_where_no_hub_routes() -> None:
    assert routing.staged_units(resolve_stack("local-eu"), []) == ()
    eu = resolve_stack("azure-eu")
    no_streams = eu.profile.model_copy(update={"services": eu.profile.services.model_copy(update={"eventhubs": False})})
    assert routing.staged_units(SimpleNamespace(config=eu.config, profile=no_streams, plan=eu.plan), []) == ()  # type: ignore[arg-type]


def test_a_staged_hub_with_a_young_grant_waits_out_the_rest(staged_1: State, applied: State) -> None:
    eu = resolve_stack("azure-eu")
    assert routing.staged_units(eu, staged_1) == ()
    assert routing.grant_wait_left(eu, granted(staged_1, 1, 100), NOW) == 500
    assert routing.grant_wait_left(eu, granted(staged_1, 1, 1200), NOW) == 0
    assert routing.grant_wait_left(eu, staged_1, NOW) == 0, "no creation time recorded: nothing to go by"
    assert routing.grant_wait_left(eu, granted(applied, 1, 100), NOW) == 0, "already live"


class Engine:
    """Stands in for the Automation API: one stack state shared by the handles it selects, each handle
    remembering the per-run config it was selected with; what ran is recorded in order."""

    def __init__(self, state: State, fail_staged: bool = False) -> None:
        self.state = state
        self.fail_staged = fail_staged
        self.ran: list[tuple[str, Any]] = []

    def select(self, stack: str, *, overrides: Mapping[str, Any] | None = None, **_: Any) -> SimpleNamespace:
        staged = json.loads((overrides or {}).get(ROUTING_STAGED_KEY, "null"))

        def preview(**_: Any) -> SimpleNamespace:
            self.ran.append(("preview", staged))
            return SimpleNamespace(change_summary={"create": 1})

        def up(**_: Any) -> SimpleNamespace:
            self.ran.append(("up", staged))
            result = "failed" if staged and self.fail_staged else "succeeded"
            return SimpleNamespace(outputs={}, summary=SimpleNamespace(result=result, resource_changes={"create": 2}))

        def export_stack() -> SimpleNamespace:
            return SimpleNamespace(deployment={"resources": self.state, "pending_operations": []})

        return SimpleNamespace(preview=preview, up=up, export_stack=export_stack)


@pytest.fixture()
def mocked_engine(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Engine]:
    def make(state: State, fail_staged: bool = False) -> Engine:
        fake = Engine(state, fail_staged)
        monkeypatch.setattr(engine, "select_stack", fake.select)
        return fake

    return make


def deploy_recording(stack: str, tmp_path: Path, overrides: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
    lines: list[str] = []
    slept: list[float] = []
    previews: list[deploy.StackResult] = []
    result = deploy.deploy_stack(
        stack,
        overrides,
        apply=True,
        on_previewed=previews.append,
        echo=lines.append,
        state_dir=tmp_path,
        sleep=slept.append,
    )
    return result, lines, slept, previews


def test_a_new_stack_is_applied_staged_then_live_after_the_wait(
    mocked_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    fake = mocked_engine([])
    result, lines, slept, previews = deploy_recording("azure-eu", tmp_path)
    assert fake.ran == [("preview", [1, 2, 3]), ("up", [1, 2, 3]), ("preview", None), ("up", None)]
    assert sum(slept) == ROLE_PROPAGATION_SECONDS and max(slept) <= routing.WAIT_STEP_SECONDS
    assert "scale units 1, 2, 3" in lines[0]
    assert any("waiting 600 s" in line for line in lines)
    assert len(previews) == 2
    assert (result.ok, result.operation, result.changes) == (True, "up", {"create": 4})


def test_an_applied_stack_is_applied_once_live_without_waiting(
    mocked_engine: Callable[..., Engine], applied: State, tmp_path: Path
) -> None:
    fake = mocked_engine(applied)
    result, lines, slept, _ = deploy_recording("azure-eu", tmp_path)
    assert fake.ran == [("preview", None), ("up", None)]
    assert slept == [] and lines == []
    assert result.ok and result.changes == {"create": 2}


def test_a_failed_staged_apply_adds_no_routes(mocked_engine: Callable[..., Engine], tmp_path: Path) -> None:
    fake = mocked_engine([], fail_staged=True)
    result, _, slept, _ = deploy_recording("azure-eu", tmp_path)
    assert fake.ran == [("preview", [1, 2, 3]), ("up", [1, 2, 3])]
    assert slept == []
    assert (result.ok, result.operation) == (False, "up (staged)")


def test_the_wait_is_the_stacks_setting(mocked_engine: Callable[..., Engine], applied: State, tmp_path: Path) -> None:
    mocked_engine(without(applied, "eu-telemetry-1-iothub"))
    _, lines, slept, _ = deploy_recording("azure-eu", tmp_path, {"autocloud:rolePropagationSeconds": 90})
    assert slept == [60, 30]
    assert any("30 s left" in line for line in lines)


def test_a_run_stopped_during_the_wait_resumes_it_then_applies_live(
    mocked_engine: Callable[..., Engine], staged_1: State, tmp_path: Path
) -> None:
    young = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    fake = mocked_engine(
        [r | {"created": young} if r["urn"].endswith("::eu-telemetry-1-trusted-sender") else r for r in staged_1]
    )
    result, _, slept, _ = deploy_recording("azure-eu", tmp_path)
    assert fake.ran == [("preview", None), ("up", None)]
    assert 560 <= sum(slept) <= 570
    assert result.ok


def test_units_the_stack_stages_itself_are_applied_once_as_told(
    mocked_engine: Callable[..., Engine], tmp_path: Path
) -> None:
    fake = mocked_engine([])
    result, _, slept, _ = deploy_recording("azure-eu", tmp_path, {ROUTING_STAGED_KEY: "[1]"})
    assert fake.ran == [("preview", [1]), ("up", [1])]
    assert slept == [] and result.ok


def test_a_preview_of_a_new_stack_previews_it_live(mocked_engine: Callable[..., Engine], tmp_path: Path) -> None:
    fake = mocked_engine([])
    result = deploy.deploy_stack("azure-eu", apply=False, state_dir=tmp_path, sleep=lambda _s: None)
    assert fake.ran == [("preview", None)]
    assert (result.ok, result.operation) == (True, "preview")
