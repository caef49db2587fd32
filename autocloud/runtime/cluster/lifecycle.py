"""Start, watch, stop and inspect the embedded cluster."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from autocloud.runtime import images, node
from autocloud.runtime.cluster import volumes
from autocloud.runtime.cluster.addons import addons
from autocloud.runtime.cluster.api import Api
from autocloud.runtime.cluster.pki import ensure_pki, write_configs
from autocloud.runtime.cluster.processes import (
    ProcRecord,
    binary,
    port_free,
    read_pid,
    read_record,
    running,
    spawn,
    terminate,
    unix_socket_serves,
    write_record,
)
from autocloud.runtime.cluster.settings import (
    COMPONENTS,
    HOLDER,
    NODE_NAME,
    RELAY,
    SIMULATED_NODE,
    START_TIMEOUT_SECONDS,
    ClusterError,
    Component,
    Layout,
    Ports,
    default_layout,
    external,
)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    log: Path | None = None


@dataclass(frozen=True)
class ClusterStatus:
    kubeconfig: Path
    external: bool
    components: tuple[ComponentStatus, ...]
    api_ready: bool
    node_ready: bool
    dns_ready: bool = False

    @property
    def running(self) -> bool:
        return self.external or (all(c.running for c in self.components) and self.api_ready)

    @property
    def dead(self) -> tuple[ComponentStatus, ...]:
        return tuple(c for c in self.components if not c.running and c.pid is not None)


def _wait(what: str, check: Callable[[], bool], deadline: float, lay: Layout, log: str | None = None) -> None:
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    hint = f"; see {lay.logs / log}" if log else ""
    raise ClusterError(f"timed out waiting for {what}{hint}")


def _ensure_holder(lay: Layout, echo: Callable[[str], None]) -> int:
    """The node's namespaces: reuse a live holder, else clear what an old node left and make new ones."""
    pid = running(lay, HOLDER)
    if pid is not None:
        return pid
    if any(read_pid(lay, comp) is not None for comp in (*COMPONENTS, HOLDER)):
        echo("cluster: the node's namespaces are gone; clearing what was left and starting afresh")
        _stop_components(lay, lambda _line: None)
    pid = write_record(lay, HOLDER, node.start_holder(lay.logs / "node-namespaces.log")).pid
    node.prepare(pid, lay.node)
    node.ensure_cgroups(node.cgroup_root(lay.root))
    return pid


def _import_images(lay: Layout, holder: int, echo: Callable[[str], None]) -> None:
    """Import each image tarball into containerd's k8s.io namespace unless that exact tarball was."""
    try:
        tarballs = images.build_all(lay.node.images)
    except images.ImageError as exc:
        raise ClusterError(str(exc)) from None
    record = lay.node.root / "imported.json"
    try:
        done = json.loads(record.read_text())
    except (OSError, ValueError):
        done = {}
    ctr = [*node.enter(holder), binary("ctr"), "--address", node.CONTAINERD_SOCKET, "-n", "k8s.io"]
    present = set(node.run([*ctr, "images", "ls", "-q"], "listing the node's images").split())
    for reference, tarball in tarballs.items():
        digest = tarball.with_suffix(".inputs").read_text()
        if reference in present and done.get(reference) == digest:
            continue
        node.run([*ctr, "images", "import", "--no-unpack=false", str(tarball)], f"importing {reference}")
        done[reference] = digest
        echo(f"cluster: imported image {reference}")
    record.write_text(json.dumps(done, indent=2) + "\n")


