"""The API relay forwards bytes both ways over an inherited listening socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

from autocloud.paths import REPO_ROOT


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_relay_forwards_to_its_target() -> None:
    target, port = _echo_server()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    relay = subprocess.Popen(
        [sys.executable, "-m", "autocloud.relay", "--listen-fd", str(listener.fileno()), "--target",
         f"127.0.0.1:{port}"],
        pass_fds=(listener.fileno(),), cwd=REPO_ROOT,
    )
    try:
        with socket.create_connection(listener.getsockname(), timeout=5) as client:
            client.sendall(b"vehicle-42")
            client.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := client.recv(1024):
                received += chunk
        assert received == b"VEHICLE-42"
    finally:
        relay.terminate()
        assert relay.wait(timeout=5) == 0
        listener.close()
        target.close()
