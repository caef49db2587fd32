"""`cluster start` starts each client of its own RBAC (KWOK, kube-router, the volume provisioner) only once
that RBAC is applied: KWOK exits when it cannot list nodes within its first seconds and kube-router when
its caches do not sync within a minute, so a slow first image import used to leave the simulated node
NotReady, or the NetworkPolicies unenforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autocloud.runtime import cluster
from autocloud.runtime.cluster import lifecycle


class _RecordingApi:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def ready(self) -> bool:
        return True

    def apply(self, obj: dict[str, Any]) -> None:
        self.events.append(f"apply {obj['kind']}/{obj['metadata']['name']}")

    def ensure_simulated_node(self) -> None:
        self.events.append("simulated node")

    def node_ready(self, name: str = "") -> bool:
        return True

    def deployment_available(self, namespace: str, name: str) -> bool:
        return True


def test_each_rbac_client_starts_after_its_role_binding_and_every_other_component_before_the_addons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    lay = cluster.Layout(tmp_path / "cluster")
    monkeypatch.setattr(lifecycle, "external", lambda _lay: None)
    monkeypatch.setattr(lifecycle, "running", lambda _lay, _comp: None)
    monkeypatch.setattr(lifecycle, "port_free", lambda _port: True)
    monkeypatch.setattr(lifecycle, "ensure_pki", lambda _lay: None)
    monkeypatch.setattr(lifecycle, "write_configs", lambda _lay, _ports: None)
    monkeypatch.setattr(lifecycle, "_ensure_holder", lambda _lay, _echo: 1)
    monkeypatch.setattr(lifecycle, "_import_images", lambda _lay, _holder, _echo: events.append("images"))
    monkeypatch.setattr(lifecycle, "unix_socket_serves", lambda _path: True)
    monkeypatch.setattr(lifecycle, "status", lambda *_args: None)
    monkeypatch.setattr(lifecycle, "Api", lambda _lay, _ports: _RecordingApi(events))

    def spawn(_lay: cluster.Layout, comp: cluster.Component, _holder: int, _ports: cluster.Ports) -> int:
        events.append(f"spawn {comp.name}")
        return 1

    monkeypatch.setattr(lifecycle, "spawn", spawn)

    lifecycle.start(lay, echo=lambda _line: None, ports=cluster.Ports.from_env(), honour_kubeconfig=False)

    bound = {c.name for c in cluster.COMPONENTS if f"apply ClusterRoleBinding/autocloud:{c.name}" in events}
    assert bound == {"kwok", "kube-router", "volume-provisioner"}
    for name in bound:
        assert events.index(f"apply ClusterRoleBinding/autocloud:{name}") < events.index(f"spawn {name}"), name
    assert events.index("spawn kwok") < events.index("simulated node")
    first_addon = next(i for i, event in enumerate(events) if event.startswith("apply "))
    others = [c.name for c in cluster.COMPONENTS if c.name not in bound]
    assert all(events.index(f"spawn {name}") < first_addon for name in others)


def test_a_start_that_adds_an_identity_restarts_the_running_api_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API server reads its tokens once: an upgrade adding one (the volume provisioner's) must restart it."""
    lay = cluster.Layout(tmp_path / "cluster")
    lay.pki.mkdir(parents=True)
    lay.token_file.write_text("old,autocloud-admin,autocloud-admin\n")
    restarted: list[str] = []

    def ensure_pki(layout: cluster.Layout) -> None:
        layout.token_file.write_text(layout.token_file.read_text() + "new,autocloud:volume-provisioner,x\n")

    def stop_here(*_args: Any) -> None:
        raise RuntimeError("stop after the identities are settled")

    monkeypatch.setattr(lifecycle, "external", lambda _lay: None)
    monkeypatch.setattr(lifecycle, "running", lambda _lay, _comp: 1)
    monkeypatch.setattr(lifecycle, "ensure_pki", ensure_pki)
    monkeypatch.setattr(lifecycle, "_restart_for_new_identities", lambda _lay, _echo: restarted.append("apiserver"))
    monkeypatch.setattr(lifecycle, "write_configs", stop_here)
    with pytest.raises(RuntimeError, match="stop after"):
        lifecycle.start(lay, echo=lambda _line: None, ports=cluster.Ports.from_env(), honour_kubeconfig=False)
    assert restarted == ["apiserver"]

    restarted.clear()
    monkeypatch.setattr(lifecycle, "ensure_pki", lambda _layout: None)
    with pytest.raises(RuntimeError, match="stop after"):
        lifecycle.start(lay, echo=lambda _line: None, ports=cluster.Ports.from_env(), honour_kubeconfig=False)
    assert restarted == [], "unchanged identities leave the API server alone"
