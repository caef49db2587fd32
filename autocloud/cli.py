"""The `autocloud` command: one thin typer layer over the toolkit's modules.

Every command runs inside one error boundary (:class:`_Boundary`): an expected failure is one plain
line ``error: ...`` naming the culprit, exit 2 for bad input (files, arguments, environment), 1 for
an operation that failed, 130 on Ctrl-C; a usage error is one line and exit 2 too. Error text and
anything the user typed are printed literally, never as rich markup.

Every ``--format`` is a choice of :class:`~platform_model.formats.OutputFormat`, refused alike at
parsing; with a document format (JSON, Markdown) stdout carries the document alone and progress
goes to stderr, so ``| jq`` reads it.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.errors import MarkupError
from rich.table import Table
from rich.text import Text

# typer 0.29 vendors click as typer._click (pinned in pyproject.toml); its usage errors are only
# reachable there.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from autocloud.operations import runs
from autocloud.runtime import cluster as cluster_mod
from autocloud.runtime import images as images_mod
from autocloud.runtime import toolchain as toolchain_mod
from platform_model.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    AutocloudError,
    excerpt,
    from_validation_error,
    one_line,
)
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT, TOOLCHAIN_BIN

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

MAX_ERROR_CHARS = 2000
"""An error line is cut here (the engine's diagnosis can be long; a terminal page is not)."""

console = Console()
err = Console(stderr=True)


def _error(message: str) -> None:
    """``error: <message>`` on stderr as one plain line (red on a terminal); never parsed as markup."""
    err.print(
        Text.assemble(("error:", "red"), " ", one_line(message, MAX_ERROR_CHARS)), highlight=False, soft_wrap=True
    )


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    _error(message)
    return typer.Exit(code)


def _progress(fmt: OutputFormat) -> Console:
    """Where a command's progress lines go: stdout, unless stdout carries a document (``| jq``)."""
    return err if fmt.is_document else console


def _echo_on(out: Console) -> Callable[[str], None]:
    """A progress line on ``out``, printed literally (never as markup)."""
    return lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True)


_echo = _echo_on(console)


def describe(exc: BaseException) -> tuple[str, int] | None:
    """An expected failure as (one-line message, exit code); None for a bug, which keeps its traceback
    (and for a closed stdout pipe, which typer ends quietly)."""
    if isinstance(exc, AutocloudError):
        return str(exc), exc.exit_code
    if isinstance(exc, ValidationError):
        return str(from_validation_error("", exc)), EXIT_BAD_INPUT
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text: {exc.reason} at byte {exc.start}", EXIT_BAD_INPUT
    if isinstance(exc, BrokenPipeError):
        return None
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"{excerpt(exc.cmd)} did not finish within {exc.timeout:g}s", EXIT_FAILED
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{excerpt(exc.cmd)} failed with exit code {exc.returncode}", EXIT_FAILED
    if isinstance(exc, TimeoutError):
        return f"timed out{': ' + str(exc) if str(exc) else ''}", EXIT_FAILED
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", EXIT_FAILED
    if isinstance(exc, MarkupError):
        return f"could not print a message: {exc}", EXIT_FAILED
    return None


def _usage_line(exc: UsageError) -> str:
    command = exc.ctx.command_path if exc.ctx is not None else "autocloud"
    return f"{command}: {exc.format_message().rstrip('.')} (see {command} --help)"


