"""What every local component shares: where it goes, how it is labelled, and how a workload is built.

A local workload is a ServiceAccount, a Deployment and a ClusterIP Service with one name, inside the
region's namespace. Names are explicit (never autonamed) so an interrupted ``up`` that is run again
finds the same objects (server-side apply adopts them) instead of leaving randomly named copies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_model.local_images import REGISTRY

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
OWNED_LABELS: Mapping[str, str] = {PART_OF_LABEL: "autocloud", MANAGED_BY_LABEL: "pulumi"}
"""What every object carries: ``part-of`` is how tests and clean-ups find autocloud's objects."""
CONFIG_HASH_ANNOTATION = "autocloud.io/config-sha256"
"""Pod-template annotation carrying a hash of the workload's configuration: a change rolls the pods."""


SIMULATED_NODE_KEY = "autocloud.io/node"
"""Label and taint key of the embedded cluster's simulated (KWOK) node."""


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

    def node_placement(self, image: str) -> dict[str, Any]:
        """Pod spec fields that send a workload with an unbuilt image to the simulated node."""
        if not self.simulate_unbuilt_images or image.startswith(f"{REGISTRY}/"):
            return {}
        return {
            "nodeSelector": {SIMULATED_NODE_KEY: "simulated"},
            "tolerations": [
                {"key": SIMULATED_NODE_KEY, "operator": "Equal", "value": "simulated", "effect": "NoSchedule"}
            ],
        }

    def host(self, service: str) -> str:
        """The in-namespace DNS name of one of this region's services."""
        return f"{service}.{self.namespace}.svc.cluster.local"

    def object_labels(self, name: str, app: str, component: str) -> dict[str, str]:
        """Recommended ``app.kubernetes.io`` labels plus the region labels."""
        return {
            **self.labels,
            NAME_LABEL: app,
            INSTANCE_LABEL: name,
            COMPONENT_LABEL: component,
            **OWNED_LABELS,
        }


@dataclass(frozen=True)
class ContainerResources:
    """Requests and limits of one container, in millicores and MiB so they add up for quotas."""

    cpu_request_m: int
    memory_request_mi: int
    cpu_limit_m: int
    memory_limit_mi: int

    def __add__(self, other: ContainerResources) -> ContainerResources:
        return ContainerResources(
            self.cpu_request_m + other.cpu_request_m,
            self.memory_request_mi + other.memory_request_mi,
            self.cpu_limit_m + other.cpu_limit_m,
            self.memory_limit_mi + other.memory_limit_mi,
        )

    def __mul__(self, factor: int) -> ContainerResources:
        return ContainerResources(
            self.cpu_request_m * factor,
            self.memory_request_mi * factor,
            self.cpu_limit_m * factor,
            self.memory_limit_mi * factor,
        )

    def requirements(self) -> dict[str, dict[str, str]]:
        """The container's ``resources`` block."""
        return {
            "requests": {"cpu": f"{self.cpu_request_m}m", "memory": f"{self.memory_request_mi}Mi"},
            "limits": {"cpu": f"{self.cpu_limit_m}m", "memory": f"{self.memory_limit_mi}Mi"},
        }


NO_RESOURCES = ContainerResources(0, 0, 0, 0)


@dataclass(frozen=True)
class Mount:
    """A volume and where the container sees it."""

    name: str
    """Required. Volume name."""
    path: str
    """Required. Mount path in the container."""
    source: Mapping[str, Any]
    """Required. The volume source, e.g. ``{"emptyDir": {}}`` or ``{"configMap": {"name": ...}}``."""
    read_only: bool = False
    """Optional, default False."""


@dataclass(frozen=True)
class HttpProbe:
    """An HTTP readiness check, for a program that knows better than an open port whether it can serve."""

    path: str
    """Required. Request path, e.g. ``/ready``; any 2xx/3xx answer is ready."""
    port: int
    """Required. Container port of the HTTP listener (need not be the Service's port)."""


