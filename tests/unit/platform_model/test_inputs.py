"""Bounded input: every file the toolkit reads is size-limited, strict UTF-8 and alias-free YAML, and
every error about it is one short line naming the file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from autocloud.operations.rollout import load_rollout
from platform_model.errors import EXCERPT_CHARS, MAX_MESSAGE_CHARS, ConfigError, excerpt, from_validation_error
from platform_model.inputs import MAX_INPUT_BYTES, load_yaml, read_text
from platform_model.locations import load_catalog
from platform_model.paths import REPO_ROOT
from platform_model.profiles import load_profile
from platform_model.stack import resolve_stack


def alias_bomb(levels: int = 9) -> str:
    """Each level lists the one before nine times: 9**9 (387 M) strings once expanded, in ~350 bytes."""
    lines = ['a0: &a0 ["vehicle", "vehicle", "vehicle", "vehicle", "vehicle", "vehicle", "vehicle", "vehicle", "v"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_profile_is_refused_fast_in_one_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("name: eu\n" + alias_bomb())
    assert bomb.stat().st_size < 1024
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_profile(bomb)
    assert time.monotonic() - started < 1
    assert str(info.value) == f"{bomb}: line 2: YAML anchors and aliases are not accepted (&a0)"


def test_an_anchor_alone_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: eu\ntags: &t {data-residency: eu}\n")
    with pytest.raises(ConfigError, match=r"line 2: YAML anchors and aliases are not accepted \(&t\)"):
        load_yaml(path)


def test_oversize_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("name: eu\n" + "# padding\n" * (MAX_INPUT_BYTES // 10))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(info.value) == (
        f"{path}: {path.stat().st_size:,} bytes, over the {MAX_INPUT_BYTES:,}-byte limit for an input file"
    )


def test_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("x" * MAX_INPUT_BYTES)
    assert len(read_text(path)) == MAX_INPUT_BYTES


@pytest.mark.parametrize("reader", [load_profile, lambda p: load_rollout(p)], ids=["profile", "rollout"])
def test_non_utf8_file_is_one_line_naming_it(tmp_path: Path, reader: object) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: eu\ntags: {owner: Müller}\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        reader(path)  # type: ignore[operator]
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xfc on line 2)"


def test_non_utf8_stack_file_names_the_stack_file(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_bytes(b"config:\n  autocloud:region: \xe9u\n")
    with pytest.raises(ConfigError, match=r"^stacks/Pulumi.x.yaml: not UTF-8 text \(byte 0xe9 on line 2\)$"):
        resolve_stack("x", tmp_path)


def test_catalog_is_read_through_the_same_bounds(tmp_path: Path) -> None:
    path = tmp_path / "regions.yaml"
    path.write_text("sources: &s {}\n")
    with pytest.raises(ValueError, match=r"regions\.yaml: line 1: YAML anchors and aliases are not accepted"):
        load_catalog(path)


def test_directory_fifo_and_device_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"fifo\.yaml: is not a regular file$"):
        read_text(fifo)  # would block forever if opened for a blocking read
    with pytest.raises(ConfigError, match=r"is a directory, not a file$"):
        read_text(tmp_path)
    with pytest.raises(ConfigError, match=r"^/dev/zero: is not a regular file$"):
        read_text(Path("/dev/zero"))


def test_unreadable_path_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file.yaml").write_text("name: eu\n")
    path = tmp_path / "file.yaml" / "inside.yaml"
    with pytest.raises(ConfigError, match=r"inside\.yaml: cannot read: Not a directory$"):
        read_text(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [\n", "not valid YAML at line 2: expected the node content, but found '<stream end>'"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "not valid YAML: nested too deeply"),
        ("a: " + "9" * 5000 + "\n", "not valid YAML: Exceeds the limit"),
        ("a: 2026-13-45\n", "not valid YAML: month must be in 1..12"),
    ],
    ids=["syntax", "deep", "huge-int", "bad-date"],
)
def test_yaml_errors_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_yaml(path, "x.yaml")
    assert str(info.value).startswith(f"x.yaml: {message}")
    assert "\n" not in str(info.value) and len(str(info.value)) <= MAX_MESSAGE_CHARS + 20


def test_excerpt_is_short_and_cheap_for_huge_values() -> None:
    huge: list[object] = ["x" * 10_000]
    for _ in range(40):
        huge = [huge, huge]  # 2**40 leaves if rendered in full
    started = time.monotonic()
    text = excerpt(huge)
    assert time.monotonic() - started < 0.1
    assert len(text) <= EXCERPT_CHARS
    assert excerpt("short") == "'short'"


def test_validation_errors_echo_only_an_excerpt_of_the_input() -> None:
    class Model(BaseModel):
        count: int

    with pytest.raises(ValidationError) as info:
        Model.model_validate({"count": "9" * 100 + "x" * 100_000})
    error = from_validation_error("f.yaml", info.value, Model)
    assert str(error).startswith("f.yaml: count: Input should be a valid integer")
    assert len(str(error)) < 200


def test_profile_with_a_long_value_gives_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "eu.yaml"
    path.write_text(f"name: eu\ncloud: {'q' * 500_000}\n")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: cloud: Input should be 'public' or 'china'")
    assert len(str(info.value)) < 250


def test_config_error_text_is_one_bounded_line() -> None:
    error = ConfigError("f.yaml", "k" * 1000, "line one\nline two " + "m" * 10_000)
    text = str(error)
    assert "\n" not in text
    assert len(error.key) <= 120 and len(error.message) <= MAX_MESSAGE_CHARS
    assert error.message.startswith("line one line two mmm") and error.message.endswith("...")


def test_validators_echo_only_an_excerpt_of_a_long_location(tmp_path: Path) -> None:
    path = tmp_path / "eu.yaml"
    text = (REPO_ROOT / "regions" / "eu.yaml").read_text()
    path.write_text(text.replace("primary: westeurope", f"primary: {'w' * 100_000}", 1))
    assert f"{'w' * 100_000}" in path.read_text()
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: residency.primary: 'wwww")
    assert len(str(info.value)) < 250