class _Boundary(TyperGroup):
    """The CLI's one error boundary: parsing (``main``) and every command (``invoke``) under it."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except UsageError as exc:
            _error(_usage_line(exc))
            code = EXIT_BAD_INPUT
        except ClickException as exc:
            _error(exc.format_message())
            code = exc.exit_code
        except (typer.Abort, KeyboardInterrupt):
            _error("interrupted")
            code = EXIT_INTERRUPTED
        if not standalone_mode:
            return code
        sys.exit(code)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _fail("interrupted", EXIT_INTERRUPTED) from None
        except Exception as exc:
            known = describe(exc)
            if known is None:
                raise
            raise _fail(*known) from None


app = typer.Typer(
    help="Regional connected-vehicle platforms on Azure and local Kubernetes.",
    no_args_is_help=True,
    cls=_Boundary,
    pretty_exceptions_enable=False,
)
cluster_app = typer.Typer(help="The embedded local Kubernetes control plane.", no_args_is_help=True)
toolchain_app = typer.Typer(help="The Go-built tools (Pulumi CLI, plugins, control plane).", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
images_app = typer.Typer(help="The container images built here for the local cluster.", no_args_is_help=True)
app.add_typer(toolchain_app, name="toolchain")
app.add_typer(images_app, name="images")
fleet_app = typer.Typer(
    help="Each region's fleet PKI: its CA, vehicle certificates and the DPS enrollment group.", no_args_is_help=True
)
app.add_typer(fleet_app, name="fleet")


@toolchain_app.command("build")
def toolchain_build(
    tools: Annotated[list[str] | None, typer.Argument(help="Only these tools.")] = None,
    only: Annotated[
        str | None,
        typer.Option("--only", help="Only what one target needs: azure (engine, Python host) or local (all)."),
    ] = None,
) -> None:
    """Build (or reuse) the Pulumi CLI, plugins, etcd, the Kubernetes control plane and KWOK."""
    known = [tool.name for tool in toolchain_mod.TOOLS]
    unknown = [t for t in tools or () if t not in known]
    if unknown:
        raise _fail(f"toolchain build: unknown tool {excerpt(unknown[0])} (one of {', '.join(known)})", EXIT_BAD_INPUT)
    if only is not None:
        if only not in toolchain_mod.TARGET_TOOLS:
            targets = ", ".join(toolchain_mod.TARGET_TOOLS)
            raise _fail(f"toolchain build: --only {excerpt(only)} is not a target (one of {targets})", EXIT_BAD_INPUT)
        tools = [*(tools or ()), *toolchain_mod.tools_for(only)]
    started = time.monotonic()
    built = toolchain_mod.build(tools, echo=_echo)
    if built:
        _echo(f"toolchain: built {', '.join(built)} in {time.monotonic() - started:.0f}s into {TOOLCHAIN_BIN}")
    else:
        _echo(f"toolchain: up to date ({TOOLCHAIN_BIN})")


@images_app.command("build")
def images_build() -> None:
    """Build (or reuse) every image the embedded node imports, where `autocloud cluster start` finds them."""
    out = cluster_mod.default_layout().node.images
    built = images_mod.build(out)
    for image in built:
        _echo(f"{image.reference}  {image.size / 2**20:.1f} MiB  {'built' if image.rebuilt else 'up to date'}")
    _echo(f"images: {len(built)} in {out}")


@images_app.command("push")
def images_push(
    stack: Annotated[str, typer.Option("--stack", help="An azure stack, e.g. azure-eu: its region's registry.")],
) -> None:
    """Push the images the Azure stacks run (the state writer) to the stack's registry, signed in with az."""
    from autocloud.operations.images_push import push_stack_images

    pushed = push_stack_images(stack, cluster_mod.default_layout().node.images, _echo)
    _echo(f"images: {len(pushed)} pushed")


@cluster_app.command("start")
def cluster_start() -> None:
    """Start the embedded cluster (idempotent) and wait until its node is Ready."""
    state = cluster_mod.start(ports=cluster_mod.Ports.from_env(), echo=_echo)
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
    state = cluster_mod.status(ports=cluster_mod.Ports.from_env())
    _print_cluster(state)
    if not state.running:
        raise typer.Exit(3)


def _cells(*values: str) -> list[Text]:
    """Table cells printed as they are: a path or message holding ``[...]`` is not markup."""
    return [Text(value) for value in values]


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
        table.add_row(*_cells(comp.name, str(comp.pid or "-"), condition, str(comp.log or "-")))
    console.print(table)
    _echo(
        f"API ready: {'yes' if state.api_ready else 'no'}, node Ready: {'yes' if state.node_ready else 'no'}, "
        f"cluster DNS: {'yes' if state.dns_ready else 'no'}"
    )
    if state.dead:
        _echo(f"died: {', '.join(c.name for c in state.dead)}; `autocloud cluster start` restarts them")
    _echo(f"kubeconfig: {state.kubeconfig}")


