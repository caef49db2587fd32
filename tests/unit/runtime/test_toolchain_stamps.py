"""Toolchain stamps: a tool is rebuilt exactly when one of its build inputs changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autocloud.runtime import toolchain
from autocloud.runtime.toolchain import Tool
from platform_model.paths import REPO_ROOT


def _noop(_builder: toolchain.Builder, _versions: dict[str, str]) -> None:
    raise AssertionError("not called in these tests")


TOOL = Tool("demo", ("demo-bin",), _noop)
ENTRY = {"module": "example.com/demo", "version": "v1.2.3"}


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    wrappers, bin_dir, stamps = tmp_path / "go", tmp_path / "bin", tmp_path / "stamps"
    (wrappers / "demo").mkdir(parents=True)
    (wrappers / "demo" / "go.mod").write_text("module demo\n")
    bin_dir.mkdir()
    (bin_dir / "demo-bin").write_text("#!/bin/true\n")
    return wrappers, bin_dir, stamps


def test_current_when_versions_match(dirs: tuple[Path, Path, Path]) -> None:
    wrappers, bin_dir, stamps = dirs
    stamp = toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers)
    toolchain.write_stamp(TOOL, stamp, stamps)
    again = toolchain.stamp_for("demo", dict(ENTRY), "go1.26.8", wrappers)
    assert toolchain.is_current(TOOL, again, bin_dir, stamps)


def test_stale_when_version_changes(dirs: tuple[Path, Path, Path]) -> None:
    wrappers, bin_dir, stamps = dirs
    toolchain.write_stamp(TOOL, toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers), stamps)
    bumped = toolchain.stamp_for("demo", {**ENTRY, "version": "v1.2.4"}, "go1.26.8", wrappers)
    assert not toolchain.is_current(TOOL, bumped, bin_dir, stamps)


def test_stale_when_go_changes(dirs: tuple[Path, Path, Path]) -> None:
    wrappers, bin_dir, stamps = dirs
    toolchain.write_stamp(TOOL, toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers), stamps)
    assert not toolchain.is_current(TOOL, toolchain.stamp_for("demo", ENTRY, "go1.27.0", wrappers), bin_dir, stamps)


def test_stale_when_wrapper_module_edited(dirs: tuple[Path, Path, Path]) -> None:
    wrappers, bin_dir, stamps = dirs
    toolchain.write_stamp(TOOL, toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers), stamps)
    (wrappers / "demo" / "go.mod").write_text("module demo\n\nreplace a => b v1.0.0\n")
    assert not toolchain.is_current(TOOL, toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers), bin_dir, stamps)


def test_stale_when_binary_missing(dirs: tuple[Path, Path, Path]) -> None:
    wrappers, bin_dir, stamps = dirs
    stamp = toolchain.stamp_for("demo", ENTRY, "go1.26.8", wrappers)
    toolchain.write_stamp(TOOL, stamp, stamps)
    (bin_dir / "demo-bin").unlink()
    assert not toolchain.is_current(TOOL, stamp, bin_dir, stamps)


def test_every_tool_has_a_pinned_version() -> None:
    versions = toolchain.load_versions()
    assert {t.name for t in toolchain.TOOLS} == set(versions)
    for entry in versions.values():
        assert entry["module"] and entry["version"].startswith("v")


def test_missing_go_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(toolchain.ToolchainError, match="`go` command is not on PATH"):
        toolchain.go_version()


def test_unreadable_versions_file_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "versions.json"
    bad.write_text("{not json")
    with pytest.raises(toolchain.ToolchainError, match=str(bad)):
        toolchain.load_versions(bad)


def test_cni_plugins_are_checked_in_their_subfolder(tmp_path: Path) -> None:
    cni = next(t for t in toolchain.TOOLS if t.name == "cni-plugins")
    assert cni.binaries and all(b.startswith(f"{toolchain.CNI_DIR}/") for b in cni.binaries)
    bin_dir, stamps = tmp_path / "bin", tmp_path / "stamps"
    (bin_dir / toolchain.CNI_DIR).mkdir(parents=True)
    for binary in cni.binaries:
        (bin_dir / Path(binary).name).write_text("")  # at the top level: not where containerd looks
    toolchain.write_stamp(cni, "s", stamps)
    assert not toolchain.is_current(cni, "s", bin_dir, stamps)
    for binary in cni.binaries:
        (bin_dir / binary).write_text("")
    assert toolchain.is_current(cni, "s", bin_dir, stamps)


def test_wrapper_modules_require_the_pinned_version() -> None:
    # versions.json feeds the stamp and the README; the wrapper's go.mod decides what is built: they must agree.
    checked = set()
    for name, entry in toolchain.load_versions().items():
        go_mod = toolchain.WRAPPERS / name / "go.mod"
        if not go_mod.is_file():
            continue
        required = re.search(rf"^\s*(?:require\s+)?{re.escape(entry['module'])} (\S+)", go_mod.read_text(), re.M)
        if required:
            assert required.group(1) == entry["version"], f"{go_mod}: {entry['module']} {required.group(1)}"
            checked.add(name)
    assert {"containerd", "runc", "cni-plugins", "coredns", "kube-router", "kube", "etcd"} <= checked


def test_prefetch_downloads_an_upstream_module_and_its_build_modules_requirements() -> None:
    entry = toolchain.load_versions()["kube"]
    commands = toolchain._download_commands("kube", entry)
    assert commands == [
        (["go", "mod", "download", f"{entry['module']}@{entry['version']}"], REPO_ROOT),
        (["go", "mod", "download"], toolchain.WRAPPERS / "kube"),
    ]


def test_prefetch_of_our_own_program_downloads_only_what_its_module_requires() -> None:
    entry = toolchain.load_versions()["statewriter"]
    assert toolchain._download_commands("statewriter", entry) == [
        (["go", "mod", "download"], toolchain.OWN_PROGRAMS / "statewriter")
    ]


def test_prefetch_of_a_tool_installed_by_module_path_downloads_just_that_module() -> None:
    entry = toolchain.load_versions()["kwok"]
    assert toolchain._download_commands("kwok", entry) == [
        (["go", "mod", "download", f"{entry['module']}@{entry['version']}"], REPO_ROOT)
    ]


def test_azure_target_needs_the_engine_the_python_host_and_the_delivered_programs() -> None:
    azure = toolchain.tools_for("azure")
    assert azure == ("pulumi", "language-python", "statewriter")
    binaries = {binary for tool in toolchain.TOOLS if tool.name in azure for binary in tool.binaries}
    assert binaries == {
        "pulumi",
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
        "autocloud-statewriter",
    }
    assert set(toolchain.tools_for("local")) == {tool.name for tool in toolchain.TOOLS}


def test_unknown_target_is_a_toolchain_error() -> None:
    with pytest.raises(toolchain.ToolchainError, match=r"unknown target 'aws' \(one of azure, local\)"):
        toolchain.tools_for("aws")
