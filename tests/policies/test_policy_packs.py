"""The four packs: their rule lists, their `__main__.py`, and each one served for real over gRPC.

Constructing a PolicyPack serves forever, so each pack runs as the Pulumi CLI runs it
(`python <pack dir> <engine address>`) in a subprocess; the test then talks to it as the engine does:
GetAnalyzerInfo, Configure (the JSON `policies.config` writes), Analyze and AnalyzeStack.
"""

from __future__ import annotations

import ast
import dataclasses
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.adapters import CONFIG_REQUIRED
from policies.config import pack_config_for_context
from policies.model import Pack, RuleContext
from policies.packs import ALL_RULES, PACK_NAMES, PACK_RULES, discover

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_every_pack_has_rules_with_unique_names() -> None:
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names))
    for pack, rules in PACK_RULES.items():
        assert rules, pack
        for rule in rules:
            assert rule.name.startswith(f"{pack}-"), rule.name
            assert rule.description.strip() and rule.remediation.strip(), rule.name


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_every_rule_file_is_served_and_has_a_test(pack: Pack) -> None:
    modules = sorted(p.stem for p in (POLICIES_DIR / "rules" / pack).glob("[!_]*.py"))
    assert [rule.name for rule in PACK_RULES[pack]] == [f"{pack}-{m.replace('_', '-')}" for m in modules]
    tests = POLICIES_DIR.parent / "tests" / "policies" / pack
    assert sorted(p.stem for p in tests.glob("test_*.py")) == [f"test_{pack}_{m}" for m in modules]


RULE_MODULE = """
from policies.model import ResourceRule

RULE = ResourceRule({name!r}, "d", "r", frozenset(), lambda view, ctx: [])
"""


@pytest.mark.parametrize(
    ("registered", "refusal"),
    [("residency-other-name", "its file name makes it 'residency-my-rule'"), (None, "defines no RULE")],
)
def test_discovery_refuses_a_rule_not_named_after_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registered: str | None, refusal: str
) -> None:
    package = tmp_path / "extra_rules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "my_rule.py").write_text(RULE_MODULE.format(name=registered) if registered else "")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    with pytest.raises((TypeError, ValueError), match=refusal):
        discover("residency", "extra_rules")