@app.command()
def up(
    region: Annotated[list[str] | None, typer.Option("--region", help="Only these regions (eu, us, cn).")] = None,
) -> None:
    """Build or reuse the toolchain, start the embedded cluster, deploy the local stacks with the policy packs."""
    import autocloud.operations.deploy as deploy
    from autocloud.operations import rollout as rollout_mod
    from autocloud.operations import tables
    from autocloud.operations.progress import RolloutView

    stacks = deploy.local_stacks(region)
    if not stacks:
        raise deploy.DeployError("stacks/: no stack with autocloud:target local to deploy")
    plan = rollout_mod.load_rollout(rollout_mod.LOCAL_ROLLOUT).restricted(stacks)
    _check_inputs(plan)
    runs.hold("up")
    runs.ensure_local_runtime(_echo)

    results: dict[str, deploy.StackResult] = {}

    def runner(
        stack: str,
        overrides: Mapping[str, deploy.ConfigValue],
        *,
        apply: bool,
        on_previewed: Callable[[deploy.StackResult], None],
    ) -> deploy.StackResult:
        results[stack] = deploy.deploy_stack(stack, overrides, apply=apply, on_previewed=on_previewed, echo=_echo)
        return results[stack]

    _echo(
        f"deploying {', '.join(stacks)} in waves from {rollout_mod.LOCAL_ROLLOUT.relative_to(REPO_ROOT)}, "
        f"with policy packs {', '.join(deploy.PACKS)}"
    )
    with RolloutView(console, live=False, causes=False) as view, runs.component_watch(_error) as watch:
        run = rollout_mod.run_rollout(plan, runner, on_change=view.update)
    done = [results[s] for s in stacks if s in results]
    console.print(tables.outputs_table(done))
    console.print(tables.results_table(done))
    for line in tables.failures(done):
        _error(line)
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
    import autocloud.operations.deploy as deploy
    from autocloud.operations import tables

    deploy.local_stacks(region)
    cluster_mod.Ports.from_env()  # bad input refused before anything is built or started
    runs.hold("down")
    runs.ensure_local_runtime(_echo)
    with runs.component_watch(_error) as watch:
        results = deploy.down_local(regions=region, echo=_echo)
    if watch.failure:
        raise _fail(f"{watch.failure}; `autocloud down` restarts it")
    console.print(tables.results_table(results))
    for line in tables.failures(results):
        _error(line)
    if not keep_cluster and not region:
        if left := cluster_mod.wait_volumes_removed():
            _error(f"{len(left)} volume(s) not removed yet ({', '.join(left)}): their folders stay in .state/cluster")
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
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN],
        typer.Option("--format", help="How to print the results."),
    ] = OutputFormat.TEXT,
    config: Annotated[
        list[str] | None, typer.Option("--config", "-c", help="KEY=VALUE config, as `pulumi preview -c` (repeatable).")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config-file", help="A Pulumi stack file whose config to use.")
    ] = None,
) -> None:
    """Run a program as `pulumi preview` would, under mocks, and evaluate every policy pack, offline."""
    from autocloud.verification.check.command import run_check
    from autocloud.verification.check.targets import ConfigInput

    given = ConfigInput(tuple(config or ()), config_file)
    raise typer.Exit(run_check(stack or None, all_stacks, program, region, fmt, given=given))


@app.command()
def size(
    region: Annotated[str, typer.Option("--region", help="Region profile, e.g. eu.")],
    vehicles: Annotated[int | None, typer.Option("--vehicles", help="Override the fleet size.")] = None,
    fmt: Annotated[
        Literal[OutputFormat.TABLE, OutputFormat.JSON], typer.Option("--format", help="How to print the plan.")
    ] = OutputFormat.TABLE,
) -> None:
    """The capacity plan (scale units, IoT Hub, Event Hubs, Cosmos DB, AKS) for a region's fleet."""
    from autocloud.verification.sizing_report import size_command

    size_command(region, vehicles, fmt, console)


@app.command()
def drift(
    stack: Annotated[list[str] | None, typer.Option("--stack", help="Stack(s) to check, e.g. local-eu.")] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Every stack in stacks/.")] = False,
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN],
        typer.Option("--format", help="How to print the differences."),
    ] = OutputFormat.TEXT,
) -> None:
    """What differs between each deployed stack and its program (a refreshed preview; nothing is written).
    Exit 0 no drift, 1 drift, 2 a stack could not be checked."""
    from autocloud.operations import drift as drift_mod
    from autocloud.runtime import engine
    from platform_model.stack import require_stack, stack_names

    if bool(stack) == all_stacks:
        raise _fail("drift: give --stack (one or more) or --all", EXIT_BAD_INPUT)
    names = stack_names() if all_stacks else list(stack or [])
    for name in names:
        require_stack(name, "drift")
    results, errors = drift_mod.check_stacks(names, engine.existing_stack)
    sys.stdout.write(drift_mod.report(results, fmt))
    for line in errors:
        _error(line)
    raise typer.Exit(EXIT_BAD_INPUT if errors else (EXIT_FAILED if any(results.values()) else 0))


@app.command()
def cost(
    stack: Annotated[list[str] | None, typer.Option("--stack", help="Azure stack(s) to price, e.g. azure-eu.")] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Every azure stack in stacks/.")] = False,
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON, OutputFormat.MARKDOWN],
        typer.Option("--format", help="How to print the estimate."),
    ] = OutputFormat.TEXT,
    refresh_prices: Annotated[
        bool, typer.Option("--refresh-prices", help="Re-read the public prices from the Azure Retail Prices API first.")
    ] = False,
) -> None:
    """The monthly cost of each azure stack (730 hours), offline, from the resources its program declares and
    the price table; what cannot be priced is listed as unpriced, never counted as zero."""
    from autocloud.verification.cost import run_cost

    if refresh_prices:
        from autocloud.verification.price_refresh import refresh_price_file

        for line in refresh_price_file():
            _echo_on(_progress(fmt))(line)
    raise typer.Exit(run_cost(stack or None, all_stacks, fmt))


