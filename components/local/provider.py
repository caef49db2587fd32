"""The Kubernetes provider of the local target, made once by the program and passed down in ``opts``.

It reads the kubeconfig named by ``KUBECONFIG`` (autocloud's engine sets it for every run), else the
embedded cluster's ``.state/cluster/kubeconfig``, and passes the content as a Pulumi secret so the
credentials are encrypted in state. Server-side apply is on: creating an object that already exists
(an ``up`` killed after the API call but before the state was written) updates it in place, so a
rerun converges instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor

from platform_model.paths import kubeconfig_path

OFFLINE_KUBECONFIG = "# offline run under Pulumi mocks: no cluster is contacted\n"


def kubeconfig_file() -> Path:
    """``KUBECONFIG`` (its first entry) or, unset, the embedded cluster's kubeconfig."""
    return kubeconfig_path()


def load_kubeconfig(path: Path | None = None) -> str:
    """The kubeconfig's content; a missing file stops the run with what to do about it."""
    path = path or kubeconfig_file()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise pulumi.RunError(
            f"no kubeconfig at {path} ({exc.strerror}): start the embedded cluster (`autocloud cluster start`)"
            " or point KUBECONFIG at a cluster"
        ) from None


def _mocked() -> bool:
    """True under ``pulumi.runtime.set_mocks`` (unit tests, ``autocloud check``): nothing is contacted,
    so no kubeconfig is read and none leaks into the recorded inputs."""
    return isinstance(settings.get_monitor(), MockMonitor)


EMBEDDED_CLUSTER_NAME = "autocloud-local"
"""The cluster name in every kubeconfig the embedded cluster writes."""


def targets_embedded_cluster() -> bool:
    """True when this run deploys to an embedded cluster (any checkout's, the tests' too): it has a
    simulated node for images not built here. False under mocks and for any other cluster."""
    if _mocked():
        return False
    try:
        config = json.loads(kubeconfig_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    clusters = config.get("clusters", []) if isinstance(config, dict) else []
    return any(isinstance(c, dict) and c.get("name") == EMBEDDED_CLUSTER_NAME for c in clusters)


def kubernetes_provider(name: str, kubeconfig: str | None = None) -> k8s.Provider:
    """The explicit provider for the local target (the content, not a path, so it is encrypted)."""
    if kubeconfig is None:
        kubeconfig = OFFLINE_KUBECONFIG if _mocked() else load_kubeconfig()
    return k8s.Provider(
        name,
        kubeconfig=pulumi.Output.secret(kubeconfig),
        enable_server_side_apply=True,
    )
