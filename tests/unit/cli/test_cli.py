"""The CLI's contract for bad input: one line naming the file or option, exit code 2, nothing changed."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from autocloud.cli import app
from autocloud.runtime import cluster, images, toolchain
from autocloud.verification import report as report_mod
from platform_model import stack as stack_mod
from platform_model.errors import ConfigError

runner = CliRunner()


def test_unknown_region_for_up_is_a_usage_error() -> None:
    result = runner.invoke(app, ["up", "--region", "xx"])
    assert result.exit_code == 2
    assert "no local stack of region 'xx' in stacks/" in result.output
    assert "Traceback" not in result.output


def test_invalid_rollout_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nwaves:\n  - name: a\n    stacks: [local-eu, nope]\n")
    result = runner.invoke(app, ["rollout", str(bad), "--preview"])
    assert result.exit_code == 2
    assert f"{bad}: waves[0].stacks[1]: unknown stack 'nope'" in " ".join(result.output.split())


def test_rollout_without_yes_and_without_a_terminal_refuses_to_apply() -> None:
    result = runner.invoke(app, ["rollout", "rollouts/local.yaml"], input="")
    assert result.exit_code == 2
    assert "pass --yes" in result.output


def test_bad_rollout_format_option() -> None:
    result = runner.invoke(app, ["rollout", "rollouts/local.yaml", "--preview", "--format", "xml"])
    assert result.exit_code == 2
    assert "--format" in result.output


def test_size_json_is_machine_readable() -> None:
    result = runner.invoke(app, ["size", "--region", "eu", "--vehicles", "5000000", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["region"] == "eu"
    assert plan["plan"]["vehicles"] == 5000000
    assert plan["plan"]["scale_units"] >= 5, "1 M devices per hub: 5 M vehicles need at least 5 hubs"


def test_check_unknown_stack_is_a_usage_error() -> None:
    result = runner.invoke(app, ["check", "--stack", "nope"])
    assert result.exit_code == 2


def test_images_build_lists_each_image_and_whether_it_was_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = tmp_path / "kafka-3.9.2.tar"
    tarball.write_bytes(b"x" * 2**20)
    built = [images.BuiltImage("autocloud.local/kafka:3.9.2", tarball, rebuilt=False)]
    monkeypatch.setattr(images, "build", lambda out: built)
    result = runner.invoke(app, ["images", "build"])
    assert result.exit_code == 0, result.output
    assert "autocloud.local/kafka:3.9.2  1.0 MiB  up to date" in result.output


def test_images_build_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out: Path) -> list[images.BuiltImage]:
        raise images.ImageError("mvn not found: install Debian's maven (make system-deps)")

    monkeypatch.setattr(images, "build", fail)
    result = runner.invoke(app, ["images", "build"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: mvn not found: install Debian's maven (make system-deps)"


# --- one error boundary: one plain line, exit 2 bad input / 1 failed / 130 interrupted -----------


def invoke(args: list[str], **kwargs: object) -> tuple[int, list[str]]:
    """Exit code and the non-empty output lines of `autocloud ARGS` (stdout and stderr)."""
    result = runner.invoke(app, args, prog_name="autocloud", **kwargs)  # type: ignore[arg-type]
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["size", "--region", "eu", "--vehicles", "abc"],
            "error: autocloud size: Invalid value for '--vehicles': Input should be a valid integer, unable to parse "
            "string as an integer (see autocloud size --help)",
        ),
        (
            ["size", "--region", "eu", "--bogus"],
            "error: autocloud size: No such option: --bogus (see autocloud size --help)",
        ),
        (["size"], "error: autocloud size: Missing option '--region' (see autocloud size --help)"),
        (["nosuch"], "error: autocloud: No such command 'nosuch' (see autocloud --help)"),
        (["cluster", "nosuch"], "error: autocloud cluster: No such command 'nosuch' (see autocloud cluster --help)"),
        (["--bogus"], "error: autocloud: No such option: --bogus (see autocloud --help)"),
    ],
    ids=["bad-int", "unknown-option", "missing-option", "unknown-command", "unknown-subcommand", "top-option"],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], line: str) -> None:
    assert invoke(args) == (2, [line])


def test_help_still_prints_help() -> None:
    code, lines = invoke(["size", "--help"])
    assert code == 0 and any("--vehicles" in line for line in lines)


def test_the_console_script_uses_the_boundary() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autocloud.cli", "size", "--region", "eu", "--vehicles", "abc"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: autocloud size: Invalid value for '--vehicles'")
    assert result.stderr.count("\n") == 1


def test_markup_in_arguments_prints_literally() -> None:
    code, lines = invoke(["up", "--region", "[/x]"])
    assert code == 2
    assert lines == [
        "error: --region: no local stack of region '[/x]' in stacks/ (regions with local stacks: cn, eu, us)"
    ]


def test_a_pattern_in_an_error_keeps_its_brackets(tmp_path: Path) -> None:
    bad = tmp_path / "rollout.yaml"
    bad.write_text("name: Bad Name\nwaves:\n  - name: eu\n    stacks: [local-eu]\n")
    code, lines = invoke(["rollout", str(bad), "--preview"])
    assert code == 2
    assert lines == [f"error: {bad}: name: String should match pattern '^[a-z0-9][a-z0-9-]*$'"]


def test_failure_messages_with_brackets_print_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out: Path) -> list[images.BuiltImage]:
        raise images.ImageError("[bold]not markup[/bold] [/x] ^[a-z]*$")

    monkeypatch.setattr(images, "build", fail)
    assert invoke(["images", "build"]) == (1, ["error: [bold]not markup[/bold] [/x] ^[a-z]*$"])


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (
            PermissionError(13, "Permission denied", "/srv/images/x.tar"),
            1,
            "error: /srv/images/x.tar: Permission denied",
        ),
        (
            TimeoutError("the node did not become Ready within 120s"),
            1,
            "error: timed out: the node did not become Ready within 120s",
        ),
        (subprocess.TimeoutExpired(["mvn", "package"], 600), 1, "error: ['mvn', 'package'] did not finish within 600s"),
        (
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
            2,
            "error: not UTF-8 text: invalid start byte at byte 0",
        ),
        (
            ConfigError("regions/eu.yaml", "fleet.vehicles", "must be positive"),
            2,
            "error: regions/eu.yaml: fleet.vehicles: must be positive",
        ),
    ],
    ids=["ctrl-c", "os-error", "timeout", "subprocess-timeout", "decode", "config"],
)
def test_expected_failures_inside_a_command(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, line: str
) -> None:
    def fail(out: Path) -> list[images.BuiltImage]:
        raise raised

    monkeypatch.setattr(images, "build", fail)
    assert invoke(["images", "build"]) == (code, [line])


def test_a_bug_is_not_disguised_as_an_expected_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(out: Path) -> list[images.BuiltImage]:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(images, "build", fail)
    result = runner.invoke(app, ["images", "build"])
    assert isinstance(result.exception, ZeroDivisionError)


@pytest.mark.parametrize("value", ["99999", "abc"])
def test_port_base_out_of_range_is_one_line_exit_2(value: str) -> None:
    code, lines = invoke(["cluster", "status"], env={"AUTOCLOUD_CLUSTER_PORT_BASE": value})
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"error: AUTOCLOUD_CLUSTER_PORT_BASE: '{value}' ")


def _must_not_run(*args: object, **kwargs: object) -> None:
    raise AssertionError("started before the input was checked")


def test_up_with_a_bad_stack_file_fails_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "Pulumi.local-eu.yaml"
    bad.write_bytes(b"config:\n  autocloud:region: eu\n  autocloud:target: l\xf6cal\n")
    monkeypatch.setattr(stack_mod, "stack_path", lambda stack, root=None: bad)
    monkeypatch.setattr(toolchain, "build", _must_not_run)
    monkeypatch.setattr(cluster, "start", _must_not_run)
    assert invoke(["up", "--region", "eu"]) == (2, [f"error: {bad}: not UTF-8 text (byte 0xf6 on line 3)"])


def test_rollout_with_a_bad_override_fails_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "rollout.yaml"
    plan.write_text(
        "name: r\nwaves:\n  - name: eu\n    stacks:\n      - stack: local-eu\n"
        "        config: {autocloud:vehicles: -5}\n"
    )
    monkeypatch.setattr(toolchain, "build", _must_not_run)
    monkeypatch.setattr(cluster, "start", _must_not_run)
    code, lines = invoke(["rollout", str(plan), "--yes"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(
        "error: stacks/Pulumi.local-eu.yaml (with rollout overrides autocloud:vehicles): autocloud:vehicles: "
    )


def test_non_utf8_rollout_file_is_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "rollout.yaml"
    plan.write_bytes(b"name: r\nwaves: [\xff]\n")
    assert invoke(["rollout", str(plan), "--preview"]) == (2, [f"error: {plan}: not UTF-8 text (byte 0xff on line 2)"])


def test_alias_bomb_profile_is_refused_by_size_in_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    levels = ['a0: &a0 ["v", "v", "v", "v", "v", "v", "v", "v", "v"]']
    levels += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    bomb.write_text("name: bomb\n" + "\n".join(levels) + "\n")
    assert invoke(["size", "--region", str(bomb)]) == (
        2,
        [f"error: {bomb}: line 2: YAML anchors and aliases are not accepted (&a0)"],
    )


@pytest.mark.parametrize("kind", ["file", "proc", "report-is-a-folder", "under-a-file"])
def test_report_out_that_cannot_take_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(report_mod, "build_report", lambda *args: report_mod.Report(regions=[], generated="now"))
    if kind == "file":
        out = tmp_path / "report"
        out.write_text("x")
        expected = f"error: --out {out}: exists and is not a folder"
    elif kind == "proc":
        out = Path("/proc/self")
        expected = f"error: --out {out}: the folder is not writable"
    elif kind == "report-is-a-folder":
        out = tmp_path
        (tmp_path / "report.md").mkdir()
        expected = f"error: --out {out}: cannot write the report: Is a directory"
    else:
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "reports"
        expected = f"error: --out {out}: cannot create the folder: Not a directory"
    assert invoke(["report", "--out", str(out)]) == (2, [expected])


def test_tables_and_progress_lines_print_brackets_literally() -> None:
    from io import StringIO

    from rich.console import Console

    from autocloud.operations.deploy import StackResult
    from autocloud.operations.progress import RolloutView
    from autocloud.operations.rollout import Rollout, RolloutRun, StackProgress
    from autocloud.operations.tables import outputs_table, results_table

    out = StringIO()
    console = Console(file=out, width=300, color_system=None)
    message = "[mandatory] residency-location: 'eastus' [/x] is outside ^[a-z]*$"
    console.print(
        outputs_table(
            [
                StackResult("local-eu", "eu", True, "up", outputs={"key": "[secret]"}),
                StackResult("local-us", "us", False, "up", message=message),
            ]
        )
    )
    console.print(results_table([StackResult("local-[x]", "[red]eu", True, "up")]))
    rollout = Rollout.model_validate({"name": "r", "waves": [{"name": "[eu]", "stacks": ["local-eu"]}]})
    progress = StackProgress("local-eu", "[eu]", status="failed", message=message)
    run = RolloutRun(rollout, "fp", {"local-eu": progress})
    console.print(RolloutView.table(run))
    RolloutView(console, live=False).update(run, progress)
    text = out.getvalue()
    for literal in ("[secret]", message, "local-[x]", "[red]eu", f"[[eu]] local-eu: failed: {message}"):
        assert literal in text, literal


def test_workflow_commands_give_one_line_on_bad_files(tmp_path: Path) -> None:
    latin1 = tmp_path / "check.md"
    latin1.write_bytes(b"| stack | M\xfcller |\n")
    assert invoke(["pr-comment", str(latin1), "--exit-code", "0"]) == (
        2,
        [f"error: {latin1}: not UTF-8 text (byte 0xfc on line 1)"],
    )
    missing = str(tmp_path / "missing.md")
    assert invoke(["pr-comment", missing, "--exit-code", "2", "--out", "/proc/self/x"]) == (
        2,
        ["error: --out /proc/self/x: cannot write: No such file or directory"],
    )
    assert invoke(["pr-comment", missing]) == (
        2,
        ["error: autocloud pr-comment: Missing option '--exit-code' (see autocloud pr-comment --help)"],
    )
    assert invoke(["policy-config", "--region", "eu", "--out", str(latin1 / "x.json")]) == (
        2,
        [f"error: --out {latin1 / 'x.json'}: cannot write: File exists"],
    )


def test_toolchain_build_refuses_an_unknown_tool_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "build", _must_not_run)
    code, lines = invoke(["toolchain", "build", "pulumi", "nope"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: toolchain build: unknown tool 'nope' (one of ") and "pulumi" in lines[0]


def test_toolchain_build_only_azure_builds_what_the_azure_stacks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str] | None] = []

    def fake_build(only: list[str] | None = None, echo: object = None) -> list[str]:
        asked.append(only)
        return []

    monkeypatch.setattr(toolchain, "build", fake_build)
    code, _lines = invoke(["toolchain", "build", "--only", "azure"])
    assert code == 0 and asked == [["pulumi", "language-python", "statewriter"]]
    code, _lines = invoke(["toolchain", "build", "--only", "local"])
    assert code == 0 and asked[1] == [tool.name for tool in toolchain.TOOLS]


def test_toolchain_build_refuses_an_unknown_target_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "build", _must_not_run)
    code, lines = invoke(["toolchain", "build", "--only", "aws"])
    assert code == 2
    assert lines == ["error: toolchain build: --only 'aws' is not a target (one of azure, local)"]


def _has_children(pid: int) -> bool:
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if Path(task, "children").read_text().strip():
                return True
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return False


def test_sigint_during_a_command_exits_130_with_one_line() -> None:
    """A real Ctrl-C: `check --all` is interrupted once it runs its first program (a child exists)."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "autocloud.cli", "check", "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not _has_children(proc.pid):
        assert time.monotonic() < deadline and proc.poll() is None, "check --all never started a program"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err == "error: interrupted\n"
    assert out == ""


