"""Host ports forwarded into the node, for addresses that exist only there."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from autocloud.runtime import node
from autocloud.runtime.cluster.processes import listen, running
from autocloud.runtime.cluster.settings import HOLDER, RELAY, ClusterError, Layout, default_layout


@dataclass
class Tunnel:
    """Host loopback ports forwarded into the embedded node, one per target address."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    """Target ``host:port`` inside the node -> port on 127.0.0.1."""

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def on_node_network(layout: Layout | None = None) -> list[str]:
    """The argv prefix that runs a host program on the node's network (the host's files, the node's
    Service addresses): a load generator there dials the Services as the relay would, without its hop."""
    lay = layout or default_layout()
    holder = running(lay, HOLDER)
    if holder is None:
        raise ClusterError(f"the embedded cluster in {lay.root} is not running: start it with `autocloud up`")
    return node.enter(holder, mount=False)


def open_tunnel(targets: list[str], layout: Layout | None = None, local_ports: list[int] | None = None) -> Tunnel:
    """Reach addresses that exist only inside the node (Service ClusterIPs) from this machine, the
    way vehicles reach IoT Hub's public endpoint: through the node, nothing added to the host.

    Each target gets an ephemeral port on 127.0.0.1, or the one ``local_ports`` names at its position
    (for device software that dials a fixed port, such as 8883)."""
    lay = layout or default_layout()
    enter = on_node_network(lay)
    if local_ports is not None and len(local_ports) != len(targets):
        raise ValueError("local_ports must name one port per target")
    listeners = [listen(port) for port in (local_ports or [0] * len(targets))]
    try:
        argv = [
            *enter,
            sys.executable,
            "-m",
            RELAY.binary,
            *[f"--forward={sock.fileno()}={target}" for sock, target in zip(listeners, targets, strict=True)],
        ]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[sock.fileno() for sock in listeners],
        )
        ports = {target: sock.getsockname()[1] for sock, target in zip(listeners, targets, strict=True)}
    finally:
        for sock in listeners:
            sock.close()
    return Tunnel(proc, ports)
