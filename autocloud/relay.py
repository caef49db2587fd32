"""A TCP relay from the host's loopback into the node's network namespace.

The host cannot route into the node's namespace (and must not: no host interface or route is
added), so the cluster start binds the listening socket on the host and starts this relay inside
the node's network namespace with that socket inherited. Connections accepted on the host socket
are forwarded to a target address that only exists inside the node (the API server).
Run as `python -m autocloud.relay --listen-fd N --target HOST:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction; at its end pass the half-close on (the other direction may still talk)."""
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def _handler(host: str, port: int):  # type: ignore[no-untyped-def]
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        for writer in (client_writer, upstream_writer):
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    return handle


async def serve(listen: socket.socket, host: str, port: int) -> None:
    server = await asyncio.start_server(_handler(host, port), sock=listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autocloud.relay")
    parser.add_argument("--listen-fd", type=int, required=True, help="an inherited, bound, listening socket")
    parser.add_argument("--target", required=True, help="HOST:PORT inside this network namespace")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    listen = socket.socket(fileno=args.listen_fd)
    asyncio.run(serve(listen, host, int(port)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
