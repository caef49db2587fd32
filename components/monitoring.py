"""Monitoring on Azure: the region's own Log Analytics workspace, and the data path's resource logs in it.

Why: resource logs are not collected at all until a diagnostic setting routes them ("Resource logs |
Aren't collected by default. Create a diagnostic setting to collect resource logs":
https://learn.microsoft.com/azure/azure-monitor/platform/diagnostic-settings). Without one, a dead
routing endpoint, refused vehicle connections, failed DPS attestations, capture errors or Cosmos DB
throttling leave nothing anyone can query.

Residency: a diagnostic setting may send to a workspace in any region (the same-region requirement on
that page binds storage accounts and event hubs, not workspaces), so each setting here names the
region's own workspace, placed in the profile's primary location, and the residency pack checks it
(``residency-diagnostic-setting-destination``).

Azure China has both pieces: Log Analytics workspaces
(https://docs.azure.cn/azure-monitor/logs/data-retention-configure) and diagnostic settings with a
workspace destination (https://docs.azure.cn/azure-monitor/essentials/diagnostic-settings), with the same
log categories for each resource type used here (docs.azure.cn/azure-monitor/reference/supported-logs/,
pages microsoft-devices-iothubs-logs, microsoft-devices-provisioningservices-logs,
microsoft-documentdb-databaseaccounts-logs). The China provider reaches this component through ``parent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_azure_native as azure_native

from components.placement import AzurePlacement
from platform_model.profiles import Monitoring

DataPathKind = Literal["iothub", "dps", "eventhubs", "cosmosdb"]
"""The resource types on a vehicle message's way to vehicle state that get a diagnostic setting."""

DIAGNOSTIC_SETTING_NAME = "region-workspace"
"""The setting's Azure name on each resource (a resource holds at most five settings)."""
ALL_LOGS = "allLogs"
"""The category group holding every log category of a resource type; "If the categories in the group are
updated, your log collection is modified automatically" (diagnostic-settings, "Category groups")."""
ALL_METRICS = "AllMetrics"
"""The only metric category diagnostic settings accept for these types ("Metric categories other than
`AllMetrics` aren't supported, except for a limited number of Azure services": diagnostic-settings)."""
WORKSPACE_SKU = "PerGB2018"
"""Pay-as-you-go per GB ingested (https://azure.microsoft.com/pricing/details/monitor/)."""


@dataclass(frozen=True)
class LogSelection:
    """What one resource type sends to the workspace."""

    category_groups: tuple[str, ...] = ()
    """Optional, default none. Category groups, where the type supports them."""
    categories: tuple[str, ...] = ()
    """Optional, default none. Single categories, where a group would collect too much."""
    all_metrics: bool = False
    """Optional, default False. Send ``AllMetrics`` too: only where the type's metrics are exportable."""
    resource_specific: bool = False
    """Optional, default False (the shared ``AzureDiagnostics`` table). True: one table per category
    (``logAnalyticsDestinationType: Dedicated``), where the service writes such tables."""


