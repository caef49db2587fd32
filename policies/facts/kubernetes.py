"""Kubernetes facts the residency rules share: type tokens and which namespace belongs to which region.

A namespace's region is its `autocloud.io/region` label when this stack declares it; otherwise the
naming convention `<prefix>-<region>` (e.g. `autocloud-us`) identifies another region's namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from policies.facts.props import known, mappings
from policies.model import ResourceView, RuleContext

NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

#: Workload type -> where its pod spec lives.
POD_SPECS: Mapping[str, str] = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
}

#: `<service>.<namespace>.svc[.cluster.local]`: the in-cluster DNS name of another namespace's service.
SERVICE_DNS = re.compile(r"(?i)\b[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.svc\b")


def is_kubernetes(view: ResourceView) -> bool:
    return view.type.startswith("kubernetes:")


def object_name(view: ResourceView) -> str:
    """`metadata.name`, or the logical name Pulumi autonames from."""
    name = known(view.props, "metadata.name")
    return name if isinstance(name, str) and name else view.name


def label(view: ResourceView, key: str) -> Any:
    """One metadata label (keys contain dots, so not a dotted-path lookup)."""
    labels = known(view.props, "metadata.labels")
    return labels.get(key) if isinstance(labels, Mapping) else None


def namespace_of(view: ResourceView) -> str | None:
    namespace = known(view.props, "metadata.namespace")
    return namespace if isinstance(namespace, str) and namespace else None


def named_region(namespace: str, known_regions: Iterable[str]) -> str | None:
    """The region a namespace's name claims by convention (`us`, `autocloud-us`), if any."""
    known = set(known_regions)
    for candidate in (namespace, namespace.rsplit("-", 1)[-1]):
        if candidate in known:
            return candidate
    return None


class Namespaces:
    """Which region each namespace belongs to, as far as this stack can tell."""

    def __init__(self, resources: Iterable[ResourceView], ctx: RuleContext) -> None:
        self._ctx = ctx
        self._declared: dict[str, str | None] = {}
        for view in resources:
            if view.type == NAMESPACE:
                region = label(view, ctx.region_label)
                self._declared[object_name(view)] = region if isinstance(region, str) else None

    def region_of(self, namespace: str) -> str | None:
        if namespace in self._declared:
            return self._declared[namespace]
        return named_region(namespace, self._ctx.known_regions)

    def is_foreign(self, namespace: str) -> bool:
        region = self.region_of(namespace)
        return region is not None and region != self._ctx.region


def containers(pod_spec: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(pod_spec, Mapping):
        yield from mappings(pod_spec.get("initContainers"))
        yield from mappings(pod_spec.get("containers"))
