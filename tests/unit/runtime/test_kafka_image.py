"""The Kafka image's inputs: the pinned POM, the cached jar folder and the start script."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autocloud.runtime import images, kafka_image
from platform_model import local_images

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<properties><kafka.version>3.9.2</kafka.version></properties></project>"""


def _pom(tmp_path: Path, text: str = POM) -> Path:
    pom = tmp_path / "pom.xml"
    pom.write_text(text)
    return pom


def test_the_tag_is_the_pinned_kafka_release() -> None:
    version = kafka_image.kafka_version()
    assert version.startswith("3.9.")
    assert f"autocloud.local/kafka:{version}" == local_images.image_reference("kafka")


def test_a_pom_without_the_version_is_named(tmp_path: Path) -> None:
    pom = _pom(tmp_path, '<project xmlns="http://maven.apache.org/POM/4.0.0"/>')
    with pytest.raises(images.ImageError, match=r"properties\.kafka\.version is missing"):
        kafka_image.kafka_version(pom)


def test_jars_resolve_once_per_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def mvn(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        out = Path(next(a for a in command if a.startswith("-DoutputDirectory=")).split("=", 1)[1])
        out.mkdir(parents=True)
        (out / "kafka_2.13-3.9.2.jar").write_bytes(b"jar")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    monkeypatch.setattr(subprocess, "run", mvn)
    pom = _pom(tmp_path)
    libs = kafka_image.resolve_jars(tmp_path / "cache", pom)
    assert libs == tmp_path / "cache" / "kafka" / "3.9.2" / "libs"
    assert (libs / "kafka_2.13-3.9.2.jar").is_file()
    assert kafka_image.resolve_jars(tmp_path / "cache", pom) == libs
    assert len(calls) == 1, "an unchanged POM must not run Maven again (offline second run)"
    pom.write_text(POM.replace("</properties>", "<x>1</x></properties>"))
    kafka_image.resolve_jars(tmp_path / "cache", pom)
    assert len(calls) == 2


def _resolve_in_child(cache: Path, pom: Path) -> None:
    kafka_image.resolve_jars(cache, pom)


def test_two_clusters_starting_at_once_resolve_the_jars_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two test workers once ran Maven into the same folder at once and one copy failed half-way."""
    calls = tmp_path / "mvn-calls"
    fake = tmp_path / "bin" / "mvn"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f"echo run >> {calls}\n"
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        'mkdir -p "$out"; sleep 0.5; echo jar > "$out/kafka_2.13-3.9.2.jar"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    pom = _pom(tmp_path)
    workers = [
        multiprocessing.get_context("fork").Process(target=_resolve_in_child, args=(tmp_path / "cache", pom))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert calls.read_text().splitlines() == ["run"], "the second worker must find the first one's jars"
    assert (tmp_path / "cache" / "kafka" / "3.9.2" / "libs" / "kafka_2.13-3.9.2.jar").read_text() == "jar\n"


def test_maven_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_image, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda command, **_: subprocess.CompletedProcess(
            command, 1, "[ERROR] Could not resolve dependencies for project autocloud.local:kafka-image\n", ""
        ),
    )
    with pytest.raises(images.ImageError, match=r"pom.xml failed: \[ERROR\] Could not resolve dependencies"):
        kafka_image.resolve_jars(tmp_path / "cache", _pom(tmp_path))
    assert not (tmp_path / "cache" / "kafka" / "3.9.2" / "libs").exists()


def test_start_script_formats_once_then_runs_kraft() -> None:
    script = kafka_image.START_SCRIPT
    assert script.startswith("#!/bin/sh\n")
    assert 'kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID"' in script and "--ignore-formatted" in script
    assert script.rstrip().splitlines()[-1].startswith("exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS kafka.Kafka")
    assert "kafka.admin.BrokerApiVersionsCommand" in kafka_image.STARTED_SCRIPT
    assert f":{local_images.NONROOT_UID}:{local_images.NONROOT_UID}:" in kafka_image.PASSWD
