"""Shared Pulumi mock fixtures: mocks set per test, every input recorded, global state reset after.

``pulumi_harness`` gives each test its own event loop and mock monitor, so no resource or pending
output of one test leaks into the next. Tests call
``harness.start(stack)`` then ``harness.run(fn)`` to declare resources, or
``harness.run_program(stack)`` to run the repository's ``__main__.py`` with that stack's config.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import runpy
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pulumi.runtime
import pytest
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from autocloud.cli import describe
from autocloud.verification.check.collector import full_collections_deferred
from autocloud.verification.check.runner import ProgramMocks
from platform_model.errors import AutocloudError
from platform_model.paths import REPO_ROOT
from platform_model.stack import CONFIG_NAMESPACE, FLEET_CA_KEY, stack_file_values

PROGRAM = REPO_ROOT / "__main__.py"
PROJECT = "autocloud"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
MOCK_LINK_SECRET = "m0ckL1nkS3cretM0ckL1nkS3cretM0ckL1nkS3cretM0ckL1nkS3cretM0ckL1nk"
"""What the mocked ``StackSecret`` of a stack's DPS link holds once applied (the state's value); tests assert
it and the keys derived from it never show up unencrypted."""
DYNAMIC_RESOURCE = "pulumi-python:dynamic:Resource"
"""The type token of every Pulumi dynamic resource (``components.stack_secret.StackSecret``)."""

T = TypeVar("T")


def as_the_cli_gives_it(command: Callable[[io.StringIO], int]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``command(stdout)`` as the CLI's error boundary gives them: an
    expected failure is its exit code and one ``error:`` line (a bug still raises)."""
    out = io.StringIO()
    try:
        return command(out), out.getvalue(), ""
    except AutocloudError as error:
        message, code = describe(error) or (str(error), -1)
        return code, out.getvalue(), f"error: {message}\n"


_SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


def unwrap_secrets(value: Any, path: str = "", found: set[str] | None = None) -> Any:
    """Inputs with secret markers removed; ``found`` collects the dotted paths that were secret."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG[0]) == _SECRET_SIG[1]:
            if found is not None:
                found.add(path)
            return unwrap_secrets(value.get("value"), path, found)
        return {k: unwrap_secrets(v, f"{path}.{k}" if path else k, found) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


@dataclass(frozen=True)
class Recorded:
    """One resource as the program declared it (secrets unwrapped, their paths kept)."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    secret_paths: frozenset[str] = frozenset()