@app.command()
def prerequisites(
    stack: Annotated[str, typer.Argument(help="An azure stack (stacks/Pulumi.<stack>.yaml), e.g. azure-eu.")],
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON], typer.Option("--format", help="How to print the checklist.")
    ] = OutputFormat.TEXT,
) -> None:
    """What a stack's first apply needs: providers to register, the deployer's roles, quotas, region access."""
    from autocloud.verification.prerequisites_report import prerequisites_command

    sys.stdout.write(prerequisites_command(stack, fmt))


@app.command()
def regions(
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON], typer.Option("--format", help="How to print the list.")
    ] = OutputFormat.TEXT,
) -> None:
    """Every jurisdiction: can the platform be there, its Azure locations, the services limited there, the
    region profile that serves it, and the sources."""
    from autocloud.verification.regions_report import regions_command

    sys.stdout.write(regions_command(fmt))


@app.command()
def rollout(
    file: Annotated[Path, typer.Argument(help="Rollout file (waves of stacks), e.g. rollouts/local.yaml.")],
    preview: Annotated[bool, typer.Option("--preview", help="Only preview every stack; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip stacks a previous run finished; re-check the last applied wave's gate."),
    ] = False,
    only_stack: Annotated[
        list[str] | None, typer.Option("--only-stack", help="Only these stacks of the file, in their waves.")
    ] = None,
    gates: Annotated[bool, typer.Option("--gates/--no-gates", help="Run the waves' gates and bake times.")] = True,
    gate_only: Annotated[
        bool, typer.Option("--gate-only", help="Apply nothing: run each wave's gate once on what is deployed.")
    ] = False,
    emit: Annotated[
        Literal["github"] | None,
        typer.Option("--emit", help="Write the rollout as a GitHub Actions workflow instead of running it."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="With --emit: the file to write (default stdout).")] = None,
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON], typer.Option("--format", help="How to print the outcome.")
    ] = OutputFormat.TEXT,
) -> None:
    """Walk a rollout's waves: preview each stack with the policy packs, then apply; after each wave its gate
    (and bake); stop at the first failure."""
    import autocloud.operations.deploy as deploy
    from autocloud.operations import gates as gates_mod
    from autocloud.operations import rollout as rollout_mod
    from autocloud.operations.progress import RolloutView

    progress = _progress(fmt)
    echo = _echo_on(progress)
    plan = rollout_mod.load_rollout(file)
    if only_stack:
        listed = {e.stack for e in plan.entries()}
        for stack in only_stack:
            if stack not in listed:
                raise _fail(f"--only-stack: {excerpt(stack)} is not a stack of {file}", EXIT_BAD_INPUT)
        plan = plan.restricted(only_stack)
    if emit is not None:
        from autocloud.operations import emit_github

        _write_out(emit_github.workflow(plan, file, only_stack), out)
        return
    if out is not None:
        raise _fail("--out goes with --emit", EXIT_BAD_INPUT)
    if gate_only and (preview or resume or not gates):
        raise _fail("--gate-only runs gates alone: not with --preview, --resume or --no-gates", EXIT_BAD_INPUT)
    _check_inputs(plan)
    if not preview and not yes and not gate_only:
        if not sys.stdin.isatty():
            raise _fail("rollout: pass --yes to apply without a prompt, or --preview to change nothing", EXIT_BAD_INPUT)
        stacks = len(plan.entries())
        if not typer.confirm(f"Apply rollout {plan.name!r} to {stacks} stacks?", err=fmt.is_document):
            raise typer.Exit(1)
    runs.hold("rollout")
    local = _uses_local_stacks(plan)
    if local:
        runs.ensure_local_runtime(echo)

    runner = functools.partial(deploy.deploy_stack, echo=echo, backend_url=plan.backend)
    checker = gates_mod.StackGate(backend_url=plan.backend)
    view = RolloutView(progress, live=fmt == OutputFormat.TEXT and console.is_terminal)
    with view, runs.component_watch(_error, uses_cluster=local) as watch:
        run = rollout_mod.run_rollout(
            plan,
            runner,
            preview_only=preview,
            resume=resume,
            on_change=view.update,
            checker=checker,
            gates=gates,
            gate_only=gate_only,
            on_gate=view.gate_update,
        )
    if watch.failure:
        raise _fail(f"{watch.failure}; `autocloud rollout --resume` restarts it")
    if fmt == OutputFormat.JSON:
        print(json.dumps(run.to_json(), indent=2))
    else:
        console.print(view.table(run))
    for gate in run.gates.values():
        if gate.status == "failed":
            _error(f"wave {gate.wave!r}: {gate.message}; the rollout stopped before the next wave")
    raise typer.Exit(0 if run.ok else 1)


