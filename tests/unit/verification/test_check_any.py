"""`autocloud check` on programs shaped like public ones (tests/programs/foreign): config as the
Pulumi CLI takes it, preview semantics, shaped invoke results, locations as azure-native applies
them, partial results, and every output format for every status."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from autocloud.verification.check.command import run_check
from autocloud.verification.check.program_env import Declared, declared, env_key
from autocloud.verification.check.runner import output_type_placeholder, record_program
from autocloud.verification.check.targets import ConfigInput
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from policies.model import is_unknown
from tests.conftest import as_the_cli_gives_it

FOREIGN = REPO_ROOT / "tests" / "programs" / "foreign"
CONFIGURED = FOREIGN / "configured"


def check(
    program: str,
    fmt: OutputFormat = OutputFormat.JSON,
    stacks: list[str] | None = None,
    region: str | None = "eu",
    given: ConfigInput | None = None,
) -> tuple[int, str, str]:
    return as_the_cli_gives_it(
        lambda out: run_check(stacks, False, FOREIGN / program, region, fmt, given=given, out=out)
    )


def target_of(out: str) -> dict[str, Any]:
    target: dict[str, Any]
    (target,) = json.loads(out)["targets"]
    return target


def policies(target: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((v["policy"], v["resource"]) for v in target["violations"])


def test_missing_config_names_the_key_and_how_to_pass_it() -> None:
    code, out, err = check("configured")
    target = target_of(out)
    assert (code, target["status"], target["resources"]) == (2, "error", 0)
    assert "ConfigMissingError" in target["error"] and "'configured:location'" in target["error"]
    assert "pass it with -c configured:location=VALUE" in target["error"]
    assert err.count("\n") == 1


def test_config_by_flag_with_bare_keys_in_the_project_namespace() -> None:
    given = ConfigInput(("location=westeurope", "configured:adminPassword=x"))
    code, out, _ = check("configured", given=given)
    target = target_of(out)
    # The Pulumi.yaml default (classification) applies: the tags rule is satisfied.
    assert (code, target["status"], target["violations"]) == (0, "clean", [])


def test_config_by_file_is_a_pulumi_stack_file() -> None:
    code, out, _ = check("configured", given=ConfigInput(file=CONFIGURED / "dev-outside.yaml"))
    assert code == 1
    assert policies(target_of(out)) == [("residency-resource-location", "app")]


def test_flags_override_the_config_file() -> None:
    given = ConfigInput(("location=northeurope",), CONFIGURED / "dev-outside.yaml")
    code, out, _ = check("configured", given=given)
    assert (code, target_of(out)["status"]) == (0, "clean")


def test_the_programs_own_stack_file_with_a_secure_value() -> None:
    code, out, _ = check("configured", stacks=["dev"])
    target = target_of(out)
    assert (code, target["status"], target["label"], target["stack"]) == (
        0,
        "clean",
        "tests/programs/foreign/configured:dev",
        "dev",
    )


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"stacks": ["dev"], "region": None}, "Pulumi.dev.yaml is the program's own; give --region too"),
        ({"given": ConfigInput(("location",))}, "--config 'location': expected KEY=VALUE"),
        ({"given": ConfigInput(file=CONFIGURED / "nope.yaml")}, "nope.yaml: file not found"),
    ],
)
def test_bad_config_usage_is_one_line_and_exit_2(kwargs: dict[str, Any], problem: str) -> None:
    code, out, err = check("configured", **kwargs)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and problem in err


def test_dry_run_guards_hold_and_computed_outputs_are_unknown() -> None:
    code, out, _ = check("dry_run_guard")
    assert (code, target_of(out)["status"]) == (0, "clean")


NESTED_UNKNOWN = """
import pulumi


class Thing(pulumi.CustomResource):
    def __init__(self, name: str, props: dict) -> None:
        super().__init__("test:index:Thing", name, props)


