"""Run one Pulumi Python program under mocks and record every resource it registers.

`autocloud check` starts this module once per stack, in a fresh interpreter, so no Pulumi runtime
state leaks between stacks and a crashing program ends as a one-line error instead of taking the
check down:

    PULUMI_CONFIG='{"autocloud:region": "eu", ...}' \\
        python -m autocloud.verification.check.runner --program DIR --project autocloud --stack azure-eu --out FILE

FILE receives ``{"resources": [...], "located": [...]}`` (type, name, urn, custom, parent, provider,
inputs; the types whose SDK class takes a `location`) and, when the program failed, ``"error": "one
line"`` next to what it registered before failing.

The program sees what `pulumi preview` gives it: its own directory and its environment. The
checker's packages, which this module imports for itself, are forgotten before the program runs
(`seal_toolkit`), so a program's own `components/` or `policies/` folder is the one it imports.

The program runs as under `pulumi preview`: `pulumi.runtime.is_dry_run()` is true and computed
outputs are unknown (recorded as `policies.model.UNKNOWN_PREFIX` strings). The mocks echo inputs back
and add the outputs azure-native knows before creating anything (`name`, from autonaming) plus an
ARM-shaped `id` ending in the physical name, so cross-resource rules can resolve references; that id
is the check's stand-in, as the engine would leave it unknown. Invokes are answered with every field
of the SDK's result type filled with a placeholder, so `keys[0].value` works as it does after a
real lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import importlib
import importlib.machinery
import inspect
import json
import os
import runpy
import sys
import threading
import traceback
import typing
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi.resource
from google.protobuf import struct_pb2
from pulumi import _types
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2

from autocloud.verification.check.collector import full_collections_deferred
from policies.facts.azure import NAME_KEYS, RESOURCE_GROUP, USER_ASSIGNED_IDENTITY
from policies.model import UNKNOWN_PREFIX, canonical_type

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
MOCK_PRINCIPAL = "22222222-2222-2222-2222-222222222222"


_CHILD_NAME_KEYS: Mapping[str, str] = {
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:eventhub:EventHub": "eventHubName",
    "azure-native:eventhub:ConsumerGroup": "consumerGroupName",
    "azure-native:cosmosdb:SqlResourceSqlDatabase": "databaseName",
    "azure-native:cosmosdb:SqlResourceSqlContainer": "containerName",
    "azure-native:privatedns:PrivateZone": "privateZoneName",
}
"""Name inputs of child resources the rules do not look up by name (theirs: ``NAME_KEYS``)."""


def physical_name(type_: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The Azure name a resource gets: its explicit name input, else its logical name (standing in
    for azure-native's autoname, which starts from it)."""
    canonical = canonical_type(type_)
    key = NAME_KEYS.get(canonical) or _CHILD_NAME_KEYS.get(canonical)
    value = inputs.get(key) if key else None
    return value if isinstance(value, str) and value else name


def arm_id(type_: str, name: str, inputs: Mapping[str, Any]) -> str:
    """An ARM-shaped id whose last segment is the physical name (what references resolve by)."""
    physical = physical_name(type_, name, inputs)
    if canonical_type(type_) == RESOURCE_GROUP:
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{physical}"
    _, module, kind = [*type_.split(":"), "", ""][:3]
    group = inputs.get("resourceGroupName") if isinstance(inputs.get("resourceGroupName"), str) else "rg"
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/"
        f"Microsoft.{module.split('/')[0]}/{kind}/{physical}"
    )


def _identity_output(identity: Mapping[str, Any]) -> dict[str, Any]:
    """Azure answers a list of user-assigned identity ids with a map of id -> identity, and adds the
    system-assigned principal; echoing the input list would not fit the SDK's output type."""
    output = {"principalId": MOCK_PRINCIPAL, "tenantId": TENANT, **identity}
    users = identity.get("userAssignedIdentities")
    if isinstance(users, list):
        output["userAssignedIdentities"] = {
            str(uid): {"principalId": MOCK_PRINCIPAL, "clientId": MOCK_PRINCIPAL} for uid in users
        }
    return output