def start(
    layout: Layout | None = None,
    echo: Callable[[str], None] = print,
    ports: Ports | None = None,
    honour_kubeconfig: bool = True,
) -> ClusterStatus:
    """Start whatever is not running (a dead component is named and restarted), then wait until the
    API answers, the node is Ready and cluster DNS serves."""
    lay = layout or default_layout()
    other = external(lay) if honour_kubeconfig else None
    if other is not None:
        echo(f"cluster: using the cluster from KUBECONFIG={other}; nothing embedded started")
        return status(lay)
    ports = ports or Ports.from_env()
    for folder in (lay.root, lay.logs, lay.pids, lay.configs):
        folder.mkdir(parents=True, exist_ok=True)
    if running(lay, RELAY) is None and not port_free(ports.apiserver):
        raise ClusterError(
            f"cannot start {RELAY.name}: port {ports.apiserver} on 127.0.0.1 is in use by another "
            "process (stop it, or set AUTOCLOUD_CLUSTER_PORT_BASE)"
        )
    identities = lay.token_file.read_text() if lay.token_file.exists() else None
    ensure_pki(lay)
    if identities is not None and lay.token_file.read_text() != identities:
        _restart_for_new_identities(lay, echo)
    write_configs(lay, ports)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    api = Api(lay, ports)
    try:
        holder = _ensure_holder(lay, echo)
    except node.NodeError as exc:
        raise ClusterError(str(exc)) from None

    for comp in COMPONENTS:
        if not comp.after_addons:
            _start_component(lay, comp, holder, ports, api, deadline, echo)
    try:
        # Before any pod is applied; kubelet needs the pause image for its first sandbox.
        _import_images(lay, holder, echo)
    except node.NodeError as exc:
        raise ClusterError(str(exc)) from None
    _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")
    for obj in addons():
        api.apply(obj)
    for comp in COMPONENTS:
        if comp.after_addons:
            _start_component(lay, comp, holder, ports, api, deadline, echo)
    api.ensure_simulated_node()
    _wait(f"node {NODE_NAME} to become Ready", api.node_ready, deadline, lay, "kubelet.log")
    _wait(f"node {SIMULATED_NODE} to become Ready", lambda: api.node_ready(SIMULATED_NODE), deadline, lay, "kwok.log")
    _wait("CoreDNS to serve", lambda: api.deployment_available("kube-system", "coredns"), deadline, lay, "kubelet.log")
    return status(lay, ports, honour_kubeconfig)


def _restart_for_new_identities(lay: Layout, echo: Callable[[str], None]) -> None:
    """The API server reads its static tokens at start: after an upgrade that adds an identity (the volume
    provisioner's), a running one is stopped here so the start below runs it again with the new file."""
    apiserver = next(c for c in COMPONENTS if c.name == "kube-apiserver")
    record = read_record(lay, apiserver)
    if record is not None and record.alive():
        echo("cluster: restarting kube-apiserver: it learns new identities only at start")
        terminate(record)
        (lay.pids / f"{apiserver.name}.pid").unlink(missing_ok=True)


def _start_component(
    lay: Layout, comp: Component, holder: int, ports: Ports, api: Api, deadline: float, echo: Callable[[str], None]
) -> None:
    """Start one component unless it runs (naming one that had died), and wait for those others need at once."""
    old = read_pid(lay, comp)
    if old is not None and running(lay, comp) is not None:
        return
    if old is not None:
        echo(f"cluster: {comp.name} (pid {old}) had stopped; restarting it (log: {lay.logs / comp.name}.log)")
    pid = spawn(lay, comp, holder, ports)
    echo(f"cluster: started {comp.name} (pid {pid})")
    if comp is RELAY:
        _wait("the API server to become ready", api.ready, deadline, lay, "kube-apiserver.log")
    elif comp.name == "containerd":
        containerd = node.in_node(holder, node.CONTAINERD_SOCKET)
        _wait("containerd to serve", partial(unix_socket_serves, containerd), deadline, lay, "containerd.log")


