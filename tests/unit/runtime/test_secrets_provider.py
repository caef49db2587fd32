"""Secrets providers: which one a stack gets, which URLs pass, and what the engine is told."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autocloud.runtime import engine
from autocloud.runtime.secrets_provider import (
    PASSPHRASE,
    SECRETS_ENV,
    SECRETS_ENV_CHINA,
    resolve_secrets_provider,
    validate_secrets_provider,
)
from platform_model.errors import ConfigError
from platform_model.paths import REPO_ROOT

EU_KEY = "azurekeyvault://acme-state.vault.azure.net/keys/pulumi-eu"
CN_KEY = "azurekeyvault://acme-state-cn.vault.azure.cn/keys/pulumi-cn"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """A project with the real region profiles and this repository's stack files."""
    shutil.copytree(REPO_ROOT / "regions", tmp_path / "regions")
    shutil.copytree(REPO_ROOT / "stacks", tmp_path / "stacks")
    return tmp_path


@pytest.mark.parametrize(
    "url",
    [
        PASSPHRASE,
        EU_KEY,
        CN_KEY,
        "azurekeyvault://kv1.vault.azure.net/keys/state/0123456789abcdef0123456789abcdef",
        "azurekeyvault://kv1.vault.azure.net/keys/state?algorithm=RSA-OAEP",
    ],
)
def test_accepts_passphrase_and_key_vault_keys(url: str) -> None:
    assert validate_secrets_provider(url, "stacks/Pulumi.azure-eu.yaml", "secretsprovider") == url


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("awskms://alias/state", "unsupported secrets provider"),
        ("hashivault://state", "unsupported secrets provider"),
        ("", "unsupported secrets provider"),
        ("azurekeyvault://kv1.example.com/keys/state", "host must be <vault>.vault.azure.net or"),
        ("azurekeyvault://kv1.vault.azure.net:8443/keys/state", "host must be"),
        ("azurekeyvault://1kv.vault.azure.net/keys/state", "is not a Key Vault name"),
        ("azurekeyvault://kv--1.vault.azure.net/keys/state", "is not a Key Vault name"),
        ("azurekeyvault://kv1.vault.azure.net/secrets/state", "expected the path /keys/<key>"),
        ("azurekeyvault://kv1.vault.azure.net/keys/", "expected the path /keys/<key>"),
        ("azurekeyvault://kv1.vault.azure.net/keys/state/v2", "is not a key version"),
        ("azurekeyvault://kv1.vault.azure.net/keys/state?algo=RSA1_5", "only the query option algorithm"),
    ],
)
def test_refuses_a_malformed_provider_in_one_line_naming_file_and_key(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_secrets_provider(url, "stacks/Pulumi.azure-eu.yaml", "secretsprovider")
    message = str(caught.value)
    assert message.startswith("stacks/Pulumi.azure-eu.yaml: secretsprovider: ")
    assert complaint in message and "\n" not in message


def test_a_vault_must_be_in_the_stacks_cloud() -> None:
    assert validate_secrets_provider(CN_KEY, "f", "k", cloud="china") == CN_KEY
    with pytest.raises(ConfigError, match=r"china-cloud stack needs a vault in vault\.azure\.cn"):
        validate_secrets_provider(EU_KEY, "f", "k", cloud="china")
    with pytest.raises(ConfigError, match=r"public-cloud stack needs a vault in vault\.azure\.net"):
        validate_secrets_provider(CN_KEY, "f", "k", cloud="public")


def test_passphrase_is_the_default(root: Path) -> None:
    for stack in ("azure-eu", "azure-cn", "local-eu"):
        assert resolve_secrets_provider(stack, environ={}, root=root) == PASSPHRASE


def test_environment_picks_the_provider_per_cloud_and_leaves_local_stacks_alone(root: Path) -> None:
    environ = {SECRETS_ENV: EU_KEY, SECRETS_ENV_CHINA: CN_KEY}
    assert resolve_secrets_provider("azure-eu", environ=environ, root=root) == EU_KEY
    assert resolve_secrets_provider("azure-us", environ=environ, root=root) == EU_KEY
    assert resolve_secrets_provider("azure-cn", environ=environ, root=root) == CN_KEY
    assert resolve_secrets_provider("local-eu", environ=environ, root=root) == PASSPHRASE


def test_a_public_key_never_serves_the_china_stack(root: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_secrets_provider("azure-cn", environ={SECRETS_ENV_CHINA: EU_KEY}, root=root)
    assert str(caught.value).startswith(f"{SECRETS_ENV_CHINA}: ")


def test_stack_file_wins_over_environment_and_option_over_both(root: Path) -> None:
    path = root / "stacks" / "Pulumi.azure-us.yaml"
    other = "azurekeyvault://acme-us.vault.azure.net/keys/pulumi-us"
    path.write_text(f"secretsprovider: {other}\n" + path.read_text())
    assert resolve_secrets_provider("azure-us", environ={SECRETS_ENV: EU_KEY}, root=root) == other
    assert resolve_secrets_provider("azure-us", explicit=PASSPHRASE, environ={}, root=root) == PASSPHRASE


def test_a_bad_stack_file_setting_names_the_file_and_key(root: Path) -> None:
    path = root / "stacks" / "Pulumi.azure-eu.yaml"
    path.write_text("secretsprovider: azurekeyvault://kv1.vault.azure.net/state\n" + path.read_text())
    with pytest.raises(ConfigError) as caught:
        resolve_secrets_provider("azure-eu", environ={}, root=root)
    assert str(caught.value).startswith("stacks/Pulumi.azure-eu.yaml: secretsprovider: ")


def test_a_stack_of_another_program_takes_the_option_or_the_passphrase(root: Path) -> None:
    assert resolve_secrets_provider("dev", environ={SECRETS_ENV: EU_KEY}, root=root) == PASSPHRASE
    assert resolve_secrets_provider("dev", explicit=EU_KEY, root=root) == EU_KEY


def test_engine_forces_the_passphrase_only_on_passphrase_stacks(tmp_path: Path) -> None:
    local = engine.engine_env(tmp_path)
    assert Path(local["PULUMI_CONFIG_PASSPHRASE_FILE"]).is_file()
    assert "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER" not in local

    team = engine.engine_env(tmp_path / "team", secrets_provider=EU_KEY)
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in team
    assert team["PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER"] == "true"
    assert not (tmp_path / "team" / "passphrase").exists()


def test_mirror_keeps_what_the_engine_wrote_for_a_cloud_provider(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    source = root / "stacks" / "Pulumi.azure-eu.yaml"
    source.write_text("config:\n  autocloud:region: eu\n")
    state = tmp_path / "state"
    mirror = engine.project_mirror(state, root) / "stacks" / source.name
    mirror.write_text(mirror.read_text() + f"secretsprovider: {EU_KEY}\nencryptedkey: d3JhcHBlZA==\n")

    engine.project_mirror(state, root)
    assert mirror.read_text().splitlines()[-2:] == [f"secretsprovider: {EU_KEY}", "encryptedkey: d3JhcHBlZA=="]

    source.write_text(f"secretsprovider: {EU_KEY}\n" + source.read_text())
    engine.project_mirror(state, root)
    lines = mirror.read_text().splitlines()
    assert [line for line in lines if line.startswith("secretsprovider:")] == [f"secretsprovider: {EU_KEY}"]
    assert "encryptedkey: d3JhcHBlZA==" in lines

    # The repository moves the stack to another key: the data key the old one wrapped is dropped.
    source.write_text(source.read_text().replace(EU_KEY, CN_KEY))
    engine.project_mirror(state, root)
    lines = mirror.read_text().splitlines()
    assert [line for line in lines if line.startswith("secretsprovider:")] == [f"secretsprovider: {CN_KEY}"]
    assert not [line for line in lines if line.startswith("encryptedkey:")]
