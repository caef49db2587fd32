"""Workload definitions both targets share, rendered to plain Kubernetes manifests.

A service of the platform is one :class:`Workload`; :func:`render_workload` turns it into a
ServiceAccount, a Deployment and a ClusterIP Service with one name, as plain dicts. The local target
applies those dicts directly (``components.local.kube.deploy_workload`` makes pulumi_kubernetes
resources from them); the Azure target writes them where the private AKS cluster's GitOps extension
reads them (``components.delivery``). One renderer, so the two targets cannot drift apart: what may
differ is what a :class:`Workload` is given (image registry, endpoints, identity, auth), and the test
of the state writer names those paths.

Names are explicit (never autonamed) so an interrupted ``up`` that is run again finds the same objects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
OWNED_LABELS: Mapping[str, str] = {PART_OF_LABEL: "autocloud", MANAGED_BY_LABEL: "pulumi"}
"""What every object carries: ``part-of`` is how tests and clean-ups find autocloud's objects."""
CONFIG_HASH_ANNOTATION = "autocloud.io/config-sha256"
"""Pod-template annotation carrying a hash of the workload's configuration: a change rolls the pods."""

WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"
"""ServiceAccount annotation naming the user-assigned identity the pods act as
(https://learn.microsoft.com/azure/aks/workload-identity-overview, "Service account annotations")."""
WORKLOAD_IDENTITY_USE = "azure.workload.identity/use"
"""Pod label, value ``"true"``, that makes AKS's mutating webhook inject ``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE`` and ``AZURE_AUTHORITY_HOST`` and project the token
(https://learn.microsoft.com/azure/aks/workload-identity-overview, "Pod labels")."""


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


GO_MEMORY_LIMIT_ENV = "GOMEMLIMIT"
GO_MEMORY_SHARE = 0.9
"""Of the container's memory limit, what a Go program's runtime may use before it collects harder.

The Go runtime does not read the container's limit: without a soft limit its collector lets the heap
grow to twice what is live, past a container's limit, and the kernel kills the pod. ``GOMEMLIMIT`` "sets
a soft memory limit for the runtime" covering all the memory it manages (https://pkg.go.dev/runtime,
"Environment Variables"; https://go.dev/doc/gc-guide#Memory_limit); the rest of the container's limit
is headroom for what the runtime does not manage."""


def go_memory_limit(resources: ContainerResources) -> str:
    """``GOMEMLIMIT`` for a Go program in a container with ``resources``, in MiB."""
    return f"{int(resources.memory_limit_mi * GO_MEMORY_SHARE)}MiB"


@dataclass(frozen=True)
class Workload:
    """One single-container workload; becomes a ServiceAccount, a Deployment and a Service."""

    name: str
    """Required. Object name of all three (and the Service's DNS label)."""
    app: str
    """Required. ``app.kubernetes.io/name``, e.g. ``ingest``."""
    component: str
    """Required. ``app.kubernetes.io/component``, e.g. ``telemetry-ingest``."""
    image: pulumi.Input[str]
    """Required. A pinned image reference (a tag naming a release, never ``latest``): ``autocloud.local/<repo>:<tag>``
    locally, ``<registry login server>/<repo>:<tag>`` on Azure (same repository and tag)."""
    port: int
    """Required. The main TCP port the Service exposes (first, before ``extra_ports``); the readiness probe
    opens it unless ``readiness`` says otherwise."""
    port_name: str
    """Required. Name of that port (``mqtt``, ``kafka``, ...)."""
    resources: ContainerResources
    """Required. Requests and limits; the namespace quota is the sum of these."""
    run_as_user: int | None
    """Required. UID to run as (non-root); None only where the image must start as root."""
    extra_ports: Mapping[str, int] = field(default_factory=dict)
    """Optional, default none. Further named ports the container and the Service expose, e.g. a back-end
    ``http`` port that other workloads of the namespace call."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Optional, default none. Plain environment values (no secrets: mount those)."""
    args: Sequence[pulumi.Input[str]] = ()
    """Optional, default the image's. Values may be outputs (an endpoint known after deployment)."""
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
    go_program: bool = False
    """Optional, default False. A Go program: its runtime gets a soft memory limit under the container's
    (:func:`go_memory_limit`)."""
    identity_client_id: pulumi.Input[str] | None = None
    """Optional, default None (the local target: no cloud identity). On Azure, the client id of the
    service's user-assigned identity: the ServiceAccount carries it in :data:`WORKLOAD_IDENTITY_CLIENT_ID`
    and the pods the label :data:`WORKLOAD_IDENTITY_USE`, so AKS's workload identity webhook projects a
    token the pod exchanges for an Entra ID token."""


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