@app.command()
def report(
    fmt: Annotated[
        Literal[OutputFormat.MARKDOWN, OutputFormat.HTML], typer.Option("--format", help="The report's file format.")
    ] = OutputFormat.MARKDOWN,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.md / report.html.")] = Path(".state/reports"),
    stack: Annotated[list[str] | None, typer.Option("--stack", help="Only these stacks (default: all).")] = None,
) -> None:
    """Residency and capacity report per region: boundary, resources, policy results, plan, telemetry flow."""
    from autocloud.verification.report import report_command

    raise typer.Exit(report_command(fmt, out, stack))


@app.command()
def simulate(
    region: Annotated[
        str | None, typer.Option("--region", help="Region profile of a deployed local stack, e.g. eu.")
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", help="A deployed stack instead: azure-<r> (its DPS and hubs), or a local one (its namespace)."
        ),
    ] = None,
    brand: Annotated[
        str | None,
        typer.Option("--brand", help="Play one brand's vehicles (<brand>-vehicle-...), counted in its own store."),
    ] = None,
    vehicles: Annotated[int, typer.Option("--vehicles", help="Simulated vehicles.")] = 10,
    messages: Annotated[
        int | None,
        typer.Option("--messages", help="Messages per vehicle (default 10; in fleet mode a cap, default none)."),
    ] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="Messages per second, whole fleet.")] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle", help="Seconds to wait for the store once sending ends, again after each read that finds more."
        ),
    ] = 60.0,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Fleet mode: seconds the fleet drives (compiled generator, default 120)."),
    ] = None,
    scenario: Annotated[
        Literal["steady", "reconnect-storm"] | None,
        typer.Option("--scenario", help="Fleet mode: reconnect-storm drops 20% of the connected fleet a third in."),
    ] = None,
    flat_out: Annotated[
        bool,
        typer.Option("--flat-out", help="Fleet mode: each vehicle sends as soon as its acknowledgement is back."),
    ] = False,
    fmt: Annotated[
        Literal[OutputFormat.TEXT, OutputFormat.JSON], typer.Option("--format", help="How to print the counts.")
    ] = OutputFormat.TEXT,
) -> None:
    """Register simulated vehicles through a region's DPS, drive them through its hubs over TLS and count
    every message end to end (exit 1 on loss or a refused vehicle). With --duration or --scenario, fleet
    mode: the compiled generator plays the fleet for a duration (default load one message every 10 s per
    vehicle), then the store is read back."""
    from rich.progress import MofNCompleteColumn

    from autocloud.operations import simulate as sim
    from autocloud.runtime import engine
    from platform_model.profiles import available_profiles
    from platform_model.stack import resolve_stack

    if (region is None) == (stack is None):
        raise _fail(
            "give either --region R (a local region) or --stack S (a deployed stack, local or azure-<r>)",
            EXIT_BAD_INPUT,
        )
    fleet_mode = duration is not None or scenario is not None
    outputs: dict[str, Any] | None = None
    namespace: str | None = None
    if stack is not None:
        resolved = resolve_stack(stack)
        config = resolved.config
        region = config.region
        if config.is_local:
            namespace = config.local_namespace
        else:
            outputs = engine.stack_outputs(stack)
        if brand is not None and brand not in {b.name for b in config.brands}:
            listed = ", ".join(b.name for b in config.brands) or "none"
            raise _fail(
                f"--brand: {excerpt(brand)} is not a brand of {resolved.source} (autocloud:brands: {listed})",
                EXIT_BAD_INPUT,
            )
    assert region is not None
    if region not in available_profiles():
        raise _fail(
            f"--region: {excerpt(region)} is not a region profile (one of {', '.join(available_profiles())})",
            EXIT_BAD_INPUT,
        )
    if fleet_mode:
        _simulate_fleet(
            region, namespace, brand, vehicles, messages, rate, settle, duration, scenario, flat_out, fmt,
            azure=(stack, outputs) if stack is not None and outputs is not None else None,
        )  # fmt: skip
        return
    if flat_out:
        raise _fail("--flat-out: only in fleet mode (with --duration or --scenario)", EXIT_BAD_INPUT)
    messages = 10 if messages is None else messages
    try:
        args = sim.SimulationArgs(
            region, vehicles, messages, rate=rate, namespace=namespace, settle_seconds=settle, brand=brand
        )
    except ValueError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    cluster_mod.Ports.from_env()
    with _simulation_bar(MofNCompleteColumn(), fmt) as bar:
        task = bar.add_task(f"{stack or region}: {vehicles} vehicles", total=vehicles * messages)
        if stack is not None and outputs is not None:
            result = sim.run_azure(stack, args, outputs, progress=lambda n: bar.advance(task, n))
        else:
            result = sim.run(args, progress=lambda n: bar.advance(task, n))
    summary = result.as_dict()
    if fmt == OutputFormat.JSON:
        console.print_json(json.dumps(summary))
    else:
        units = ", ".join(f"unit {k}: {v}" for k, v in summary["vehicles_per_unit"].items())
        _echo(
            f"{_registered(summary, vehicles)}; hub connection (TLS + CONNACK) p50 "
            f"{summary['hub_connect_ms_p50']} ms; vehicles per scale unit: {units or 'none'}"
        )
        for reason, count in summary["refused"].items():
            _echo(f"refused: {reason} ({count} vehicle{'s' if count != 1 else ''})")
        stored = (
            f"stored {result.stored}"
            if result.store_read
            else "stored not read (Cosmos DB is private to the region's network)"
        )
        delivered = "delivered to Kafka" if result.store_read else "acknowledged by IoT Hub"
        _echo(
            f"sent {result.sent}, {delivered} {result.delivered}, {stored}, "
            f"lost {result.lost}, duplicates {result.duplicates}, reconnects {result.reconnects}"
        )
        _echo(
            f"latency p50 {summary['latency_ms_p50']} ms, p99 {summary['latency_ms_p99']} ms, "
            f"{summary['messages_per_second']} messages/s"
        )
    if result.lost or result.refused:
        raise typer.Exit(1)