def unknown(what: str) -> str:
    return f"{UNKNOWN_PREFIX} {what}>"


_MAX_DEPTH = 6


def placeholder(hint: Any, what: str, depth: int = 0) -> Any:
    """A value of the SDK's declared type: strings name the field they stand for, numbers are 0,
    lists hold one element and output types every declared field, so indexing and attribute
    access on an invoke's result behave as they do on a real one."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        arms = [arm for arm in typing.get_args(hint) if arm is not type(None)]
        return placeholder(arms[0], what, depth) if arms else None
    if origin is not None and isinstance(origin, type):
        args = typing.get_args(hint)
        if issubclass(origin, Mapping):
            return {}
        if issubclass(origin, list | tuple) or origin.__name__ == "Sequence" or str(origin).endswith("Sequence'>"):
            return [placeholder(args[0], f"{what}[0]", depth + 1)] if args and depth < _MAX_DEPTH else []
        return unknown(what)
    if hint is bool:
        return False
    if hint in (int, float):
        return 0
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint)).value
    if isinstance(hint, type) and _types.is_output_type(hint):
        return output_type_placeholder(hint, what, depth + 1) if depth < _MAX_DEPTH else {}
    return unknown(what)


def _declared_fields(cls: type) -> list[tuple[str, property]]:
    """(Pulumi name, property) of an output type's fields, read the way the SDK reads them."""
    finder = getattr(_types, "_py_properties", None)
    if finder is not None:
        return [(pulumi_name, prop) for _, pulumi_name, prop in finder(cls)]
    fields = (v for base in reversed(cls.__mro__) for v in vars(base).values() if isinstance(v, property))
    named = ((getattr(p.fget, "_pulumi_name", None), p) for p in fields)
    return [(str(name), p) for name, p in named if name is not None]


def output_type_placeholder(cls: type, what: str, depth: int = 0) -> dict[str, Any]:
    """Every declared field of a `@pulumi.output_type` class, under its Pulumi (camelCase) name."""
    result: dict[str, Any] = {}
    for pulumi_name, prop in _declared_fields(cls):
        try:
            hint = typing.get_type_hints(prop.fget).get("return", str)
        except Exception:  # an annotation the SDK could not resolve still gets a string
            hint = str
        result[pulumi_name] = placeholder(hint, f"{what}.{pulumi_name}", depth)
    return result


AZURE_NATIVE_PROVIDER = "pulumi:providers:azure-native"


