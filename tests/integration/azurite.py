"""Azurite, the Azure Storage emulator, as a test fixture: started from `.toolchain/node` (installed by
`make node-tools`) on a free loopback port, and a tiny Blob REST client signed with SharedKey.

The account and key are Azurite's documented development credentials, public by design.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

from platform_model.paths import TOOLCHAIN_DIR

AZURITE = TOOLCHAIN_DIR / "node" / "node_modules" / ".bin" / "azurite-blob"
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2021-12-02"


class AzuriteError(Exception):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Azurite:
    """One Azurite blob service this test session started (and only this one is stopped)."""

    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Azurite:
        if not AZURITE.is_file():
            raise AzuriteError(f"{AZURITE} is missing: run `make node-tools`")
        for _attempt in range(3):  # a port picked free can be taken before Azurite binds it
            self.port = free_port()
            log = (self.workdir / "azurite.log").open("ab")
            self.process = subprocess.Popen(
                [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                 "--location", str(self.workdir), "--silent", "--skipApiVersionCheck", "--loose",
                 "--disableTelemetry"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.2)
            self.stop()
        tail = (self.workdir / "azurite.log").read_text(errors="replace")[-2000:]
        raise AzuriteError(f"Azurite did not start: {tail}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    # --- Blob REST, SharedKey -------------------------------------------------------------------

    def request(self, method: str, path: str, query: dict[str, str] | None = None) -> bytes:
        """A signed request to `/<account>/<path>`; returns the body, raises on a non-2xx answer."""
        query = query or {}
        url_path = f"/{DEV_ACCOUNT}/{quote(path)}"
        headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": API_VERSION}
        canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
        # The emulator's URLs carry the account in the path, so it appears twice here (documented).
        canonical_resource = f"/{DEV_ACCOUNT}{url_path}" + "".join(
            f"\n{k.lower()}:{v}" for k, v in sorted(query.items())
        )
        # VERB, then eleven standard headers we never send (Content-Length 0 signs as empty).
        string_to_sign = f"{method}\n" + "\n" * 11 + canonical_headers + canonical_resource
        digest = hmac.new(base64.b64decode(DEV_KEY), string_to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = f"SharedKey {DEV_ACCOUNT}:{base64.b64encode(digest).decode()}"
        query_string = "&".join(f"{k}={quote(v)}" for k, v in query.items())
        url = f"{self.endpoint}{url_path}" + (f"?{query_string}" if query_string else "")
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as error:
            raise AzuriteError(f"{method} {url_path}: HTTP {error.code}: {error.read()[:500]!r}") from None

    def create_container(self, name: str) -> None:
        self.request("PUT", name, {"restype": "container"})

    def list_blobs(self, container: str) -> list[str]:
        body = self.request("GET", container, {"comp": "list", "restype": "container"})
        root = ElementTree.fromstring(body)
        return sorted(node.text or "" for node in root.iter("Name"))

    def read_blob(self, container: str, name: str) -> bytes:
        return self.request("GET", f"{container}/{name}")
