"""State backend settings: which URLs are accepted, how they are built, and who wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocloud.runtime import engine
from autocloud.runtime.backend import BACKEND_ENV, azblob_url, resolve_backend_url, validate_backend_url
from platform_model.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    [
        "file:///srv/pulumi-state",
        "azblob://autocloud-state",
        "azblob://autocloud-state/eu?storage_account=acmestate",
        "azblob://state?storage_account=acme&domain=blob.core.chinacloudapi.cn",
        "azblob://state?storage_account=devstoreaccount1&protocol=http&domain=127.0.0.1:10000&localemu=true",
    ],
)
def test_accepts_file_and_azblob_urls(url: str) -> None:
    assert validate_backend_url(url) == url


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://api.pulumi.com", "unsupported state backend"),
        ("s3://bucket", "unsupported state backend"),
        ("file://", "needs a path"),
        ("azblob://Upper_Case", "not a blob container name"),
        ("azblob://ab", "not a blob container name"),
        ("azblob://state?account=acme", "account: unknown azblob option"),
        ("azblob://state?protocol=ftp", "protocol: 'ftp' is not http or https"),
        ("azblob://state?localemu=yes", "localemu: 'yes' is not true or false"),
        ("azblob://state?domain=", "domain: is empty"),
        ("azblob://state?domain=a&domain=b", "domain: given twice"),
    ],
)
def test_refuses_what_the_cli_cannot_open(url: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_backend_url(url, "rollouts/team.yaml")
    assert str(caught.value).startswith("rollouts/team.yaml: ")
    assert complaint in str(caught.value)


def test_azblob_url_for_an_emulator_and_for_azure_china() -> None:
    assert azblob_url("state", account="devstoreaccount1", endpoint="http://127.0.0.1:10000") == (
        "azblob://state?storage_account=devstoreaccount1&protocol=http&domain=127.0.0.1:10000&localemu=true"
    )
    assert azblob_url("state", account="acme", endpoint="https://blob.core.chinacloudapi.cn") == (
        "azblob://state?storage_account=acme&protocol=https&domain=blob.core.chinacloudapi.cn"
    )
    assert azblob_url("autocloud-state") == "azblob://autocloud-state"
    with pytest.raises(ValueError, match="expected http"):
        azblob_url("state", endpoint="127.0.0.1:10000")


def test_option_wins_over_environment_and_default_is_the_file_backend() -> None:
    env = {BACKEND_ENV: "azblob://from-env"}
    assert resolve_backend_url("azblob://from-option", env) == "azblob://from-option"
    assert resolve_backend_url(None, env) == "azblob://from-env"
    assert resolve_backend_url(None, {}) is None
    with pytest.raises(ConfigError, match=BACKEND_ENV):
        resolve_backend_url(None, {BACKEND_ENV: "gs://elsewhere"})


def test_engine_env_uses_the_given_backend_instead_of_the_file_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    default = engine.engine_env(tmp_path / "a")
    assert default["PULUMI_BACKEND_URL"] == (tmp_path / "a" / "backend").as_uri()
    team = engine.engine_env(tmp_path / "b", backend_url="azblob://autocloud-state")
    assert team["PULUMI_BACKEND_URL"] == "azblob://autocloud-state"
    assert not (tmp_path / "b" / "backend").exists()
    assert "AZURE_STORAGE_KEY" not in team, "credentials come from the caller's environment, never from us"


def test_engine_env_takes_the_backend_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "azblob://team-state?storage_account=acme")
    assert engine.engine_env(tmp_path)["PULUMI_BACKEND_URL"] == "azblob://team-state?storage_account=acme"
    assert engine.engine_env(tmp_path, backend_url="file:///elsewhere")["PULUMI_BACKEND_URL"] == "file:///elsewhere"
