"""Destroying a local stack ends the pods it is deleting with a short grace, and touches no other pod."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from autocloud.runtime import cluster
from autocloud.runtime.cluster.grace import GRACE_SECONDS, ShortGrace


def _pod(name: str, deleting: bool, grace: int = 30) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "autocloud-eu"}
    if deleting:
        meta |= {"deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": grace}
    return {"metadata": meta}


class FakeApi:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.calls: list[tuple[str, str, Any]] = []

    def get(self, path: str) -> dict[str, Any]:
        self.calls.append(("GET", path, None))
        return {"items": self.pods}

    def request(self, method: str, path: str, body: Any = None) -> None:
        self.calls.append((method, path, body))


def test_only_terminating_pods_with_a_longer_grace_are_shortened() -> None:
    api = FakeApi([_pod("broker", True), _pod("running", False), _pod("ending", True, grace=1)])
    short = ShortGrace(api, "app.kubernetes.io/part-of=autocloud")  # type: ignore[arg-type]
    assert short.sweep() == 1
    assert api.calls == [
        ("GET", "/api/v1/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dautocloud", None),
        (
            "DELETE",
            "/api/v1/namespaces/autocloud-eu/pods/broker",
            {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": GRACE_SECONDS},
        ),
    ]
    assert short.shortened == {"autocloud-eu/broker"}


def test_an_api_that_does_not_answer_changes_nothing() -> None:
    class Silent(FakeApi):
        def get(self, path: str) -> None:  # type: ignore[override]
            return None

    assert ShortGrace(Silent([]), "x=y").sweep() == 0  # type: ignore[arg-type]


def _embedded(root: Path, port: int = 36443, started: bool = True) -> Path:
    """An embedded cluster's folder as `cluster start` lays it out: its kubeconfig and token file."""
    lay = cluster.Layout(root)
    lay.pki.mkdir(parents=True)
    if started:
        lay.token_file.write_text("token,autocloud-admin,autocloud-admin,system:masters\n")
    server = {"server": f"https://127.0.0.1:{port}", "certificate-authority": str(lay.pki / "ca.crt")}
    lay.kubeconfig.write_text(json.dumps({"clusters": [{"name": "autocloud-local", "cluster": server}]}))
    return lay.kubeconfig


def test_an_embedded_clusters_own_kubeconfig_names_its_folder_and_port(tmp_path: Path) -> None:
    kubeconfig = _embedded(tmp_path / "tests-cluster", port=45443)
    assert cluster.embedded_cluster(kubeconfig) == (cluster.Layout(tmp_path / "tests-cluster"), cluster.Ports(45443))


@pytest.mark.parametrize("case", ["another cluster", "never started", "a copy elsewhere"])
def test_nothing_is_shortened_off_an_embedded_cluster(case: str, tmp_path: Path) -> None:
    kubeconfig = _embedded(tmp_path / "cluster", started=case != "never started")
    if case == "another cluster":
        kubeconfig = tmp_path / "kind-kubeconfig"
        kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    elif case == "a copy elsewhere":
        copy = tmp_path / "elsewhere" / "config"
        copy.parent.mkdir()
        copy.write_text(kubeconfig.read_text())
        kubeconfig = copy
    assert cluster.embedded_cluster(kubeconfig) is None
    assert isinstance(cluster.short_grace("x=y", kubeconfig), contextlib.nullcontext)
