"""RegionalMonitoring under mocks: the region's own workspace, and what each data-path resource sends to it."""

from __future__ import annotations

import pulumi
import pytest

from autocloud.verification.check.runner import arm_id
from components.contracts import RegionalPlatformArgs
from components.monitoring import (
    DATA_PATH_LOGS,
    DIAGNOSTIC_SETTING_NAME,
    RegionalMonitoring,
    RegionalMonitoringArgs,
)
from components.placement import AzurePlacement
from components.platform import RegionalPlatform
from platform_model.profiles import Monitoring, load_profile
from platform_model.sizing import plan_for_profile
from tests.conftest import SUBSCRIPTION, PulumiHarness, Recorded

TAGS = {"region": "eu", "data-classification": "vehicle-data", "data-residency": "eu"}
HUB_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Devices/IotHubs/hub1"
WORKSPACE = "azure-native:operationalinsights:Workspace"
SETTING = "azure-native:monitor:DiagnosticSetting"
DATA_PATH = {
    "azure-native:iothub:IotHubResource": "iothub",
    "azure-native:deviceprovisioningservices:IotDpsResource": "dps",
    "azure-native:eventhub:Namespace": "eventhubs",
    "azure-native:cosmosdb:DatabaseAccount": "cosmosdb",
}


def monitoring(location: str = "westeurope", retention: int = 30) -> RegionalMonitoring:
    placement = AzurePlacement("rg", location, "public", TAGS)
    return RegionalMonitoring(
        "eu-monitoring", RegionalMonitoringArgs(placement, Monitoring(log_retention_days=retention))
    )


def test_workspace_in_the_primary_location_with_the_profiles_retention(pulumi_harness: PulumiHarness) -> None:
    mocks = pulumi_harness.start()
    built = pulumi_harness.run(lambda: monitoring("northeurope", retention=90))

    workspace = mocks.one(WORKSPACE)
    assert workspace.name == "eu-monitoring-logs"
    assert workspace.inputs["location"] == "northeurope" == built.location
    assert workspace.inputs["retentionInDays"] == 90
    assert workspace.inputs["sku"] == {"name": "PerGB2018"}
    assert workspace.inputs["features"]["disableLocalAuth"] is True
    assert workspace.inputs["tags"] == TAGS
    assert pulumi_harness.value(built.workspace_id).endswith("/eu-monitoring-logs")
    assert mocks.of_type(SETTING) == []


@pytest.mark.parametrize("kind", sorted(DATA_PATH_LOGS))
def test_diagnose_sends_the_kinds_logs_to_the_workspace(pulumi_harness: PulumiHarness, kind: str) -> None:
    mocks = pulumi_harness.start()

    def program() -> RegionalMonitoring:
        built = monitoring()
        built.diagnose("telemetry-1", HUB_ID, kind)  # type: ignore[arg-type]
        return built

    built = pulumi_harness.run(program)
    setting = mocks.one(SETTING)
    assert setting.name == "eu-monitoring-telemetry-1"
    assert setting.inputs["name"] == DIAGNOSTIC_SETTING_NAME
    assert setting.inputs["resourceUri"] == HUB_ID
    assert setting.inputs["workspaceId"] == pulumi_harness.value(built.workspace_id)
    selection = DATA_PATH_LOGS[kind]  # type: ignore[index]
    logs = setting.inputs["logs"]
    assert [log["categoryGroup"] for log in logs if "categoryGroup" in log] == list(selection.category_groups)
    assert [log["category"] for log in logs if "category" in log] == list(selection.categories)
    assert all(log["enabled"] is True for log in logs) and logs
    metrics = setting.inputs.get("metrics") or []
    assert metrics == ([{"category": "AllMetrics", "enabled": True}] if selection.all_metrics else [])
    assert setting.inputs.get("logAnalyticsDestinationType") == ("Dedicated" if selection.resource_specific else None)


