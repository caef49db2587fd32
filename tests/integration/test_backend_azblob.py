"""The team state backend for real: the built Pulumi CLI against Azurite through `azblob://`.

An update writes its checkpoint into the blob container (read back with `pulumi stack export` and
straight from the container), secrets stay encrypted there, and a second update started while the
first holds the stack's lock is refused without touching the state.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from autocloud.runtime import engine
from autocloud.runtime.backend import azblob_url
from platform_model.paths import TOOLCHAIN_BIN
from tests.integration.azurite import DEV_ACCOUNT, DEV_KEY, Azurite, AzuriteError
from tests.integration.conftest import copy_program

pytestmark = pytest.mark.integration

PROJECT = "slow-outputs"
STACK_BLOB = f".pulumi/stacks/{PROJECT}/dev.json"
LOCKED = "the stack is currently locked by 1 lock(s)"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    try:
        server.start()
    except AzuriteError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class TeamBackend:
    azurite: Azurite
    container: str
    url: str
    work: Path
    env: dict[str, str]

    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(TOOLCHAIN_BIN / "pulumi"), *args, "--non-interactive"],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check:
            assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(TOOLCHAIN_BIN / "pulumi"), *args, "--non-interactive"],
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def export(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.pulumi("stack", "export", "--stack", "dev").stdout)
        return data

    def blobs(self, prefix: str = "") -> list[str]:
        return [name for name in self.azurite.list_blobs(self.container) if name.startswith(prefix)]


@pytest.fixture()
def team(azurite: Azurite, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TeamBackend:
    """A fresh container per test, the CLI logged in to it, credentials only in the environment."""
    if not (TOOLCHAIN_BIN / "pulumi").is_file():
        pytest.fail("toolchain not built: run `make toolchain`", pytrace=False)
    container = f"state-{uuid.uuid4().hex[:12]}"
    azurite.create_container(container)
    url = azblob_url(container, account=DEV_ACCOUNT, endpoint=azurite.endpoint)
    credentials = {"AZURE_STORAGE_ACCOUNT": DEV_ACCOUNT, "AZURE_STORAGE_KEY": DEV_KEY}
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)  # the Automation API passes the caller's environment on
    home = tmp_path / "pulumi-home"  # `pulumi login` writes here, never into the repository's
    env = {**os.environ, **engine.engine_env(state_dir, backend_url=url), **credentials, "PULUMI_HOME": str(home)}
    backend = TeamBackend(azurite, container, url, copy_program(PROJECT, tmp_path), env)
    login = backend.pulumi("login", url)
    assert f"({url})" in login.stdout
    return backend


def test_up_writes_state_into_the_container_and_reads_it_back(team: TeamBackend, state_dir: Path) -> None:
    stack = engine.select_stack("dev", work_dir=team.work, state_dir=state_dir, backend_url=team.url)
    stack.set_config("greeting", auto.ConfigValue("hallo"))
    first = stack.up(on_output=print)
    assert first.summary.result == "succeeded"
    assert first.outputs["greeting"].value == "hallo"

    assert not (state_dir / "backend").exists(), "state went to the file backend, not the container"
    assert STACK_BLOB in team.blobs(".pulumi/stacks/")
    exported = team.export()["deployment"]
    (root,) = [r for r in exported["resources"] if r["type"] == "pulumi:pulumi:Stack"]
    assert root["outputs"]["greeting"] == "hallo"
    assert root["outputs"]["region"] == "eu"
    raw = team.azurite.read_blob(team.container, STACK_BLOB).decode()
    assert "hallo" in raw and "not-in-plain-text" not in raw, "the secret output is not encrypted"

    second = stack.up(on_output=print)
    assert second.summary.resource_changes == {"same": 1}
    assert team.blobs(".pulumi/locks/") == []


def test_a_second_concurrent_up_is_refused_by_the_lock(team: TeamBackend, tmp_path: Path) -> None:
    marker = tmp_path / "first-update-running"
    team.pulumi("stack", "init", "dev")
    team.pulumi("config", "set", "greeting", "first", "--stack", "dev")
    team.pulumi("config", "set", "marker", str(marker), "--stack", "dev")
    team.pulumi("config", "set", "delay", "12", "--stack", "dev")

    first = team.popen("up", "--yes", "--skip-preview", "--stack", "dev")
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert first.poll() is None, f"the first update ended early:\n{first.communicate()[0]}"
            assert time.monotonic() < deadline, "the first update never reached its program"
            time.sleep(0.2)
        assert len(team.blobs(".pulumi/locks/")) == 1, "the first update holds no lock"

        team.pulumi("config", "set", "greeting", "second", "--stack", "dev")
        second = team.pulumi("up", "--yes", "--skip-preview", "--stack", "dev", check=False)
        assert second.returncode != 0
        assert LOCKED in second.stdout + second.stderr, second.stdout + second.stderr
        assert first.poll() is None, "the first update finished before the second was refused"
    finally:
        output, _ = first.communicate(timeout=180)
    assert first.returncode == 0, output

    # The state is the first update's, whole; the refused one left no lock and no history entry.
    (root,) = [r for r in team.export()["deployment"]["resources"] if r["type"] == "pulumi:pulumi:Stack"]
    assert root["outputs"]["greeting"] == "first"
    assert team.blobs(".pulumi/locks/") == []
    history = json.loads(team.pulumi("stack", "history", "--json", "--stack", "dev").stdout)
    assert [h["result"] for h in history] == ["succeeded"]

    team.pulumi("config", "set", "delay", "0", "--stack", "dev")
    third = team.pulumi("up", "--yes", "--skip-preview", "--stack", "dev")
    assert "greeting" in third.stdout
    (root,) = [r for r in team.export()["deployment"]["resources"] if r["type"] == "pulumi:pulumi:Stack"]
    assert root["outputs"]["greeting"] == "second"
