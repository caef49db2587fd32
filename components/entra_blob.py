"""A blob the stack writes with Entra ID, so its storage account can refuse shared keys.

``azure_native.storage.Blob`` writes with the account key it lists through ARM
(https://github.com/pulumi/pulumi-azure-native/issues/2015, open), which forces
``allowSharedKeyAccess: true`` on the account. This dynamic resource writes the blob through the Blob
service's REST API with a bearer token instead: "Azure Storage supports using Microsoft Entra ID to
authorize requests to blob data", in all public regions and national clouds
(https://learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory). The token is the
deploying identity's, for the resource ``https://storage.azure.com/``, taken from the Azure CLI
(``az account get-access-token``) as the operator tool's other data-plane calls are
(``autocloud fleet enroll``). OAuth bearer tokens need ``x-ms-version`` 2017-11-09 or later
(https://learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory).

The deploying identity holds Storage Blob Data Contributor on the container, granted by the same stack
just before (``components.delivery``). A new role assignment can take up to 10 minutes to apply
(https://learn.microsoft.com/azure/role-based-access-control/troubleshooting), so a 403 is retried for up
to ``propagation_seconds``. Nothing is called in a preview: a dynamic resource's ``create`` and ``update``
run only when applying.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

STORAGE_RESOURCE = "https://storage.azure.com/"
API_VERSION = "2021-08-06"
RETRY_SECONDS = 15.0
PROPAGATION_SECONDS = 600


class BlobWriteError(Exception):
    """The blob service refused a write for a reason waiting does not fix; one line for the user."""


def az_storage_token() -> str:
    """The signed-in Azure CLI identity's token for Azure Storage (the cloud ``az cloud set`` chose)."""
    try:
        done = subprocess.run(
            ["az", "account", "get-access-token", "--resource", STORAGE_RESOURCE, "--output", "json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError:
        raise BlobWriteError("the Azure CLI (az) is needed to write the services blob with Entra ID") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BlobWriteError(f"az account get-access-token failed: {last}")
    return str(json.loads(done.stdout)["accessToken"])


@dataclass(frozen=True)
class BlobTarget:
    """Where one blob lives: ``https://<account>.<blob suffix>/<container>/<blob>``."""

    account: str
    suffix: str
    container: str
    blob: str

    @property
    def url(self) -> str:
        return f"https://{self.account}.{self.suffix}/{self.container}/{self.blob}"


def write_blob(
    target: BlobTarget,
    content: str,
    content_type: str,
    token: Callable[[], str] = az_storage_token,
    propagation_seconds: float = PROPAGATION_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    url: str | None = None,
) -> None:
    """PUT the whole blob (one Put Blob call), retrying a 403 while the role assignment propagates."""
    body = content.encode()
    deadline = time.monotonic() + propagation_seconds
    while True:
        request = urllib.request.Request(url or target.url, data=body, method="PUT")
        request.add_header("Authorization", f"Bearer {token()}")
        request.add_header("x-ms-version", API_VERSION)
        request.add_header("x-ms-blob-type", "BlockBlob")
        request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60):
                return
        except urllib.error.HTTPError as error:
            if error.code != 403 or time.monotonic() >= deadline:
                raise BlobWriteError(f"PUT {target.url}: HTTP {error.code} {error.reason}") from None
        sleep(RETRY_SECONDS)


def delete_blob(target: BlobTarget, token: Callable[[], str] = az_storage_token, url: str | None = None) -> None:
    """DELETE the blob; one that is already gone is fine."""
    request = urllib.request.Request(url or target.url, method="DELETE")
    request.add_header("Authorization", f"Bearer {token()}")
    request.add_header("x-ms-version", API_VERSION)
    try:
        with urllib.request.urlopen(request, timeout=60):
            return
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise BlobWriteError(f"DELETE {target.url}: HTTP {error.code} {error.reason}") from None


def _target(props: Any) -> BlobTarget:
    return BlobTarget(props["account"], props["suffix"], props["container"], props["blob"])


def _write(props: Any) -> dict[str, Any]:
    """Write the blob the props describe; the outputs are the props plus the content's SHA-256."""
    content = props["content"]
    write_blob(_target(props), content, props["content_type"], propagation_seconds=props["propagation_seconds"])
    return {**props, "sha256": hashlib.sha256(content.encode()).hexdigest()}


class _EntraBlobProvider(pulumi.dynamic.ResourceProvider):
    """Writes on create and on any change of the blob's place or content; deletes on destroy."""

    def create(self, props: Any) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=_target(props).url, outs=_write(props))

    def diff(self, _id: str, olds: Any, news: Any) -> pulumi.dynamic.DiffResult:
        keys = ("account", "suffix", "container", "blob", "content", "content_type")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        place = [k for k in changed if k in ("account", "suffix", "container", "blob")]
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=place, delete_before_replace=False)

    def update(self, _id: str, _olds: Any, news: Any) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=_write(news))

    def delete(self, _id: str, props: Any) -> None:
        delete_blob(_target(props))


@dataclass(frozen=True)
class EntraBlobArgs:
    """One blob in a container of an account that accepts only Entra ID."""

    account_name: pulumi.Input[str]
    """Required. The storage account's name."""
    blob_suffix: str
    """Required. The cloud's blob DNS suffix (``blob.core.windows.net``, ``blob.core.chinacloudapi.cn``)."""
    container_name: pulumi.Input[str]
    """Required. The container, which must exist."""
    blob_name: str
    """Required. The blob's path in the container."""
    content: pulumi.Input[str]
    """Required. The whole text of the blob."""
    content_type: str = "application/octet-stream"
    """Optional, default ``application/octet-stream``."""
    propagation_seconds: int = PROPAGATION_SECONDS
    """Optional, default 600: how long a 403 is retried while the writer's role assignment propagates."""


class EntraBlob(pulumi.dynamic.Resource):
    """A blob written with the deploying identity's Entra ID token (no account key anywhere)."""

    sha256: pulumi.Output[str]

    def __init__(self, name: str, args: EntraBlobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "account": args.account_name,
            "suffix": args.blob_suffix,
            "container": args.container_name,
            "blob": args.blob_name,
            "content": args.content,
            "content_type": args.content_type,
            "propagation_seconds": args.propagation_seconds,
            "sha256": None,
        }
        super().__init__(_EntraBlobProvider(), name, props, opts)
