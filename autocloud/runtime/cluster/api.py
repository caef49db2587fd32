"""A minimal client of the embedded API server: readiness, server-side apply of the add-ons, status."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from autocloud.runtime.cluster.pki import admin_token
from autocloud.runtime.cluster.settings import (
    FIELD_MANAGER,
    NODE_NAME,
    SIMULATED_LABEL,
    SIMULATED_NODE,
    ClusterError,
    Layout,
    Ports,
)

_KINDS: dict[str, tuple[str, str, bool]] = {
    # kind: (API path prefix, plural, namespaced)
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "StorageClass": ("/apis/storage.k8s.io/v1", "storageclasses", False),
}


class Api:
    """Minimal authenticated client for the embedded API server (readiness, add-ons, status)."""

    def __init__(self, lay: Layout, ports: Ports) -> None:
        self.base = f"https://127.0.0.1:{ports.apiserver}"
        self.token = admin_token(lay)
        self.tls = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        timeout: float = 5.0,
        content_type: str = "application/json",
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, context=self.tls, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.startswith(b"{") else raw.decode()

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at path, or None when it is absent or the API cannot be reached."""
        try:
            found = self.request("GET", path)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def apply(self, obj: Mapping[str, Any]) -> None:
        """Server-side apply: creates or updates, so a restarted cluster converges."""
        prefix, plural, namespaced = _KINDS[obj["kind"]]
        meta = obj["metadata"]
        scope = f"/namespaces/{meta['namespace']}" if namespaced else ""
        path = f"{prefix}{scope}/{plural}/{meta['name']}?fieldManager={FIELD_MANAGER}&force=true"
        try:
            self.request("PATCH", path, obj, content_type="application/apply-patch+yaml")
        except urllib.error.HTTPError as exc:
            raise ClusterError(f"cannot apply {obj['kind']} {meta['name']}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # A timeout or a refused connection (a component died under the API server) is one line too.
            reason = getattr(exc, "reason", None) or exc
            raise ClusterError(f"cannot apply {obj['kind']} {meta['name']}: {reason}") from None

    def ready(self) -> bool:
        try:
            return bool(self.request("GET", "/readyz", timeout=2.0) == "ok")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def node_ready(self, name: str = NODE_NAME) -> bool:
        found = self.get(f"/api/v1/nodes/{name}")
        conditions = (found or {}).get("status", {}).get("conditions", [])
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def deployment_available(self, namespace: str, name: str) -> bool:
        found = self.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        return bool(found and found.get("status", {}).get("availableReplicas", 0) >= 1)

    def ensure_simulated_node(self, name: str = SIMULATED_NODE) -> None:
        """Register the node KWOK simulates (annotation kwok.x-k8s.io/node=fake), tainted so only
        workloads that ask for it (images not built here yet) land on it."""
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    SIMULATED_LABEL: "simulated",
                },
            },
            "spec": {"taints": [{"key": SIMULATED_LABEL, "value": "simulated", "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "500"},
                "capacity": {"cpu": "64", "memory": "256Gi", "pods": "500"},
            },
        }
        try:
            self.request("POST", "/api/v1/nodes", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise ClusterError(f"cannot register node {name}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ClusterError(f"cannot register node {name}: {exc}") from None
