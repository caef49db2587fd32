"""Compute on the local target: the region's namespace, fenced by a quota, limits and NetworkPolicies.

Where Azure gives a region its own AKS cluster, the local target gives it a namespace on a shared
cluster. Residency then rests on the NetworkPolicies: everything is denied, then traffic between
pods of the same namespace and DNS lookups in kube-system are allowed, and nothing else. No
Service may be a NodePort or LoadBalancer (the quota allows none), so nothing is exposed off-cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.contracts import ComputeEndpoints
from components.local.kube import OWNED_LABELS, ContainerResources
from platform_model.vocabulary import REGION_LABEL

IN_CLUSTER_API_SERVER = "https://kubernetes.default.svc"
"""How workloads reach the API server: the local counterpart of AKS's private API server FQDN."""
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Label the API server sets on every namespace to its name (immutable, so safe to select on)."""
POD_SECURITY_LABELS = {
    # Enforce "baseline" (an image that does not say which user it runs as may need root at start);
    # warn and audit "restricted", which every other workload meets.
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
DEFAULT_REQUEST = ContainerResources(50, 64, 500, 512)
"""LimitRange defaults for a container that states no resources (ours all do)."""
MAX_CONTAINER = {"cpu": "2", "memory": "4Gi"}


@dataclass(frozen=True)
class NamespaceQuota:
    """What the region's namespace may hold in total (its ResourceQuota)."""

    resources: ContainerResources
    """Required. Total requests and limits of all pods."""
    pods: int
    """Required. Pod count."""
    services: int
    """Required. ClusterIP services (NodePort and LoadBalancer are always zero)."""
    config_maps: int
    """Required. ConfigMaps, the API server's own ``kube-root-ca.crt`` included."""
    secrets: int
    """Required. Secrets."""
    volume_claims: int = 0
    """Optional, default 0. PersistentVolumeClaims (the brokers' logs and the stores' data)."""

    def hard(self) -> dict[str, str]:
        totals = self.resources
        return {
            "requests.cpu": f"{totals.cpu_request_m}m",
            "requests.memory": f"{totals.memory_request_mi}Mi",
            "limits.cpu": f"{totals.cpu_limit_m}m",
            "limits.memory": f"{totals.memory_limit_mi}Mi",
            "pods": str(self.pods),
            "services": str(self.services),
            "services.nodeports": "0",
            "services.loadbalancers": "0",
            "configmaps": str(self.config_maps),
            "secrets": str(self.secrets),
            "persistentvolumeclaims": str(self.volume_claims),
        }


@dataclass(frozen=True)
class LocalComputeClusterArgs:
    """The region's namespace."""

    namespace: str
    """Required. Namespace name (``RegionalPlatformArgs.local_namespace``, default ``autocloud-<region>``)."""
    region: str
    """Required. Region profile name; the namespace's ``autocloud.io/region`` label."""
    location: str
    """Required. The profile's primary (reported, not used by Kubernetes)."""
    labels: Mapping[str, str]
    """Required. ``region_labels(profile)``."""
    quota: NamespaceQuota
    """Required. Totals of every workload the platform puts in the namespace, with room to roll."""


class LocalComputeCluster(pulumi.ComponentResource):
    """A Namespace labelled with its region, with ResourceQuota, LimitRange and NetworkPolicies.

    Workloads depend on this component (so on all its children): the deny-by-default policies and the
    quota exist before the first pod is scheduled.
    """

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    namespace: str
    endpoints: pulumi.Output[ComputeEndpoints]

    def __init__(self, name: str, args: LocalComputeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:ComputeCluster", name, None, opts)
        self.location = args.location
        self.namespace = args.namespace
        labels = {**args.labels, REGION_LABEL: args.region, **OWNED_LABELS}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace, "labels": labels | POD_SECURITY_LABELS},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._build_guards(name, args, labels, pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        self.name = namespace.metadata.apply(lambda m: m.name or args.namespace)
        self.resource_id = namespace.id
        self.endpoints = pulumi.Output.from_input(ComputeEndpoints(api_server=IN_CLUSTER_API_SERVER))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "namespace": self.namespace,
                "endpoints": self.endpoints,
            }
        )

    def _build_guards(
        self, name: str, args: LocalComputeClusterArgs, labels: dict[str, str], after: pulumi.ResourceOptions
    ) -> None:
        """The namespace's quota, default container limits and deny-by-default NetworkPolicies."""

        def metadata(object_name: str) -> dict[str, Any]:
            return {"name": object_name, "namespace": args.namespace, "labels": labels}

        k8s.core.v1.ResourceQuota(
            f"{name}-quota", metadata=metadata("region-quota"), spec={"hard": args.quota.hard()}, opts=after
        )
        default = DEFAULT_REQUEST.requirements()
        limits = {"type": "Container", "defaultRequest": default["requests"], "default": default["limits"]}
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata("region-limits"),
            spec={"limits": [limits | {"max": MAX_CONTAINER}]},
            opts=after,
        )
        for policy_name, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}", metadata=metadata(policy_name), spec=spec, opts=after
            )


def network_policies() -> dict[str, dict[str, Any]]:
    """Deny everything, then allow the namespace to itself and DNS in kube-system, nothing else.

    A peer with only a ``podSelector`` means "pods of this namespace"; the DNS peer names kube-system
    by its immutable ``kubernetes.io/metadata.name`` label, never by an empty namespaceSelector
    (which would select every namespace, other regions' included).
    """
    every_pod: dict[str, Any] = {}
    dns_peer = {
        "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}},
        "podSelector": {"matchLabels": DNS_POD_LABELS},
    }
    return {
        "default-deny": {"podSelector": every_pod, "policyTypes": ["Ingress", "Egress"]},
        "allow-same-namespace": {
            "podSelector": every_pod,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": every_pod}]}],
            "egress": [{"to": [{"podSelector": every_pod}]}],
        },
        "allow-dns": {
            "podSelector": every_pod,
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [dns_peer],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    }
