"""`autocloud simulate` in fleet mode (issue 23): the real CLI runs the compiled generator through a
deployed local region during a reconnect storm, and the region's store is read back: nothing the hubs
acknowledged is lost, and every vehicle is stored."""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN

from .conftest import TEST_PORT_BASE, EmbeddedCluster, deployed, project_copy

pytestmark = pytest.mark.integration

STACK = "local-us"
"""One scale unit: the smallest local region, so the module deploys quickly."""
NAMESPACES = ("autocloud-us",)
VEHICLES = 200


@pytest.fixture(scope="module")
def state(test_cluster: EmbeddedCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """local-us deployed on the session's cluster; its state folder holds the region's fleet CA and names
    the session's cluster as its embedded one, so the CLI reaches the region through the node as `make up`
    users do (not through kubectl port-forward, which drops connections under a fleet's load)."""
    if not (TOOLCHAIN_BIN / "autocloud-fleetsim").is_file():
        pytest.fail("autocloud-fleetsim not built: run `make toolchain`", pytrace=False)
    base = tmp_path_factory.mktemp("fleet-simulate")
    work = project_copy(base / "project", REPO_ROOT / "__main__.py", [STACK])
    folder = base / "state"
    folder.mkdir()
    (folder / "cluster").symlink_to(test_cluster.layout.root, target_is_directory=True)
    with deployed(test_cluster, STACK, work, folder):
        yield folder


def test_a_reconnect_storm_loses_nothing_and_every_vehicle_is_stored(
    test_cluster: EmbeddedCluster, state: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOCLOUD_BACKEND_URL", "KUBECONFIG")}
    env |= {"AUTOCLOUD_STATE_DIR": str(state), "AUTOCLOUD_CLUSTER_PORT_BASE": str(TEST_PORT_BASE)}
    env |= {"PYTHONPATH": str(REPO_ROOT)}
    argv = ["simulate", "--region", "us", "--vehicles", str(VEHICLES), "--duration", "45"]
    argv += ["--scenario", "reconnect-storm", "--settle", "90", "--format", "json"]
    run = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "autocloud"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    counts = json.loads(run.stdout)
    print(json.dumps(counts, indent=2))  # the figures docs/benchmarks.md records
    assert counts["refused"] == {} and counts["registrations"] == counts["connected"] == VEHICLES
    storm = counts["storm"]
    assert storm["dropped"] == math.ceil(0.2 * VEHICLES), "a fifth of the connected fleet dropped at once"
    assert storm["reconnected"] == storm["dropped"] and storm["all_within"]
    assert counts["reconnects"] >= storm["dropped"]
    assert counts["sent"] >= VEHICLES * 3, "one message every 10 s per vehicle for 45 s"
    assert counts["acknowledged"] == counts["sent"] and counts["unacknowledged"] == 0
    assert counts["lost"] == 0 and counts["stored"] >= counts["acknowledged"]
    assert counts["vehicles_stored"] == VEHICLES, "every vehicle is in the store"
    assert counts["store_lag_s"] is not None
