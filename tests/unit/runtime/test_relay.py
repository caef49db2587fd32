"""The API relay forwards bytes both ways over an inherited listening socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

from platform_model.paths import REPO_ROOT


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


def _relay(port: int, *extra: str) -> tuple[subprocess.Popen[bytes], socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autocloud.runtime.relay",
            "--listen-fd",
            str(listener.fileno()),
            "--target",
            f"127.0.0.1:{port}",
            *extra,
        ],
        pass_fds=(listener.fileno(),),
        cwd=REPO_ROOT,
    )
    return relay, listener


def test_relay_forwards_to_its_target() -> None:
    target, port = _echo_server()
    relay, listener = _relay(port)
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


def test_a_target_that_never_answers_closes_the_client_after_the_connect_timeout() -> None:
    # A listener whose accept queue is full: Linux drops further SYNs, as for a pod that just went away.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    queued = [socket.create_connection(silent.getsockname(), timeout=1) for _ in range(1)]
    relay, listener = _relay(silent.getsockname()[1], "--connect-timeout", "0.5")
    try:
        with socket.create_connection(listener.getsockname(), timeout=5) as client:
            started = time.monotonic()
            assert client.recv(1024) == b""
            assert time.monotonic() - started < 4, "closed by the relay's timeout, not the kernel's retries"
    finally:
        relay.terminate()
        relay.wait(timeout=5)
        listener.close()
        for conn in (*queued, silent):
            conn.close()


def test_the_relay_lifts_its_open_file_limit_for_a_fleet() -> None:
    """Started from a shell with a low limit, the relay still takes the limit as high as it may go."""
    probe = (
        "import resource\n"
        "from autocloud.runtime import relay\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(relay.raise_open_files(), hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    lifted, hard = map(int, out.stdout.split())
    assert lifted >= hard > 256
