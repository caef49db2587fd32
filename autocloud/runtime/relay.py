"""A TCP relay from the host's loopback into the node's network namespace.

The host cannot route into the node's namespace (and must not: no host interface or route is
added), so the cluster start binds the listening socket on the host and starts this relay inside
the node's network namespace with that socket inherited. Connections accepted on the host socket
are forwarded to a target address that only exists inside the node (the API server).
Run as `python -m autocloud.runtime.relay --listen-fd N --target HOST:PORT`, or with `--forward N=HOST:PORT`
once per socket (the vehicle simulator's tunnels to each scale unit's broker).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
import socket
from collections.abc import Awaitable, Callable

CHUNK = 64 * 1024
BACKLOG = 4096
"""Connections waiting to be accepted: a fleet of vehicles connecting at once must not have its SYNs
dropped (asyncio's default is 100; the kernel caps it at net.core.somaxconn)."""
OPEN_FILES = 1 << 20
"""Two descriptors per relayed connection: 10,000 connected vehicles need more than a shell's usual limit."""
CONNECT_TIMEOUT_S = 5.0
"""A target that drops the connection attempt (a pod just gone, before kube-proxy has caught up) would
otherwise hold the client for the kernel's two-minute SYN retries; closing sooner lets it retry."""


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction; at its end pass the half-close on (the other direction may still talk)."""
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(host: str, port: int, connect_timeout: float) -> Handler:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), connect_timeout
            )
        except (OSError, TimeoutError):
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        for writer in (client_writer, upstream_writer):
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    return handle


async def serve(forwards: list[tuple[socket.socket, str, int]], connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
    servers = [
        await asyncio.start_server(_handler(host, port, connect_timeout), sock=listen, backlog=BACKLOG)
        for listen, host, port in forwards
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def raise_open_files(wanted: int = OPEN_FILES) -> int:
    """Lift this process's open-file limit towards ``wanted`` (the hard limit too where allowed, as root may)
    and return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((wanted, wanted), (hard, hard)):
        with contextlib.suppress(ValueError, OSError):
            if limits[0] > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, limits)
                break
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _target(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """Started only by the cluster code, never by a person: plain argparse, not the Typer CLI."""
    parser = argparse.ArgumentParser(prog="python -m autocloud.runtime.relay")
    parser.add_argument("--listen-fd", type=int, help="an inherited, bound, listening socket")
    parser.add_argument("--target", help="HOST:PORT inside this network namespace, for --listen-fd")
    parser.add_argument(
        "--forward",
        action="append",
        default=[],
        metavar="FD=HOST:PORT",
        help="another inherited listening socket and its target (repeatable)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT_S,
        help="seconds to reach a target before the client's connection is closed",
    )
    args = parser.parse_args(argv)
    pairs = [(args.listen_fd, args.target)] if args.listen_fd is not None else []
    pairs += [(int(fd), target) for fd, _, target in (f.partition("=") for f in args.forward)]
    if not pairs or any(target is None for _, target in pairs):
        parser.error("give --listen-fd with --target, or --forward FD=HOST:PORT")
    forwards = [(socket.socket(fileno=fd), *_target(target)) for fd, target in pairs]
    raise_open_files()
    asyncio.run(serve(forwards, args.connect_timeout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