class ProgramMocks(Mocks):
    """Outputs = inputs + id/name (+ identity ids, + the location azure-native fills in); invokes
    answered in the shape of their result type (`result_types`, filled in as the program invokes).

    `located` is the set `_located_classes` fills: the types whose SDK class takes a `location`.
    `default_location` is the stack's `azure-native:location` (the default provider's)."""

    def __init__(self, located: set[str] | None = None, default_location: str | None = None) -> None:
        self.result_types: dict[str, type] = {}
        self.located = located if located is not None else set()
        self.default_location = default_location
        self.provider_locations: dict[str, Any] = {}
        """azure-native provider id -> its `location` input (None: it has none)."""
        self.group_locations: dict[str, str] = {}
        """Resource group physical name -> the location it gets."""

    def _location(self, args: MockResourceArgs) -> str | None:
        """The location azure-native's Check gives a resource that sets none (see
        `policies.facts.azure.PROVIDER_DEFAULT`): its provider's `location`, else its group's (the
        group of this program, as once created). None where that is not known before deployment."""
        if args.provider:
            found = self.provider_locations.get(args.provider.rsplit("::", 1)[-1])
        else:
            found = self.default_location
        if isinstance(found, str) and found:
            return found
        if canonical_type(args.typ) == RESOURCE_GROUP:
            return None
        group = args.inputs.get("resourceGroupName")
        return self.group_locations.get(group.lower()) if isinstance(group, str) else None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            provider_id = f"{args.name}-provider-id"
            if args.typ == AZURE_NATIVE_PROVIDER:
                self.provider_locations[provider_id] = args.inputs.get("location")
            return provider_id, outputs
        if args.typ.startswith("azure-native:"):
            outputs.setdefault("name", physical_name(args.typ, args.name, args.inputs))
            if outputs.get("location") is None and args.typ in self.located:
                location = self._location(args)
                if location is not None:
                    outputs["location"] = location
            if canonical_type(args.typ) == RESOURCE_GROUP and isinstance(outputs.get("location"), str):
                self.group_locations[str(outputs["name"]).lower()] = outputs["location"]
            identity = outputs.get("identity")
            if isinstance(identity, dict):
                outputs["identity"] = _identity_output(identity)
            if canonical_type(args.typ) == USER_ASSIGNED_IDENTITY:
                # Each identity its own principal, as in Azure: rules match role assignments to identities by it.
                principal = str(uuid.uuid5(uuid.NAMESPACE_URL, args.name))
                outputs.update(principalId=principal, clientId=principal, tenantId=TENANT)
            return arm_id(args.typ, args.name, args.inputs), outputs
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token.rsplit(":", 1)[-1]
        typ = self.result_types.get(args.token)
        shaped = output_type_placeholder(typ, token) if typ is not None else {}
        if token == "getClientConfig":
            ids = {"clientId": MOCK_PRINCIPAL, "objectId": MOCK_PRINCIPAL}
            return shaped | ids | {"subscriptionId": SUBSCRIPTION, "tenantId": TENANT}, []
        return shaped, []


def _plain(value: Any) -> Any:
    """Secrets unwrapped (the file is short-lived and policies must see values), unknowns spelled
    as such, containers copied. Deserialised with ``keep_unknowns`` an unknown is a
    ``pulumi.output.Unknown``, at any depth (a dict input holding one unknown field)."""
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return unknown("output")
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_INVOKE_DEPENDS_ON: int | None = getattr(resource_pb2, "RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON", None)
"""The monitor feature by which the SDK sends an invoke's dependencies (`dependsOn`) and takes an
`unknown` answer; SDKs before it check the dependencies' ids themselves, which the mocks know, so
there an invoke on a declared resource is still answered with placeholders."""


_mocks_module: Any = importlib.import_module("pulumi.runtime.mocks")

_LEAN_MONITOR = (
    all(hasattr(_mocks_module, n) for n in ("_ensure_event_loop", "_resolve_callbacks", "_sync_await"))
    and "transforms" in inspect.signature(MockResourceArgs).parameters
    and hasattr(MockMonitor, "ResourceRegistration")
)
"""The program's SDK registers mock resources as `RecordingMonitor._register` does (else its own way)."""


