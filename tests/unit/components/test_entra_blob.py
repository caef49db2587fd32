"""EntraBlob's writes against a local stand-in of the Blob service's Put Blob and Delete Blob."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from components.entra_blob import (
    API_VERSION,
    BlobTarget,
    BlobWriteError,
    _EntraBlobProvider,
    delete_blob,
    write_blob,
)

TARGET = BlobTarget("acdeliveryeu", "blob.core.windows.net", "manifests", "autocloud-eu/services.yaml")


class FakeBlobService(ThreadingHTTPServer):
    """Answers each request with the next status in ``statuses`` (then 201) and records it."""

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/manifests/autocloud-eu/services.yaml"


class _Handler(BaseHTTPRequestHandler):
    server: FakeBlobService

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.requests.append({"method": self.command, "headers": dict(self.headers), "body": body})
        status = self.server.statuses.pop(0) if self.server.statuses else 201
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = _answer
    do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Iterator[FakeBlobService]:
    server = FakeBlobService(list(getattr(request, "param", [])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_target_url_is_the_blob_endpoint_of_the_cloud() -> None:
    assert TARGET.url == "https://acdeliveryeu.blob.core.windows.net/manifests/autocloud-eu/services.yaml"
    china = BlobTarget("acdelivercn", "blob.core.chinacloudapi.cn", "manifests", "x.yaml")
    assert china.url == "https://acdelivercn.blob.core.chinacloudapi.cn/manifests/x.yaml"


def test_write_puts_the_whole_blob_with_a_bearer_token(service: FakeBlobService) -> None:
    write_blob(TARGET, "kind: Namespace\n", "application/yaml", token=lambda: "tok", url=service.url)
    (put,) = service.requests
    headers = {k.lower(): v for k, v in put["headers"].items()}
    assert put["method"] == "PUT" and put["body"] == "kind: Namespace\n"
    assert headers["authorization"] == "Bearer tok"
    assert headers["x-ms-version"] == API_VERSION and headers["x-ms-blob-type"] == "BlockBlob"
    assert headers["content-type"] == "application/yaml"
    assert "x-ms-date" not in headers, "no shared-key signature"


@pytest.mark.parametrize("service", [[403, 403]], indirect=True)
def test_write_waits_out_role_propagation(service: FakeBlobService) -> None:
    naps: list[float] = []
    tokens = iter(["t1", "t2", "t3"])
    write_blob(TARGET, "x", "text/plain", token=lambda: next(tokens), sleep=naps.append, url=service.url)
    assert [r["method"] for r in service.requests] == ["PUT", "PUT", "PUT"]
    assert len(naps) == 2
    assert [r["headers"]["Authorization"] for r in service.requests] == ["Bearer t1", "Bearer t2", "Bearer t3"]


@pytest.mark.parametrize("service", [[403]], indirect=True)
def test_write_gives_up_on_403_after_the_propagation_time(service: FakeBlobService) -> None:
    with pytest.raises(BlobWriteError, match=r"^PUT https://acdeliveryeu\.blob\.core\.windows\.net/.*: HTTP 403"):
        write_blob(TARGET, "x", "text/plain", token=lambda: "t", propagation_seconds=0, url=service.url)


@pytest.mark.parametrize("service", [[404]], indirect=True)
def test_write_does_not_retry_other_refusals(service: FakeBlobService) -> None:
    naps: list[float] = []
    with pytest.raises(BlobWriteError, match="HTTP 404"):
        write_blob(TARGET, "x", "text/plain", token=lambda: "t", sleep=naps.append, url=service.url)
    assert naps == [] and len(service.requests) == 1


@pytest.mark.parametrize("service", [[404]], indirect=True)
def test_delete_of_a_missing_blob_is_fine(service: FakeBlobService) -> None:
    delete_blob(TARGET, token=lambda: "t", url=service.url)
    assert service.requests[0]["method"] == "DELETE"


def test_only_a_new_place_replaces_and_content_updates_in_place() -> None:
    provider = _EntraBlobProvider()
    old = {"account": "a", "suffix": "s", "container": "c", "blob": "b", "content": "1", "content_type": "t"}
    assert provider.diff("id", old, dict(old)).changes is False
    content = provider.diff("id", old, {**old, "content": "2"})
    assert content.changes is True and not content.replaces
    moved = provider.diff("id", old, {**old, "blob": "other"})
    assert moved.changes is True and moved.replaces == ["blob"]