class Watch:
    """Polls the cluster's processes while an engine run depends on them: a component that dies is
    named with its log within a second, where the engine would retry for ten minutes. `on_death`
    gets the one-line reason, then again on every later poll (to end what the run starts meanwhile)."""

    def __init__(self, lay: Layout, on_death: Callable[[str], None], interval: float = 0.5, idle: bool = False) -> None:
        self.lay = lay
        self.on_death = on_death
        self.interval = interval
        self.failure: str | None = None
        self._idle = idle
        self._records: dict[str, ProcRecord] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="cluster-watch", daemon=True)

    def __enter__(self) -> Watch:
        if not self._idle:
            for comp in (HOLDER, *COMPONENTS):
                record = read_record(self.lay, comp)
                if record is not None and record.alive():
                    self._records[comp.name] = record
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            if self.failure is None:
                dead = next((name for name, record in self._records.items() if not record.alive()), None)
                if dead is None:
                    continue
                self.failure = f"{dead} died (log: {self.lay.logs / dead}.log)"
            self.on_death(self.failure)


def watch(
    on_death: Callable[[str], None], layout: Layout | None = None, interval: float = 0.5, idle: bool = False
) -> Watch:
    """A `Watch` of the embedded cluster; of nothing when `idle` or KUBECONFIG names another cluster."""
    lay = layout or default_layout()
    return Watch(lay, on_death, interval, idle=idle or external(lay) is not None)


def _stop_components(lay: Layout, echo: Callable[[str], None]) -> list[str]:
    stopped = []
    for comp in reversed(COMPONENTS):
        record = read_record(lay, comp)
        if record is None:
            (lay.pids / f"{comp.name}.pid").unlink(missing_ok=True)
            continue
        if record.alive():
            terminate(record)
            stopped.append(comp.name)
            echo(f"cluster: stopped {comp.name} (pid {record.pid})")
        (lay.pids / f"{comp.name}.pid").unlink(missing_ok=True)
    holder = running(lay, HOLDER)
    node.sweep(holder, node.cgroup_root(lay.root))
    (lay.pids / f"{HOLDER.name}.pid").unlink(missing_ok=True)
    if holder is not None:
        stopped.append(HOLDER.name)
    return stopped


def wait_volumes_removed(layout: Layout | None = None, timeout: float = 30.0) -> list[str]:
    """After a destroy, wait (up to ``timeout``) until the provisioner has removed every volume it made, so a
    stop right after leaves no folder behind; the names still there at the end (none if the embedded
    cluster is not the one in use, or not running)."""
    lay = layout or default_layout()
    if external(lay) is not None or running(lay, HOLDER) is None:
        return []
    api = Api(lay, Ports.from_env())
    deadline = time.monotonic() + timeout
    while True:
        try:
            left = volumes.ours(api.request("GET", "/api/v1/persistentvolumes")["items"])
        except (OSError, ValueError, KeyError):  # the API server is gone: nothing more will be removed
            return []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def stop(layout: Layout | None = None, echo: Callable[[str], None] = print) -> list[str]:
    """Stop everything this checkout started (by pid file), containers included, in reverse start order;
    no process, mount, cgroup, link or namespace is left behind. Data is kept."""
    return _stop_components(layout or default_layout(), echo)


def status(layout: Layout | None = None, ports: Ports | None = None, honour_kubeconfig: bool = True) -> ClusterStatus:
    lay = layout or default_layout()
    other = external(lay) if honour_kubeconfig else None
    comps = []
    for comp in (HOLDER, *COMPONENTS):
        record = read_record(lay, comp)
        comps.append(
            ComponentStatus(
                comp.name,
                record.pid if record else None,
                bool(record and record.alive()),
                lay.logs / f"{comp.name}.log",
            )
        )
    api_ready = node_ready = dns_ready = False
    if other is None and lay.token_file.exists():
        api = Api(lay, ports or Ports.from_env())
        api_ready = api.ready()
        node_ready = api_ready and api.node_ready()
        dns_ready = api_ready and api.deployment_available("kube-system", "coredns")
    return ClusterStatus(
        kubeconfig=other or lay.kubeconfig,
        external=other is not None,
        components=tuple(comps),
        api_ready=api_ready,
        node_ready=node_ready,
        dns_ready=dns_ready,
    )