def test_check_takes_config_like_the_pulumi_cli() -> None:
    program = "tests/programs/foreign/configured"
    args = ["check", "--program", program, "--region", "eu", "--format", "json"]
    result = runner.invoke(app, [*args, "-c", "location=eastus", "--config", "adminPassword=x"])
    assert result.exit_code == 1, result.output
    result = runner.invoke(app, [*args, "--config-file", f"{program}/Pulumi.dev.yaml"])
    assert result.exit_code == 0, result.output


# --- one --format vocabulary; a machine format's document owns stdout ------------------------------


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["check", "--all"], "'text', 'json', 'markdown'"),
        (["size", "--region", "eu"], "'table', 'json'"),
        (["rollout", "rollouts/local.yaml", "--preview"], "'text', 'json'"),
        (["report"], "'markdown', 'html'"),
        (["simulate", "--region", "eu"], "'text', 'json'"),
    ],
    ids=["check", "size", "rollout", "report", "simulate"],
)
def test_every_format_option_refuses_alike_before_running(args: list[str], allowed: str) -> None:
    command = f"autocloud {args[0]}"
    assert invoke([*args, "--format", "yaml"]) == (
        2,
        [
            f"error: {command}: Invalid value for '--format': Value error, 'yaml' is not one of {allowed} "
            f"(see {command} --help)"
        ],
    )


