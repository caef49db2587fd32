"""Short grace for pods a destroy is already deleting.

A local stack's workloads keep their data in ``emptyDir`` volumes (no PersistentVolumeClaims: their
quota is zero), and destroying the stack deletes those volumes with the pods. The default 30 s of
graceful termination therefore protects nothing that outlives the destroy, yet it is where `autocloud
down` spent most of its time (brokers and stores waiting out their full grace, stack after stack).
While a destroy runs, `ShortGrace` finds the stacks' pods that are already terminating and deletes
them again with a short grace period: the API server keeps the shorter of the two and the kubelet
honours it, so each container still gets SIGTERM and a moment to exit before SIGKILL. Pods that are
not being deleted are never touched, so an interrupted `down` leaves nothing changed behind the
engine's back; the engine still records every deletion, and the cluster itself (etcd, containerd)
still stops cleanly afterwards.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.parse
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from autocloud.runtime.cluster.api import Api
from autocloud.runtime.cluster.settings import embedded_cluster, kubeconfig_path

GRACE_SECONDS = 2
"""SIGTERM to SIGKILL for a pod whose data the destroy discards anyway."""


class ShortGrace:
    """While open, every ``interval`` seconds: terminating pods matching ``selector`` get ``grace``."""

    def __init__(self, api: Api, selector: str, grace: int = GRACE_SECONDS, interval: float = 0.5) -> None:
        self.api = api
        self.selector = selector
        self.grace = grace
        self.interval = interval
        self.shortened: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="short-grace", daemon=True)

    def __enter__(self) -> ShortGrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sweep()

    def sweep(self) -> int:
        """One pass; how many pods got the short grace. An API that does not answer is skipped: the
        pods then end with their own grace, as without this."""
        query = urllib.parse.urlencode({"labelSelector": self.selector})
        found = self.api.get(f"/api/v1/pods?{query}")
        count = 0
        for pod in (found or {}).get("items", []):
            if _needs_shorter(pod, self.grace):
                meta = pod["metadata"]
                path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": self.grace}
                try:
                    self.api.request("DELETE", path, body)
                except (urllib.error.URLError, OSError, ValueError):
                    continue
                self.shortened.add(f"{meta['namespace']}/{meta['name']}")
                count += 1
        return count


def _needs_shorter(pod: dict[str, Any], grace: int) -> bool:
    meta = pod.get("metadata", {})
    current = meta.get("deletionGracePeriodSeconds")
    return meta.get("deletionTimestamp") is not None and isinstance(current, int) and current > grace


def short_grace(selector: str, kubeconfig: Path | None = None) -> AbstractContextManager[object]:
    """A `ShortGrace` on the embedded cluster the local stacks deploy to (``kubeconfig``, default the
    one KUBECONFIG or this checkout names); nothing for any other cluster, whose volumes are not known
    to be ours to lose, or an embedded one never started."""
    found = embedded_cluster(kubeconfig or kubeconfig_path())
    if found is None:
        return contextlib.nullcontext()
    return ShortGrace(Api(*found), selector)
