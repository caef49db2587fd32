"""The docstore image on the real node: FerretDB as the state component runs it stores a document that
a pod elsewhere reads back, over the Service and with the store's user, through the statewriter image."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.contracts import STATE_DATABASE
from components.local.kube import pod_spec
from components.local.state import OBJECT_NAME, PASSWORD_ITEM, STORE_PORT, USERNAME, docstore_workload
from platform_model import local_images
from tests.integration.conftest import EmbeddedCluster
from tests.integration.kube import RESTRICTED_CONTAINER, Kubectl, eventually, namespace

pytestmark = pytest.mark.integration

NS = "docstore"
NAMESPACES = (NS,)
SECRET = "docstore-key"


def _probe_pod(name: str, document: str) -> dict[str, Any]:
    """A one-shot pod of the statewriter image: upsert ``document`` into the store and print it back."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": local_images.NONROOT_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": local_images.image_reference("statewriter"),
                    "imagePullPolicy": "Never",
                    "args": [
                        "probe",
                        "--store",
                        f"mongodb://{OBJECT_NAME}.{NS}.svc.cluster.local:{STORE_PORT}/",
                        "--database",
                        STATE_DATABASE,
                        "--id",
                        document,
                    ],
                    "env": [
                        {"name": "STATEWRITER_STORE_USERNAME", "value": USERNAME},
                        {
                            "name": "STATEWRITER_STORE_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": SECRET, "key": PASSWORD_ITEM}},
                        },
                    ],
                    "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "200m", "memory": "64Mi"},
                    },
                }
            ],
        },
    }


def _finished(kubectl: Kubectl, pod: str) -> str:
    phase = kubectl.get("pod", pod, NS).get("status", {}).get("phase", "")
    return str(phase) if phase in ("Succeeded", "Failed") else ""


def test_docstore_serves_documents_to_other_pods(test_cluster: EmbeddedCluster) -> None:
    kubectl = Kubectl(test_cluster.kubeconfig)
    store = docstore_workload(local_images.image_reference("docstore"), SECRET)
    labels = {"app": OBJECT_NAME}
    kubectl.apply(
        namespace(NS),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET, "namespace": NS},
            "stringData": {PASSWORD_ITEM: "integration-password"},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": store.name, "namespace": NS}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": store.name, "namespace": NS, "labels": labels},
            "spec": {**pod_spec(store), "terminationGracePeriodSeconds": 1},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": store.name, "namespace": NS},
            "spec": {"selector": labels, "ports": [{"port": STORE_PORT, "targetPort": STORE_PORT, "protocol": "TCP"}]},
        },
    )
    # Ready means FerretDB's own probe pinged it over the wire protocol with the set-up user.
    kubectl.wait_ready(NS, store.name, timeout=45)

    kubectl.apply(_probe_pod("writer", "vehicle-1"))
    assert eventually(lambda: _finished(kubectl, "writer") != "", timeout=30)
    kubectl.apply(_probe_pod("reader", "vehicle-1"))
    assert eventually(lambda: _finished(kubectl, "reader") != "", timeout=30)
    for pod in ("writer", "reader"):
        assert _finished(kubectl, pod) == "Succeeded", kubectl.run("logs", "-n", NS, pod, check=False)

    first = json.loads(kubectl.run("logs", "-n", NS, "writer"))
    second = json.loads(kubectl.run("logs", "-n", NS, "reader"))
    # The second pod found the first pod's document in the store and updated it.
    assert first["_id"] == second["_id"] == "vehicle-1"
    assert (first["probes"], second["probes"]) == (1, 2)
