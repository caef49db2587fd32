"""How a checked program's environment is installed (the install itself is an integration test)."""

from __future__ import annotations

from autocloud.verification.check import program_env


def test_uv_installs_from_where_pip_is_told_to() -> None:
    env = program_env.uv_env(
        {"PIP_FIND_LINKS": "/opt/wheels", "PIP_CERT": "/etc/ssl/ca.pem", "UV_INDEX_URL": "https://mirror/simple"}
        | {"PIP_INDEX_URL": "https://pypi.org/simple", "HOME": "/root"}
    )
    assert env["UV_FIND_LINKS"] == "/opt/wheels"
    assert env["SSL_CERT_FILE"] == "/etc/ssl/ca.pem"
    assert env["UV_INDEX_URL"] == "https://mirror/simple", "uv's own setting wins"
    assert env["HOME"] == "/root"


def test_environments_are_keyed_by_what_they_hold() -> None:
    first = program_env.env_key(("pulumi==3.100.0", "pulumi-azure-native==2.90.0"))
    assert first == program_env.env_key(("pulumi-azure-native==2.90.0", "pulumi==3.100.0")), "order does not matter"
    assert first != program_env.env_key(("pulumi==3.100.0", "pulumi-azure-native==2.91.0"))


def test_the_uv_binary_comes_with_the_package() -> None:
    from pathlib import Path

    assert Path(program_env._uv_binary()).is_file()
