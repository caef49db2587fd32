"""Faults and interrupts leave nothing behind: a SIGKILLed engine run leaves no plugin process,
`down` of a killed stack clears its pending operations, a component that dies mid-run stops the
engine within seconds, and the node's etcd refuses a client without a certificate."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.error import HTTPError

import pytest
from pulumi import automation as auto

from autocloud.operations import deploy, runs
from autocloud.runtime import cluster, engine, node
from autocloud.runtime.cluster import processes
from platform_model.paths import REPO_ROOT
from tests.integration.conftest import EmbeddedCluster, copy_program
from tests.integration.kube import eventually

pytestmark = pytest.mark.integration

NAMESPACES = ("intr-kill", "intr-watch", "intr-ro-eu")
STACK = "local-eu"
"""A local stack's name, so deploy treats it as the local target; the program is the small test one."""
NEVER_BUILT = "autocloud.local/never-built:0"

RUN = """
import sys
from pathlib import Path
from autocloud.runtime import engine
work, state, kubeconfig = map(Path, sys.argv[1:4])
engine.select_stack("local-eu", work_dir=work, state_dir=state, kubeconfig=kubeconfig).up(on_output=print)
"""


def _stack(work: Path, state_dir: Path, embedded: EmbeddedCluster, namespace: str) -> auto.Stack:
    """The small program with an image that is never built: its Deployment's create never finishes."""
    stack = engine.select_stack(STACK, work_dir=work, state_dir=state_dir, kubeconfig=embedded.kubeconfig)
    stack.set_config("namespace", auto.ConfigValue(namespace))
    stack.set_config("image", auto.ConfigValue(NEVER_BUILT))
    stack.set_config("kubeconfig", auto.ConfigValue(embedded.kubeconfig.read_text(), secret=True))
    return stack


def _engine_processes(state_dir: Path) -> dict[int, str]:
    """Live processes of engine runs on this state folder (the CLI passes its environment to plugins)."""
    entry = f"PULUMI_BACKEND_URL={engine.backend_dir(state_dir).as_uri()}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or entry not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            found[int(proc.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
    return found


def _exists(embedded: EmbeddedCluster, path: str) -> bool:
    try:
        embedded.api().request("GET", path)
    except HTTPError as exc:
        if exc.code == 404:
            return False
        raise
    return True


def _pending(stack: auto.Stack) -> list[dict[str, object]]:
    return list((stack.export_stack().deployment or {}).get("pending_operations") or [])


