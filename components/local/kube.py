"""What every local component shares: where it goes, how it is labelled, and how a workload is applied.

A local workload is a ServiceAccount, a Deployment and a ClusterIP Service with one name, inside the
region's namespace, rendered by ``components.workloads`` (the same renderer the Azure target delivers
through GitOps) and applied here as pulumi_kubernetes resources. Names are explicit (never autonamed) so
an interrupted ``up`` that is run again finds the same objects (server-side apply adopts them) instead
of leaving randomly named copies. The neutral names are re-exported for the local components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import workloads
from components.workloads import (
    COMPONENT_LABEL,
    CONFIG_HASH_ANNOTATION,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    NO_RESOURCES,
    OWNED_LABELS,
    PART_OF_LABEL,
    ContainerResources,
    HttpProbe,
    Mount,
    Workload,
    config_hash,
    object_labels,
)
from platform_model.local_images import REGISTRY

__all__ = [
    "COMPONENT_LABEL",
    "CONFIG_HASH_ANNOTATION",
    "INSTANCE_LABEL",
    "MANAGED_BY_LABEL",
    "NAME_LABEL",
    "NO_RESOURCES",
    "OWNED_LABELS",
    "PART_OF_LABEL",
    "SIMULATED_NODE_KEY",
    "ContainerResources",
    "DeployedWorkload",
    "HttpProbe",
    "LocalPlacement",
    "Mount",
    "Workload",
    "config_hash",
    "data_claim",
    "deploy_claim",
    "deploy_config",
    "deploy_workload",
    "pod_spec",
    "service_host",
]


SIMULATED_NODE_KEY = "autocloud.io/node"
"""Label and taint key of the embedded cluster's simulated (KWOK) node."""


def service_host(service: str, namespace: str) -> str:
    """A Service's cluster DNS name: what the device endpoints' server certificate names."""
    return f"{service}.{namespace}.svc.cluster.local"


@dataclass(frozen=True)
class LocalPlacement:
    """Where a local component goes: its region's namespace, made by LocalComputeCluster."""

    namespace: str
    """Required. The region namespace's name, a plain string: DNS names and policies read it at preview."""
    region: str
    """Required. The region profile's name."""
    location: str
    """Required. The profile's primary, reported as ``location`` so both targets read alike."""
    labels: Mapping[str, str]
    """Required. ``region_labels(profile)``: the region labels every object carries."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Optional, default none. The namespace with its quota, limits and NetworkPolicies: nothing runs
    before the deny-by-default policies exist."""
    simulate_unbuilt_images: bool = False
    """Optional, default False. On the embedded cluster, workloads whose image is not built here
    (no registry is reachable) go to its simulated node instead of failing to pull on the real one."""

    def node_placement(self, image: pulumi.Input[str]) -> dict[str, Any]:
        """Pod spec fields that send a workload with an unbuilt image to the simulated node."""
        if not self.simulate_unbuilt_images or (isinstance(image, str) and image.startswith(f"{REGISTRY}/")):
            return {}
        return {
            "nodeSelector": {SIMULATED_NODE_KEY: "simulated"},
            "tolerations": [
                {"key": SIMULATED_NODE_KEY, "operator": "Equal", "value": "simulated", "effect": "NoSchedule"}
            ],
        }

    def host(self, service: str) -> str:
        """The in-namespace DNS name of one of this region's services."""
        return service_host(service, self.namespace)

    def object_labels(self, name: str, app: str, component: str) -> dict[str, str]:
        """Recommended ``app.kubernetes.io`` labels plus the region labels."""
        return object_labels(self.labels, name, app, component)


@dataclass(frozen=True)
class DeployedWorkload:
    """What :func:`deploy_workload` made."""

    account: k8s.core.v1.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    host: str
    """In-namespace DNS name of the Service."""
    port: int


def pod_spec(workload: Workload, placement: LocalPlacement | None = None) -> dict[str, Any]:
    """:func:`components.workloads.pod_spec` with the local placement's node fields."""
    return workloads.pod_spec(workload, placement.node_placement(workload.image) if placement else None)


def deploy_config(
    name: str, parent: pulumi.Resource, placement: LocalPlacement, workload: Workload, data: Mapping[str, str]
) -> k8s.core.v1.ConfigMap:
    """The ConfigMap ``workload`` mounts, named and labelled as the workload: pass it to
    :func:`deploy_workload` in ``depends_on`` so the pods never start without it."""
    return k8s.core.v1.ConfigMap(
        name,
        metadata={
            "name": workload.name,
            "namespace": placement.namespace,
            "labels": placement.object_labels(workload.name, workload.app, workload.component),
        },
        data=data,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(placement.depends_on)),
    )


def data_claim(workload_name: str) -> dict[str, Any]:
    """The volume source of a workload's data claim (:func:`deploy_claim` makes the claim)."""
    return {"persistentVolumeClaim": {"claimName": f"{workload_name}-data"}}


def deploy_claim(
    name: str, parent: pulumi.Resource, placement: LocalPlacement, workload: Workload, size: str
) -> k8s.core.v1.PersistentVolumeClaim:
    """The PersistentVolumeClaim ``<workload>-data`` (:func:`data_claim`) of the cluster's default
    StorageClass: data that outlives the pod, a node restart and a cluster stop and start. On the embedded
    cluster the default class keeps it in a folder under the cluster's own
    (``autocloud.runtime.cluster.volumes``); any other cluster gives its own default class. Pass the claim
    to :func:`deploy_workload` in ``depends_on``."""
    return k8s.core.v1.PersistentVolumeClaim(
        name,
        metadata={
            "name": data_claim(workload.name)["persistentVolumeClaim"]["claimName"],
            "namespace": placement.namespace,
            "labels": placement.object_labels(workload.name, workload.app, workload.component),
        },
        spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(placement.depends_on)),
    )


def deploy_workload(
    name: str,
    parent: pulumi.Resource,
    placement: LocalPlacement,
    workload: Workload,
    depends_on: Sequence[pulumi.Resource] = (),
) -> DeployedWorkload:
    """The ServiceAccount, Deployment and Service of ``workload``; Pulumi names start with ``name``.

    The manifests come from :func:`components.workloads.render_workload`; the Pulumi names and object
    names are the ones local stacks have always had, so nothing is replaced.
    """
    account, deployment_manifest, service_manifest = workloads.render_workload(
        workload, placement.namespace, placement.labels, placement.node_placement(workload.image)
    )
    after = [*placement.depends_on, *depends_on]

    account_resource = k8s.core.v1.ServiceAccount(
        f"{name}-account",
        metadata=account["metadata"],
        automount_service_account_token=account["automountServiceAccountToken"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    deployment = k8s.apps.v1.Deployment(
        f"{name}-deployment",
        metadata=deployment_manifest["metadata"],
        spec=deployment_manifest["spec"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, account_resource]),
    )
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=service_manifest["metadata"],
        spec=service_manifest["spec"],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    return DeployedWorkload(account_resource, deployment, service, placement.host(workload.name), workload.port)
