"""`autocloud check`: violating programs exit 1 naming their policy, clean ones 0, bad usage 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from autocloud.verification.check.command import pulumi_config_env, run_check, views_from_records
from autocloud.verification.check.targets import Target
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from policies.model import RuleContext
from tests.conftest import as_the_cli_gives_it

PROGRAMS = REPO_ROOT / "tests" / "programs"


def check(*args: Any, **kwargs: Any) -> tuple[int, str, str]:
    return as_the_cli_gives_it(lambda out: run_check(*args, out=out, **kwargs))


#: Programs that break a second rule by their nature: Azure China has no Maps, so a Maps account there is
#: both outside what the region allows and in a location that does not offer the service.
ALSO_REFUSED = {"maps_in_china": {"deployability-location-capability"}}


def check_program(name: str, region: str, fmt: OutputFormat = OutputFormat.JSON, **kwargs: Any) -> tuple[int, str, str]:
    return check(None, False, PROGRAMS / name, region, fmt, **kwargs)


def only_target(out: str) -> dict[str, Any]:
    """The single target of a `--format json` document (and its summary agreeing with it)."""
    document = json.loads(out)
    target: dict[str, Any]
    (target,) = document["targets"]
    assert document["summary"]["targets"] == 1 and document["summary"][target["status"]] == 1
    return target


@pytest.mark.parametrize(
    ("program", "region", "policy"),
    [
        ("location_outside", "eu", "residency-resource-location"),
        ("cosmos_replica_outside", "eu", "residency-cosmosdb-replica-location"),
        ("public_network_on", "eu", "baseline-public-network-access"),
        ("grs_storage", "eu", "residency-storage-redundancy"),
        ("maps_in_china", "cn", "residency-maps-allowed"),
        ("namespace_without_label", "eu", "kubernetes-namespace-region-label"),
        ("eventhub_dr_outside", "eu", "residency-eventhub-geo-dr-partner"),
        ("iothub_route_outside", "eu", "residency-iothub-routing-endpoints"),
        ("public_provider_in_china", "cn", "residency-provider-environment"),
        ("cross_region_endpoint", "eu", "kubernetes-cross-region-endpoint"),
        ("aks_cidr_overlap", "eu", "deployability-network-cidrs"),
    ],
)
def test_violating_program_fails_naming_its_policy(program: str, region: str, policy: str) -> None:
    code, out, err = check_program(program, region)
    assert (code, err) == (1, "")
    target = only_target(out)
    assert (target["status"], target["program"]) == ("violations", f"tests/programs/{program}")
    assert target["region"] == region
    violations = target["violations"]
    assert {v["policy"] for v in violations} == {policy} | ALSO_REFUSED.get(program, set())
    for violation in violations:
        assert violation["enforcement"] == "mandatory"
        assert violation["urn"].startswith("urn:pulumi:check::autocloud::")
        assert violation["urn"].endswith(f"::{violation['resource']}")
        assert violation["message"] == (
            f"[{violation['policy']}] {violation['resource']} ({violation['type']}): {violation['detail']}"
        )
        assert violation["pack"] == violation["policy"].split("-", 1)[0]


def test_clean_program_passes() -> None:
    code, out, err = check_program("clean", "eu")
    assert (code, err) == (0, "")
    target = only_target(out)
    assert (target["status"], target["violations"], target["error"]) == ("clean", [], None)
    assert target["resources"] > 0


def test_crashing_program_is_one_line_and_exit_2() -> None:
    code, out, err = check_program("crash", "eu")
    assert code == 2
    assert err.count("\n") == 1
    assert "the program failed: RuntimeError: profile table is empty (__main__.py:6)" in err
    target = only_target(out)
    assert target["status"] == "incomplete" and "profile table is empty" in target["error"]


def test_text_and_markdown_reports() -> None:
    code, text, _ = check_program("grs_storage", "eu", OutputFormat.TEXT)
    assert code == 1
    assert "residency-storage-redundancy" in text and "FAIL" in text and "francesouth" in text
    code, markdown, _ = check_program("grs_storage", "eu", OutputFormat.MARKDOWN)
    assert code == 1
    assert markdown.startswith("## autocloud check: ❌ policy violations")
    assert "| `tests/programs/grs_storage` | eu | violations | 2 | 1 | 0 |" in markdown
    assert "| **mandatory** | `residency-storage-redundancy` | `archive`" in markdown


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ((None, False, None, None, OutputFormat.TEXT), "nothing to check"),
        ((["azure-eu"], True, None, None, OutputFormat.TEXT), "either --stack or --all"),
        ((None, False, PROGRAMS / "clean", None, OutputFormat.TEXT), "needs --region"),
        ((None, False, PROGRAMS / "clean", "mars", OutputFormat.TEXT), "no region profile 'mars'"),
        ((["no-such-stack"], False, None, None, OutputFormat.TEXT), "stacks/Pulumi.no-such-stack.yaml: file not found"),
        ((None, False, PROGRAMS, "eu", OutputFormat.TEXT), "no __main__.py"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[Any, ...], problem: str) -> None:
    code, out, err = check(*args)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1
    assert problem in err


def test_every_stack_is_clean() -> None:
    """The repository's own program and every stack under stacks/ pass every pack."""
    stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO_ROOT / "stacks").glob("*.yaml"))
    assert {"azure-eu", "azure-us", "azure-cn"} <= set(stacks)
    code, out, err = check(None, True, None, None, OutputFormat.MARKDOWN)
    assert (code, err) == (0, ""), out
    assert out.startswith("## autocloud check: ✅ all stacks comply")
    for stack in stacks:
        region = stack.rsplit("-", 1)[-1]
        assert f"| `{stack}` | {region} |" in out


