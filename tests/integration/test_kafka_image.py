"""The Kafka image built here on the real node: the local event streaming's broker serves a client.

The broker is the component's own pod spec and ``server.properties`` (``broker_workload``), so what
runs here is what ``autocloud up`` deploys; a second pod of the same image produces and consumes
with Kafka's console clients through the broker's Service name.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from autocloud.runtime import images
from components.local.kube import LocalPlacement, pod_spec
from components.local.streaming import KAFKA_PORT, broker_workload
from platform_model import local_images
from tests.integration.conftest import EmbeddedCluster
from tests.integration.kube import RESTRICTED_CONTAINER, Kubectl, namespace

pytestmark = pytest.mark.integration

NS = "kafka-image"
NAMESPACES = (NS,)
CLIENT_JVM = "java -Xmx64m $KAFKA_JVM_OPTS"


@pytest.fixture(scope="module")
def kubectl(test_cluster: EmbeddedCluster) -> Kubectl:
    return Kubectl(test_cluster.kubeconfig)


def _broker_objects() -> tuple[str, list[dict[str, Any]]]:
    workload, data = broker_workload(LocalPlacement(NS, "eu", "westeurope", {}), unit=1, partitions=3)
    labels = {"app": workload.name}
    meta = {"name": workload.name, "namespace": NS}
    spec = pod_spec(workload) | {"terminationGracePeriodSeconds": 2}
    return workload.name, [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta, "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta | {"labels": labels}, "spec": spec},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"selector": labels, "ports": [{"name": "kafka", "port": KAFKA_PORT, "protocol": "TCP"}]},
        },
    ]


def _client() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client", "namespace": NS},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "client",
                    "image": local_images.image_reference("kafka"),
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "exec sleep 3600"],
                    "securityContext": RESTRICTED_CONTAINER,
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "1", "memory": "256Mi"},
                    },
                }
            ],
        },
    }


def test_a_kafka_client_produces_and_consumes_through_the_broker(kubectl: Kubectl) -> None:
    assert images.is_local(local_images.image_reference("kafka"))
    broker, objects = _broker_objects()
    kubectl.apply(namespace(NS), *objects, _client())
    kubectl.wait_ready(NS, broker, "client", timeout=60)
    bootstrap = f"{broker}.{NS}.svc.cluster.local:{KAFKA_PORT}"
    message = f"vehicle-{uuid.uuid4().hex[:8]} speed=42"

    kubectl.exec(
        NS,
        "client",
        "sh",
        "-c",
        f"echo '{message}' | {CLIENT_JVM} kafka.tools.ConsoleProducer "
        f"--bootstrap-server {bootstrap} --topic telemetry --producer-property acks=all",
    )
    consumed = kubectl.exec(
        NS,
        "client",
        "sh",
        "-c",
        f"{CLIENT_JVM} org.apache.kafka.tools.consumer.ConsoleConsumer "
        f"--bootstrap-server {bootstrap} --topic telemetry --from-beginning "
        "--max-messages 1 --timeout-ms 20000",
    )
    assert message in consumed

    # The readiness check asks Kafka: a port where no broker answers is not ready.
    assert kubectl.exec(NS, broker, local_images.KAFKA_READY) == ""
    assert (
        kubectl.exec(
            NS, broker, "sh", "-c", f"KAFKA_PORT=9099 {local_images.KAFKA_READY} 2>/dev/null || echo not-ready"
        ).strip()
        == "not-ready"
    )

    # The broker runs as the images' non-root user on a read-only root, writing only to its volumes.
    assert kubectl.exec(NS, broker, "id", "-u").strip() == str(local_images.NONROOT_UID)
    assert kubectl.exec(NS, broker, "sh", "-c", "touch /opt/kafka/x 2>&1 || echo refused").strip().endswith("refused")
    assert "num.partitions=3" in kubectl.exec(NS, broker, "cat", "/etc/kafka/server.properties").splitlines()