def test_data_path_choices() -> None:
    """allLogs where the type has category groups; Cosmos DB per-request logs left out (one record per
    vehicle write) for the 5-minute aggregate, which needs resource-specific tables; no Cosmos DB metrics
    (none is exportable)."""
    for kind in ("iothub", "dps", "eventhubs"):
        assert DATA_PATH_LOGS[kind].category_groups == ("allLogs",) and DATA_PATH_LOGS[kind].all_metrics
    cosmos = DATA_PATH_LOGS["cosmosdb"]
    assert "DataPlaneRequests" not in cosmos.categories and "DataPlaneRequests5M" in cosmos.categories
    assert cosmos.category_groups == () and cosmos.resource_specific and not cosmos.all_metrics


def _settings_by_target(mocks_resources: list[Recorded]) -> dict[str, list[Recorded]]:
    found: dict[str, list[Recorded]] = {}
    for setting in (r for r in mocks_resources if r.type == SETTING):
        found.setdefault(setting.inputs["resourceUri"], []).append(setting)
    return found


def test_two_regions_in_one_program_each_log_to_their_own_workspace(pulumi_harness: PulumiHarness) -> None:
    """No diagnostic setting of one region points at another region's workspace, even with both in one program."""
    mocks = pulumi_harness.start()
    profiles = [load_profile("eu"), load_profile("us")]

    def program() -> None:
        for profile in profiles:
            RegionalPlatform(profile.name, RegionalPlatformArgs(profile, plan_for_profile(profile)))

    pulumi_harness.run(program)
    workspaces = {arm_id(w.type, w.name, w.inputs): w for w in mocks.of_type(WORKSPACE) if "monitoring" in w.name}
    assert len(workspaces) == 2
    by_target = _settings_by_target(mocks.resources)
    for profile in profiles:
        targets = [r for r in mocks.resources if r.type in DATA_PATH and r.name.startswith(f"{profile.name}-")]
        assert targets
        for target in targets:
            settings = by_target[arm_id(target.type, target.name, target.inputs)]
            assert len(settings) == 1, target.name
            workspace = workspaces[settings[0].inputs["workspaceId"]]
            assert workspace.name == f"{profile.name}-monitoring-logs", (target.name, workspace.name)
            assert workspace.inputs["location"] == target.inputs["location"] == profile.primary


def test_platform_without_streaming_still_diagnoses_every_hub(pulumi_harness: PulumiHarness) -> None:
    profile = load_profile("eu")
    services = profile.services.model_copy(update={"eventhubs": False, "cosmosdb": False})
    profile = profile.model_copy(update={"services": services})
    mocks = pulumi_harness.start()
    pulumi_harness.run(lambda: RegionalPlatform("eu", RegionalPlatformArgs(profile, plan_for_profile(profile))))
    hubs = mocks.of_type("azure-native:iothub:IotHubResource")
    by_target = _settings_by_target(mocks.resources)
    assert hubs and all(len(by_target[arm_id(h.type, h.name, h.inputs)]) == 1 for h in hubs)
    assert len(mocks.of_type(SETTING)) == len(hubs) + 1  # the hubs and DPS


def test_china_region_logs_through_the_china_provider(pulumi_harness: PulumiHarness) -> None:
    profile = load_profile("cn")
    mocks = pulumi_harness.start("azure-cn")

    def program() -> None:
        provider = pulumi.ProviderResource("azure-native", "china", {"environment": "china"})
        RegionalPlatform(
            "cn", RegionalPlatformArgs(profile, plan_for_profile(profile)), pulumi.ResourceOptions(providers=[provider])
        )

    pulumi_harness.run(program)
    workspace = next(w for w in mocks.of_type(WORKSPACE) if w.name == "cn-monitoring-logs")
    assert workspace.inputs["location"] == "chinanorth3"
    settings = mocks.of_type(SETTING)
    assert settings and all("::china::" in r.provider for r in [*settings, workspace])