def _simulation_bar(counter: ProgressColumn, fmt: OutputFormat) -> Progress:
    """Both simulate modes' bar on stderr (none with a document format): description, bar, ``counter``,
    elapsed time."""
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        counter,
        TimeElapsedColumn(),
        console=err,
        disable=fmt.is_document,
    )


def _registered(summary: Mapping[str, Any], vehicles: int) -> str:
    """The registration part of either mode's summary line."""
    return (
        f"registered {summary['registrations']} of {vehicles} through DPS over TLS "
        f"({summary['registrations_per_second']}/s), p50 {summary['registration_ms_p50']} ms, "
        f"p99 {summary['registration_ms_p99']} ms"
    )


def _simulate_fleet(
    region: str,
    namespace: str | None,
    brand: str | None,
    vehicles: int,
    messages: int | None,
    rate: float | None,
    settle: float,
    duration: float | None,
    scenario: Literal["steady", "reconnect-storm"] | None,
    flat_out: bool,
    fmt: OutputFormat,
    azure: tuple[str, dict[str, Any]] | None = None,
) -> None:
    """``simulate``'s fleet mode (docs/local-platform.md): the compiled generator, a bar fed by its progress
    lines, then the store's counts (none on Azure: ``azure`` is the stack and its outputs); exit 1 on loss,
    unacknowledged messages, refusals or a slow storm."""
    from rich.progress import TextColumn

    from autocloud.operations import fleetrun, fleetsim

    try:
        args = fleetrun.FleetRunArgs(
            region,
            vehicles,
            fleetrun.DEFAULT_DURATION_S if duration is None else duration,
            rate=rate,
            flat_out=flat_out,
            messages=messages,
            scenario=scenario or "steady",
            namespace=namespace,
            settle_seconds=settle,
            brand=brand,
        )
    except ValueError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    cluster_mod.Ports.from_env()
    with _simulation_bar(TextColumn("{task.fields[status]}", markup=False), fmt) as bar:
        task = bar.add_task(f"{namespace or region}: {vehicles} vehicles", total=args.duration_s, status="")

        def show(p: fleetsim.Progress) -> None:
            status = (
                f"{p.connected}/{vehicles} connected, {p.acknowledged} acknowledged ({p.ack_per_second:.0f}/s), "
                f"{p.reconnects} reconnects, {p.refused} refused"
            )
            bar.update(task, completed=min(p.elapsed_s, args.duration_s), status=status)

        def settling() -> None:
            bar.update(task, completed=args.duration_s, description="waiting for the store")

        if azure is not None:
            azure_stack, outputs = azure
            result = fleetrun.run_azure(azure_stack, args, outputs, on_progress=show)
        else:
            result = fleetrun.run(args, on_progress=show, on_settling=settling)
    summary = result.as_dict()
    if fmt == OutputFormat.JSON:
        console.print_json(json.dumps(summary))
    else:
        _echo(
            f"{_registered(summary, vehicles)}; {summary['connected']} connected, hub connection "
            f"(TLS + CONNACK) p50 {summary['hub_connect_ms_p50']} ms"
        )
        for reason, count in summary["refused"].items():
            _echo(f"refused: {reason} ({count})")
        if (storm := summary["storm"]) is not None:
            _echo(
                f"reconnect storm: {storm['dropped']} dropped, {storm['reconnected']} back, reconnect p50 "
                f"{storm['reconnect_ms_p50']} ms, p99 {storm['reconnect_ms_p99']} ms, max "
                f"{storm['reconnect_ms_max']} ms ({'all' if storm['all_within'] else 'not all'} within "
                f"{storm['within_s']:g} s)"
            )
        if result.stored is None:
            acknowledged = f"acknowledged by IoT Hub {result.summary.acknowledged}"
            stored = "stored not read (Cosmos DB is private to the region's network)"
            lag_text = ""
        else:
            acknowledged = f"acknowledged (in Kafka) {result.summary.acknowledged}"
            stored = f"stored {result.stored} ({result.vehicles_stored} of {vehicles} vehicles)"
            lag, lag_from = summary["store_lag_s"], summary["store_lag_from_s"]
            lag_text = "; store lag " + (
                f"{lag} s"
                if lag is not None
                else f"not caught up (--settle {settle:g} s passed since sending ended or the store last counted more)"
            )
            if lag is not None and lag_from is not None:
                lag_text += f" (caught up after {lag_from} s, by {lag} s)"
        _echo(
            f"sent {result.summary.sent}, {acknowledged}, unacknowledged {result.summary.unacknowledged}, "
            f"{stored}, lost {result.lost}, duplicates {result.duplicates}, reconnects {result.summary.reconnects}"
        )
        _echo(
            f"latency p50 {summary['latency_ms_p50']} ms, p99 {summary['latency_ms_p99']} ms, max "
            f"{summary['latency_ms_max']} ms, {summary['messages_per_second']} messages/s{lag_text}"
        )
        if summary["steady_messages"]:
            _echo(
                f"once every vehicle had connected: latency p50 {summary['steady_latency_ms_p50']} ms, "
                f"p99 {summary['steady_latency_ms_p99']} ms over {summary['steady_messages']} messages"
                + (
                    f" in {summary['steady_seconds']} s ({summary['steady_messages_per_second']} messages/s)"
                    if summary["steady_seconds"] is not None
                    else ""
                )
            )
        memory = summary["memory"].get("mb_per_1000_connections")
        if memory is not None:
            _echo(f"generator memory: {memory} MB per 1,000 connections")
    for problem in result.problems:
        _error(problem)
    if result.problems:
        raise typer.Exit(1)