def pod_spec(workload: Workload, placement_fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Secure defaults: no API token, no privilege escalation, no capabilities, RuntimeDefault seccomp.

    ``placement_fields`` are pod spec fields the target adds (the embedded cluster's node selector).
    """
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
        "ports": [
            {"name": port_name, "containerPort": port, "protocol": "TCP"} for port_name, port in _ports(workload)
        ],
        **_probes(workload),
        "resources": workload.resources.requirements(),
        "securityContext": container_security,
    }
    if workload.args:
        container["args"] = list(workload.args)
    plain = dict(workload.env)
    if workload.go_program:
        plain[GO_MEMORY_LIMIT_ENV] = go_memory_limit(workload.resources)
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in sorted(plain.items())]
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
        **(placement_fields or {}),
    }
    if workload.mounts:
        spec["volumes"] = [{"name": m.name, **m.source} for m in workload.mounts]
    return spec


def object_labels(region_labels: Mapping[str, str], name: str, app: str, component: str) -> dict[str, str]:
    """Recommended ``app.kubernetes.io`` labels plus the region labels."""
    return {**region_labels, NAME_LABEL: app, INSTANCE_LABEL: name, COMPONENT_LABEL: component, **OWNED_LABELS}


def selector(workload: Workload) -> dict[str, str]:
    """The labels the Deployment and the Service select the pods by."""
    return {INSTANCE_LABEL: workload.name, PART_OF_LABEL: OWNED_LABELS[PART_OF_LABEL]}


def _metadata(workload: Workload, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": workload.name, "namespace": namespace, "labels": dict(labels)}


def render_account(workload: Workload, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The workload's ServiceAccount: no token mounted; on Azure, annotated with its identity."""
    metadata = _metadata(workload, namespace, labels)
    if workload.identity_client_id is not None:
        metadata["annotations"] = {WORKLOAD_IDENTITY_CLIENT_ID: workload.identity_client_id}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": False}


def render_deployment(
    workload: Workload,
    namespace: str,
    labels: Mapping[str, str],
    placement_fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The workload's Deployment; pods carry the workload identity label where an identity is set."""
    template_labels = dict(labels)
    if workload.identity_client_id is not None:
        template_labels[WORKLOAD_IDENTITY_USE] = "true"
    template_metadata: dict[str, Any] = {"labels": template_labels}
    if workload.config_hash is not None:
        template_metadata["annotations"] = {CONFIG_HASH_ANNOTATION: workload.config_hash}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(workload, namespace, labels),
        "spec": {
            "replicas": workload.replicas,
            "selector": {"matchLabels": selector(workload)},
            "strategy": {"type": "Recreate" if workload.recreate else "RollingUpdate"},
            "template": {"metadata": template_metadata, "spec": pod_spec(workload, placement_fields)},
        },
    }


def _ports(workload: Workload) -> list[tuple[str, int]]:
    """The workload's named ports, its main one first."""
    return [(workload.port_name, workload.port), *sorted(workload.extra_ports.items())]


def render_service(workload: Workload, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """The workload's ClusterIP Service on its ports, the main one first."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(workload, namespace, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(workload),
            "ports": [
                {"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}
                for port_name, port in _ports(workload)
            ],
        },
    }


def render_workload(
    workload: Workload,
    namespace: str,
    region_labels: Mapping[str, str],
    placement_fields: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """ServiceAccount, Deployment and Service of ``workload`` in ``namespace``, as plain manifests."""
    labels = object_labels(region_labels, workload.name, workload.app, workload.component)
    return [
        render_account(workload, namespace, labels),
        render_deployment(workload, namespace, labels, placement_fields),
        render_service(workload, namespace, labels),
    ]