def _is_plain(value: Any) -> bool:
    """JSON-shaped all through: what a protobuf Struct holds as it is, with nothing for the SDK's
    serialiser to translate."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration as the engine would hand it to a policy."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self.registered: set[str] = set()
        """URNs of the resources the program declared: all of them pending creation, as in a first preview."""
        self._lock = threading.Lock()

    def GetDeploymentInfo(self, request: Any) -> Any:
        """What the SDK's mock monitor supports, plus gating invokes on their dependencies
        (`_INVOKE_DEPENDS_ON`, where the program's SDK knows it)."""
        info = super().GetDeploymentInfo(request)  # type: ignore[no-untyped-call]
        if _INVOKE_DEPENDS_ON is not None and _INVOKE_DEPENDS_ON not in info.supportedFeatures:
            info.supportedFeatures.append(_INVOKE_DEPENDS_ON)
        return info

    def Invoke(self, request: Any) -> Any:
        """An invoke that depends on a resource the program declares is answered as the engine
        answers it in a preview: "The engine declines to service an invoke whose dependencies are
        pending creation: the result is wholly unknown" (the SDK's `_invoke`), so an `apply` on it never
        runs. Every other invoke gets its result type's placeholders (`ProgramMocks.call`)."""
        depends_on = getattr(request, "dependsOn", ())
        if depends_on and not self.registered.isdisjoint(depends_on):
            return resource_pb2.ResourceInvokeResponse(unknown=True)
        return super().Invoke(request)  # type: ignore[no-untyped-call]

    def _register(self, request: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """The SDK's `MockMonitor.RegisterResource`, less two protobuf round trips: the inputs are
        deserialised once (for the mocks and for the record), and plain outputs become the
        response's Struct directly instead of through the SDK's async serialiser on a loop of this
        thread (it stays for values that need it: unknowns, resource references, assets; a secret
        arrives as a plain dict with the SDK's signature key and goes back as one)."""
        urn = self.make_urn(request.parent, request.type, request.name)
        _mocks_module._ensure_event_loop()  # deserialising a resource reference needs one
        inputs = rpc.deserialize_properties(request.object)
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_mocks_module._resolve_callbacks(request.transforms),
        )
        id_, state = self.mocks.new_resource(args)
        if _is_plain(state):
            obj = struct_pb2.Struct()
            for key, value in state.items():
                if value is not None:  # as the SDK's serialiser: a property that is None is absent
                    obj[key] = value
        else:
            obj = _mocks_module._sync_await(rpc.serialize_properties(state, {}))
        id_ = id_ or ""  # no id: an unset protobuf string, as the SDK's None becomes
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj), inputs, state

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if _LEAN_MONITOR:
            response, given, state = self._register(request)
        else:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            given = rpc.deserialize_properties(request.object, keep_unknowns=True)
            state = None
        with self._lock:
            self.registered.add(response.urn)
        inputs = _plain(given)
        if canonical_type(request.type) == USER_ASSIGNED_IDENTITY:
            # The check's stand-in principal (`ProgramMocks.new_resource`), as an existing identity's
            # props carry it in a pack: how a rule tells whose a role assignment is.
            if state is None:
                state = rpc.deserialize_properties(response.object, keep_unknowns=True)
            inputs["principalId"] = _plain(state).get("principalId", unknown("output"))
        record = {
            "type": request.type,
            "name": request.name,
            "urn": response.urn,
            "custom": bool(request.custom),
            "parent": request.parent or None,
            "provider": request.provider.rsplit("::", 1)[0] if request.provider else None,
            "inputs": inputs,
        }
        with self._lock:
            self.records.append(record)
        return response


def _own_frame(filename: str, program: Path) -> bool:
    """A frame of the program's own code: under its folder, outside any environment's packages."""
    path = Path(filename)
    return path.is_relative_to(program) and "site-packages" not in path.parts and ".venv" not in path.parts


def one_line(error: BaseException, program: Path | None = None) -> str:
    """An error as one line: the message (and any note, such as which resource's output an
    `apply` was working on) and the deepest line of the program's own code that raised it."""
    message = " ".join(str(error).split()) or type(error).__name__
    notes = " ".join(" ".join(str(n).split()) for n in getattr(error, "__notes__", ()))
    if type(error).__name__ in ("ConfigError", "RunError"):
        return " ".join(part for part in (message, notes) if part)
    if isinstance(error, ModuleNotFoundError) and error.name:
        notes = (
            f"no package in the program's environment provides '{error.name.split('.')[0]}': declare it in "
            "requirements.txt or pyproject.toml next to the program's Pulumi.yaml"
        )
    elif isinstance(error, pulumi.ConfigMissingError):
        notes = f"autocloud check: pass it with -c {error.key}=VALUE, --config-file FILE or --stack NAME"
    frames = traceback.extract_tb(error.__traceback__)
    if program is not None:
        ours = [f for f in frames if _own_frame(f.filename, program)]
    else:
        ours = [f for f in frames if "site-packages" not in f.filename and not f.filename.startswith(sys.prefix)]
    suffix = ""
    if ours:
        where = Path(ours[-1].filename)
        shown = where.relative_to(program).as_posix() if program is not None else where.name
        suffix = f" ({shown}:{ours[-1].lineno})"
    text = f"{type(error).__name__}: {message}{suffix}"
    return f"{text}; {notes}" if notes else text