def test_check_json_is_the_document_alone_and_exits_1_on_a_mandatory_violation() -> None:
    result = runner.invoke(
        app, ["check", "--program", "tests/programs/location_outside", "--region", "eu", "--format", "json"]
    )
    assert (result.exit_code, result.stderr) == (1, "")
    (target,) = json.loads(result.stdout)["targets"]
    assert target["status"] == "violations"


def test_check_of_a_crashing_program_prints_its_document_then_one_error_line() -> None:
    result = runner.invoke(
        app, ["check", "--program", "tests/programs/crash", "--region", "eu", "--format", "json"], prog_name="autocloud"
    )
    assert result.exit_code == 2
    (target,) = json.loads(result.stdout)["targets"]
    assert target["status"] == "incomplete"
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: tests/programs/crash: the program failed: RuntimeError")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_rollout_progress_leaves_stdout_to_the_json_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from autocloud.operations import deploy, runs

    def preview(stack: str, overrides: object, *, echo: Callable[[str], None], **kwargs: object) -> deploy.StackResult:
        echo(f"{stack}: pulumi preview ...")
        return deploy.StackResult(stack, "eu", True, "preview")

    monkeypatch.setattr(runs, "STATE_DIR", tmp_path)
    monkeypatch.setattr(runs, "ensure_local_runtime", lambda echo: echo("toolchain: up to date"))
    monkeypatch.setattr(
        runs, "component_watch", lambda *_a, **_k: contextlib.nullcontext(SimpleNamespace(failure=None))
    )
    monkeypatch.setattr(deploy, "deploy_stack", preview)
    result = runner.invoke(app, ["rollout", "rollouts/local.yaml", "--preview", "--format", fmt])
    assert result.exit_code == 0, result.output
    progress = ["toolchain: up to date", "local-eu: pulumi preview ...", "local-eu: done"]
    if fmt == "json":
        assert json.loads(result.stdout)["ok"] is True
        assert all(line in result.stderr for line in progress)
    else:
        assert result.stderr == ""
        assert all(line in result.stdout for line in progress)


