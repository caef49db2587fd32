"""The Pulumi program stands on the domain and the components only (import-linter checks the
packages, ``make lint``; __main__.py is no package, so it is held here)."""

from __future__ import annotations

import ast
from pathlib import Path

from platform_model.paths import REPO_ROOT

ALLOWED = ("platform_model", "components")
FIRST_PARTY = ("autocloud", "components", "policies")


def first_party_imports(path: Path) -> list[str]:
    """Every module of ours that the file imports, at any depth (lazy imports included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name.split(".")[0] in FIRST_PARTY]


def test_the_program_imports_only_the_domain_and_components() -> None:
    imports = first_party_imports(REPO_ROOT / "__main__.py")
    assert imports, "the program imports nothing of ours: the check would pass vacuously"
    upward = [name for name in imports if not name.startswith(tuple(f"{a}." for a in ALLOWED))]
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text("def f():\n    from autocloud.runtime.engine import select_stack\n")
    assert first_party_imports(program) == ["autocloud.runtime.engine.select_stack"]