def _located_classes(located: set[str]) -> Callable[[], None]:
    """Note the type of every resource whose SDK class takes `location`; returns the undo."""
    original = getattr(pulumi.resource, "register_resource", None)
    if original is None:  # an SDK that registers elsewhere: `located` stays empty, rules use their fallback
        return lambda: None
    known: dict[type, bool] = {}

    def register_resource(res: Any, ty: str, *args: Any, **kwargs: Any) -> Any:
        cls = type(res)
        if cls not in known:
            init = getattr(cls, "_internal_init", None)
            try:
                known[cls] = init is not None and "location" in inspect.signature(init).parameters
            except (TypeError, ValueError):
                known[cls] = False
        if known[cls]:
            located.add(ty)
        return original(res, ty, *args, **kwargs)

    pulumi.resource.register_resource = register_resource  # type: ignore[attr-defined]
    return lambda: setattr(pulumi.resource, "register_resource", original)


def _result_types(mocks: ProgramMocks) -> Callable[[], None]:
    """Let the mocks see each invoke's declared result type (the SDK passes it as `typ`)."""
    # `pulumi.runtime.invoke` is the function the package re-exports; the module is what calls `_invoke`.
    module: Any = importlib.import_module("pulumi.runtime.invoke")
    original = getattr(module, "_invoke", None)
    if original is None:  # invokes are then answered without their result's shape
        return lambda: None

    def _invoke(tok: str, props: Any, opts: Any, typ: type | None, *args: Any, **kwargs: Any) -> Any:
        if typ is not None:
            mocks.result_types[tok] = typ
        return original(tok, props, opts, typ, *args, **kwargs)

    module._invoke = _invoke
    return lambda: setattr(module, "_invoke", original)


def _resource_label(resource: Any) -> str:
    return f"{getattr(resource, '_name', '?')} ({getattr(resource, '_type', '?')})"


def _output_resources(output: Any) -> set[Any]:
    """The resources an Output came from, once resolved; SDKs before `_OutputData` kept them in
    a `_resources` future. Empty when neither is there to read."""
    for attribute, pick in (("_data", lambda done: done.resources), ("_resources", lambda done: done)):
        future = getattr(output, attribute, None)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            return set(pick(future.result()))  # type: ignore[no-untyped-call]
    return set()


def _named_apply_failures() -> Callable[[], None]:
    """A failure inside `apply` gets a note naming the resources whose output it was given."""
    original = pulumi.Output.apply

    def apply(self: pulumi.Output[Any], func: Callable[[Any], Any], run_with_unknowns: bool = False) -> Any:
        def guarded(value: Any) -> Any:
            try:
                return func(value)
            except Exception as error:
                resources = _output_resources(self)
                if resources and hasattr(error, "add_note"):
                    error.add_note("in an apply on an output of " + ", ".join(sorted(map(_resource_label, resources))))
                raise

        return original(self, guarded, run_with_unknowns)

    pulumi.Output.apply = apply  # type: ignore[method-assign]
    return lambda: setattr(pulumi.Output, "apply", original)


