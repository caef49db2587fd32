"""Integration fixtures: the real built Pulumi CLI and a real embedded Kubernetes control plane.

The suite starts its own embedded cluster under a temporary folder on its own ports, so it never
touches the cluster `make up` left running, and stops it at the end. `make integration` runs the test
files on two pytest-xdist workers (the suite leaves most of the two cores idle while it waits on pods and
the engine); each worker starts its own cluster, on ports of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from autocloud.operations import deploy
from autocloud.runtime import cluster
from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN
from tests.integration.kube import Kubectl


def _worker_index() -> int:
    """This pytest-xdist worker's number (``gw1`` is 1); 0 without workers."""
    number = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(number) if number.isdigit() else 0


TEST_PORT_BASE = int(os.environ.get("AUTOCLOUD_TEST_PORT_BASE", "37000")) + 100 * _worker_index()
"""The session cluster's port base: one per worker (a cluster uses one host port, base + 443; a test that
starts a cluster of its own takes base + 1000)."""
PROGRAMS = Path(__file__).parent / "programs"


@dataclass(frozen=True)
class EmbeddedCluster:
    layout: cluster.Layout
    ports: cluster.Ports

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    def api(self) -> cluster.Api:
        return cluster.Api(self.layout, self.ports)


def _require_toolchain() -> None:
    needed = (
        "pulumi",
        "pulumi-language-python",
        "pulumi-resource-kubernetes",
        "kube-apiserver",
        "etcd",
        "kwok",
        "kubelet",
        "kube-proxy",
        "containerd",
        "runc",
        "ctr",
        "kube-router",
        "coredns",
        "pause",
        "autocloud-ingest",
        "kubectl",
        "ferretdb",
        "autocloud-statewriter",
    )
    missing = [b for b in needed if not (TOOLCHAIN_BIN / b).is_file()]
    if missing:
        pytest.fail(f"toolchain not built (missing {', '.join(missing)}): run `make toolchain`", pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that say ``RUNS_LONG = True`` first: pytest-xdist hands out test files in collection
    order, so the longest ones start at once on their own workers instead of ending the run alone."""
    items.sort(key=lambda item: not getattr(getattr(item, "module", None), "RUNS_LONG", False))  # stable


@pytest.fixture(scope="session")
def test_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    _require_toolchain()
    base = cluster.Ports.at(TEST_PORT_BASE)
    layout = cluster.Layout(tmp_path_factory.mktemp("cluster"))
    try:
        # Inside the try: a start that times out half-way must not leave its processes running.
        cluster.start(layout, echo=lambda _line: None, ports=base, honour_kubeconfig=False)
        yield EmbeddedCluster(layout, base)
    finally:
        cluster.stop(layout, echo=lambda _line: None)


@pytest.fixture(scope="module", autouse=True)
def _remove_module_namespaces(request: pytest.FixtureRequest) -> Iterator[None]:
    """Delete the namespaces a module lists in ``NAMESPACES`` when it is done: the session's node has
    two cores, and pods left running would hold CPU requests the local stacks need later."""
    yield
    names = tuple(getattr(request.module, "NAMESPACES", ()))
    if names:
        embedded: EmbeddedCluster = request.getfixturevalue("test_cluster")
        Kubectl(embedded.kubeconfig).run("delete", "namespace", "--wait=false", "--ignore-not-found", *names)


@pytest.fixture()
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh file backend and passphrase per test, whatever backend the developer exported."""
    monkeypatch.delenv("AUTOCLOUD_BACKEND_URL", raising=False)
    path = tmp_path / "state"
    path.mkdir()
    return path


LINKED = ("autocloud", "components", "policies", "regions", ".venv")
"""What a copy of the project links from the repository: its packages, profiles and environment."""


def project_copy(root: Path, program: Path, stacks: Sequence[str] = (), *, linked_stacks: Path | None = None) -> Path:
    """The project in a folder of its own: the repository's packages symlinked, ``__main__.py`` from
    ``program``, the named stack files copied (creating a stack writes its encryption salt into the stack
    file, which must not touch the repository's), or ``linked_stacks`` linked as its stacks/."""
    root.mkdir(parents=True)
    for name in LINKED:
        (root / name).symlink_to(REPO_ROOT / name)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copy(program, root / "__main__.py")
    if linked_stacks is not None:
        (root / "stacks").symlink_to(linked_stacks)
        return root
    (root / "stacks").mkdir()
    for stack in stacks:
        shutil.copy(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml", root / "stacks")
    return root


@contextlib.contextmanager
def deployed(test_cluster: EmbeddedCluster, stack: str, work: Path, state: Path) -> Iterator[None]:
    """``stack`` of the project in ``work`` up on the session's cluster (its state under ``state``) for the
    block, destroyed afterwards whatever the block did."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(test_cluster.kubeconfig))
        try:
            result = deploy.deploy_stack(stack, apply=True, echo=print, state_dir=state, work_dir=work)
            assert result.ok, result.message
            yield
        finally:
            deploy.destroy_stack(stack, echo=print, state_dir=state, work_dir=work)


def copy_program(name: str, dest: Path, project: str | None = None) -> Path:
    """Copy a test program and give it a Pulumi.yaml that runs on the repo's virtualenv."""
    work = dest / name
    shutil.copytree(PROGRAMS / name, work)
    (work / "Pulumi.yaml").write_text(
        f"name: {project or name}\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO_ROOT / '.venv'}\n"
    )
    return work