@fleet_app.command("ca")
def fleet_ca(
    region: Annotated[str, typer.Option("--region", help="Region profile, e.g. eu.")],
    days: Annotated[
        int | None, typer.Option("--days", help="Days a new CA is valid (default ten years); an existing CA is reused.")
    ] = None,
    brand: Annotated[
        str | None, typer.Option("--brand", help="A brand's own CA in the region (signs only <brand>- vehicles).")
    ] = None,
) -> None:
    """Make or reuse the region's fleet CA under .state/fleet/<region>/ (ca.pem, ca-key.pem), or a brand's
    own under .state/fleet/<region>/brands/<brand>/."""
    from autocloud.runtime import fleet_pki

    ca = fleet_pki.ensure_ca(region, fleet_pki.CA_VALIDITY_DAYS if days is None else days, brand=brand)
    state = "created" if ca.created else "reused"
    owner = f"{region} brand {brand}" if brand else region
    _echo(f"fleet CA {owner}: {state} {ca.cert_path} (key {ca.key_path.name}, mode 0600)")
    _echo(f"valid until {ca.certificate.not_valid_after_utc:%Y-%m-%d}, SHA-256 {ca.fingerprint}")
    if brand:
        _echo(
            f"a local stack of region {region} listing brand {brand} trusts it at the next `autocloud up`; an Azure "
            f"stack needs it as the brand's fleetCa in autocloud:brands"
        )


@fleet_app.command("vehicle-cert")
def fleet_vehicle_cert(
    region: Annotated[str, typer.Option("--region", help="Region profile whose fleet CA signs, e.g. eu.")],
    vehicle_id: Annotated[str, typer.Option("--id", help="The vehicle's DPS registration id (the certificate's CN).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for <id>-cert.pem and <id>-key.pem.")],
    days: Annotated[
        int | None, typer.Option("--days", help="Days the certificate is valid (default one year).")
    ] = None,
    brand: Annotated[
        str | None, typer.Option("--brand", help="Sign with the brand's own CA (the id must start <brand>-).")
    ] = None,
) -> None:
    """Issue a vehicle's device certificate, signed by its region's fleet CA or its brand's (CN = registration id)."""
    from autocloud.runtime import fleet_pki

    issued = fleet_pki.issue_vehicle_cert(
        region, vehicle_id, out, fleet_pki.VEHICLE_VALIDITY_DAYS if days is None else days, brand=brand
    )
    signer = f"{region} brand {brand}" if brand else region
    _echo(f"vehicle {issued.vehicle_id}: {issued.cert_path} (with the {signer} fleet CA), key {issued.key_path}")
    _echo(f"valid until {issued.not_after:%Y-%m-%d}")