def _lean_registration() -> Callable[[], None]:
    """Skip the SDK's per-resource work that only the engine's state uses (bench/results/check.json).

    Aliases: azure-native gives each resource one per older API version of its type (about 33), and
    the SDK turns each into URN Outputs and tasks, most of a large program's run; they only tell the
    engine which existing state a resource continues, and a check has no state. Stack traces: taken
    per resource so the engine can show a source position; the mock monitor ignores them."""
    original_copy = getattr(pulumi.ResourceOptions, "_copy", None)
    module: Any = importlib.import_module("pulumi.runtime.resource")
    original_trace = getattr(module, "_get_stack_trace", None)

    def _copy(self: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        copied: pulumi.ResourceOptions = original_copy(self)  # type: ignore[misc]
        copied.aliases = None
        return copied

    if original_copy is not None:  # older SDKs copy options elsewhere: slower, same results
        pulumi.ResourceOptions._copy = _copy  # type: ignore[method-assign]
    if original_trace is not None:
        empty = type(original_trace())()
        module._get_stack_trace = lambda: empty

    def undo() -> None:
        if original_copy is not None:
            pulumi.ResourceOptions._copy = original_copy  # type: ignore[method-assign]
        if original_trace is not None:
            module._get_stack_trace = original_trace

    return undo


def _single_future_outputs() -> Callable[[], None]:
    """Give each resource property one future instead of the SDK's four and a task.

    Before a resource's registration returns, the SDK makes an Output for every property its class
    declares (about thirty per azure-native resource), each from four futures (value, known, secret,
    dependencies) joined by a task; a program declares all its resources before any registration
    runs, so at 5,000 resources they were most of the run's memory and asyncio's work
    (bench/results/check.json). SDKs that keep an Output's state in one `_OutputData` future
    (`Output._from_data`, as `resource_output` does for `urn` and `id`) get the same Output from one
    future, resolved by the same resolver call; older SDKs keep their own path."""
    output_data = getattr(importlib.import_module("pulumi.output"), "_OutputData", None)
    original = getattr(rpc, "transfer_properties", None)
    if output_data is None or getattr(pulumi.Output, "_from_data", None) is None or original is None:
        return lambda: None

    def transfer_properties(res: Any, props: Mapping[str, Any], custom: bool) -> dict[str, Any]:
        resolvers: dict[str, Any] = {}
        for name in props:
            if name == "urn" or (name == "id" and custom):
                continue  # the SDK resolves these itself
            data: asyncio.Future[Any] = asyncio.Future()

            def resolve(
                value: Any,
                is_known: bool,
                is_secret: bool,
                deps: set[Any] | None,
                failed: Exception | None,
                data: asyncio.Future[Any] = data,
            ) -> None:
                if failed is not None:
                    data.set_exception(failed)
                    return
                resources = set(deps) if deps else set()
                resources.add(res)
                data.set_result(output_data(resources=resources, value=value, is_known=is_known, is_secret=is_secret))

            resolvers[name] = resolve
            # `Output._from_data` without its `_track`: the stack waits for tracked Outputs so that a
            # failure nobody awaited still ends the program, and this future is settled by the
            # registration itself, an RPC the stack waits for and whose failure it raises.
            output: pulumi.Output[Any] = object.__new__(pulumi.Output)
            output._data = data
            res.__dict__[name] = output
        return resolvers

    rpc.transfer_properties = transfer_properties
    return lambda: setattr(rpc, "transfer_properties", original)


def _remembered_type_unwrapping() -> Callable[[], None]:
    """Remember what the SDK's `unwrap_type` and `unwrap_optional_type` answer for each annotation.

    The serialiser asks them for every input value of every resource (``Optional[Input[...]]`` to
    the type inside), walking `typing` each time: 1.5 of 12 profiled seconds at 5,000 resources. The
    answer depends on the annotation alone, and a program has a few hundred distinct ones."""
    originals = {name: getattr(_types, name, None) for name in ("unwrap_type", "unwrap_optional_type")}

    def remembered(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        answers: dict[Any, Any] = {}

        def unwrap(val: Any) -> Any:
            try:
                return answers[val]
            except KeyError:
                answer = answers[val] = original(val)
                return answer
            except TypeError:  # an annotation that cannot be hashed is unwrapped each time
                return original(val)

        return unwrap

    for name, original in originals.items():
        if original is not None:
            setattr(_types, name, remembered(original))

    def undo() -> None:
        for name, original in originals.items():
            if original is not None:
                setattr(_types, name, original)

    return undo


_SCALARS = (str, bool, int, float, type(None))


def _plain_values_serialised_directly() -> Callable[[], None]:
    """Answer the SDK's serialiser at once for a plain string, number, bool or None.

    For those it walks a dozen checks (unknown, resource, asset, archive, awaitable, Output, input
    type, sequence, mapping, enum) before returning the value as it is, in a coroutine per value:
    most of the values of a program's inputs. Subclasses (a `str` enum) and protobuf answers keep
    the SDK's path."""
    original = getattr(rpc, "serialize_property", None)
    if original is None or "return_protobuf_value" not in inspect.signature(original).parameters:
        return lambda: None

    async def serialize_property(value: Any, *args: Any, **kwargs: Any) -> Any:
        if type(value) in _SCALARS and len(args) < 8 and not kwargs.get("return_protobuf_value"):
            return value
        return await original(value, *args, **kwargs)

    rpc.serialize_property = serialize_property
    return lambda: setattr(rpc, "serialize_property", original)


def _plain_urns_built_directly() -> Callable[[], None]:
    """Build a URN from plain strings without the SDK's three Outputs and an `all`.

    Each registration asks `create_urn` for its URN with its name, type and parent URN already
    strings; the SDK still joins them through Outputs. Same string, same empty dependencies."""
    module: Any = importlib.import_module("pulumi.runtime.resource")
    original = getattr(module, "create_urn", None)
    settings: Any = importlib.import_module("pulumi.runtime.settings")
    if original is None:
        return lambda: None

    def create_urn(
        name: Any, type_: Any, parent: Any = None, project: str | None = None, stack: str | None = None
    ) -> Any:
        if not (isinstance(name, str) and isinstance(type_, str) and (parent is None or isinstance(parent, str))):
            return original(name, type_, parent, project, stack)
        if parent is not None:
            prefix = parent[: parent.rfind("::")] + "$"
        else:
            prefix = f"urn:pulumi:{stack or settings.get_stack()}::{project or settings.get_project()}::"
        return pulumi.Output.from_input(f"{prefix}{type_}::{name}")

    module.create_urn = create_urn
    return lambda: setattr(module, "create_urn", original)


def _quiet_debug_log() -> Callable[[], None]:
    """Drop the SDK's debug log lines (four per registration) instead of sending each to the mock
    engine, which hands them to a Python logger at debug level that nothing here shows; under
    `pulumi preview` they appear only with `--debug`. Warnings and errors still go through."""
    log: Any = importlib.import_module("pulumi.log")
    original = getattr(log, "debug", None)
    if original is None:
        return lambda: None
    log.debug = lambda *args, **kwargs: None
    return lambda: setattr(log, "debug", original)


def _stack_config() -> dict[str, Any]:
    """The config the check passes the program (PULUMI_CONFIG, as the language host does)."""
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def _json_leaf(value: Any) -> str:
    """What the result file says for a value JSON cannot hold (an SDK object such as a resource
    reference): an unknown naming its type, never the object's repr."""
    return unknown(type(value).__name__)


class ProgramFailed(Exception):
    """The program raised; `records` holds what it registered before that."""

    def __init__(self, error: BaseException, records: list[dict[str, Any]], located: set[str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.records = records
        self.located = located


TOOLKIT_PACKAGES = ("autocloud", "components", "policies", "platform_model")
"""The checker's top-level packages: names a checked program may well use for its own folders."""


def _is_toolkit_root(folder: Path) -> bool:
    """A folder holding the checker's packages (this checkout or any other, e.g. an editable install's)."""
    return (folder / "autocloud" / "verification" / "check" / "runner.py").is_file()


def _provides_toolkit(finder: Any) -> bool:
    """A meta-path finder that maps the checker's package names (an editable install's)."""
    find_spec = getattr(finder, "find_spec", None)
    if find_spec is None or finder in (importlib.machinery.PathFinder,):
        return False
    try:
        spec = find_spec("autocloud", None)
    except Exception:  # a third-party finder that cannot answer is none of ours
        return False
    origin = getattr(spec, "origin", None) if spec is not None else None
    return isinstance(origin, str) and _is_toolkit_root(Path(origin).parent.parent)


def seal_toolkit(start_dir: Path) -> None:
    """Leave the program what `pulumi preview` leaves it: its own directory (added by
    `record_program`) and its environment. The checker's packages, imported by now for this
    module's own use (its functions keep what they bound), are forgotten and made unimportable, so a
    program's own `components/` (a namespace package too) or `policies/` is the one it imports; the
    folder the check was started from goes too."""
    for name in [n for n in sys.modules if n.split(".", 1)[0] in TOOLKIT_PACKAGES]:
        del sys.modules[name]
    kept = []
    for entry in sys.path:
        folder = Path(entry or ".").resolve()
        if entry == "" or folder == start_dir or _is_toolkit_root(folder):
            continue
        kept.append(entry)
    sys.path[:] = kept
    sys.meta_path[:] = [finder for finder in sys.meta_path if not _provides_toolkit(finder)]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def record_program(program: Path, project: str, stack: str) -> tuple[list[dict[str, Any]], set[str]]:
    """Run `program/__main__.py` as under `pulumi preview`, with mocks, and return what it
    registered and which of those types take a location; ProgramFailed keeps the partial list."""
    main = program / "__main__.py"
    if not main.is_file():
        raise FileNotFoundError(f"{main} not found")
    sys.path.insert(0, str(program))
    os.chdir(program)
    located: set[str] = set()
    mocks = ProgramMocks(located, _stack_config().get("azure-native:location"))
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    undo = [
        _located_classes(located),
        _result_types(mocks),
        _named_apply_failures(),
        _lean_registration(),
        _single_future_outputs(),
        _remembered_type_unwrapping(),
        _plain_values_serialised_directly(),
        _plain_urns_built_directly(),
        _quiet_debug_log(),
    ]

    def run() -> None:
        runpy.run_path(str(main), run_name="__main__")

    try:
        with full_collections_deferred():
            pulumi.runtime.test(run)()  # type: ignore[no-untyped-call]
    except BaseException as error:
        raise ProgramFailed(error, sorted(monitor.records, key=lambda r: r["urn"]), located) from error
    finally:
        for step in undo:
            step()
    # Registrations arrive from a thread pool; a stable order keeps reports diffable.
    return sorted(monitor.records, key=lambda r: r["urn"]), located


def main(argv: list[str] | None = None) -> int:
    """Started only by `autocloud check` in a child process, never by a person: plain argparse, not the Typer CLI."""
    parser = argparse.ArgumentParser(prog="python -m autocloud.verification.check.runner")
    parser.add_argument("--program", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    program = args.program.resolve()
    seal_toolkit(Path.cwd().resolve())
    result: dict[str, Any]
    try:
        records, located = record_program(program, args.project, args.stack)
        result, code = {"resources": records, "located": sorted(located)}, 0
    except ProgramFailed as failed:  # any failure of the program, even SystemExit, becomes one line
        traceback.print_exception(failed.error)
        result = {"resources": failed.records, "located": sorted(failed.located)}
        result["error"], code = one_line(failed.error, program), 1
    except BaseException as error:
        traceback.print_exc()
        result, code = {"resources": [], "located": [], "error": one_line(error, program)}, 1
    out.write_text(json.dumps(result, default=_json_leaf), encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the mocked runtime leaves event loops that complain when collected.
    os._exit(code)


if __name__ == "__main__":
    main()
