"""Where Pulumi keeps stack state: the local file backend, or a team backend in Azure Blob Storage.

One person's `make up` keeps state under `.state/backend`; a team shares stacks through a blob
container (Pulumi's "DIY" `azblob://` backend), whose lock files stop two engineers updating one
stack at once. The URL is a setting, not code: `--backend URL` (or a rollout's `backend:`) wins, then
`AUTOCLOUD_BACKEND_URL`, then the file backend. Credentials never go in the URL: the Pulumi CLI
reads `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY` (or a SAS token, a connection string, or an
Azure login) from the environment.

The query options are the Go CDK azureblob opener's, the only ones the CLI accepts (any other is an
error there, so it is one here, earlier and naming the key):

    azblob://autocloud-state?storage_account=acmestate                       (public cloud)
    azblob://autocloud-state?storage_account=acmestate&domain=blob.core.chinacloudapi.cn
    azblob://state?storage_account=devstoreaccount1&protocol=http&domain=127.0.0.1:10000&localemu=true
                                                                             (Azurite, tests)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from platform_model.errors import ConfigError, excerpt

BACKEND_ENV = "AUTOCLOUD_BACKEND_URL"
"""Environment variable naming the state backend when no option does."""

AZBLOB_OPTIONS: Mapping[str, str] = {
    "storage_account": "storage account name (else AZURE_STORAGE_ACCOUNT)",
    "domain": "blob endpoint domain, e.g. blob.core.chinacloudapi.cn, or host:port of an emulator",
    "protocol": "http or https (default https)",
    "localemu": "true for a local emulator: the account goes in the path, not the host name",
    "cdn": "true when the domain is a CDN in front of the account",
}
"""Query options gocloud.dev/blob/azureblob's URL opener understands (ServiceURLOptions)."""

_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
"""Azure container names: 3-63 lowercase letters, digits and single hyphens, alphanumeric at both ends."""
_BOOLEAN = {"true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"}


def validate_backend_url(url: str, source: str = BACKEND_ENV) -> str:
    """Return `url` if the Pulumi CLI can open it as a state backend, else raise ConfigError.

    Accepted: `file://` (local folder) and `azblob://<container>[/prefix]?<options>`. Anything else
    (the Pulumi Cloud, other clouds' buckets) is not a backend autocloud sets up or tests.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not parts.path:
            raise ConfigError(source, "", f"{excerpt(url)}: a file backend needs a path, e.g. file:///srv/pulumi-state")
        return url
    if parts.scheme != "azblob":
        raise ConfigError(
            source, "", f"{excerpt(url)}: unsupported state backend (use file://PATH or azblob://CONTAINER)"
        )
    if not _CONTAINER.match(parts.netloc):
        raise ConfigError(
            source,
            "",
            f"{excerpt(url)}: {excerpt(parts.netloc)} is not a blob container name "
            "(3-63 lowercase letters, digits and single hyphens)",
        )
    seen: set[str] = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in AZBLOB_OPTIONS:
            raise ConfigError(source, key, f"unknown azblob option (allowed: {', '.join(AZBLOB_OPTIONS)})")
        if key in seen:
            raise ConfigError(source, key, "given twice")
        seen.add(key)
        if key == "protocol" and value not in ("http", "https"):
            raise ConfigError(source, key, f"{excerpt(value)} is not http or https")
        if key in ("localemu", "cdn") and value not in _BOOLEAN:
            raise ConfigError(source, key, f"{excerpt(value)} is not true or false")
        if key in ("storage_account", "domain") and not value:
            raise ConfigError(source, key, "is empty")
    return url


def azblob_url(container: str, *, account: str | None = None, endpoint: str | None = None) -> str:
    """An `azblob://` backend URL. `endpoint` (`http://127.0.0.1:10000`) points at an emulator or a
    sovereign cloud's blob domain (`https://blob.core.chinacloudapi.cn`)."""
    options: dict[str, str] = {}
    if account:
        options["storage_account"] = account
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"endpoint {excerpt(endpoint)}: expected http(s)://host[:port]")
        options["protocol"] = parts.scheme
        options["domain"] = parts.netloc
        host = parts.hostname or ""
        if host in ("localhost", "::1") or host.startswith("127."):
            options["localemu"] = "true"
    query = urlencode(options, safe=":")
    return validate_backend_url(f"azblob://{container}" + (f"?{query}" if query else ""), "azblob_url")


def resolve_backend_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The backend the user asked for (option, then AUTOCLOUD_BACKEND_URL), validated; None means
    the default file backend under `.state/`."""
    if explicit:
        return validate_backend_url(explicit, "--backend")
    value = (os.environ if environ is None else environ).get(BACKEND_ENV, "").strip()
    return validate_backend_url(value, BACKEND_ENV) if value else None