@fleet_app.command("enroll")
def fleet_enroll(
    stack: Annotated[str, typer.Option("--stack", help="A deployed Azure stack, e.g. azure-eu.")],
) -> None:
    """Create or update the region's DPS enrollment groups (X.509, the stack's fleet CA and each brand's own,
    hashed allocation), signed in with the Azure CLI (role: Device Provisioning Service Data Contributor on the DPS)."""
    from autocloud.operations import fleet

    groups = fleet.enroll(
        stack, warn=lambda line: err.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    )
    for done in groups:
        _echo(f"{done.dps_host}: enrollment group {done.group!r} {done.action} (X.509 CA {done.ca_name!r}, hashed)")


@app.command("pr-comment")
def pr_comment(
    check_markdown: Annotated[
        Path, typer.Argument(help="What `autocloud check --format markdown` printed (missing: a fallback note).")
    ],
    exit_code: Annotated[int, typer.Option("--exit-code", help="The exit code of that check.")],
    run_url: Annotated[str | None, typer.Option("--run-url", help="Link to the workflow run, in the footer.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
    cost_json: Annotated[
        Path | None,
        typer.Option("--cost", help="What `autocloud cost --all --format json` printed: adds each region's cost."),
    ] = None,
    base_cost_json: Annotated[
        Path | None, typer.Option("--base-cost", help="The same on the base branch: adds the change.")
    ] = None,
) -> None:
    """Wrap `autocloud check` Markdown as the pull-request comment (the preview workflow posts it)."""
    from autocloud.verification.pr_comment import comment_for

    _write_out(comment_for(check_markdown, exit_code, run_url, cost_json, base_cost_json), out)


@app.command("policy-config")
def policy_config(
    region: Annotated[str, typer.Option("--region", help="Region profile (regions/<name>.yaml).")],
    relax: Annotated[
        list[str] | None, typer.Option("--relax", help="Baseline rule to run as advisory (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
) -> None:
    """Write the policy packs' config JSON for a region (what `pulumi preview --policy-pack-config` reads)."""
    from platform_model.profiles import load_profile
    from policies.config import pack_config_for_region, render_pack_config

    try:
        config = pack_config_for_region(load_profile(region), relaxed=relax or ())
    except ValueError as exc:
        raise _fail(str(exc), EXIT_BAD_INPUT) from None
    _write_out(render_pack_config(config), out)


@app.command("secrets-provider")
def secrets_provider(
    stack: Annotated[str, typer.Argument(help="Stack name (stacks/Pulumi.<stack>.yaml).")],
) -> None:
    """Print the secrets provider a stack is created with: passphrase or its Key Vault key (docs/engine.md)."""
    from autocloud.runtime.secrets_provider import resolve_secrets_provider
    from platform_model.stack import require_stack

    require_stack(stack, "secrets-provider")
    print(resolve_secrets_provider(stack))


def _write_out(text: str, out: Path | None) -> None:
    """``text`` to stdout, or to ``--out`` (parents created); a path that cannot be written is bad input."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"--out {out}: cannot write: {exc.strerror or exc}", EXIT_BAD_INPUT) from None


def main(argv: Sequence[str] | None = None) -> None:
    """The console script: exits 0, 1 (failed), 2 (bad input or usage) or 130 (interrupted)."""
    # A shell starting us in the background (no job control) leaves SIGINT ignored, and the engine
    # would then cancel on a Ctrl-C sent to the process group while we ran on: take it back, so an
    # interrupt is always KeyboardInterrupt and exit 130.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app(args=argv, prog_name="autocloud")


def _check_inputs(plan: Any) -> None:
    """Every stack of a rollout checked (file, profile, overrides, plan, pack config) before anything
    is built or started."""
    import autocloud.operations.deploy as deploy

    for entry in plan.entries():
        deploy.check_stack(entry.stack, entry.config)
    if _uses_local_stacks(plan):
        cluster_mod.Ports.from_env()


def _uses_local_stacks(plan: Any) -> bool:
    """Whether a rollout deploys to the local cluster: some stack's config targets it."""
    from platform_model.stack import stack_config

    return any(stack_config(entry.stack).is_local for entry in plan.entries())


if __name__ == "__main__":
    main()