made = Thing("made", {"result": None})  # computed: unknown at preview
Thing("user", {"link": {"host": "hub-1", "key": pulumi.Output.secret(made.result.apply(lambda r: f"key={r}"))}})
"""


def test_an_unknown_inside_an_input_is_recorded_as_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pulumi_harness: Any
) -> None:
    """One computed field of a structured input (a DPS link's connection string) reaches the rules as
    an unknown, not as the text of the SDK's placeholder object."""
    (tmp_path / "__main__.py").write_text(NESTED_UNKNOWN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(sys.path))
    records, _ = record_program(tmp_path, "p", "dev")
    (user,) = [r for r in records if r["name"] == "user"]
    assert user["inputs"]["link"] == {"host": "hub-1", "key": "<unknown output>"}
    assert is_unknown(user["inputs"]["link"]["key"])


def test_invoke_results_have_the_sdk_shape() -> None:
    code, out, err = check("invoke_results")
    assert (code, err) == (0, "")
    assert target_of(out)["status"] == "clean"


def test_placeholder_follows_the_declared_result_type() -> None:
    from pulumi_azure_native.storage import ListStorageAccountKeysResult

    shaped = output_type_placeholder(ListStorageAccountKeysResult, "listStorageAccountKeys")
    (key,) = shaped["keys"]
    assert key["value"] == "<unknown listStorageAccountKeys.keys[0].value>"
    assert {"keyName", "permissions", "creationTime"} <= set(key)


def test_an_existing_resource_group_cannot_be_verified_not_outside() -> None:
    code, out, _ = check("existing_group")
    target = target_of(out)
    assert (code, target["status"]) == (0, "clean")
    assert policies(target) == [
        ("residency-location-unverified", "follows-lookup"),
        ("residency-location-unverified", "left-to-group"),
    ]
    assert all(v["enforcement"] == "advisory" for v in target["violations"])
    assert "'shared-platform' is not declared by this program" in target["violations"][1]["detail"]


def test_locations_are_inherited_from_the_group_and_the_provider() -> None:
    code, out, _ = check("inherited_location")
    target = target_of(out)
    assert code == 1
    # The container group (no fixed list names it) inherits East US; the provider's westeurope
    # gives `home` and its NSG a location inside.
    assert policies(target) == [
        ("residency-resource-location", "east"),
        ("residency-resource-location", "worker"),
    ]
    worker = next(v for v in target["violations"] if v["resource"] == "worker")
    assert worker["detail"].startswith("location inherited from resource group 'east': 'eastus' is outside")


def test_a_crash_half_way_keeps_what_was_registered() -> None:
    code, out, err = check("half_way")
    target = target_of(out)
    assert (code, target["status"]) == (2, "incomplete")
    assert target["resources"] >= 2
    assert policies(target) == [("residency-resource-location", "app")]
    assert "KeyError: 'blob' (helpers.py:7)" in target["error"]
    assert "in an apply on an output of net (azure-native:network:VirtualNetwork)" in target["error"]
    assert err.startswith("error: tests/programs/foreign/half_way: the program failed: KeyError")


#: One program per status, with what each format must say about it.
STATUSES = [
    ("dry_run_guard", "clean", 0, "ok ", "✅ all stacks comply", "| clean |"),
    ("inherited_location", "violations", 1, "FAIL ", "❌ policy violations", "| violations |"),
    ("half_way", "incomplete", 2, "INCOMPLETE ", "⚠️ could not check 1 of 1", "| incomplete: could not check all |"),
    ("configured", "error", 2, "ERROR ", "⚠️ could not check 1 of 1", "| could not check |"),
]


@pytest.mark.parametrize(("program", "status", "code", "text", "heading", "row"), STATUSES)
def test_every_format_renders_each_status(
    program: str, status: str, code: int, text: str, heading: str, row: str
) -> None:
    got, out, _ = check(program, OutputFormat.JSON)
    document = json.loads(out)
    assert (got, document["targets"][0]["status"], document["summary"][status]) == (code, status, 1)
    assert document["summary"]["exit_code"] == code
    got, out, _ = check(program, OutputFormat.TEXT)
    assert got == code
    assert any(line.startswith(f"{text}tests/programs/foreign/{program} (region eu)") for line in out.splitlines())
    got, out, _ = check(program, OutputFormat.MARKDOWN)
    assert got == code
    assert out.splitlines()[0] == f"## autocloud check: {heading}"
    assert row in out
    if status in ("incomplete", "error"):
        assert "could not check" in out.lower()


def test_markdown_shows_violations_and_unchecked_targets_apart() -> None:
    _, out, _ = check("half_way", OutputFormat.MARKDOWN)
    assert "stopped part-way; what it declared before that was checked" in out
    assert "### Violations" in out and "`residency-resource-location`" in out


def test_a_missing_module_says_where_to_declare_it() -> None:
    code, out, _ = check("missing_module")
    target = target_of(out)
    assert (code, target["status"]) == (2, "error")
    assert "No module named 'pulumi_gcp' (__main__.py:3)" in target["error"]
    assert "declare it in requirements.txt or pyproject.toml" in target["error"]


def test_declared_dependencies_are_read_as_pulumi_install_would(tmp_path: Path) -> None:
    assert declared(FOREIGN / "configured") is None
    (tmp_path / "requirements.txt").write_text("pulumi>=3  # the SDK\n\npulumi-azure-native>=2,<3\n")
    found = declared(tmp_path)
    assert found is not None and found.requirements == ("pulumi>=3", "pulumi-azure-native>=2,<3")
    assert env_key(found.requirements) == env_key(tuple(reversed(found.requirements)))
    (tmp_path / "requirements.txt").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["pulumi>=3"]\n')
    assert declared(tmp_path) == Declared("pyproject.toml [project].dependencies", ("pulumi>=3",))
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    assert declared(tmp_path) == Declared("Pulumi.yaml runtime.options.virtualenv", (), (tmp_path / "venv").resolve())


def test_a_stack_file_under_the_programs_stack_config_dir(tmp_path: Path) -> None:
    program = tmp_path / "program"
    (program / "config").mkdir(parents=True)
    (program / "Pulumi.yaml").write_text("name: nested\nruntime: python\nstackConfigDir: config\n")
    (program / "__main__.py").write_text((CONFIGURED / "__main__.py").read_text())
    (program / "config" / "Pulumi.prod.yaml").write_text(
        "config:\n  nested:location: eastus\n  nested:adminPassword: x\n  nested:classification: c\n"
    )
    out = io.StringIO()
    assert run_check(["prod"], False, program, "eu", OutputFormat.JSON, out=out) == 1
    assert policies(target_of(out.getvalue())) == [("residency-resource-location", "app")]


def test_a_location_from_a_group_that_takes_the_providers_is_resolved() -> None:
    """`location=group.location` with the group's location left to `azure-native:location`: a
    preview knows it (azure-native fills it in when it checks the group), so the check judges it."""
    code, out, _ = check("location_from_group", given=ConfigInput(("azure-native:location=westeurope",)))
    assert (code, target_of(out)["violations"]) == (0, [])
    code, out, _ = check("location_from_group", given=ConfigInput(("azure-native:location=eastus",)))
    target = target_of(out)
    assert code == 1
    assert ("residency-resource-location", "appstore") in policies(target)
    redundancy = [v for v in target["violations"] if v["policy"] == "residency-storage-redundancy"]
    assert [v["detail"].split(",")[0] for v in redundancy] == ["sku.name 'Standard_GRS' replicates to 'westus'"]


def test_a_location_nobody_knows_yet_cannot_be_verified_and_is_never_outside() -> None:
    """No `azure-native:location`: the group has no location (refused: Azure's Check would refuse it
    too), and what takes the group's cannot be verified, never "outside" nor "not set"."""
    code, out, _ = check("location_from_group")
    target = target_of(out)
    assert code == 1
    mandatory = [(v["policy"], v["resource"]) for v in target["violations"] if v["enforcement"] == "mandatory"]
    assert mandatory == [("residency-resource-location", "app")]
    for name in ("appstore", "appnet"):
        found = [v for v in target["violations"] if v["resource"] == name]
        assert found and all(v["enforcement"] == "advisory" and "cannot verify" in v["detail"] for v in found)
    others = json.dumps([v for v in target["violations"] if v["resource"] != "app"])
    assert "outside" not in others and "not set" not in others
    assert "object at 0x" not in out and "pulumi.output" not in out


def test_an_invoke_on_a_resource_being_created_stays_unknown() -> None:
    """The kubeconfig invoke depends on the cluster, pending creation: unknown, as in a preview, so
    the program's base64 decoding never runs on a placeholder."""
    code, out, err = check("credentials_invoke")
    target = target_of(out)
    assert target["error"] is None and target["status"] in ("clean", "violations")
    assert err == "" and code in (0, 1)


def test_the_programs_own_packages_are_not_shadowed_by_the_checkers() -> None:
    """`components/` (a namespace package), `platform_model/` (one too), `policies/` and `autocloud/`
    (regular ones) of the program's own: imported as under `pulumi preview`, not the checker's."""
    code, out, err = check("own_packages")
    target = target_of(out)
    assert (code, err, target["status"], target["error"]) == (0, "", "clean", None)
    assert target["resources"] == 3


def test_a_poetry_program_installs_what_its_lock_pins(tmp_path: Path) -> None:
    """`pulumi install` with `toolchain: poetry` installs poetry.lock: its main dependencies and
    theirs, at the locked versions; the dev group (pytest and its Windows-only colorama) is not."""
    found = declared(FOREIGN / "poetry_pinned")
    assert found is not None and found.source == "poetry.lock"
    assert found.requirements == (
        "grpcio==1.66.2",
        "parver==0.5",
        "protobuf==4.25.5",
        "pulumi==3.136.1",
        "pulumi-azure-native==2.66.0",
        "pyyaml==6.0.2",
        "semver==2.13.0",
    )


def test_poetry_dependencies_without_a_lock_become_pip_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.10"\npulumi = "^3.100"\npulumi-azure-native = "~2.5"\n'
        'pulumi-random = "4.16.0"\nlocal = {path = "../lib"}\npydantic = {version = ">=2,<3", extras = ["email"]}\n'
        'anything = "*"\n'
    )
    found = declared(tmp_path)
    assert found == Declared(
        "pyproject.toml [tool.poetry.dependencies]",
        (
            "pulumi>=3.100,<4",
            "pulumi-azure-native>=2.5,<2.6",
            "pulumi-random==4.16.0",
            "pydantic[email]>=2,<3",
            "anything",
        ),
    )


def test_a_locked_dependency_keeps_its_environment_marker(tmp_path: Path) -> None:
    from autocloud.verification.check.program_env import locked_requirements

    lock = tmp_path / "poetry.lock"
    lock.write_text((FOREIGN / "poetry_pinned" / "poetry.lock").read_text())
    assert locked_requirements(lock, ["pytest"]) == ('colorama==0.4.6; sys_platform == "win32"', "pytest==8.3.3")
