"""What the cluster applies to itself once its API answers: RBAC for the node's components, CoreDNS."""

from __future__ import annotations

from typing import Any

from autocloud.runtime import images, node
from autocloud.runtime.cluster import volumes
from autocloud.runtime.cluster.settings import SIMULATED_LABEL

COREDNS_PORT = 53
"""CoreDNS serves port 53 as non-root with no capabilities: its pod lowers the (per-pod, "safe")
sysctl net.ipv4.ip_unprivileged_port_start. Port 53 on the pod itself matters: NetworkPolicies
match the pod's port after the Service's translation, and the region policies allow 53."""

COREFILE = f""".:{COREDNS_PORT} {{
    errors
    health :8080
    ready :8181
    kubernetes {node.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loop
    reload
    loadbalance
}}
"""


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }


def _binding(name: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [subject],
    }


def _user(name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


_READ = ["get", "list", "watch"]


_EVENTS = {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]}
_DNS_LABELS = {"k8s-app": "kube-dns"}


def addons() -> list[dict[str, Any]]:
    """Least-privilege roles for the node's clients, then CoreDNS (kube-system/kube-dns at DNS_SERVICE_IP),
    in the order they are applied: a role before its binding, the account and config before the pods."""
    return [
        *_node_client_rbac(),
        volumes.storage_class(),
        *_coredns_rbac(),
        _coredns_config(),
        _coredns_deployment(),
        _coredns_service(),
    ]


def _node_client_rbac() -> list[dict[str, Any]]:
    """The API server's kubelet client, kube-router's firewall, KWOK and the volume provisioner: each only what
    it reads or writes."""
    return [
        _binding("autocloud:kubelet-api-admin", "system:kubelet-api-admin", _user("kube-apiserver-kubelet-client")),
        _cluster_role(
            "autocloud:kube-router",
            [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "namespaces", "nodes", "services", "endpoints"],
                    "verbs": _READ,
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": _READ},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
                _EVENTS,
            ],
        ),
        _binding("autocloud:kube-router", "autocloud:kube-router", _user("autocloud:kube-router")),
        _cluster_role(
            "autocloud:kwok",
            [
                {
                    "apiGroups": [""],
                    "resources": ["nodes", "nodes/status", "pods", "pods/status"],
                    "verbs": [*_READ, "update", "patch", "delete"],
                },
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": [*_READ, "create", "update", "patch"],
                },
                _EVENTS,
            ],
        ),
        _binding("autocloud:kwok", "autocloud:kwok", _user("autocloud:kwok")),
        # The volume provisioner reads claims and classes, and makes and deletes the volumes it serves.
        _cluster_role(
            "autocloud:volume-provisioner",
            [
                {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "create", "delete"]},
                {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list"]},
            ],
        ),
        _binding("autocloud:volume-provisioner", "autocloud:volume-provisioner", _user("autocloud:volume-provisioner")),
    ]


def _coredns_rbac() -> list[dict[str, Any]]:
    """CoreDNS's service account, allowed to list and watch what it answers for."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "coredns", "namespace": "kube-system"}},
        _cluster_role(
            "autocloud:coredns",
            [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        ),
        _binding(
            "autocloud:coredns",
            "autocloud:coredns",
            {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"},
        ),
    ]


def _coredns_config() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": COREFILE},
    }


def _coredns_container() -> dict[str, Any]:
    """Non-root, read-only, no capabilities; the image was imported, never pulled."""
    return {
        "name": "coredns",
        "image": images.image_reference("coredns"),
        "imagePullPolicy": "Never",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [
            {"name": "dns", "containerPort": COREDNS_PORT, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": COREDNS_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 1},
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 10},
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"memory": "128Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
    }


def _coredns_deployment() -> dict[str, Any]:
    """One replica on the real node (the simulated one answers no queries)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": _DNS_LABELS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": _DNS_LABELS},
            "template": {
                "metadata": {"labels": _DNS_LABELS},
                "spec": {
                    "serviceAccountName": "coredns",
                    "priorityClassName": "system-cluster-critical",
                    "dnsPolicy": "Default",
                    "nodeSelector": {SIMULATED_LABEL: "real"},
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": images.NONROOT_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": str(COREDNS_PORT)}],
                    },
                    "containers": [_coredns_container()],
                    "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                },
            },
        },
    }


def _coredns_service() -> dict[str, Any]:
    """kube-dns at the address every kubelet hands its pods as their resolver."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": _DNS_LABELS},
        "spec": {
            "clusterIP": node.DNS_SERVICE_IP,
            "selector": _DNS_LABELS,
            "ports": [
                {"name": "dns", "port": 53, "targetPort": COREDNS_PORT, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "targetPort": COREDNS_PORT, "protocol": "TCP"},
            ],
        },
    }