DATA_PATH_LOGS: Mapping[DataPathKind, LogSelection] = {
    # IoT Hub: allLogs (built-in allLogs policy exists for microsoft.devices/iothubs: "Supported resources",
    # https://learn.microsoft.com/azure/azure-monitor/platform/diagnostic-settings-policy-built-in). It holds
    # Routes ("errors that occur during message route evaluation and endpoint health as perceived by IoT
    # Hub"), Connections ("device connect and disconnect events ... and errors") and DeviceTelemetry
    # ("errors that occur at the IoT hub and are related to the telemetry pipeline", such as throttling);
    # "Events are emitted only for errors in some categories"
    # (https://learn.microsoft.com/azure/iot-hub/monitor-iot-hub-reference). Its logs land in AzureDiagnostics
    # (supported-logs/microsoft-devices-iothubs-logs, "Log table"). Metrics are exportable except the two
    # device-count snapshots ("Total devices and Connected devices aren't exportable via diagnostic
    # settings": monitor-iot-hub-reference), so routing delivery/drop counts reach the workspace.
    "iothub": LogSelection(category_groups=(ALL_LOGS,), all_metrics=True),
    # DPS: allLogs (built-in allLogs policy for microsoft.devices/provisioningservices, same page) =
    # DeviceOperations and ServiceOperations, in AzureDiagnostics
    # (https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/microsoft-devices-provisioningservices-logs).
    # AttestationAttempts, DeviceAssignments and RegistrationAttempts are "DS Export: Yes"
    # (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-devices-provisioningservices-metrics).
    "dps": LogSelection(category_groups=(ALL_LOGS,), all_metrics=True),
    # Event Hubs: allLogs (built-in allLogs policy for microsoft.eventhub/namespaces, same page): capture
    # errors (ArchiveLogs), operational, Kafka coordinator and user-error, VNet connection and diagnostic
    # error logs; runtime audit and application metrics logs exist only in Premium and Dedicated. The
    # service writes resource-specific AZMS* tables ("dispatch logs to either of two destination tables:
    # Azure Diagnostic or Resource specific tables":
    # https://learn.microsoft.com/azure/event-hubs/monitor-event-hubs-reference). Incoming/outgoing messages
    # and bytes are "DS Export: Yes"
    # (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-eventhub-namespaces-metrics).
    "eventhubs": LogSelection(category_groups=(ALL_LOGS,), all_metrics=True, resource_specific=True),
    # Cosmos DB supports allLogs too (microsoft.documentdb/databaseaccounts on the built-in policy page), but
    # allLogs includes DataPlaneRequests, one record per request: every vehicle message's write. The aggregated
    # categories summarise it per 5 minutes ("up to 95% reduction in logging costs"; "avoid selecting the
    # classic DataPlaneRequests category unless you explicitly need per-request detailed logs";
    # they need "Table format: Resource-specific": https://learn.microsoft.com/azure/cosmos-db/monitor-aggregated-logs,
    # a preview feature). So explicit categories: DataPlaneRequests5M (latency, RU charge, status codes of
    # the writes) and ControlPlaneRequests (failover, network and role changes), both listed for the type in
    # the public cloud and Azure China
    # (https://docs.azure.cn/zh-cn/azure-monitor/reference/supported-logs/microsoft-documentdb-databaseaccounts-logs).
    # No AllMetrics: every Cosmos DB metric is "DS Export: No"
    # (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-documentdb-databaseaccounts-metrics);
    # they stay in Azure Monitor Metrics, collected without configuration.
    "cosmosdb": LogSelection(categories=("DataPlaneRequests5M", "ControlPlaneRequests"), resource_specific=True),
}


@dataclass(frozen=True)
class RegionalMonitoringArgs:
    """The region's Log Analytics workspace."""

    placement: AzurePlacement
    """Required. Resource group, location (the profile's primary: logs stay in the region), cloud, tags."""
    settings: Monitoring = field(default_factory=Monitoring)
    """Optional, default the profile model's defaults. ``log_retention_days`` from the region profile."""


class RegionalMonitoring(pulumi.ComponentResource):
    """One Log Analytics workspace per region and the diagnostic settings that fill it.

    Call :meth:`diagnose` once per data-path resource, after the component holding it is built. The
    workspace takes Entra ID only (no shared keys); queries stay open to Azure RBAC, since closing them
    needs an Azure Monitor Private Link Scope (https://learn.microsoft.com/azure/azure-monitor/logs/private-link-security).
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    """The workspace's ARM id: every diagnostic setting's ``workspaceId``."""
    customer_id: pulumi.Output[str]
    """The workspace GUID that log queries (``az monitor log-analytics query -w``) take."""
    location: str

    def __init__(self, name: str, args: RegionalMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:monitoring:RegionalMonitoring", name, None, opts)
        placement = args.placement
        self._prefix = name
        self.location = placement.location

        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": WORKSPACE_SKU},
            retention_in_days=args.settings.log_retention_days,
            features={"disable_local_auth": True},
            public_network_access_for_ingestion="Enabled",
            public_network_access_for_query="Enabled",
            tags=dict(placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.name = workspace.name
        self.resource_id = workspace.id
        self.workspace_id = workspace.id
        self.customer_id = workspace.customer_id
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "workspace_id": self.workspace_id,
                "customer_id": self.customer_id,
                "location": self.location,
            }
        )

    def diagnose(
        self, part: str, resource_id: pulumi.Input[str], kind: DataPathKind
    ) -> azure_native.monitor.DiagnosticSetting:
        """Send ``kind``'s data-path logs (``DATA_PATH_LOGS``) of the resource ``resource_id`` to this
        region's workspace. ``part`` names the child (``f"{name}-{part}"``), e.g. ``telemetry-1``."""
        selection = DATA_PATH_LOGS[kind]
        logs: list[azure_native.monitor.DiagnosticsLogSettingsArgsDict] = [
            {"category_group": group, "enabled": True} for group in selection.category_groups
        ]
        logs += [{"category": category, "enabled": True} for category in selection.categories]
        metrics: list[azure_native.monitor.DiagnosticsMetricSettingsArgsDict] = (
            [{"category": ALL_METRICS, "enabled": True}] if selection.all_metrics else []
        )
        return azure_native.monitor.DiagnosticSetting(
            f"{self._prefix}-{part}",
            name=DIAGNOSTIC_SETTING_NAME,
            resource_uri=resource_id,
            workspace_id=self.workspace_id,
            logs=logs,
            metrics=metrics or None,
            log_analytics_destination_type="Dedicated" if selection.resource_specific else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