def _computed(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs Azure would compute, so components' applies see realistic values."""
    principal = f"principal-{name}"
    computed: dict[str, Any] = {}
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # Inputs list identity ids; Azure answers with a map of id -> identity details.
        users = {uid: {"principalId": f"principal-{uid}"} for uid in identity["userAssignedIdentities"]}
        computed["identity"] = {**identity, "userAssignedIdentities": users}
    if type_ == "azure-native:managedidentity:UserAssignedIdentity":
        computed |= {"principalId": principal, "clientId": f"client-{name}"}
    elif type_ in ("azure-native:eventhub:Namespace", "azure-native:iothub:IotHubResource"):
        # Each resource's system-assigned identity is its own principal.
        computed["identity"] = {**inputs.get("identity", {}), "principalId": principal}
    elif type_ == "azure-native:containerservice:ManagedCluster":
        computed["privateFQDN"] = f"{name}.privatelink.{inputs.get('location')}.azmk8s.io"
        if isinstance(inputs.get("oidcIssuerProfile"), dict):
            issuer = f"https://{inputs.get('location')}.oic.prod-aks.azure.com/tenant/{name}/"
            computed["oidcIssuerProfile"] = {**inputs["oidcIssuerProfile"], "issuerURL": issuer}
    elif type_ == "azure-native:deviceprovisioningservices:IotDpsResource":
        computed["properties"] = {**inputs.get("properties", {}), "idScope": "0ne00000001"}
    elif type_ == "azure-native:maps:Account":
        computed["properties"] = {**inputs.get("properties", {}), "uniqueId": f"unique-{name}"}
    elif type_ == DYNAMIC_RESOURCE:
        computed["value"] = MOCK_LINK_SECRET
    return computed


class RecordingMocks(ProgramMocks):
    """The offline check's mocks (ARM ids, physical names, identities, invokes in their result's
    shape) recording every resource and invoke, plus the few computed values the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.resources: list[Recorded] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        secret_paths: set[str] = set()
        inputs: dict[str, Any] = unwrap_secrets(dict(args.inputs), "", secret_paths)
        self.resources.append(Recorded(args.typ, args.name, inputs, args.provider or "", frozenset(secret_paths)))
        resource_id, outputs = super().new_resource(args)
        if args.typ.startswith("pulumi:providers:"):
            return resource_id, outputs
        return resource_id, {**outputs, **_computed(args.typ, args.name, inputs)}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append(args)
        return super().call(args)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Recorded:
        found = self.of_type(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return found[0]

    def azure(self) -> list[Recorded]:
        return [r for r in self.resources if r.type.startswith("azure-native:")]


@dataclass
class ProgramRun:
    """What running ``__main__.py`` produced."""

    mocks: RecordingMocks
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)


def stack_config(stack: str) -> dict[str, Any]:
    """The ``config:`` section of ``stacks/Pulumi.<stack>.yaml``, through the one stack-file reader."""
    return stack_file_values(stack)[0]


def _config_text(value: Any) -> str:
    """Config values reach a program as strings (structured ones as JSON), as the engine passes them."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


@functools.cache
def fleet_ca_pem() -> str:
    """A fleet CA for programs run under mocks: ``autocloud up`` passes a local stack its region's own
    (``autocloud.runtime.fleet_pki.local_run_config``)."""
    from autocloud.runtime import fleet_pki

    with tempfile.TemporaryDirectory() as folder:
        return fleet_pki.ensure_ca("eu", fleet_dir=Path(folder)).pem.decode()


class PulumiHarness:
    """Mocks, config and an event loop for one test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.mocks = RecordingMocks()
        self.defer_full_collections = True
        """Hold off full garbage collections during :meth:`run` (``autocloud.verification.check.collector``); the
        synthesis bench turns it off to show what they cost."""

    def start(
        self, stack: str = "azure-eu", config: Mapping[str, Any] | None = None, preview: bool = False
    ) -> RecordingMocks:
        """Fresh mocks for ``stack`` with ``config`` (full keys such as ``autocloud:region``); ``preview``
        runs the program as ``pulumi preview`` does (``pulumi.runtime.is_dry_run()`` true)."""
        self.mocks = RecordingMocks()
        pulumi_settings.ROOT.set(None)
        pulumi.runtime.set_mocks(self.mocks, project=PROJECT, stack=stack, preview=preview)
        pulumi.runtime.set_all_config({k: _config_text(v) for k, v in (config or {}).items()}, [])
        return self.mocks

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` as a Pulumi program body and wait for every registration and apply.

        Full garbage collections are held off meanwhile (``autocloud.verification.check.collector``): walking the
        program's pending Outputs over and over was most of the time spent here.
        """
        result: list[T] = []
        with full_collections_deferred() if self.defer_full_collections else nullcontext():
            _sync_await(run_pulumi_func(lambda: result.append(fn())))
        return result[0]

    def value(self, output: Any) -> Any:
        """The resolved value of an Output (or a plain value)."""
        return _sync_await(pulumi.Output.from_input(output).future())

    def is_secret(self, output: Any) -> bool:
        return bool(_sync_await(pulumi.Output.from_input(output).is_secret()))

    def run_program(self, stack: str, overrides: Mapping[str, Any] | None = None, preview: bool = False) -> ProgramRun:
        """Run ``__main__.py`` under mocks with the stack file's config plus ``overrides`` (as a dry run
        with ``preview``); an override of None removes the stack file's key."""
        merged = stack_config(stack) | dict(overrides or {})
        config = {key: value for key, value in merged.items() if value is not None}
        if config.get(f"{CONFIG_NAMESPACE}:target") == "local":
            config.setdefault(FLEET_CA_KEY, fleet_ca_pem())
        mocks = self.start(stack, config, preview)
        self.run(lambda: runpy.run_path(str(PROGRAM), run_name="__main__"))
        root = pulumi_settings.get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}))
        outputs = {key: self.value(value) for key, value in exported.items()}
        secrets = {key for key, value in exported.items() if self.is_secret(value)}
        return ProgramRun(mocks=mocks, outputs=outputs, secret_outputs=secrets)

    def close(self) -> None:
        pulumi.runtime.set_all_config({}, [])
        pulumi_settings.reset_options()
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def pulumi_harness() -> Iterator[PulumiHarness]:
    harness = PulumiHarness()
    try:
        yield harness
    finally:
        harness.close()
