"""Pushing an image built here to a registry: a small OCI distribution registry in-process, with the
bearer-token challenge Azure Container Registry answers with."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from autocloud.operations.images_push import TOKEN_USER, push_stack_images
from autocloud.runtime import images
from autocloud.runtime.registry_push import MANIFEST_TYPE, PushError, RegistryClient, read_archive
from platform_model.errors import InputError

REFRESH_TOKEN = "acr-refresh-token"
ACCESS_TOKEN = "registry-access-token"


class FakeRegistry(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.uploads: list[str] = []
        self.token_requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeRegistry

    def _send(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {ACCESS_TOKEN}":
            return True
        realm = f"{self.server.url}/oauth2/token"
        challenge = f'Bearer realm="{realm}",service="fake.azurecr.io",scope="repository:statewriter:pull,push"'
        self._send(401, {"WWW-Authenticate": challenge})
        return False

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/oauth2/token":
            expected = base64.b64encode(f"{TOKEN_USER}:{REFRESH_TOKEN}".encode()).decode()
            self.server.token_requests.append(dict(urllib.parse.parse_qsl(parts.query)))
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._send(401)
                return
            self._send(200, {"Content-Type": "application/json"}, json.dumps({"access_token": ACCESS_TOKEN}).encode())
            return
        self._send(404)

    def do_HEAD(self) -> None:
        if self._authorized():
            digest = self.path.rsplit("/", 1)[-1]
            self._send(200 if digest in self.server.blobs else 404)

    def do_POST(self) -> None:
        if self._authorized():
            self._send(202, {"Location": f"/v2/statewriter/blobs/uploads/{len(self.server.uploads)}"})

    def do_PUT(self) -> None:
        if not self._authorized():
            return
        parts = urllib.parse.urlsplit(self.path)
        body = self._body()
        if "/blobs/uploads/" in parts.path:
            digest = dict(urllib.parse.parse_qsl(parts.query))["digest"]
            if digest != "sha256:" + hashlib.sha256(body).hexdigest():
                self._send(400)
                return
            self.server.blobs[digest] = body
            self.server.uploads.append(digest)
            self._send(201)
        elif "/manifests/" in parts.path:
            self.server.manifests[parts.path.rsplit("/", 1)[-1]] = (self.headers["Content-Type"], body)
            self._send(201)
        else:
            self._send(404)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    binary = tmp_path / "statewriter"
    binary.write_bytes(b"\x7fELF not really")
    spec = images.ImageSpec("statewriter", "0.1.0", {"/statewriter": binary}, ["/statewriter"])
    out = tmp_path / "statewriter.tar"
    images.write_archive(spec, out)
    return out


def test_push_uploads_layer_and_config_then_the_manifest(registry: FakeRegistry, archive: Path) -> None:
    image = read_archive(archive)
    lines: list[str] = []
    digest = RegistryClient(registry.url, TOKEN_USER, REFRESH_TOKEN).push(image, "statewriter", "0.1.0", lines.append)

    media_type, body = registry.manifests["0.1.0"]
    manifest = json.loads(body)
    assert media_type == MANIFEST_TYPE and digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert manifest["config"]["digest"] == image.config.digest
    assert [layer["digest"] for layer in manifest["layers"]] == [layer.digest for layer in image.layers]
    assert set(registry.blobs) == {image.config.digest, *(layer.digest for layer in image.layers)}
    assert json.loads(registry.blobs[image.config.digest])["config"]["Entrypoint"] == ["/statewriter"]
    assert registry.token_requests[0] == {"service": "fake.azurecr.io", "scope": "repository:statewriter:pull,push"}
    assert len(lines) == 2 and all("pushed" in line for line in lines)


def test_a_second_push_uploads_no_blob_again(registry: FakeRegistry, archive: Path) -> None:
    client = RegistryClient(registry.url, TOKEN_USER, REFRESH_TOKEN)
    client.push(read_archive(archive), "statewriter", "0.1.0", lambda _: None)
    uploads = list(registry.uploads)
    lines: list[str] = []
    client.push(read_archive(archive), "statewriter", "0.1.0", lines.append)
    assert registry.uploads == uploads and all("already there" in line for line in lines)


def test_wrong_credentials_are_one_line(registry: FakeRegistry, archive: Path) -> None:
    client = RegistryClient(registry.url, TOKEN_USER, "stale")
    with pytest.raises(PushError, match=r"the token endpoint refused the credentials \(HTTP 401\)$"):
        client.push(read_archive(archive), "statewriter", "0.1.0", lambda _: None)


def test_push_stack_images_targets_the_regions_registry(registry: FakeRegistry, archive: Path, tmp_path: Path) -> None:
    binary = tmp_path / "statewriter"
    spec = images.ImageSpec("statewriter", "0.1.0", {"/statewriter": binary}, ["/statewriter"])
    asked: list[str] = []

    def token(name: str) -> str:
        asked.append(name)
        return REFRESH_TOKEN

    def outputs(stack: str) -> dict[str, Any]:
        return {"endpoints": {"registry": {"login_server": "acregistrycn1234.azurecr.cn"}}}

    pushed = push_stack_images("azure-cn", tmp_path / "out", lambda _: None, outputs, token, registry.url, [spec])
    assert asked == ["acregistrycn1234"]
    assert [p.reference for p in pushed] == ["acregistrycn1234.azurecr.cn/statewriter:0.1.0"]
    assert "0.1.0" in registry.manifests


def test_push_stack_images_needs_an_applied_stack(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="stack azure-eu has no registry in its outputs"):
        push_stack_images("azure-eu", tmp_path, lambda _: None, lambda _: {"endpoints": {}}, lambda _: "t")


def test_push_stack_images_refuses_a_local_stack(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="stack 'local-eu' is local"):
        push_stack_images("local-eu", tmp_path, lambda _: None, lambda _: {}, lambda _: "t")
