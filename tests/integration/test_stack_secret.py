"""A dynamic resource under the real engine: the StackSecret behind the DPS link keys.

It needs the ``pulumi-resource-pulumi-python`` shim the toolchain installs beside the language host; no
cluster is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autocloud.runtime import engine
from tests.integration.conftest import copy_program

pytestmark = pytest.mark.integration


def test_stack_secret_is_made_once_kept_encrypted_and_replaced_only_on_request(state_dir: Path, tmp_path: Path) -> None:
    work = copy_program("stack-secret", tmp_path)
    stack = engine.select_stack("dev", work_dir=work, state_dir=state_dir)

    first = stack.up(on_output=print)
    assert first.summary.resource_changes == {"create": 2}
    value, digest = first.outputs["value"], first.outputs["digest"].value
    assert value.secret and len(value.value) == 64
    state = "".join(p.read_text() for p in (state_dir / "backend").rglob("*.json") if p.is_file())
    assert digest in state and value.value not in state

    preview = stack.preview(on_output=print)
    assert preview.change_summary == {"same": 2}
    second = stack.up(on_output=print)
    assert second.summary.resource_changes == {"same": 2}
    assert second.outputs["digest"].value == digest

    resources = (stack.export_stack().deployment or {})["resources"]
    urn = next(r["urn"] for r in resources if r["type"] == "pulumi-python:dynamic:Resource")
    replaced = stack.up(on_output=print, replace=[urn])
    assert replaced.outputs["digest"].value != digest
    stack.destroy(on_output=print)
