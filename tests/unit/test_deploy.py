"""What a failed deployment reports: the engine's diagnosis in one line, a missing plugin named."""

from __future__ import annotations

from pulumi.automation import errors
from pulumi.automation._cmd import CommandResult

from autocloud.domain.paths import TOOLCHAIN_BIN
from autocloud.operations.deploy import _short_error, missing_plugin
from autocloud.runtime.toolchain import PULUMI_HOME

#: What the engine prints when the azure-native plugin is not where it looks (automatic download off).
ENGINE_ERROR = (
    "Previewing update (azure-eu):\n"
    "    pulumi:pulumi:Stack autocloud-azure-eu  error: could not load plugin for azure-native provider "
    "'default_3_29_0': no resource plugin 'pulumi-resource-azure-native' found in the workspace at version "
    "v3.29.0 or on your $PATH, install the plugin using `pulumi plugin install resource azure-native v3.29.0`\n"
    "Resources:\n"
)


def failure(stderr: str) -> errors.CommandError:
    return errors.CommandError(CommandResult(stdout="", stderr=stderr, code=255))


def test_missing_plugin_is_one_line_with_version_and_command() -> None:
    message = _short_error(failure(ENGINE_ERROR))
    assert message == (
        "the Pulumi resource plugin azure-native v3.29.0 is not installed; install it with "
        f"`PULUMI_HOME={PULUMI_HOME} {TOOLCHAIN_BIN / 'pulumi'} plugin install resource azure-native 3.29.0` "
        "(README: Deploy to Azure)"
    )
    assert "\n" not in message


def test_other_errors_keep_the_engine_lines() -> None:
    assert missing_plugin("error: update failed") is None
    assert _short_error(failure("  error: update failed\n")).endswith("error: update failed")


def test_multi_error_keeps_the_causes_listed_under_it() -> None:
    stderr = (
        "Updating (local-eu):\n"
        "error: 2 errors occurred:\n"
        "\t* failed to save checkpoint: open /state/.pulumi/stacks/local-eu.json: read-only file system\n"
        "\t* failed to release lock: remove /state/.pulumi/locks/x.json: read-only file system\n"
        "\n"
        "* not a cause: a bullet after a blank line and other output\n"
        "Resources:\n"
    )
    message = _short_error(failure(stderr))
    assert message == (
        "error: 2 errors occurred: | "
        "* failed to save checkpoint: open /state/.pulumi/stacks/local-eu.json: read-only file system | "
        "* failed to release lock: remove /state/.pulumi/locks/x.json: read-only file system"
    )
