"""Drift from a refresh preview's engine events, its report, and the command's exit codes (the engine
itself runs in tests/integration/test_drift.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi import automation as auto
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.operations import drift
from autocloud.operations.drift import MISSING, Drift, DriftError, findings, report

STACK_URN = "urn:pulumi:local-eu::autocloud::"


def result(
    op: str, type_: str, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, keys: list[str]
) -> auto.EngineEvent:
    """A refresh step's result as the engine reports it (``resOutputsEvent``)."""
    urn = f"{STACK_URN}autocloud:local:TelemetryIngest${type_}::{name}"
    metadata = {
        "op": op,
        "urn": urn,
        "type": type_,
        "old": old,
        "new": new,
        "detailedDiff": {key: {"diffKind": "update", "inputDiff": False} for key in keys},
    }
    return auto.EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": metadata}})


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def test_a_scaled_deployment_reads_as_one_changed_property() -> None:
    declared = {"spec": {"replicas": 1}}
    events = [
        result(
            "update",
            DEPLOYMENT,
            "telemetry-1",
            {"inputs": declared, "outputs": {"spec": {"replicas": 1}}},
            {"outputs": {"spec": {"replicas": 3}}},
            ["spec.replicas"],
        ),
        result("same", "kubernetes:core/v1:Namespace", "ns", {"outputs": {}}, {"outputs": {}}, []),
    ]
    assert findings(events) == [Drift(f"{DEPLOYMENT}::telemetry-1", "changed", "spec.replicas", 3, 1)]


def test_a_deleted_resource_is_missing_and_providers_are_not_drift() -> None:
    events = [
        result("delete", "kubernetes:core/v1:Service", "web", {"outputs": {"spec": {}}}, None, []),
        result("update", "pulumi:providers:kubernetes", "local", {"outputs": {"a": 1}}, {"outputs": {"a": 2}}, ["a"]),
    ]
    assert findings(events) == [Drift("kubernetes:core/v1:Service::web", "missing", "", MISSING, "declared")]


def test_values_found_in_lists_and_missing_ones_say_so() -> None:
    old = {"inputs": {"spec": {"containers": [{"image": "a:1"}]}}, "outputs": {}}
    new = {"outputs": {"spec": {"containers": [{"image": "b:2"}]}}}
    events = [result("update", DEPLOYMENT, "w", old, new, ["spec.containers[0].image", "metadata.labels.x"])]
    assert [(d.property, d.deployed, d.declared) for d in findings(events)] == [
        ("metadata.labels.x", MISSING, MISSING),
        ("spec.containers[0].image", "b:2", "a:1"),
    ]


def test_report_formats() -> None:
    results = {"local-eu": [Drift(f"{DEPLOYMENT}::w", "changed", "spec.replicas", 3, 1)], "local-us": []}
    document = json.loads(report(results, "json"))
    assert document["drifted"] is True and document["drift"]["local-us"] == []
    assert document["drift"]["local-eu"][0] == {
        "resource": f"{DEPLOYMENT}::w",
        "change": "changed",
        "property": "spec.replicas",
        "deployed": 3,
        "declared": 1,
    }
    text = report(results, "text")
    assert "local-us: no drift" in text and "spec.replicas  3  1" in text
    markdown = report(results, "markdown")
    assert "| resource | change | property | deployed | declared |" in markdown


class FakeStack:
    def __init__(self, name: str, events: list[auto.EngineEvent], fail: bool = False) -> None:
        self.name, self.events, self.fail = name, events, fail

    def preview_refresh(self, on_event: Any, color: str) -> None:
        if self.fail:
            raise auto.errors.CommandError(auto.CommandResult("", "error: the cluster is not running", 255))
        for event in self.events:
            on_event(event)


@pytest.mark.parametrize(
    ("events", "fail", "code"),
    [
        ([], False, 0),
        ([result("delete", "kubernetes:core/v1:Service", "web", {"outputs": {}}, None, [])], False, 1),
        ([], True, 2),
    ],
)
def test_exit_codes(monkeypatch: pytest.MonkeyPatch, events: list[auto.EngineEvent], fail: bool, code: int) -> None:
    from autocloud.runtime import engine

    monkeypatch.setattr(engine, "existing_stack", lambda name: FakeStack(name, events, fail))
    outcome = CliRunner().invoke(app, ["drift", "--stack", "local-eu", "--format", "json"])
    assert outcome.exit_code == code, outcome.output
    if fail:
        assert outcome.stderr == "error: local-eu: cannot check drift: the cluster is not running\n"


def test_bad_arguments_are_one_line_and_check_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from autocloud.runtime import engine

    def refuse(name: str) -> None:
        raise AssertionError("no stack may be opened")

    monkeypatch.setattr(engine, "existing_stack", refuse)
    for args in (["drift"], ["drift", "--all", "--stack", "local-eu"], ["drift", "--stack", "nope"]):
        outcome = CliRunner().invoke(app, args)
        assert outcome.exit_code == 2 and len(outcome.stderr.strip().splitlines()) == 1, outcome.output


def test_check_stacks_keeps_going_after_a_stack_that_cannot_be_checked() -> None:
    def open_stack(name: str) -> Any:
        if name == "a":
            raise DriftError("a: cannot check drift: not deployed")
        return FakeStack(name, [])

    results, errors = drift.check_stacks(["a", "b"], open_stack)
    assert results == {"b": []} and errors == ["a: cannot check drift: not deployed"]
