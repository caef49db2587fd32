"""Run one Pulumi Python program under mocks and record every resource it registers.

`autocloud check` starts this module once per stack, in a fresh interpreter, so no Pulumi runtime
state leaks between stacks and a crashing program ends as a one-line error instead of taking the
check down:

    PULUMI_CONFIG='{"autocloud:region": "eu", ...}' \\
        python -m autocloud.check_runner --program DIR --project autocloud --stack azure-eu --out FILE

FILE receives ``{"resources": [...]}`` (type, name, urn, custom, parent, provider, inputs) or
``{"error": "one line"}``. The mocks echo inputs back as outputs and add the few computed outputs
programs commonly read (ARM ids ending in the physical name, `name`, identity principal ids), so
cross-resource references resolve the way they do after a real deployment.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from autocloud.collector import full_collections_deferred
from policies.model import canonical_type
from policies.rules._azure import NAME_KEYS, RESOURCE_GROUP

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
MOCK_PRINCIPAL = "22222222-2222-2222-2222-222222222222"


def physical_name(type_: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The Azure name a resource gets: its explicit name input, else its logical name (standing in
    for azure-native's autoname, which starts from it)."""
    key = NAME_KEYS.get(canonical_type(type_))
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


class RecordingMocks(Mocks):
    """Outputs = inputs + id/name (+ identity ids): enough for programs to finish wiring."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-provider-id", outputs
        if args.typ.startswith("azure-native:"):
            outputs.setdefault("name", physical_name(args.typ, args.name, args.inputs))
            identity = outputs.get("identity")
            if isinstance(identity, dict):
                outputs["identity"] = _identity_output(identity)
            if canonical_type(args.typ) == "azure-native:managedidentity:UserAssignedIdentity":
                outputs.update(principalId=MOCK_PRINCIPAL, clientId=MOCK_PRINCIPAL, tenantId=TENANT)
            return arm_id(args.typ, args.name, args.inputs), outputs
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token = args.token.rsplit(":", 1)[-1]
        if token == "getClientConfig":
            ids = {"clientId": MOCK_PRINCIPAL, "objectId": MOCK_PRINCIPAL}
            return ids | {"subscriptionId": SUBSCRIPTION, "tenantId": TENANT}, []
        if token.startswith("list") and "Key" in token:
            return {"primaryKey": "mock-key", "secondaryKey": "mock-key", "keyName": args.args.get("keyName")}, []
        return {}, []


def _plain(value: Any) -> Any:
    """Secrets unwrapped (the file is short-lived and policies must see values), containers copied."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class RecordingMonitor(MockMonitor):
    """A mock monitor that keeps every registration as the engine would hand it to a policy."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = _plain(rpc.deserialize_properties(request.object))
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


def one_line(error: BaseException) -> str:
    """An error as one line: the message, and the deepest line of project code that raised it."""
    message = " ".join(str(error).split()) or type(error).__name__
    if type(error).__name__ in ("ConfigError", "RunError"):
        return message
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename and not f.filename.startswith(sys.prefix)]
    where = (ours or frames)[-1:] if frames else []
    suffix = "".join(f" ({Path(f.filename).name}:{f.lineno})" for f in where)
    return f"{type(error).__name__}: {message}{suffix}"


def record_program(program: Path, project: str, stack: str) -> list[dict[str, Any]]:
    """Run `program/__main__.py` under mocks and return what it registered."""
    main = program / "__main__.py"
    if not main.is_file():
        raise FileNotFoundError(f"{main} not found")
    sys.path.insert(0, str(program))
    os.chdir(program)
    monitor = RecordingMonitor(RecordingMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)

    def run() -> None:
        runpy.run_path(str(main), run_name="__main__")

    with full_collections_deferred():
        pulumi.runtime.test(run)()
    # Registrations arrive from a thread pool; a stable order keeps reports diffable.
    return sorted(monitor.records, key=lambda r: r["urn"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autocloud.check_runner")
    parser.add_argument("--program", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    try:
        result: dict[str, Any] = {"resources": record_program(args.program.resolve(), args.project, args.stack)}
        code = 0
    except BaseException as error:  # any failure of the program, even SystemExit, becomes one line
        traceback.print_exc()
        result, code = {"error": one_line(error)}, 1
    out.write_text(json.dumps(result, default=str), encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the mocked runtime leaves event loops that complain when collected.
    os._exit(code)


if __name__ == "__main__":
    main()