def test_discovery_registers_a_rule_from_its_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "more_rules"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helper.py").write_text("")
    (package / "my_rule.py").write_text(RULE_MODULE.format(name="residency-my-rule"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    assert [rule.name for rule in discover("residency", "more_rules")] == ["residency-my-rule"]


def test_only_baseline_rules_are_relaxable() -> None:
    assert all(rule.relaxable == (rule in PACK_RULES["baseline"]) for rule in ALL_RULES)


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_pack_main_only_assembles(pack: str) -> None:
    tree = ast.parse((POLICIES_DIR / pack / "__main__.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"pulumi_policy", "policies.adapters", "policies.packs"}
    statements = [node for node in tree.body if not isinstance(node, ast.ImportFrom)]
    docstring, construct = statements
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert isinstance(construct, ast.Expr) and isinstance(construct.value, ast.Call)
    assert ast.unparse(construct.value.func) == "PolicyPack"
    assert pack.upper() in ast.unparse(construct.value)


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_pack_project_file(pack: str) -> None:
    project = yaml.safe_load((POLICIES_DIR / pack / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    venv = POLICIES_DIR / pack / project["runtime"]["options"]["virtualenv"]
    assert (venv / "bin" / "python").exists()
    assert project["description"]


# --- the packs served for real -------------------------------------------------------------------


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


class ServedPack:
    def __init__(self, pack: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(POLICIES_DIR / pack), "127.0.0.1:1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                self.close()
                pytest.fail(f"pack {pack} did not print its port")
        port = self.process.stdout.readline().strip()
        assert port.isdigit(), (
            f"pack {pack} printed {port!r}; stderr: {self.process.stderr.read() if self.process.stderr else ''}"
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def configure(self, config: dict[str, dict[str, Any]]) -> None:
        levels = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY}
        request = analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(
                    enforcementLevel=levels[entry.get("enforcementLevel", "mandatory")],
                    properties=_struct({k: v for k, v in entry.items() if k != "enforcementLevel"}),
                )
                for name, entry in config.items()
            }
        )
        self.stub.Configure(request)

    def analyze(self, type_: str, name: str, props: dict[str, Any]) -> list[Any]:
        request = analyzer_pb2.AnalyzeRequest(
            type=type_, name=name, urn=f"urn:pulumi:t::autocloud::{type_}::{name}", properties=_struct(props)
        )
        return list(self.stub.Analyze(request).diagnostics)

    def analyze_stack(self, resources: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=t, name=n, urn=f"urn:pulumi:t::autocloud::{t}::{n}", properties=_struct(p)
                )
                for t, n, p in resources
            ]
        )
        return list(self.stub.AnalyzeStack(request).diagnostics)

    def close(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServedPack]]:
    started: dict[str, ServedPack] = {}
    try:
        for pack in PACK_RULES:
            started[pack] = ServedPack(pack)
        yield started
    finally:
        for server in started.values():
            server.close()


def _config(eu: RuleContext, **changes: Any) -> dict[str, dict[str, Any]]:
    return pack_config_for_context(dataclasses.replace(eu, **changes))


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_served_pack_describes_its_rules(servers: dict[str, ServedPack], pack: Pack) -> None:
    server = servers[pack]
    info = server.stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAMES[pack]
    assert [p.name for p in info.policies] == [r.name for r in PACK_RULES[pack]]
    levels = {"mandatory": analyzer_pb2.MANDATORY, "advisory": analyzer_pb2.ADVISORY}
    for policy, rule in zip(info.policies, PACK_RULES[pack], strict=True):
        assert policy.enforcementLevel == levels[rule.enforcement]
        assert list(policy.configSchema.required) == CONFIG_REQUIRED
        assert policy.remediation_steps


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_served_pack_refuses_a_violation(servers: dict[str, ServedPack], pack: str, eu: RuleContext) -> None:
    server = servers[pack]
    server.configure(_config(eu))
    if pack == "residency":
        found = server.analyze(
            "azure-native:cosmosdb:DatabaseAccount", "db", {"location": "westeurope", "locations": []}
        )
        expected = "residency-cosmosdb-replica-location"
        stack = server.analyze_stack(
            [("azure-native:eventhub:DisasterRecoveryConfig", "dr", {"partnerNamespace": "/x/namespaces/elsewhere"}),
             ("azure-native:resources:ResourceGroup", "rg", {"location": "eastus"}),
             ("azure-native:storage:StorageAccount", "sa", {"location": "westeurope"})]
        )  # fmt: skip
        assert sorted((d.policyName, d.urn.rsplit("::", 1)[-1]) for d in stack) == [
            ("residency-eventhub-geo-dr-partner", "dr"),
            ("residency-resource-location", "rg"),
            ("residency-storage-redundancy", "sa"),
        ]
    elif pack == "baseline":
        found = server.analyze(
            "azure-native:eventhub:Namespace",
            "ns",
            {"publicNetworkAccess": "Disabled", "minimumTlsVersion": "1.0", "disableLocalAuth": True,
             "location": "westeurope", "tags": {"region": "eu", "data-residency": "eu", "data-classification": "x"}},
        )  # fmt: skip
        expected = "baseline-min-tls-version"
    elif pack == "deployability":
        found = server.analyze("azure-native:storage:StorageAccount", "sa", {"accountName": "Capture-EU"})
        expected = "deployability-naming-rules"
        stack = server.analyze_stack(
            [
                ("azure-native:network:VirtualNetwork", "vnet", {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}),
                ("azure-native:containerservice:ManagedCluster", "aks", {"networkProfile": {}}),
            ]
        )
        assert [d.policyName for d in stack] == ["deployability-network-cidrs"]
        assert stack[0].urn.endswith("::aks")
    else:
        found = server.analyze("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "autocloud-eu"}})
        expected = "kubernetes-namespace-region-label"
        stack = server.analyze_stack(
            [("kubernetes:apps/v1:Deployment", "mqtt", {"metadata": {"namespace": "autocloud-us"}})]
        )
        assert [d.policyName for d in stack] == ["kubernetes-namespace-placement"]
    assert [d.policyName for d in found] == [expected]
    assert found[0].enforcementLevel == analyzer_pb2.MANDATORY
    assert f"[{expected}]" in found[0].message


def test_served_pack_honours_relaxed_config(servers: dict[str, ServedPack], eu: RuleContext) -> None:
    server = servers["baseline"]
    server.configure(_config(eu, relaxed=frozenset({"baseline-public-network-access"})))
    props = {"publicNetworkAccess": "Enabled"}
    found = server.analyze("azure-native:cosmosdb:DatabaseAccount", "db", props)
    # baseline-public-network-access judges the stack (a namespace's firewall is another resource).
    found += server.analyze_stack([("azure-native:cosmosdb:DatabaseAccount", "db", props)])
    levels = {d.policyName: d.enforcementLevel for d in found}
    assert levels["baseline-public-network-access"] == analyzer_pb2.ADVISORY
    assert levels["baseline-local-auth-disabled"] == analyzer_pb2.MANDATORY


def test_served_pack_downgrades_unknown_values_at_preview(servers: dict[str, ServedPack], eu: RuleContext) -> None:
    """Why components pass locations as plain strings: an unknown value turns mandatory into advisory."""
    server = servers["residency"]
    server.configure(_config(eu))
    found = server.analyze_stack([("azure-native:resources:ResourceGroup", "rg", {"location": UNKNOWN_STRING})])
    assert sorted((d.policyName, d.enforcementLevel) for d in found) == [
        ("residency-location-unverified", analyzer_pb2.ADVISORY),
        ("residency-resource-location", analyzer_pb2.ADVISORY),
    ]
    assert all("can't run policy" in d.message for d in found)


@pytest.mark.parametrize("pack", list(PACK_RULES))
def test_served_pack_without_region_config_fails_loudly(servers: dict[str, ServedPack], pack: str) -> None:
    server = servers[pack]
    server.configure({})
    resources: dict[str, tuple[str, dict[str, Any]]] = {
        "residency": ("azure-native:cosmosdb:DatabaseAccount", {"location": "westeurope"}),
        "baseline": ("azure-native:storage:StorageAccount", {"location": "westeurope"}),
        "kubernetes": ("kubernetes:core/v1:Namespace", {"metadata": {"name": "x"}}),
        "deployability": ("azure-native:storage:StorageAccount", {"accountName": "x"}),
    }
    type_, props = resources[pack]
    found = server.analyze(type_, "r", props)
    assert found
    assert all("policy config 'region' is missing" in d.message for d in found)
    assert all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in found)
