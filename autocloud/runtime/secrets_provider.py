"""Which secrets provider encrypts a stack's secrets: this checkout's passphrase, or a team's Key Vault key.

A passphrase made per checkout (`.state/passphrase`) suits one person's local stacks, but a stack
applied by one engineer on the team backend could then be decrypted by nobody else, CI included.
So a stack may name a Pulumi cloud secrets provider, an Azure Key Vault key that wraps the stack's
data key; whoever holds "Key Vault Crypto User" on that key can decrypt. Read in one place, first
match wins:

1. the `secrets_provider` argument (`--secrets-provider` of a command);
2. the stack file's own top-level `secretsprovider:` key (`stacks/Pulumi.<stack>.yaml`, Pulumi's key);
3. `AUTOCLOUD_SECRETS_PROVIDER` for Azure stacks of the public cloud, `AUTOCLOUD_SECRETS_PROVIDER_CN`
   for Azure China stacks (local stacks ignore both: the passphrase stays theirs);
4. `passphrase`.

URLs are Pulumi's `azurekeyvault://<vault>.<suffix>/keys/<key>[/<version>][?algorithm=...]`, opened by
gocloud.dev/secrets/azurekeyvault, whose key id pattern `^(https://.+\\.vault\\.(?:[a-z\\d-.]+)/)keys/(.+)$`
accepts any vault DNS suffix, so Azure China's `vault.azure.cn` too (the version Pulumi v3.274.1 pins,
gocloud.dev v0.46.1-0.20260810195832-b5401c07b5f1:
https://github.com/google/go-cloud/blob/master/secrets/azurekeyvault/akv.go; its URL opener takes
only the `algorithm` query option). Vault DNS suffixes: `vault.azure.net` (Azure) and `vault.azure.cn`
(Azure operated by 21Vianet), https://learn.microsoft.com/en-us/azure/key-vault/general/access-behind-firewall
and https://docs.azure.cn/en-us/key-vault/key-vault-access-behind-firewall. A China stack's key must
live in Azure China and a public stack's in the public cloud, as its state does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from platform_model.errors import ConfigError, excerpt
from platform_model.inputs import load_mapping
from platform_model.profiles import display_path, load_profile
from platform_model.stack import stack_config, stack_path

PASSPHRASE = "passphrase"
"""Pulumi's passphrase provider: the default, and what local stacks use."""
SCHEME = "azurekeyvault"
STACK_FILE_KEY = "secretsprovider"
"""The stack file's top-level key where Pulumi itself records a stack's secrets provider."""
SECRETS_ENV = "AUTOCLOUD_SECRETS_PROVIDER"
"""Environment variable naming the provider of Azure (public cloud) stacks."""
SECRETS_ENV_CHINA = "AUTOCLOUD_SECRETS_PROVIDER_CN"
"""Environment variable naming the provider of Azure China stacks."""

VAULT_SUFFIX = {"public": "vault.azure.net", "china": "vault.azure.cn"}
"""Key Vault's data-plane DNS suffix per cloud (see the module docstring for the sources)."""

_VAULT = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
"""Vault names: 3-24 letters, digits and hyphens, a letter first, no "--", not ending in a hyphen
(https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault)."""
_KEY = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
"""Key Vault object names: 1-127 letters, digits and hyphens
(https://learn.microsoft.com/en-us/azure/key-vault/general/about-keys-secrets-certificates#object-identifiers)."""
_VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
"""A key version is a 32-character hexadecimal id."""


def validate_secrets_provider(value: str, source: str, key: str, cloud: str | None = None) -> str:
    """Return `value` if Pulumi can use it as a stack's secrets provider, else a ConfigError naming
    `source` (a file or a variable) and `key`. `cloud` (`public`/`china`) also checks that the vault
    is in that cloud."""
    if value == PASSPHRASE:
        return value
    parts = urlsplit(value)
    if parts.scheme != SCHEME:
        raise ConfigError(
            source,
            key,
            f"{excerpt(value)}: unsupported secrets provider "
            f"(use passphrase or {SCHEME}://<vault>.vault.azure.net/keys/<key>)",
        )
    vault, dot, suffix = (parts.hostname or "").partition(".")
    if not dot or suffix not in VAULT_SUFFIX.values() or parts.port is not None or parts.username:
        raise ConfigError(
            source, key, f"{excerpt(value)}: the host must be <vault>.vault.azure.net or <vault>.vault.azure.cn"
        )
    if not _VAULT.match(vault):
        raise ConfigError(
            source, key, f"{excerpt(value)}: {excerpt(vault)} is not a Key Vault name (3-24 letters, digits, hyphens)"
        )
    segments = parts.path.split("/")[1:]
    if len(segments) not in (2, 3) or segments[0] != "keys" or not _KEY.match(segments[1]):
        raise ConfigError(source, key, f"{excerpt(value)}: expected the path /keys/<key>[/<version>]")
    if len(segments) == 3 and not _VERSION.match(segments[2]):
        raise ConfigError(source, key, f"{excerpt(value)}: {excerpt(segments[2])} is not a key version (32 hex digits)")
    for option, setting in parse_qsl(parts.query, keep_blank_values=True):
        if option != "algorithm" or not setting:
            raise ConfigError(source, key, f"{excerpt(value)}: only the query option algorithm=<name> is accepted")
    if cloud is not None and suffix != VAULT_SUFFIX[cloud]:
        raise ConfigError(
            source, key, f"{excerpt(value)}: a {cloud}-cloud stack needs a vault in {VAULT_SUFFIX[cloud]}, not {suffix}"
        )
    return value


def resolve_secrets_provider(
    stack: str,
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
) -> str:
    """The provider for `stack` (`passphrase` or an `azurekeyvault://` URL), by the order in the
    module docstring. A stack without a file under `stacks/` (another program's) gets the explicit
    provider or the passphrase."""
    path = stack_path(stack, root)
    if not path.is_file():
        return validate_secrets_provider(explicit, "--secrets-provider", "") if explicit else PASSPHRASE
    label = display_path(path, root)
    config = stack_config(stack, root)
    cloud = None if config.is_local else load_profile(config.region, root).cloud
    if explicit:
        return validate_secrets_provider(explicit, "--secrets-provider", "", cloud)
    declared = load_mapping(path, label).get(STACK_FILE_KEY)
    if declared is not None:
        if not isinstance(declared, str):
            raise ConfigError(label, STACK_FILE_KEY, f"{excerpt(declared)} is not a string")
        return validate_secrets_provider(declared.strip(), label, STACK_FILE_KEY, cloud)
    if cloud is None:
        return PASSPHRASE
    variable = SECRETS_ENV_CHINA if cloud == "china" else SECRETS_ENV
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    return validate_secrets_provider(value, variable, "", cloud) if value else PASSPHRASE
