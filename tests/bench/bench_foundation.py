"""Foundation benchmarks: toolchain build (cold figures recorded at build time, cached run timed now),
embedded cluster cold start to a Ready real node with CoreDNS serving (goal <= 10 s), its stop,
and `pulumi up` of a small program plus a no-op re-run.

Run with `make bench` (or `python tests/bench/bench_foundation.py`); figures go to bench/results/foundation.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi import automation as auto

from autocloud.runtime import cluster, engine, toolchain
from platform_model.paths import REPO_ROOT
from tests.bench.common import record, timed

PORTS = cluster.Ports.at(39000)
PROGRAM = REPO_ROOT / "tests" / "integration" / "programs" / "small-k8s"


def main() -> None:
    figures: dict[str, object] = {}
    try:
        cold = json.loads(toolchain.BUILD_TIMES.read_text())
    except (OSError, ValueError):
        cold = {}
    figures["toolchain_last_build_seconds"] = {k: v["seconds"] for k, v in cold.items()}
    figures["toolchain_last_build_total_seconds"] = round(sum(v["seconds"] for v in cold.values()), 1)
    built, cached = timed(lambda: toolchain.build(echo=lambda _l: None))
    figures["toolchain_cached_run_seconds"] = round(cached, 3)
    figures["toolchain_cached_run_rebuilt"] = built

    with tempfile.TemporaryDirectory() as tmp:
        layout = cluster.Layout(Path(tmp) / "cluster")
        try:
            _, start = timed(lambda: cluster.start(layout, echo=lambda _l: None, ports=PORTS, honour_kubeconfig=False))
            figures["cluster_cold_start_to_ready_node_and_dns_seconds"] = round(start, 2)
            _, warm = timed(lambda: cluster.start(layout, echo=lambda _l: None, ports=PORTS, honour_kubeconfig=False))
            figures["cluster_start_when_running_seconds"] = round(warm, 2)

            work = Path(tmp) / "program"
            shutil.copytree(PROGRAM, work)
            (work / "Pulumi.yaml").write_text(
                f"name: bench\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO_ROOT / '.venv'}\n"
            )
            stack = engine.select_stack(
                "bench", work_dir=work, state_dir=Path(tmp) / "state", kubeconfig=layout.kubeconfig
            )
            stack.set_config("namespace", auto.ConfigValue("bench"))
            stack.set_config("kubeconfig", auto.ConfigValue(layout.kubeconfig.read_text(), secret=True))
            _, up = timed(stack.up)
            _, noop = timed(stack.up)
            _, destroy = timed(stack.destroy)
            figures["small_program_up_seconds"] = round(up, 2)
            figures["small_program_noop_up_seconds"] = round(noop, 2)
            figures["small_program_destroy_seconds"] = round(destroy, 2)
        finally:
            _, stop = timed(lambda: cluster.stop(layout, echo=lambda _l: None))
            figures["cluster_stop_seconds"] = round(stop, 2)
    record("foundation", figures)


if __name__ == "__main__":
    main()