@dataclass(frozen=True)
class Workload:
    """One single-container workload; becomes a ServiceAccount, a Deployment and a Service."""

    name: str
    """Required. Object name of all three (and the Service's DNS label)."""
    app: str
    """Required. ``app.kubernetes.io/name``, e.g. ``ingest``."""
    component: str
    """Required. ``app.kubernetes.io/component``, e.g. ``telemetry-ingest``."""
    image: str
    """Required. A pinned image reference (a tag naming a release, never ``latest``)."""
    port: int
    """Required. The one TCP port the Service exposes; the readiness probe opens it unless ``readiness``
    says otherwise."""
    port_name: str
    """Required. Name of that port (``mqtt``, ``kafka``, ...)."""
    resources: ContainerResources
    """Required. Requests and limits; the namespace quota is the sum of these."""
    run_as_user: int | None
    """Required. UID to run as (non-root); None only where the image must start as root."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Optional, default none. Plain environment values (no secrets: mount those)."""
    args: Sequence[str] = ()
    """Optional, default the image's."""
    mounts: Sequence[Mount] = ()
    """Optional, default none."""
    read_only_root: bool = False
    """Optional, default False: set where the image writes only to mounted volumes."""
    recreate: bool = True
    """Optional, default True: stop the old pod before starting the new one. Brokers and the document store
    hold state in an ``emptyDir``; two copies behind one Service would split it."""
    replicas: int = 1
    """Optional, default 1."""
    config_hash: str | None = None
    """Optional, default None. Hash of configuration the pod reads from a volume (pods roll when it changes)."""
    readiness: HttpProbe | None = None
    """Optional, default None: a TCP probe on ``port``. An HTTP check for a program that serves one."""
    ready_command: Sequence[str] = ()
    """Optional, default none: ready while the port accepts TCP. A command run in the container instead
    (exit 0 = ready) for a server whose protocol can be asked; it runs every few seconds, so keep it cheap."""
    startup_command: Sequence[str] = ()
    """Optional, default none. A thorough check (exit 0 = started) run only until it first passes,
    e.g. a real client, where that costs too much to repeat as the readiness check."""
    secret_env: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Optional, default none. Environment variable -> (Secret name, key), for programs that read a
    secret only from their environment: the pod spec holds the reference, never the value."""


@dataclass(frozen=True)
class DeployedWorkload:
    """What :func:`deploy_workload` made."""

    account: k8s.core.v1.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    host: str
    """In-namespace DNS name of the Service."""
    port: int


def config_hash(*parts: Any) -> str:
    """A stable hash of configuration values (sorted JSON), for :attr:`Workload.config_hash`."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _probes(workload: Workload) -> dict[str, Any]:
    check: dict[str, Any] = (
        {"httpGet": {"path": workload.readiness.path, "port": workload.readiness.port, "scheme": "HTTP"}}
        if workload.readiness
        else {"tcpSocket": {"port": workload.port}}
    )
    probes: dict[str, Any] = {
        "readinessProbe": {**check, "initialDelaySeconds": 2, "periodSeconds": 5, "failureThreshold": 6}
    }
    if workload.ready_command:
        probes["readinessProbe"] = {
            "exec": {"command": list(workload.ready_command)},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
    if workload.startup_command:
        # Every 2 s for up to 2 minutes; kubelet holds the readiness probe back until this passes.
        probes["startupProbe"] = {
            "exec": {"command": list(workload.startup_command)},
            "initialDelaySeconds": 3,
            "periodSeconds": 2,
            "timeoutSeconds": 10,
            "failureThreshold": 60,
        }
    return probes


def pod_spec(workload: Workload, placement: LocalPlacement | None = None) -> dict[str, Any]:
    """Secure defaults: no API token, no privilege escalation, no capabilities, RuntimeDefault seccomp."""
    pod_security: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    container_security: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": workload.read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }
    if workload.run_as_user is not None:
        pod_security |= {
            "runAsNonRoot": True,
            "runAsUser": workload.run_as_user,
            "runAsGroup": workload.run_as_user,
            "fsGroup": workload.run_as_user,
        }
    container: dict[str, Any] = {
        "name": workload.app,
        "image": workload.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": workload.port_name, "containerPort": workload.port, "protocol": "TCP"}],
        **_probes(workload),
        "resources": workload.resources.requirements(),
        "securityContext": container_security,
    }
    if workload.args:
        container["args"] = list(workload.args)
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in sorted(workload.env.items())]
    env += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": item}}}
        for key, (secret, item) in sorted(workload.secret_env.items())
    ]
    if env:
        container["env"] = env
    if workload.mounts:
        container["volumeMounts"] = [
            {"name": m.name, "mountPath": m.path, "readOnly": m.read_only} for m in workload.mounts
        ]
    spec: dict[str, Any] = {
        "serviceAccountName": workload.name,
        "automountServiceAccountToken": False,
        # Service links would inject every service of the namespace into the environment.
        "enableServiceLinks": False,
        "securityContext": pod_security,
        "containers": [container],
        **(placement.node_placement(workload.image) if placement else {}),
    }
    if workload.mounts:
        spec["volumes"] = [{"name": m.name, **m.source} for m in workload.mounts]
    return spec


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


def deploy_workload(
    name: str,
    parent: pulumi.Resource,
    placement: LocalPlacement,
    workload: Workload,
    depends_on: Sequence[pulumi.Resource] = (),
) -> DeployedWorkload:
    """The ServiceAccount, Deployment and Service of ``workload``; Pulumi names start with ``name``."""
    labels = placement.object_labels(workload.name, workload.app, workload.component)
    selector = {INSTANCE_LABEL: workload.name, PART_OF_LABEL: OWNED_LABELS[PART_OF_LABEL]}
    metadata = {"name": workload.name, "namespace": placement.namespace, "labels": labels}
    after = [*placement.depends_on, *depends_on]

    account = k8s.core.v1.ServiceAccount(
        f"{name}-account",
        metadata=metadata,
        automount_service_account_token=False,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    template_metadata: dict[str, Any] = {"labels": labels}
    if workload.config_hash is not None:
        template_metadata["annotations"] = {CONFIG_HASH_ANNOTATION: workload.config_hash}
    deployment = k8s.apps.v1.Deployment(
        f"{name}-deployment",
        metadata=metadata,
        spec={
            "replicas": workload.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "Recreate" if workload.recreate else "RollingUpdate"},
            "template": {"metadata": template_metadata, "spec": pod_spec(workload, placement)},
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*after, account]),
    )
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=metadata,
        spec={
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": workload.port_name, "port": workload.port, "targetPort": workload.port, "protocol": "TCP"}
            ],
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
    )
    return DeployedWorkload(account, deployment, service, placement.host(workload.name), workload.port)
