"""The embedded cluster's lifecycle: idempotent start, status, stop, restart with data kept."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from autocloud import cluster
from tests.integration.conftest import TEST_PORT_BASE

pytestmark = pytest.mark.integration

# Apart from the session cluster's ports, so both can run at once.
LIFECYCLE_BASE = TEST_PORT_BASE + 1000
PORTS = cluster.Ports(etcd_client=LIFECYCLE_BASE + 379, etcd_peer=LIFECYCLE_BASE + 380,
                      apiserver=LIFECYCLE_BASE + 443, kwok=LIFECYCLE_BASE + 247)


def _quiet(_line: str) -> None:
    pass


def test_start_twice_status_stop_restart_keeps_data(tmp_path: Path) -> None:
    layout = cluster.Layout(tmp_path / "cluster")
    try:
        first = cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
        assert first.running and first.node_ready
        pids = {c.name: c.pid for c in first.components}

        lines: list[str] = []
        second = cluster.start(layout, echo=lines.append, ports=PORTS, honour_kubeconfig=False)
        assert {c.name: c.pid for c in second.components} == pids, "a second start must reuse the processes"
        assert not any("started" in line for line in lines)

        api = cluster.Api(layout, PORTS)
        api.request("POST", "/api/v1/namespaces/default/configmaps",
                    {"metadata": {"name": "survivor"}, "data": {"kept": "yes"}})

        stopped = cluster.stop(layout, echo=_quiet)
        assert set(stopped) == {c.name for c in cluster.COMPONENTS}
        down = cluster.status(layout, PORTS, honour_kubeconfig=False)
        assert not down.running and not any(c.running for c in down.components)

        cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
        kept = api.request("GET", "/api/v1/namespaces/default/configmaps/survivor")
        assert kept["data"] == {"kept": "yes"}
    finally:
        cluster.stop(layout, echo=_quiet)


def test_stale_pid_file_is_replaced(tmp_path: Path) -> None:
    layout = cluster.Layout(tmp_path / "cluster")
    layout.pids.mkdir(parents=True)
    (layout.pids / "etcd.pid").write_text("999999\n")
    lines: list[str] = []
    try:
        cluster.start(layout, echo=lines.append, ports=PORTS, honour_kubeconfig=False)
        assert any("stale pid file for etcd" in line for line in lines)
        assert cluster.status(layout, PORTS, honour_kubeconfig=False).running
    finally:
        cluster.stop(layout, echo=_quiet)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    layout = cluster.Layout(tmp_path / "cluster")
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", PORTS.etcd_client))
        squatter.listen()
        with pytest.raises(cluster.ClusterError, match=f"port {PORTS.etcd_client} on 127.0.0.1 is in use"):
            cluster.start(layout, echo=_quiet, ports=PORTS, honour_kubeconfig=False)
    assert not any(c.running for c in cluster.status(layout, PORTS, honour_kubeconfig=False).components)


def test_external_kubeconfig_is_used_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setenv("KUBECONFIG", str(theirs))
    lines: list[str] = []
    state = cluster.start(cluster.Layout(tmp_path / "unused"), echo=lines.append)
    assert state.external and state.kubeconfig == theirs
    assert not (tmp_path / "unused").exists()
