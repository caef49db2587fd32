"""kubectl (built with the toolchain) against a test cluster, and the small objects node tests create."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_model import local_images
from platform_model.paths import TOOLCHAIN_BIN

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": local_images.NONROOT_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}

WEB_SCRIPT = "echo hello-from-$(hostname) > /tmp/index.html; echo serving; exec httpd -f -p 8080 -h /tmp"


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def run(self, *args: str, stdin: str | None = None, timeout: float = 90.0, check: bool = True) -> str:
        proc = subprocess.run(
            [str(TOOLCHAIN_BIN / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def apply(self, *objects: dict[str, Any]) -> None:
        self.run("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        return dict(json.loads(self.run("get", kind, name, "-n", namespace, "-o", "json")))

    def wait_ready(self, namespace: str, *pods: str, timeout: int = 90) -> None:
        self.run(
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            f"--timeout={timeout}s",
            *[f"pod/{p}" for p in pods],
            timeout=timeout + 10,
        )

    def exec(self, namespace: str, pod: str, *command: str, check: bool = True, timeout: float = 60.0) -> str:
        return self.run("exec", "-n", namespace, pod, "--", *command, check=check, timeout=timeout)

    def reaches(self, namespace: str, pod: str, host: str, port: int = 80) -> bool:
        """True when ``pod`` gets the web pod's HTTP answer from ``host:port`` within 3 s (BusyBox nc:
        the static BusyBox's wget crashes without the C library's name-service files)."""
        request = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 " + f"{host} {port}"
        proc = subprocess.run(
            [
                str(TOOLCHAIN_BIN / "kubectl"),
                f"--kubeconfig={self.kubeconfig}",
                "exec",
                "-n",
                namespace,
                pod,
                "--",
                "sh",
                "-c",
                request,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return "hello-from-web" in proc.stdout

    def pod_of(self, namespace: str, selector: str) -> str:
        """The name of the one running pod that ``selector`` picks."""
        found = json.loads(self.run("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))
        running = [
            p["metadata"]["name"]
            for p in found["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]
        assert len(running) == 1, f"{namespace}: {selector} picks {running}"
        return str(running[0])

    def kafka_records(self, namespace: str, broker_pod: str, topic: str) -> list[KafkaRecord]:
        """Every record of ``topic``, read with Kafka's console consumer inside the broker's own pod (the
        region's NetworkPolicies admit no other client); it stops after 4 s without a new record."""
        command = (
            f"java -Xmx32m $KAFKA_JVM_OPTS {CONSOLE_CONSUMER} --bootstrap-server localhost:9092 "
            f"--topic {topic} --from-beginning --timeout-ms 4000 --property print.key=true "
            "--property print.headers=true 2>/dev/null"
        )
        out = self.exec(namespace, broker_pod, "sh", "-c", command, timeout=120)
        return [record for line in out.splitlines() if (record := KafkaRecord.parse(line)) is not None]


CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"


@dataclass(frozen=True)
class KafkaRecord:
    headers: dict[str, str]
    key: str
    value: str

    @classmethod
    def parse(cls, line: str) -> KafkaRecord | None:
        """One console-consumer line, ``h1:v1,h2:v2 <TAB> key <TAB> value``; None for its own log lines."""
        parts = line.split("\t", 2)
        if len(parts) != 3:
            return None
        headers = dict(item.partition(":")[::2] for item in parts[0].split(",") if ":" in item)
        return cls(headers, parts[1], parts[2])


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def busybox_pod(name: str, namespace: str, script: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name}},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": local_images.image_reference("busybox"),
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                    "securityContext": RESTRICTED_CONTAINER,
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "8Mi"},
                        "limits": {"cpu": "100m", "memory": "32Mi"},
                    },
                }
            ],
        },
    }


def web_service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }


def eventually(check: Any, timeout: float = 30.0, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
