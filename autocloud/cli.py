"""The `autocloud` command: one thin typer layer over the toolkit's modules.

Commands print one-line errors and exit non-zero instead of tracebacks; the work itself lives in
the modules each command calls.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autocloud import cluster as cluster_mod
from autocloud import images as images_mod
from autocloud import runs
from autocloud import toolchain as toolchain_mod
from autocloud.errors import ConfigError
from autocloud.paths import REPO_ROOT

app = typer.Typer(help="Regional connected-vehicle platforms on Azure and local Kubernetes.", no_args_is_help=True)
cluster_app = typer.Typer(help="The embedded local Kubernetes control plane.", no_args_is_help=True)
toolchain_app = typer.Typer(help="The Go-built tools (Pulumi CLI, plugins, control plane).", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
images_app = typer.Typer(help="The container images built here for the local cluster.", no_args_is_help=True)
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(images_app, name="images")

console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _warn(line: str) -> None:
    err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)


def _echo(line: str) -> None:
    console.print(line, highlight=False, soft_wrap=True)


@toolchain_app.command("build")
def toolchain_build(tools: Annotated[list[str] | None, typer.Argument(help="Only these tools.")] = None) -> None:
    """Build (or reuse) the Pulumi CLI, plugins, etcd, the Kubernetes control plane and KWOK."""
    try:
        built = toolchain_mod.build(tools, echo=_echo)
    except toolchain_mod.ToolchainError as exc:
        raise _fail(str(exc)) from None
    _echo(f"toolchain: {'built ' + ', '.join(built) if built else 'up to date'} ({toolchain_mod.TOOLCHAIN_BIN})")


@images_app.command("build")
def images_build() -> None:
    """Build (or reuse) every image the embedded node imports, where `autocloud cluster start` finds them."""
    out = cluster_mod.default_layout().node.images
    try:
        built = images_mod.build(out)
    except images_mod.ImageError as exc:
        raise _fail(str(exc)) from None
    for image in built:
        _echo(f"{image.reference}  {image.size / 2**20:.1f} MiB  {'built' if image.rebuilt else 'up to date'}")
    _echo(f"images: {len(built)} in {out}")


@cluster_app.command("start")
def cluster_start() -> None:
    """Start the embedded cluster (idempotent) and wait until its node is Ready."""
    try:
        state = cluster_mod.start(echo=_echo)
    except cluster_mod.ClusterError as exc:
        raise _fail(str(exc)) from None
    _print_cluster(state)


@cluster_app.command("stop")
def cluster_stop() -> None:
    """Stop the processes this checkout started; data under .state/cluster is kept."""
    stopped = cluster_mod.stop(echo=_echo)
    if not stopped:
        _echo("cluster: nothing was running")


@cluster_app.command("status")
def cluster_status() -> None:
    """Show the embedded cluster's processes, API and node readiness."""
    state = cluster_mod.status()
    _print_cluster(state)
    if not state.running:
        raise typer.Exit(3)


def _print_cluster(state: cluster_mod.ClusterStatus) -> None:
    if state.external:
        _echo(f"cluster: external, KUBECONFIG={state.kubeconfig}")
        return
    table = Table(title="embedded cluster")
    table.add_column("component")
    table.add_column("pid", justify="right")
    table.add_column("state")
    table.add_column("log")
    for comp in state.components:
        condition = "running" if comp.running else ("died" if comp.pid is not None else "stopped")
        table.add_row(comp.name, str(comp.pid or "-"), condition, str(comp.log or "-"))
    console.print(table)
    _echo(f"API ready: {'yes' if state.api_ready else 'no'}, node Ready: {'yes' if state.node_ready else 'no'}, "
          f"cluster DNS: {'yes' if state.dns_ready else 'no'}")
    if state.dead:
        _echo(f"died: {', '.join(c.name for c in state.dead)}; `autocloud cluster start` restarts them")
    _echo(f"kubeconfig: {state.kubeconfig}")