def test_stack_config_relaxes_a_baseline_rule_to_advisory(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "regions", tmp_path / "regions")
    (tmp_path / "stacks").mkdir()
    config = {
        "autocloud:region": "eu",
        "autocloud:target": "azure",
        "autocloud:policyRelax": ["baseline-public-network-access"],
    }
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    code, out, err = check(["dev"], False, PROGRAMS / "public_network_on", None, OutputFormat.JSON, root=tmp_path)
    assert (code, err) == (0, "")
    assert [(v["policy"], v["enforcement"], v["stack"]) for v in only_target(out)["violations"]] == [
        ("baseline-public-network-access", "advisory", "dev")
    ]


def test_stack_config_cannot_relax_residency(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "regions", tmp_path / "regions")
    (tmp_path / "stacks").mkdir()
    config = {
        "autocloud:region": "eu",
        "autocloud:target": "azure",
        "autocloud:policyRelax": ["residency-maps-allowed"],
    }
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    code, _, err = check(["dev"], False, PROGRAMS / "clean", None, OutputFormat.JSON, root=tmp_path)
    assert code == 2
    assert "'residency-maps-allowed' cannot be relaxed" in err


def test_resources_without_a_provider_get_the_configured_default(eu: RuleContext) -> None:
    target = Target("s", PROGRAMS / "clean", "autocloud", "s", {"azure-native:environment": "china"}, eu)
    records = [
        {"type": "azure-native:resources:ResourceGroup", "name": "rg", "custom": True, "provider": None,
         "urn": "urn:pulumi:s::autocloud::pulumi:pulumi:Stack$azure-native:resources:ResourceGroup::rg",
         "inputs": {"location": "westeurope"}},
        {"type": "autocloud:platform:RegionalPlatform", "name": "eu", "custom": False, "provider": None,
         "urn": "urn:pulumi:s::autocloud::autocloud:platform:RegionalPlatform::eu", "inputs": {}},
    ]  # fmt: skip
    group, component, default = views_from_records(records, target)
    assert group.urn == "urn:pulumi:s::autocloud::azure-native:resources:ResourceGroup::rg"
    assert group.provider is not None and group.provider.props == {"environment": "china"}
    assert component.provider is None
    assert (default.type, default.urn) == ("pulumi:providers:azure-native", group.provider.urn)


def test_config_reaches_programs_as_the_engine_passes_it() -> None:
    config, secrets = pulumi_config_env(
        {"autocloud:region": "eu", "autocloud:vehicles": 5, "autocloud:key": {"secure": "v1:abc"}}
    )
    assert json.loads(config) == {"autocloud:region": "eu", "autocloud:vehicles": "5", "autocloud:key": "mock-secret"}
    assert json.loads(secrets) == ["autocloud:key"]


@pytest.fixture
def eu() -> RuleContext:
    return RuleContext(region="eu", cloud="public", boundary=frozenset({"westeurope"}))
