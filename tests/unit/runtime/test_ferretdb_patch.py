"""The patches of FerretDB's build copy: a lookup by ``_id`` uses the ``_id`` index; plain doubles are parsed
without a decoder each."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autocloud.runtime import toolchain

LOOKUP = toolchain.FERRETDB_ID_LOOKUP
PATH, UPSTREAM, PATCHED = LOOKUP.path, LOOKUP.upstream, LOOKUP.patched


def _copy_with(tmp_path: Path, line: str) -> Path:
    source = tmp_path / PATH
    source.parent.mkdir(parents=True)
    source.write_text(f"const (\n\t{line}\n)\n")
    return tmp_path


def test_the_lookup_is_rewritten_to_the_index_expression(tmp_path: Path) -> None:
    work = _copy_with(tmp_path, UPSTREAM)
    toolchain._patch_ferretdb(work, [LOOKUP])
    assert (work / PATH).read_text() == f"const (\n\t{PATCHED}\n)\n"


def test_a_release_without_that_line_fails_the_build_loudly(tmp_path: Path) -> None:
    work = _copy_with(tmp_path, "IDColumn = DefaultColumn + \"->'$.id'\"")
    with pytest.raises(toolchain.ToolchainError, match="review FERRETDB_ID_LOOKUP"):
        toolchain._patch_ferretdb(work, [LOOKUP])


def test_the_double_patches_apply_in_turn_to_one_file(tmp_path: Path) -> None:
    """Upstream's double.go in outline: its imports, the method's head and the closing assertion."""
    first, imports, tail = toolchain.FERRETDB_PLAIN_DOUBLES
    source = tmp_path / first.path
    source.parent.mkdir(parents=True)
    body = f"{first.upstream}\n\treturn nil\n}}\n\n{tail.upstream}"
    source.write_text(f'import (\n\t"bytes"\n{imports.upstream})\n\n{body}')
    toolchain._patch_ferretdb(tmp_path, toolchain.FERRETDB_PLAIN_DOUBLES)
    patched = source.read_text()
    assert '"strconv"' in patched and "if f, ok := plainJSONNumber(data); ok {" in patched
    assert patched.index("plainJSONNumber(data)") < patched.index("func plainJSONNumber(")
    # Applied to a copy already patched: the build stops rather than insert the same code twice.
    with pytest.raises(toolchain.ToolchainError, match="review FERRETDB_PLAIN_DOUBLES"):
        toolchain._patch_ferretdb(tmp_path, toolchain.FERRETDB_PLAIN_DOUBLES)


def _plan(lookup: str) -> str:
    """SQLite's plan for a lookup by ``_id`` in a table laid out as FerretDB's, with its ``_id`` index."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE docs (_ferretdb_sjson TEXT NOT NULL) STRICT")
    db.execute('CREATE UNIQUE INDEX docs__id_ ON docs (_ferretdb_sjson->"_id")')
    rows = db.execute(f"EXPLAIN QUERY PLAN SELECT 1 FROM docs WHERE _ferretdb_sjson{lookup} = ?", ('"v1"',))
    return " ".join(row[3] for row in rows)


def test_sqlite_uses_the_index_only_for_the_patched_expression() -> None:
    upstream = UPSTREAM.split("DefaultColumn + ")[1].strip('"')
    patched = PATCHED.split("DefaultColumn + ")[1].strip('"')
    assert _plan(upstream).startswith("SCAN"), "the upstream expression scans the collection"
    assert "USING INDEX docs__id_" in _plan(patched)