@app.command()
def up(
    region: Annotated[list[str] | None, typer.Option("--region", help="Only these regions (eu, us, cn).")] = None,
) -> None:
    """Build or reuse the toolchain, start the embedded cluster, deploy the local stacks with the policy packs."""
    import autocloud.deploy as deploy
    from autocloud import rollout as rollout_mod
    from autocloud.progress import RolloutView

    try:
        stacks = deploy.local_stacks(region)
        if not stacks:
            raise deploy.DeployError("stacks/: no local stacks (stacks/Pulumi.local-*.yaml) to deploy")
        plan = rollout_mod.load_rollout(rollout_mod.LOCAL_ROLLOUT).restricted(stacks)
    except (deploy.DeployError, ConfigError) as exc:
        raise _fail(str(exc), 2) from None
    try:
        runs.hold("up")
        toolchain_mod.build(echo=_echo)
        cluster_mod.start(echo=_echo)
    except (toolchain_mod.ToolchainError, cluster_mod.ClusterError, runs.RunLocked) as exc:
        raise _fail(str(exc)) from None

    results: dict[str, deploy.StackResult] = {}

    def runner(stack: str, overrides: Mapping[str, Any], preview_only: bool) -> deploy.StackResult:
        try:
            result = deploy.up_stack(stack, echo=_echo, config_overrides=overrides, preview_only=preview_only)
        except (deploy.DeployError, ConfigError) as exc:
            result = deploy.StackResult(stack, stack, False, "up", message=str(exc))
        results[stack] = result
        return result

    _echo(f"deploying {', '.join(stacks)} in waves from {rollout_mod.LOCAL_ROLLOUT.relative_to(REPO_ROOT)}, "
          f"with policy packs {', '.join(deploy.PACKS)}")
    with RolloutView(console, live=False) as view, runs.component_watch(_warn) as watch:
        run = rollout_mod.run_rollout(plan, runner, preview_first=False, on_change=view.update)
    done = [results[s] for s in stacks if s in results]
    console.print(deploy.outputs_table(done))
    console.print(deploy.results_table(done))
    if watch.failure:
        raise _fail(f"{watch.failure}; `autocloud up` restarts it")
    if not run.ok:
        raise typer.Exit(1)


