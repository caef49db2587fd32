"""The embedded cluster's processes are known by pid, start time and binary, never by name: `cluster
stop` spares a foreign process, a component that dies is named with its log, and an API server that
stops answering is one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocloud.runtime import cluster
from autocloud.runtime.cluster import processes

ETCD = next(c for c in cluster.COMPONENTS if c.name == "etcd")


@pytest.fixture()
def impostor(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A copied `sleep` named `etcd`, in a folder of its own: not something the cluster started."""
    binary = tmp_path / "elsewhere" / "etcd"
    binary.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    proc = subprocess.Popen([str(binary), "120"])
    deadline = time.monotonic() + 5
    while processes.proc_exe(proc.pid) != str(binary) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield proc
    proc.kill()
    proc.wait()


def _start_time(pid: int) -> int:
    stat = processes.proc_stat(pid)
    assert stat is not None
    return int(stat[19])


def _own_record(pid: int) -> str:
    """The record `cluster start` would have written for the process ``pid``."""
    return json.dumps({"pid": pid, "start": _start_time(pid), "exe": processes.proc_exe(pid)})


def _pid_file(lay: cluster.Layout, content: str) -> Path:
    lay.pids.mkdir(parents=True, exist_ok=True)
    path = lay.pids / "etcd.pid"
    path.write_text(content)
    return path


@pytest.mark.parametrize("case", ["bare pid", "right start, toolchain binary", "its binary, another start"])
def test_cluster_stop_spares_a_foreign_process_named_like_a_component(
    tmp_path: Path, impostor: subprocess.Popen[bytes], case: str
) -> None:
    lay = cluster.Layout(tmp_path / "cluster")
    record = {
        "bare pid": f"{impostor.pid}\n",
        "right start, toolchain binary": json.dumps(
            {"pid": impostor.pid, "start": _start_time(impostor.pid), "exe": processes.expected_exe(ETCD)}
        ),
        "its binary, another start": json.dumps(
            {"pid": impostor.pid, "start": _start_time(impostor.pid) - 1, "exe": processes.proc_exe(impostor.pid)}
        ),
    }[case]
    path = _pid_file(lay, record)
    assert cluster.stop(lay, echo=lambda _line: None) == []
    assert impostor.poll() is None, "cluster stop killed a process it did not start"
    assert not path.exists()
    assert not cluster.status(lay, cluster.Ports.at(43000), honour_kubeconfig=False).components[1].running


def test_cluster_stop_ends_the_process_its_record_names(tmp_path: Path, impostor: subprocess.Popen[bytes]) -> None:
    lay = cluster.Layout(tmp_path / "cluster")
    _pid_file(lay, _own_record(impostor.pid))
    assert cluster.stop(lay, echo=lambda _line: None) == ["etcd"]
    assert impostor.wait(timeout=15) is not None


def test_a_component_that_dies_is_named_with_its_log_within_a_second(
    tmp_path: Path, impostor: subprocess.Popen[bytes]
) -> None:
    lay = cluster.Layout(tmp_path / "cluster")
    _pid_file(lay, _own_record(impostor.pid))
    reported: list[tuple[float, str]] = []
    seen = threading.Event()

    def died(message: str) -> None:
        reported.append((time.monotonic(), message))
        seen.set()

    with cluster.Watch(lay, died, interval=0.1) as watch:
        time.sleep(0.3)
        assert reported == []
        impostor.kill()
        killed = time.monotonic()
        assert seen.wait(5)
    assert watch.failure == f"etcd died (log: {lay.logs / 'etcd.log'})"
    assert reported[0][1] == watch.failure and reported[0][0] - killed < 1.0


@pytest.mark.parametrize(
    "error", [TimeoutError("timed out"), urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))]
)
def test_an_api_server_that_stops_answering_is_one_line(error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    api = cluster.Api.__new__(cluster.Api)

    def request(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(api, "request", request)
    with pytest.raises(cluster.ClusterError) as caught:
        api.apply({"kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"}})
    assert str(caught.value).startswith("cannot apply ConfigMap coredns: ")
    assert "\n" not in str(caught.value)
