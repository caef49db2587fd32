"""The local target: every capability on any Kubernetes cluster, behind the Azure target's outputs.

The program creates the provider (:func:`kubernetes_provider`) and one :class:`LocalRegionalPlatform`
per stack; type tokens are ``autocloud:local:<Capability>``, so a stack's URNs say which target
built it.
"""

from components.local.compute import LocalComputeCluster, LocalComputeClusterArgs, NamespaceQuota
from components.local.kube import LocalPlacement
from components.local.maps import LocalMapsService, LocalMapsServiceArgs
from components.local.platform import MAX_LOCAL_SCALE_UNITS, LocalRegionalPlatform, local_scale_units
from components.local.provider import kubernetes_provider
from components.local.state import LocalVehicleStateStore, LocalVehicleStateStoreArgs, StateStream
from components.local.streaming import LocalEventStreaming, LocalEventStreamingArgs
from components.local.telemetry import KafkaRoute, LocalTelemetryIngest, LocalTelemetryIngestArgs

__all__ = [
    "MAX_LOCAL_SCALE_UNITS",
    "KafkaRoute",
    "LocalComputeCluster",
    "LocalComputeClusterArgs",
    "LocalEventStreaming",
    "LocalEventStreamingArgs",
    "LocalMapsService",
    "LocalMapsServiceArgs",
    "LocalPlacement",
    "LocalRegionalPlatform",
    "LocalTelemetryIngest",
    "LocalTelemetryIngestArgs",
    "LocalVehicleStateStore",
    "LocalVehicleStateStoreArgs",
    "NamespaceQuota",
    "StateStream",
    "kubernetes_provider",
    "local_scale_units",
]
