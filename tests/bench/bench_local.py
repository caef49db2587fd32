"""Local-stack benchmarks: `pulumi up` (with the policy packs) of one region and of all three on the
embedded cluster with real pods, a no-op re-up, and destroy, each through `autocloud.operations.deploy` as
`autocloud up` runs them; then the data plane: image build time (tarballs written anew, and cached),
messages per second end to end with latency p50/p99 (`autocloud.operations.simulate`), and the memory the three
running regions' pods use.

Run with `make bench` (or `python tests/bench/bench_local.py`); figures go to bench/results/local.json.
The cluster is a fresh one in a temporary folder on its own ports; the project runs from a copy (the
packages symlinked) so that creating the stacks never writes into the repository's stack files.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from autocloud.operations import deploy, simulate
from autocloud.runtime import cluster, images, node
from platform_model.paths import REPO_ROOT
from tests.bench.common import record, timed

PORT_BASE = 39500
PORTS = cluster.Ports.at(PORT_BASE)
STACKS = ("local-eu", "local-us", "local-cn")


def project_copy(root: Path) -> Path:
    """The Pulumi project with its packages symlinked and its local stack files copied."""
    (root / "stacks").mkdir(parents=True)
    for name in ("autocloud", "components", "policies", "regions", ".venv"):
        (root / name).symlink_to(REPO_ROOT / name)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO_ROOT / name, root / name)
    for stack in STACKS:
        shutil.copy(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml", root / "stacks")
    return root


def run(operation: str, stack: str, work: Path, state: Path) -> deploy.StackResult:
    """One up or destroy; a failure stops the benchmark (its figures would mean nothing)."""
    quiet = print if os.environ.get("BENCH_VERBOSE") else (lambda _line: None)
    if operation == "up":
        result = deploy.deploy_stack(stack, apply=True, echo=quiet, state_dir=state, work_dir=work)
    else:
        result = deploy.destroy_stack(stack, echo=quiet, state_dir=state, work_dir=work)
    if not result.ok:
        raise SystemExit(f"{stack}: {operation} failed: {result.message}")
    return result


def sweep(operation: str, stacks: tuple[str, ...], work: Path, state: Path) -> tuple[float, dict[str, float], int]:
    """Run ``operation`` on each stack in turn: total seconds, seconds per stack, resources touched."""
    per_stack: dict[str, float] = {}
    touched = 0
    for stack in stacks:
        result, seconds = timed(partial(run, operation, stack, work, state))
        per_stack[stack] = round(seconds, 2)
        touched += sum(count for kind, count in result.changes.items() if kind != "same")
    return round(sum(per_stack.values()), 2), per_stack, touched


def pods_memory_mib(layout: cluster.Layout) -> float:
    """Resident memory of every process in the node's pod cgroups (containers, not the node's daemons)."""
    total_kib = 0
    for pid in node.cgroup_pids(node.cgroup_root(layout.root)):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(total_kib / 1024, 1)


def data_plane(layout: cluster.Layout, tmp: Path, fleet: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    _, cold = timed(lambda: images.build(tmp / "images"))
    _, cached = timed(lambda: images.build(tmp / "images"))
    figures["image_build_seconds_tarballs_written"] = round(cold, 2)
    figures["image_build_seconds_cached"] = round(cached, 2)
    figures["three_regions_pods_memory_mib"] = pods_memory_mib(layout)
    # Each vehicle registers through DPS and connects over TLS with its fleet certificate (issued before
    # the run, as the simulator caches them), so the figures include registration and TLS set-up.
    args = simulate.SimulationArgs("eu", vehicles=50, messages=20, settle_seconds=120, fleet_dir=fleet)
    result = simulate.run(args, simulate.EmbeddedReach(layout, PORTS))
    figures["eu_end_to_end"] = result.as_dict()
    if result.lost or result.refused:
        raise SystemExit(f"the simulation lost {result.lost} messages: {result.as_dict()}")
    return figures


def main() -> None:
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="autocloud-bench-local-") as tmp:
        layout = cluster.Layout(Path(tmp) / "cluster")
        work = project_copy(Path(tmp) / "project")
        state = Path(tmp) / "state"
        state.mkdir()
        cluster.start(layout, echo=lambda _l: None, ports=PORTS, honour_kubeconfig=False)
        os.environ["KUBECONFIG"] = str(layout.kubeconfig)
        try:
            one = ("local-eu",)
            seconds, _, created = sweep("up", one, work, state)
            figures["one_region_up_seconds"] = seconds
            figures["one_region_resources"] = created
            figures["one_region_noop_up_seconds"] = sweep("up", one, work, state)[0]
            figures["one_region_destroy_seconds"] = sweep("destroy", one, work, state)[0]

            seconds, per_stack, created = sweep("up", STACKS, work, state)
            figures["three_regions_up_seconds"] = seconds
            figures["three_regions_up_seconds_per_stack"] = per_stack
            figures["three_regions_resources"] = created
            seconds, per_stack, changed = sweep("up", STACKS, work, state)
            figures["three_regions_noop_up_seconds"] = seconds
            figures["three_regions_noop_up_seconds_per_stack"] = per_stack
            figures["three_regions_noop_up_changes"] = changed
            figures |= data_plane(layout, Path(tmp), state / "fleet")
            figures["three_regions_destroy_seconds"] = sweep("destroy", STACKS, work, state)[0]
        finally:
            for stack in STACKS:
                deploy.destroy_stack(stack, echo=lambda _l: None, state_dir=state, work_dir=work)
            cluster.stop(layout, echo=lambda _l: None)
    figures["note"] = "sequential stacks, each `pulumi up` with the residency, baseline and kubernetes packs"
    record("local", figures)


if __name__ == "__main__":
    main()
