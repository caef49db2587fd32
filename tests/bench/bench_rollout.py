"""Rollout benchmark: the three local stacks deployed strictly one after another, then all in one
parallel wave, each from empty on a fresh embedded cluster; prints the speed-up ratio.

Figures go to bench/results/rollout.json.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from autocloud.operations import deploy
from autocloud.operations.rollout import Rollout, run_rollout
from autocloud.runtime import cluster
from tests.bench.common import record, timed

PORTS = cluster.Ports.at(39000)
STACKS = ("local-eu", "local-us", "local-cn")


def rollout(parallel: bool) -> Rollout:
    if parallel:
        waves = [{"name": "all", "parallel": len(STACKS), "stacks": list(STACKS)}]
    else:
        waves = [{"name": s, "stacks": [s]} for s in STACKS]
    return Rollout.model_validate({"name": "bench-parallel" if parallel else "bench-sequential", "waves": waves})


def measure(parallel: bool, state_dir: Path) -> float:
    runner = functools.partial(deploy.deploy_stack, echo=lambda _l: None, state_dir=state_dir)
    run, seconds = timed(lambda: run_rollout(rollout(parallel), runner, state_dir=state_dir))
    if not run.ok:
        raise SystemExit(f"rollout failed: {run.to_json()}")
    for stack in STACKS:
        deploy.destroy_stack(stack, echo=lambda _l: None, state_dir=state_dir)
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        layout = cluster.Layout(Path(tmp) / "cluster")
        cluster.start(layout, echo=lambda _l: None, ports=PORTS, honour_kubeconfig=False)
        os.environ["KUBECONFIG"] = str(layout.kubeconfig)
        try:
            sequential = measure(False, Path(tmp) / "state")
            parallel = measure(True, Path(tmp) / "state")
        finally:
            cluster.stop(layout, echo=lambda _l: None)
    record(
        "rollout",
        {
            "stacks": len(STACKS),
            "sequential_seconds": round(sequential, 1),
            "parallel_seconds": round(parallel, 1),
            "speedup": round(sequential / parallel, 2),
            "target_speedup": 2.0,
        },
    )


if __name__ == "__main__":
    main()
