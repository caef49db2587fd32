"""`autocloud check` runs a program in its own dependencies' environment (needs PyPI the first time;
the environment is cached under the user's cache folder and reused)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from autocloud.verification.check.command import run_check
from autocloud.verification.check.program_env import declared, env_key
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT, user_cache_dir

V2 = REPO_ROOT / "tests" / "programs" / "foreign" / "azure_native_v2"


def test_a_2x_pinned_program_is_checked_with_2x() -> None:
    out = io.StringIO()
    code = run_check(None, False, V2, "eu", OutputFormat.JSON, out=out)
    (target,) = json.loads(out.getvalue())["targets"]
    assert (code, target["status"]) == (1, "violations")
    # The 2.x token (`devices`) is judged as the rules' 3.x type.
    hub = [v for v in target["violations"] if v["resource"] == "hub"]
    assert {v["type"] for v in hub} == {"azure-native:iothub:IotHubResource"}
    assert "residency-resource-location" in {v["policy"] for v in hub}
    found = declared(V2)
    assert found is not None and found.source == "requirements.txt"
    python = user_cache_dir() / "check-envs" / env_key(found.requirements) / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('pulumi-azure-native'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.startswith("2.")
    # Installed as hard links into uv's one cache, so another program pinning the same versions costs no
    # second copy on disk.
    package = subprocess.run(
        [str(python), "-c", "import pulumi_azure_native, os; print(os.path.dirname(pulumi_azure_native.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    init = Path(package) / "__init__.py"
    assert init.stat().st_nlink >= 2, f"{init} is a copy, not linked from the cache"