def test_secrets_provider_prints_the_stacks_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCLOUD_SECRETS_PROVIDER_CN", raising=False)
    key = "azurekeyvault://acme-kv.vault.azure.net/keys/pulumi"
    monkeypatch.setenv("AUTOCLOUD_SECRETS_PROVIDER", key)
    assert invoke(["secrets-provider", "azure-eu"]) == (0, [key])
    assert invoke(["secrets-provider", "local-eu"]) == (0, ["passphrase"])
    assert invoke(["secrets-provider", "azure-cn"]) == (0, ["passphrase"])


def test_secrets_provider_refuses_a_public_vault_for_china(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLOUD_SECRETS_PROVIDER_CN", "azurekeyvault://acme-kv.vault.azure.net/keys/pulumi")
    code, lines = invoke(["secrets-provider", "azure-cn"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: AUTOCLOUD_SECRETS_PROVIDER_CN: ") and "vault.azure.cn" in lines[0]


def test_secrets_provider_refuses_an_unknown_stack() -> None:
    code, lines = invoke(["secrets-provider", "nope"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: secrets-provider: no stack 'nope' in stacks/") and "azure-eu" in lines[0]


def test_simulate_refuses_a_brand_the_stack_does_not_serve_before_reaching_any_cluster() -> None:
    assert invoke(["simulate", "--stack", "local-eu", "--brand", "alpha"]) == (
        2,
        ["error: --brand: 'alpha' is not a brand of stacks/Pulumi.local-eu.yaml (autocloud:brands: none)"],
    )
