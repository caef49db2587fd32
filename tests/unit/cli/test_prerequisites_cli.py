"""`autocloud prerequisites STACK`: the first-apply checklist of an azure stack, text or JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autocloud.cli import app
from platform_model.prerequisites import first_apply
from platform_model.stack import resolve_stack

runner = CliRunner()


def test_text_lists_providers_roles_quotas_and_region_access() -> None:
    result = runner.invoke(app, ["prerequisites", "azure-us"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "az cloud set --name AzureCloud" in out
    assert "az provider register --namespace Microsoft.KubernetesConfiguration" in out
    assert "one of Owner, User Access Administrator, Role Based Access Control Administrator" in out
    resolved = resolve_stack("azure-us")
    needs = first_apply(resolved.profile, resolved.plan)
    assert f"Standard DSv5 Family vCPUs in eastus2: {needs.quotas[0].needed}" in out
    assert "eastus2: Cosmos DB zone redundancy" in out and "centralus: Cosmos DB zone redundancy" in out


def test_json_is_the_computation_for_the_stack() -> None:
    result = runner.invoke(app, ["prerequisites", "azure-cn", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    resolved = resolve_stack("azure-cn")
    expected = {"stack": "azure-cn", **first_apply(resolved.profile, resolved.plan).to_dict()}
    assert doc == json.loads(json.dumps(expected))
    assert doc["az_cloud"] == "AzureChinaCloud"
    assert "Microsoft.Maps" not in [p["namespace"] for p in doc["providers"]]


def test_unknown_stack_is_one_line_naming_it() -> None:
    result = runner.invoke(app, ["prerequisites", "azure-mars"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: prerequisites: no stack 'azure-mars' in stacks/ (one of azure-")
    assert "azure-cn, azure-eu" in lines[0]


def test_a_local_stack_is_refused() -> None:
    result = runner.invoke(app, ["prerequisites", "local-eu"])
    assert result.exit_code == 2
    assert "stack 'local-eu' targets the local cluster" in result.output


def test_format_outside_text_and_json_is_a_usage_error() -> None:
    result = runner.invoke(app, ["prerequisites", "azure-eu", "--format", "markdown"])
    assert result.exit_code == 2
    assert "--format" in result.output
