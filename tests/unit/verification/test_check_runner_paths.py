"""The runner's short paths through the Pulumi SDK (issue 22) record what the SDK's own paths record.

Each short path replaces a piece of the SDK for the length of a run; a program that reads outputs
every way a program does (plain, nested output types, unknown, secret, ids, a component's children,
an explicit provider) must leave the same records with them as without them."""

from __future__ import annotations

import asyncio
import enum
import gc
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from autocloud.verification.check import runner
from policies.model import UNKNOWN_PREFIX

SHORT_PATHS = (
    "_single_future_outputs",
    "_remembered_type_unwrapping",
    "_plain_values_serialised_directly",
    "_plain_urns_built_directly",
    "_quiet_debug_log",
)

PROGRAM = """
import pulumi
import pulumi_azure_native as an

TAGS = {"region": "eu", "data-residency": "eu"}


class Pair(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("bench:index:Pair", name, None, opts)
        self.group = an.resources.ResourceGroup(f"{name}-group", location="westeurope", tags=TAGS,
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"group": self.group.name})


pair = Pair("pair")
west = an.Provider("west", location="westeurope")
account = an.storage.StorageAccount("account", resource_group_name=pair.group.name, kind="StorageV2",
    sku={"name": "Standard_ZRS"}, tags=TAGS, opts=pulumi.ResourceOptions(provider=west))
identity = an.managedidentity.UserAssignedIdentity("identity", resource_group_name=pair.group.name,
    location="westeurope", tags=TAGS)
an.network.VirtualNetwork("net", resource_group_name=pair.group.name, location="westeurope",
    address_space={"address_prefixes": ["10.9.0.0/16"]},
    tags={
        **TAGS,
        "sku": account.sku.apply(lambda sku: sku.name),
        "account": account.name,
        "account-id": account.id,
        "group-location": pair.group.location,
        "endpoint": account.primary_endpoints.apply(lambda e: e.blob if e else "none"),
        "principal": identity.principal_id,
        "secret": pulumi.Output.secret("hidden"),
    })
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: paths\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text(PROGRAM, encoding="utf-8")
    return tmp_path


def _records(program: Path) -> list[dict[str, Any]]:
    records, _ = runner.record_program(program, "paths", "dev")
    return records


def _close_thread_loops(keep: asyncio.AbstractEventLoop) -> None:
    """Close the event loop the mock monitor makes in each of its threads (the SDK's `_ensure_event_loop`).
    The runner's process just exits; here, left open, each would be collected at some later test's
    moment, and a selector loop collected with its sockets can fail to close, with a warning."""
    keep.run_until_complete(keep.shutdown_default_executor())
    for loop in [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]:
        if loop is not keep and not loop.is_closed() and not loop.is_running():
            loop.close()


def test_records_are_the_same_without_the_short_paths(
    program: Path, monkeypatch: pytest.MonkeyPatch, pulumi_harness: Any
) -> None:
    monkeypatch.chdir(program)  # the runner moves into the program's folder and onto its path
    monkeypatch.setattr("sys.path", list(sys.path))
    short = _records(program)
    for name in SHORT_PATHS:
        monkeypatch.setattr(runner, name, lambda: lambda: None)
    monkeypatch.setattr(runner, "_LEAN_MONITOR", False)
    sdk = _records(program)
    _close_thread_loops(pulumi_harness.loop)
    assert short == sdk
    net = next(r for r in short if r["name"] == "net")["inputs"]["tags"]
    assert net["sku"] == "Standard_ZRS"
    assert net["account"] == "account"
    assert net["account-id"].startswith("/subscriptions/") and net["account-id"].endswith("/account")
    assert net["group-location"] == "westeurope"
    assert net["endpoint"].startswith(UNKNOWN_PREFIX)  # computed by Azure: unknown in a preview
    assert net["principal"] not in ("", None) and not net["principal"].startswith(UNKNOWN_PREFIX)
    assert net["secret"] == "hidden"


def test_the_checkers_sdk_takes_every_short_path() -> None:
    """A Pulumi upgrade that moves these internals falls back to the SDK's slower paths: say so here."""
    assert runner._LEAN_MONITOR
    before = rpc.transfer_properties, rpc.serialize_property
    undo = [runner._single_future_outputs(), runner._plain_values_serialised_directly()]
    try:
        assert rpc.transfer_properties is not before[0]
        assert rpc.serialize_property is not before[1]
    finally:
        for step in undo:
            step()
    assert (rpc.transfer_properties, rpc.serialize_property) == before


class Colour(enum.StrEnum):
    RED = "red"


def _with(patch: Callable[[], Callable[[], None]], fn: Callable[[], Any]) -> Any:
    undo = patch()
    try:
        return fn()
    finally:
        undo()


@pytest.mark.parametrize("value", ["text", 3, 2.5, True, None, Colour.RED, {"a": ["b", 1]}, ("x", None)])
def test_plain_values_serialise_as_the_sdk_serialises_them(value: Any, pulumi_harness: Any) -> None:
    def serialised() -> Any:
        return _sync_await(rpc.serialize_property(value, [], "key"))

    assert _with(runner._plain_values_serialised_directly, serialised) == serialised()


@pytest.mark.parametrize(
    ("name", "type_", "parent"),
    [
        ("a", "azure-native:storage:StorageAccount", None),
        ("b", "azure-native:storage:StorageAccount", "urn:pulumi:dev::paths::pulumi:pulumi:Stack::paths-dev"),
        ("c", "azure-native:resources:ResourceGroup", "urn:pulumi:dev::paths::pulumi:pulumi:Stack$bench:index:Pair::p"),
    ],
)
def test_plain_urns_are_the_urns_the_sdk_builds(name: str, type_: str, parent: str | None, pulumi_harness: Any) -> None:
    module: Any = importlib.import_module("pulumi.runtime.resource")

    def urn() -> Any:
        return _sync_await(module.create_urn(name, type_, parent, "paths", "dev").future())

    assert _with(runner._plain_urns_built_directly, urn) == urn()