@app.command()
def down(
    region: Annotated[list[str] | None, typer.Option("--region", help="Only these regions.")] = None,
    keep_cluster: Annotated[bool, typer.Option(help="Leave the embedded cluster running.")] = False,
) -> None:
    """Destroy the local stacks and stop the embedded cluster."""
    import autocloud.deploy as deploy

    try:
        deploy.local_stacks(region)
    except deploy.DeployError as exc:
        raise _fail(str(exc), 2) from None
    try:
        runs.hold("down")
        # Destroying needs the cluster the stacks live on, even if it was stopped since.
        toolchain_mod.build(echo=_echo)
        cluster_mod.start(echo=_echo)
        with runs.component_watch(_warn) as watch:
            results = deploy.down_local(regions=region, echo=_echo)
    except (toolchain_mod.ToolchainError, cluster_mod.ClusterError, deploy.DeployError, ConfigError,
            runs.RunLocked) as exc:
        raise _fail(str(exc)) from None
    if watch.failure:
        raise _fail(f"{watch.failure}; `autocloud down` restarts it")
    console.print(deploy.results_table(results))
    if not keep_cluster and not region:
        cluster_mod.stop(echo=_echo)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def check(
    stack: Annotated[list[str] | None, typer.Option("--stack", help="Stack(s) to check, e.g. azure-eu.")] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Every stack in stacks/.")] = False,
    program: Annotated[
        Path | None, typer.Option("--program", help="Another Pulumi Python program (its folder).")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region profile whose rules apply.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
) -> None:
    """Run a program under mocks with a stack's config and evaluate every policy pack, offline."""
    from autocloud.check import run_check

    raise typer.Exit(run_check(stack or None, all_stacks, program, region, fmt))


@app.command()
def size(
    region: Annotated[str, typer.Option("--region", help="Region profile, e.g. eu.")],
    vehicles: Annotated[int | None, typer.Option("--vehicles", help="Override the fleet size.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The capacity plan (scale units, IoT Hub, Event Hubs, Cosmos DB, AKS) for a region's fleet."""
    from autocloud.sizing_report import size_command

    raise typer.Exit(size_command(region, vehicles, fmt))


@app.command()
def rollout(
    file: Annotated[Path, typer.Argument(help="Rollout file (waves of stacks), e.g. rollouts/local.yaml.")],
    preview: Annotated[bool, typer.Option("--preview", help="Only preview every stack; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Skip stacks a previous run finished.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Walk a rollout's waves: preview each stack with the policy packs, then apply; stop at the first failure."""
    import autocloud.deploy as deploy
    from autocloud import rollout as rollout_mod
    from autocloud.progress import RolloutView

    if fmt not in ("text", "json"):
        raise _fail(f"--format: {fmt!r} is not one of text, json", 2)
    try:
        plan = rollout_mod.load_rollout(file)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if not preview and not yes:
        if not sys.stdin.isatty():
            raise _fail("rollout: pass --yes to apply without a prompt, or --preview to change nothing", 2)
        stacks = len(plan.entries())
        if not typer.confirm(f"Apply rollout {plan.name!r} to {stacks} stacks?"):
            raise typer.Exit(1)
    try:
        runs.hold("rollout")
    except runs.RunLocked as exc:
        raise _fail(str(exc)) from None
    local = any(e.stack.startswith("local-") for e in plan.entries())
    if local:
        try:
            toolchain_mod.build(echo=_echo)
            cluster_mod.start(echo=_echo)
        except (toolchain_mod.ToolchainError, cluster_mod.ClusterError) as exc:
            raise _fail(str(exc)) from None

    def runner(stack: str, overrides: Mapping[str, Any], preview_only: bool) -> deploy.StackResult:
        try:
            return deploy.up_stack(stack, echo=_echo, config_overrides=overrides, preview_only=preview_only,
                                   backend_url=plan.backend, previewed=not preview_only)
        except (deploy.DeployError, ConfigError) as exc:
            return deploy.StackResult(stack, stack, False, "preview" if preview_only else "up", message=str(exc))

    view = RolloutView(console, live=fmt == "text" and console.is_terminal)
    with view, runs.component_watch(_warn, uses_cluster=local) as watch:
        run = rollout_mod.run_rollout(plan, runner, preview_only=preview, resume=resume, on_change=view.update)
    if watch.failure:
        raise _fail(f"{watch.failure}; `autocloud rollout --resume` restarts it")
    if fmt == "json":
        print(json.dumps(run.to_json(), indent=2))
    else:
        console.print(view.table(run))
    raise typer.Exit(0 if run.ok else 1)



@app.command()
def report(
    fmt: Annotated[str, typer.Option("--format", help="markdown or html.")] = "markdown",
    out: Annotated[Path, typer.Option("--out", help="Folder for report.md / report.html.")] = Path(".state/reports"),
    stack: Annotated[list[str] | None, typer.Option("--stack", help="Only these stacks (default: all).")] = None,
) -> None:
    """Residency and capacity report per region: boundary, resources, policy results, plan, telemetry flow."""
    from autocloud.report import report_command

    raise typer.Exit(report_command(fmt, out, stack))


@app.command()
def simulate(
    region: Annotated[str, typer.Option("--region", help="Region profile of a deployed local stack, e.g. eu.")],
    vehicles: Annotated[int, typer.Option("--vehicles", help="Simulated vehicles.")] = 10,
    messages: Annotated[int, typer.Option("--messages", help="Messages per vehicle.")] = 10,
    rate: Annotated[float | None, typer.Option("--rate", help="Messages per second, whole fleet.")] = None,
    settle: Annotated[float, typer.Option("--settle", help="Seconds to wait for the store.")] = 60.0,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Drive simulated vehicles through a local region and count every message end to end (exit 1 on loss)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from autocloud import simulate as sim
    from autocloud.profiles import available_profiles

    if region not in available_profiles():
        raise _fail(f"--region: {region!r} is not a region profile (one of {', '.join(available_profiles())})", 2)
    if fmt not in ("text", "json"):
        raise _fail(f"--format: {fmt!r} is not text or json", 2)
    try:
        args = sim.SimulationArgs(region, vehicles, messages, rate, settle_seconds=settle)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    try:
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, disable=fmt == "json") as bar:
            task = bar.add_task(f"{region}: {vehicles} vehicles", total=vehicles * messages)
            result = sim.run(args, progress=lambda n: bar.advance(task, n))
    except (sim.SimulationError, cluster_mod.ClusterError) as exc:
        raise _fail(str(exc)) from None
    summary = result.as_dict()
    if fmt == "json":
        console.print_json(json.dumps(summary))
    else:
        units = ", ".join(f"unit {k}: {v}" for k, v in summary["vehicles_per_unit"].items())
        _echo(f"sent {result.sent}, delivered to Kafka {result.delivered}, stored {result.stored}, "
              f"lost {result.lost}, duplicates {result.duplicates}")
        _echo(f"latency p50 {summary['latency_ms_p50']} ms, p99 {summary['latency_ms_p99']} ms, "
              f"{summary['messages_per_second']} messages/s; vehicles per scale unit: {units}")
    if result.lost:
        raise typer.Exit(1)


def main() -> None:
    # A shell starting us in the background (no job control) leaves SIGINT ignored, and the engine
    # would then cancel on a Ctrl-C sent to the process group while we ran on: take it back, so an
    # interrupt is always KeyboardInterrupt and exit 130.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

