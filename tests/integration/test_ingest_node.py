"""The telemetry ingest image on the real node: it starts as a non-root, read-only container, speaks
MQTT and HTTP, and stays unready while its Kafka does not answer (the readiness probe is real)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from platform_model import local_images
from tests.integration.conftest import EmbeddedCluster
from tests.integration.kube import RESTRICTED_CONTAINER, Kubectl, busybox_pod, eventually, namespace

pytestmark = pytest.mark.integration

NS = "ingest-node"
NAMESPACES = (NS,)
ROUTES = {"region": "eu", "scaleUnit": 1, "routes": [
    {"name": "telemetry", "source": "DeviceMessages", "endpoint": f"kafka://kafka.{NS}.svc.cluster.local:9092",
     "topic": "telemetry"},
]}  # fmt: skip
# CONNECT, MQTT 3.1.1, clean session, keep-alive 60 s, client id "v1"; busybox echo takes octal escapes.
CONNECT = r"\0020\0016\0000\0004MQTT\0004\0002\0000\0074\0000\0002v1"
CONNACK_ACCEPTED = "\x20\x02\x00\x00"


def ingest_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "ingest", "namespace": NS, "labels": {"app": "ingest"}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "ingest", "image": local_images.image_reference("ingest"), "imagePullPolicy": "Never",
                "args": ["--routes=/etc/ingest/routes.json", "--partitions=2"],
                "ports": [{"name": "mqtt", "containerPort": 1883}, {"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1},
                "securityContext": {**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
                "volumeMounts": [{"name": "routes", "mountPath": "/etc/ingest", "readOnly": True}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                              "limits": {"cpu": "200m", "memory": "64Mi"}},
            }],
            "volumes": [{"name": "routes", "configMap": {"name": "ingest"}}],
        },
    }  # fmt: skip


def test_ingest_starts_serves_and_refuses_readiness_without_kafka(test_cluster: EmbeddedCluster) -> None:
    kubectl = Kubectl(test_cluster.kubeconfig)
    routes = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ingest", "namespace": NS},
        "data": {"routes.json": json.dumps(ROUTES)},
    }
    kubectl.apply(namespace(NS), routes, ingest_pod(), busybox_pod("client", NS, "exec sleep 3600"))
    kubectl.wait_ready(NS, "client")

    def running() -> bool:
        statuses = kubectl.get("pod", "ingest", NS)["status"].get("containerStatuses", [])
        return bool(statuses and "running" in statuses[0]["state"])

    assert eventually(running, timeout=60), kubectl.get("pod", "ingest", NS)["status"]
    pod_ip = kubectl.get("pod", "ingest", NS)["status"]["podIP"]
    assert kubectl.exec(NS, "client", "wget", "-qO-", f"http://{pod_ip}:8080/healthz").strip() == "ok"

    connack = kubectl.exec(NS, "client", "sh", "-c", f"echo -ne '{CONNECT}' | nc -w 2 {pod_ip} 1883")
    assert connack == CONNACK_ACCEPTED
    stats = json.loads(kubectl.exec(NS, "client", "wget", "-qO-", f"http://{pod_ip}:8080/stats"))
    assert stats["connects"] == 1

    not_ready = kubectl.run(
        "exec", "-n", NS, "client", "--", "wget", "-qO-", f"http://{pod_ip}:8080/ready", check=False
    )
    assert "ready" not in not_ready
    conditions = {c["type"]: c["status"] for c in kubectl.get("pod", "ingest", NS)["status"]["conditions"]}
    assert conditions["Ready"] == "False"
    logs = kubectl.run("logs", "-n", NS, "ingest")
    assert "ingest started" in logs and "msg=connected device=v1" in logs
    assert "kafka topics not ready, retrying" in logs
