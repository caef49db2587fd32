"""`autocloud report`: every shipped region, no violations; a violating program's report shows it;
HTML is autoescaped. The browser screenshot lives in tests/integration/test_report_browser.py."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from autocloud.verification import report as report_mod
from autocloud.verification.check.targets import resolve_targets
from autocloud.verification.report import (
    FlowStage,
    Placement,
    RegionReport,
    Report,
    build_report,
    render,
    report_command,
)
from platform_model.errors import ConfigError
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from platform_model.sizing import plan_for_profile
from platform_model.stack import resolve_stack
from policies.model import Violation

PROGRAMS = REPO_ROOT / "tests" / "programs"
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))
FLOW = ["Vehicles", "Provisioning", "Ingest", "Streaming", "Processing", "Vehicle state"]


@pytest.fixture(scope="module")
def shipped() -> Report:
    """All shipped stacks, run once under mocks (each stack is its own subprocess)."""
    return build_report(None)


@pytest.fixture(scope="module")
def violating() -> Report:
    return build_report(["azure-eu"], program_dir=PROGRAMS / "location_outside")


def test_every_shipped_stack_is_a_region_of_the_report(shipped: Report) -> None:
    assert [r.stack for r in shipped.regions] == STACKS
    assert {"azure-eu", "azure-us", "azure-cn"} <= set(STACKS)


def test_shipped_stacks_have_no_violations_and_nothing_outside(shipped: Report) -> None:
    for region in shipped.regions:
        assert region.error is None, region.error
        assert region.violations == [], [v.message for v in region.violations]
        assert region.resources, region.stack
        assert region.outside == 0, [p for p in region.resources if p.status in ("outside", "unset")]
        assert region.located > 0
    assert shipped.ok


def test_located_resources_carry_a_location_of_the_boundary(shipped: Report) -> None:
    for region in shipped.regions:
        for placed in region.resources:
            if placed.status == "inside" and region.target == "azure":
                assert placed.location in region.boundary, placed


def test_plan_is_the_sizing_plan_of_the_stacks_profile(shipped: Report) -> None:
    for region in shipped.regions:
        profile = resolve_stack(region.stack).profile
        assert region.plan == plan_for_profile(profile)


def test_each_azure_region_shows_its_monthly_cost_beside_the_plan(shipped: Report) -> None:
    """The same estimate `autocloud cost` prints, in one line per Azure region; none on the local target."""
    from autocloud.verification.cost import price_target, summary
    from platform_model.prices import price_table

    markdown = render(shipped, OutputFormat.MARKDOWN)
    for region in shipped.regions:
        if region.target != "azure":
            assert region.cost is None
            continue
        assert region.cost is not None and "per month" in region.cost
        assert f"Monthly cost: {region.cost}" in markdown
    cn = next(r for r in shipped.regions if r.stack == "azure-cn")
    [target] = resolve_targets(["azure-cn"], False, None, None, REPO_ROOT)
    assert cn.cost == summary(price_target(target, price_table()))
    assert "CNY" in cn.cost


def test_flow_runs_from_vehicle_to_state_store(shipped: Report) -> None:
    for region in shipped.regions:
        assert [s.title for s in region.flow] == FLOW
        assert region.plan is not None
        by_title = {s.title: s for s in region.flow}
        assert by_title["Ingest"].instances == region.plan.hubs
        assert by_title["Streaming"].instances == region.plan.namespaces
        for stage in region.flow[1:]:
            if stage.instances:
                assert stage.inside is True, (region.stack, stage)
        if region.target == "azure":
            assert [s.service for s in region.flow[1:]] == [
                "Device Provisioning Service",
                "IoT Hub",
                "Event Hubs",
                "AKS consumers",
                "Cosmos DB",
            ]
            assert all(s.instances >= 1 for s in region.flow)
            assert by_title["Ingest"].where == (region.primary,)


def test_rendered_reports_name_every_region_and_no_violation(shipped: Report) -> None:
    markdown = render(shipped, OutputFormat.MARKDOWN)
    html = render(shipped, OutputFormat.HTML)
    for region in shipped.regions:
        for text in (markdown, html):
            assert f"{region.stack}: region {region.region}" in text
            for location in region.boundary:
                assert location in text
        assert f"**{region.plan.scale_units if region.plan else '?'} scale unit(s)**" in markdown
    assert "✅ every region complies" in markdown
    assert "every region complies" in html
    assert "mandatory**" not in markdown
    assert "Device Provisioning Service → IoT Hub" in markdown
    assert markdown.count("No violations: every rule") == len(shipped.regions)


def test_violating_program_report_shows_the_violation(violating: Report) -> None:
    (region,) = violating.regions
    assert not violating.ok
    assert region.mandatory == 1
    assert {v.policy for v in region.violations} == {"residency-resource-location"}
    outside = [p for p in region.resources if p.status == "outside"]
    assert [(p.name, p.location, p.findings) for p in outside] == [("platform", "eastus", 1)]
    markdown = render(violating, OutputFormat.MARKDOWN)
    assert "❌ policy violations" in markdown
    assert re.search(r"\| \*\*mandatory\*\* \| `residency-resource-location` \| `platform` .*'eastus'", markdown)
    assert "| `platform` | resources:ResourceGroup | eastus | **no** | 1 |" in markdown
    html = render(violating, OutputFormat.HTML)
    assert "residency-resource-location" in html and "location &#39;eastus&#39; is outside" in html


def test_report_command_writes_the_file_and_exits_1_on_violations(tmp_path: Path) -> None:
    out = io.StringIO()
    code = report_command(
        OutputFormat.HTML, tmp_path / "r", ["azure-eu"], program_dir=PROGRAMS / "location_outside", echo=out
    )
    assert code == 1
    assert (tmp_path / "r" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "FAIL azure-eu (region eu)" in out.getvalue()
    assert f"report: {tmp_path / 'r' / 'report.html'}" in out.getvalue()


def test_report_command_refuses_an_unknown_stack_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Pulumi\.azure-mars\.yaml"):
        report_command(OutputFormat.MARKDOWN, tmp_path, ["azure-mars"], echo=io.StringIO())
    assert not any(tmp_path.iterdir())


def _hostile_report() -> Report:
    """A report whose strings look like markup, as a resource name or a policy message could."""
    evil = "<script>alert('x')</script> | pipe"
    violation = Violation(
        policy="residency-resource-location",
        enforcement="mandatory",
        urn=f"urn:pulumi:s::p::azure-native:resources:ResourceGroup::{evil}",
        type="azure-native:resources:ResourceGroup",
        message=f"[r] x (t): location {evil}",
    )
    region = RegionReport(
        stack="azure-eu",
        region="eu",
        cloud="public",
        target="azure",
        boundary=("westeurope",),
        primary="westeurope",
        secondary="northeurope",
        resources=[Placement(evil, "azure-native:resources:ResourceGroup", violation.urn, evil, "outside", 1)],
        violations=[violation],
        flow=[FlowStage("Vehicles", evil, 1, evil, (evil,), None)],
    )
    return Report([region], "now")


def test_html_is_autoescaped() -> None:
    html = render(_hostile_report(), OutputFormat.HTML)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_markdown_cells_stay_in_their_column() -> None:
    markdown = render(_hostile_report(), OutputFormat.MARKDOWN)
    row = next(line for line in markdown.splitlines() if line.startswith("| `<script>"))
    assert "\\| pipe" in row
    assert row.count(" | ") == 4, row


def test_templates_live_in_one_folder() -> None:
    names = sorted(p.name for p in report_mod.TEMPLATES.iterdir())
    assert names == ["report.html.j2", "report.md.j2"]


def test_a_program_that_fails_half_way_is_reported_incomplete_not_hidden(tmp_path: Path) -> None:
    out = io.StringIO()
    code = report_command(OutputFormat.MARKDOWN, tmp_path, ["azure-eu"], program_dir=PROGRAMS / "crash", echo=out)
    assert code == 1
    markdown = (tmp_path / "report.md").read_text()
    assert re.search(r"^> \*\*Incomplete:\*\* .*the program failed: RuntimeError", markdown, re.M)
    assert "`platform` (azure-native:resources:ResourceGroup)" in markdown
    assert re.search(r"^FAIL azure-eu \(region eu\): .*the program failed", out.getvalue(), re.M)
    html = render(build_report(["azure-eu"], program_dir=PROGRAMS / "crash"), OutputFormat.HTML)
    assert re.search(r"Incomplete, checked up to where the program stopped: .*the program failed", html)


def test_placements_follow_the_location_azure_native_applies() -> None:
    from policies.model import ProviderView, ResourceView, RuleContext

    ctx = RuleContext(region="eu", cloud="public", boundary=frozenset({"westeurope"}))
    provider = ProviderView("pulumi:providers:azure-native", "default", "urn:p", {"location": "westeurope"})
    group = "azure-native:resources:ResourceGroup"
    nsg = "azure-native:network:NetworkSecurityGroup"
    views = [
        ResourceView.of(group, {"location": "eastus"}, name="east"),
        ResourceView.of(group, {}, name="home", provider=provider),
        ResourceView.of(nsg, {"resourceGroupName": "east"}, name="in-east"),
        ResourceView.of(nsg, {"resourceGroupName": "home"}, name="in-home"),
        ResourceView.of(nsg, {"resourceGroupName": "someone-elses"}, name="elsewhere"),
    ]
    placed = {p.name: (p.location, p.status) for p in report_mod.placements(views, ctx, [])}
    assert placed == {
        "east": ("eastus", "outside"),
        "home": ("westeurope", "inside"),
        "in-east": ("eastus", "outside"),
        "in-home": ("westeurope", "inside"),
        "elsewhere": ("unknown before deployment", "unverified"),
    }
