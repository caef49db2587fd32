"""Push an image built here (a docker-archive tarball, ``autocloud.runtime.images``) to a registry, no Docker.

The OCI distribution API is enough: each blob (the layer, the config) goes up unless the registry has
it (``HEAD /v2/<repo>/blobs/<digest>``; ``POST /v2/<repo>/blobs/uploads/`` then a monolithic
``PUT <location>?digest=<digest>``), then the manifest (``PUT /v2/<repo>/manifests/<tag>``)
(https://github.com/opencontainers/distribution-spec/blob/main/spec.md, "Push"). A registry that
answers 401 with a ``Bearer`` challenge is asked for a token at the challenge's realm with basic
credentials, as Docker's token authentication does; Azure Container Registry takes the user
``00000000-0000-0000-0000-000000000000`` and the token ``az acr login --expose-token`` prints
(https://learn.microsoft.com/azure/container-registry/container-registry-authentication, "az acr login
with --expose-token").
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platform_model.errors import AutocloudError

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
"""The layer as built here: an uncompressed tar."""


class PushError(AutocloudError):
    """The registry refused the push; one line for the user."""


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class ArchivedImage:
    """A docker-archive tarball's one image, as OCI blobs and the manifest that names them."""

    config: Blob
    layers: tuple[Blob, ...]

    def manifest(self) -> bytes:
        document = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": self.config.descriptor(),
            "layers": [layer.descriptor() for layer in self.layers],
        }
        return json.dumps(document, sort_keys=True).encode()


def read_archive(tarball: Path) -> ArchivedImage:
    """The image in a docker-archive tarball (``manifest.json`` naming its config and layers)."""
    with tarfile.open(tarball) as tar:

        def member(name: str) -> bytes:
            handle = tar.extractfile(name)
            if handle is None:
                raise PushError(f"{tarball}: {name} is missing")
            return handle.read()

        (entry,) = json.loads(member("manifest.json"))
        config = Blob(CONFIG_TYPE, member(entry["Config"]))
        layers = tuple(Blob(LAYER_TYPE, member(name)) for name in entry["Layers"])
    return ArchivedImage(config, layers)


class RegistryClient:
    """The few OCI distribution calls a push needs, against ``base`` (``https://<login server>``)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base.rstrip("/")
        self._basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._bearer: str | None = None

    def push(self, image: ArchivedImage, repository: str, tag: str, progress: Callable[[str], None]) -> str:
        """Upload what the registry lacks, then the manifest; returns the manifest's digest."""
        for blob in (*image.layers, image.config):
            if self._request("HEAD", f"/v2/{repository}/blobs/{blob.digest}", ok=(200, 404))[0] == 200:
                progress(f"{repository}: {blob.digest[:19]} already there")
                continue
            _, headers = self._request("POST", f"/v2/{repository}/blobs/uploads/", ok=(202,))
            location = urllib.parse.urljoin(self.base + "/", headers.get("Location", ""))
            separator = "&" if "?" in location else "?"
            self._request(
                "PUT",
                f"{location}{separator}digest={urllib.parse.quote(blob.digest)}",
                body=blob.data,
                content_type="application/octet-stream",
                ok=(201,),
            )
            progress(f"{repository}: {blob.digest[:19]} pushed ({len(blob.data) / 2**20:.1f} MiB)")
        manifest = image.manifest()
        self._request("PUT", f"/v2/{repository}/manifests/{tag}", body=manifest, content_type=MANIFEST_TYPE, ok=(201,))
        return "sha256:" + hashlib.sha256(manifest).hexdigest()

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        ok: tuple[int, ...] = (200,),
        retried: bool = False,
    ) -> tuple[int, dict[str, str]]:
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self._bearer:
            request.add_header("Authorization", f"Bearer {self._bearer}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                status, headers = response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            status, headers = error.code, dict(error.headers)
        except urllib.error.URLError as error:
            raise PushError(f"{self.base}: cannot connect: {error.reason}") from None
        if status == 401 and not retried:
            self._bearer = self._token(headers.get("WWW-Authenticate", ""))
            return self._request(method, path, body, content_type, ok, retried=True)
        if status not in ok:
            raise PushError(f"{method} {url.split('?')[0]}: HTTP {status}")
        return status, headers

    def _token(self, challenge: str) -> str:
        """A bearer token for the challenge's realm, service and scope, asked with the basic credentials."""
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if not challenge.lower().startswith("bearer ") or "realm" not in fields:
            raise PushError(f"{self.base}: unauthorized, and no bearer challenge to answer")
        query = urllib.parse.urlencode({k: v for k, v in fields.items() if k in ("service", "scope")})
        request = urllib.request.Request(f"{fields['realm']}?{query}")
        request.add_header("Authorization", f"Basic {self._basic}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise PushError(f"{self.base}: the token endpoint refused the credentials (HTTP {error.code})") from None
        token = answer.get("access_token") or answer.get("token")
        if not isinstance(token, str):
            raise PushError(f"{self.base}: the token endpoint answered no token")
        return token
