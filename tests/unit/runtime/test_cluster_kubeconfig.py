"""KUBECONFIG naming another cluster replaces the embedded one; naming the embedded cluster's own
kubeconfig (what a user exports to run kubectl) does not, so `cluster start` still starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocloud.runtime import cluster
from autocloud.runtime.cluster import lifecycle
from platform_model.paths import CLUSTER_DIR, external_kubeconfig


class Started(Exception):
    """Raised where `cluster.start` begins to start the embedded cluster."""


@pytest.fixture()
def starting(monkeypatch: pytest.MonkeyPatch) -> None:
    def first_step(_port: int) -> bool:
        raise Started

    monkeypatch.setattr(lifecycle, "port_free", first_step)


def _named(kind: str, lay: cluster.Layout, monkeypatch: pytest.MonkeyPatch) -> str:
    if kind == "relative":
        monkeypatch.chdir(lay.root.parent)
        return str(lay.kubeconfig.relative_to(lay.root.parent))
    if kind == "symlink":
        link = lay.root.parent / "link"
        link.symlink_to(lay.root)
        return str(link / "kubeconfig")
    return f"{lay.kubeconfig}:/elsewhere"


@pytest.mark.parametrize("kind", ["absolute, first of two", "relative", "symlink"])
@pytest.mark.usefixtures("starting")
def test_the_embedded_clusters_own_kubeconfig_is_the_embedded_cluster(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = cluster.Layout(tmp_path / "cluster")
    lay.root.mkdir()
    monkeypatch.setenv("KUBECONFIG", _named(kind, lay, monkeypatch))
    assert cluster.kubeconfig_path(lay) == lay.kubeconfig
    state = cluster.status(lay, cluster.Ports.at(43000))
    assert not state.external and state.kubeconfig == lay.kubeconfig
    with pytest.raises(Started):
        cluster.start(lay, echo=lambda _line: None, ports=cluster.Ports.at(43000))


@pytest.mark.usefixtures("starting")
def test_another_clusters_kubeconfig_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs.yaml"
    monkeypatch.setenv("KUBECONFIG", str(theirs))
    lines: list[str] = []
    state = cluster.start(cluster.Layout(tmp_path / "cluster"), echo=lines.append, ports=cluster.Ports.at(43000))
    assert state.external and state.kubeconfig == theirs
    assert lines == [f"cluster: using the cluster from KUBECONFIG={theirs}; nothing embedded started"]


def test_the_domain_floor_decides_for_this_checkouts_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(CLUSTER_DIR / "kubeconfig"))
    assert external_kubeconfig() is None
    monkeypatch.setenv("KUBECONFIG", "/elsewhere/config")
    assert external_kubeconfig() == Path("/elsewhere/config")
    monkeypatch.delenv("KUBECONFIG")
    assert external_kubeconfig() is None