def test_a_killed_run_leaves_no_plugin_and_down_clears_its_pending_operations(
    test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(test_cluster.kubeconfig))
    work = copy_program("small-k8s", tmp_path)
    stack = _stack(work, state_dir, test_cluster, "intr-kill")
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, str(work), str(state_dir), str(test_cluster.kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:

        def creating() -> bool:
            names = set(_engine_processes(state_dir).values())
            return {"pulumi-language", "pulumi-resource"} <= {n[:15] for n in names} and _exists(
                test_cluster, "/apis/apps/v1/namespaces/intr-kill/deployments/web"
            )

        assert eventually(creating, timeout=120), "the run never reached the Deployment's create"
        plugins = {pid for pid, name in _engine_processes(state_dir).items() if name.startswith("pulumi-")}
        assert any(os.getpgid(pid) != run.pid for pid in plugins), "plugins run in process groups of their own"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        output = run.communicate()[0]
    assert run.returncode == -signal.SIGKILL, output[-2000:]
    assert eventually(lambda: not _engine_processes(state_dir), timeout=10), (
        f"left behind after the run was killed: {_engine_processes(state_dir)}"
    )

    assert _pending(stack), "the killed run should have left its Deployment's create pending"
    lines: list[str] = []
    result = deploy.destroy_stack(STACK, echo=lines.append, state_dir=state_dir, work_dir=work)
    assert result.ok, result.message
    assert any("cleared" in line and "pending operations" in line for line in lines), lines
    assert _pending(stack) == []
    assert (stack.export_stack().deployment or {}).get("resources", []) == []
    assert eventually(
        lambda: not _exists(test_cluster, "/apis/apps/v1/namespaces/intr-kill/deployments/web"), timeout=60
    )


def test_a_component_that_dies_mid_run_stops_the_engine_within_seconds(
    test_cluster: EmbeddedCluster, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    lay = test_cluster.layout
    work = copy_program("small-k8s", tmp_path)
    stack = _stack(work, state_dir, test_cluster, "intr-watch")
    errors: list[BaseException] = []

    def up() -> None:
        try:
            stack.up()
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    lines: list[str] = []
    thread = threading.Thread(target=up)
    try:
        with runs.component_watch(lines.append, layout=lay) as watch:
            thread.start()
            assert eventually(
                lambda: _exists(test_cluster, "/apis/apps/v1/namespaces/intr-watch/deployments/web"), timeout=120
            )
            etcd = processes.running(lay, cluster.COMPONENTS[0])
            assert etcd is not None
            os.kill(etcd, signal.SIGKILL)
            killed = time.monotonic()
            thread.join(timeout=60)
            stopped_after = time.monotonic() - killed
        assert not thread.is_alive(), "the engine run was not stopped"
        expected = f"etcd died (log: {lay.logs / 'etcd.log'})"
        assert watch.failure == expected
        assert lines[0] == f"{expected}; stopping the engine"
        assert stopped_after < 15, f"the engine ran on for {stopped_after:.0f} s after etcd died"
        assert errors and isinstance(errors[0], auto.errors.CommandError)
    finally:
        restarted: list[str] = []
        cluster.start(lay, echo=restarted.append, ports=test_cluster.ports, honour_kubeconfig=False)
        deploy.destroy_stack(STACK, echo=lambda _line: None, state_dir=state_dir, work_dir=work)
    assert any(line.startswith("cluster: etcd (pid ") and "had stopped" in line for line in restarted), restarted


PROBE = """
import json, socket, ssl, sys, urllib.request
ca, cert, key = sys.argv[1:4]
def get(context, url, body=None):
    try:
        data = json.dumps(body).encode() if body else None
        with urllib.request.urlopen(urllib.request.Request(url, data=data), context=context, timeout=5) as resp:
            return resp.read().decode()
    except Exception as exc:
        return "refused: " + type(exc).__name__
anonymous = ssl.create_default_context(cafile=ca)
client = ssl.create_default_context(cafile=ca)
client.load_cert_chain(cert, key)
key64 = sys.argv[4]
print(json.dumps({
    "no_certificate": get(anonymous, "https://127.0.0.1:2379/version"),
    "plain_http": get(None, "http://127.0.0.1:2379/version"),
    "with_certificate": get(client, "https://127.0.0.1:2379/version"),
    "secret": get(client, "https://127.0.0.1:2379/v3/kv/range", {"key": key64}),
}))
"""


def test_etcd_refuses_a_client_without_a_certificate_and_holds_secrets_encrypted(
    test_cluster: EmbeddedCluster,
) -> None:
    lay = test_cluster.layout
    api = test_cluster.api()
    name = "intr-etcd-probe"
    api.request(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {"token": "plain-text-canary"},
        },
    )
    try:
        holder = processes.running(lay, cluster.HOLDER)
        assert holder is not None
        key = base64.b64encode(f"/registry/secrets/default/{name}".encode()).decode()
        pki = lay.pki
        out = subprocess.run(
            [*node.enter(holder, mount=False), sys.executable, "-c", PROBE, str(pki / "ca.crt"),
             str(pki / "etcd-client.crt"), str(pki / "etcd-client.key"), key],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    finally:
        api.request("DELETE", f"/api/v1/namespaces/default/secrets/{name}")
    probe = json.loads(out)
    assert probe["no_certificate"].startswith("refused"), probe
    assert probe["plain_http"].startswith("refused"), probe
    assert "etcdserver" in probe["with_certificate"], "the probe itself must work with the certificate"
    stored = base64.b64decode(json.loads(probe["secret"])["kvs"][0]["value"])
    assert stored.startswith(b"k8s:enc:secretbox:v1:"), stored[:40]
    assert b"plain-text-canary" not in stored


def test_no_debug_or_metrics_server_of_kwok_anywhere(test_cluster: EmbeddedCluster) -> None:
    holder = processes.running(test_cluster.layout, cluster.HOLDER)
    kwok = processes.running(test_cluster.layout, next(c for c in cluster.COMPONENTS if c.name == "kwok"))
    assert holder is not None and kwok is not None
    inside = subprocess.run(
        [*node.enter(holder, mount=False), "ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout
    host = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    assert f"pid={kwok}," not in inside + host, "KWOK listens (its server has /metrics and /debug/pprof)"
    for line in inside.splitlines():
        local = line.split()[3]
        assert local.startswith(("127.0.0.1:", f"{node.NODE_IP}:", "*:6443")), f"listener off loopback: {line}"


INTERRUPTED_ROLLOUT = """
name: it-interrupt
waves:
  - name: eu
    stacks: [{stack: local-eu, config: {"autocloud:namespace": intr-ro-eu}}]
"""


def test_ctrl_c_mid_wave_exits_130_and_a_resume_at_once_succeeds(test_cluster: EmbeddedCluster, tmp_path: Path) -> None:
    """The real CLI on its own state folder against the session's cluster: Ctrl-C (SIGINT to the
    process group, as a terminal sends it) while the wave creates, then `--resume` straight away.
    It starts with SIGINT ignored, as a script's background job does: the engine still cancels on it,
    so the CLI must not run on and exit 1."""
    rollout = tmp_path / "rollout.yaml"
    rollout.write_text(INTERRUPTED_ROLLOUT)
    env = {k: v for k, v in os.environ.items() if k != "AUTOCLOUD_BACKEND_URL"}
    env |= {"KUBECONFIG": str(test_cluster.kubeconfig), "AUTOCLOUD_STATE_DIR": str(tmp_path / "state")}
    autocloud = str(REPO_ROOT / ".venv" / "bin" / "autocloud")
    deployments = "/apis/apps/v1/namespaces/intr-ro-eu/deployments"
    try:
        first = subprocess.Popen(
            [autocloud, "rollout", str(rollout), "--yes"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
        try:

            def creating() -> bool:
                try:
                    return len(test_cluster.api().request("GET", deployments)["items"]) >= 2
                except HTTPError:
                    return False

            assert eventually(creating, timeout=240, interval=0.2), "the wave never started creating"
        finally:
            os.killpg(first.pid, signal.SIGINT)
            output = first.communicate(timeout=180)[0]
        assert first.returncode == 130, output[-3000:]

        resumed = subprocess.run(
            [autocloud, "rollout", str(rollout), "--yes", "--resume"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
        assert "local-eu: done" in resumed.stdout
        for item in test_cluster.api().request("GET", deployments)["items"]:
            assert item["status"].get("availableReplicas", 0) >= 1, item["metadata"]["name"]
    finally:
        subprocess.run(
            [autocloud, "down", "--region", "eu", "--keep-cluster"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
