"""The Kafka image the local event streaming runs: Apache Kafka from Maven Central on Debian's JRE.

No container registry is reachable, so the image is put together from what the reachable registries
give: the broker's jars (``toolchain/kafka/pom.xml``, resolved by Maven into ``.toolchain/kafka``),
the JRE files of Debian's ``openjdk-17-jre-headless`` with the shared libraries they load, and
BusyBox as the start script's shell. Kafka runs in KRaft mode; its ``server.properties`` comes from
the component, so the image holds no broker configuration.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from autocloud.runtime.images import (
    BUSYBOX,
    NONROOT_UID,
    ImageError,
    ImageSpec,
    package_files,
    shared_libraries,
)
from platform_model.errors import ConfigError
from platform_model.files import one_builder_at_a_time, write_atomically
from platform_model.local_images import KAFKA_CONFIG_DIR as CONFIG_DIR
from platform_model.local_images import KAFKA_HOME
from platform_model.local_images import KAFKA_POM as POM
from platform_model.local_images import KAFKA_READY as READY
from platform_model.local_images import KAFKA_STARTED as STARTED
from platform_model.local_images import kafka_version as _pinned_kafka_version
from platform_model.paths import REPO_ROOT

JRE_PACKAGE = "openjdk-17-jre-headless"
JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"
START = f"{KAFKA_HOME}/bin/kafka-start"
SHELL_APPLETS = ("sh", "nc", "head", "od", "cat", "ls", "sleep", "id", "touch")

JVM_OPTS = (
    "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=48m -XX:MaxMetaspaceSize=128m "
    "-Xss512k -XX:MaxDirectMemorySize=64m -XX:-UsePerfData -Djava.awt.headless=true "
    f"-Dlog4j.configuration=file:{KAFKA_HOME}/config/log4j.properties"
)
"""For a broker with little traffic in a small container: one GC thread (Serial) instead of G1's
per-core threads and regions, C1 only (less code cache and compiler memory), no perf-data file
(the root filesystem is read-only). The log4j flag is what Kafka 3.9's scripts pass."""
HEAP_OPTS = "-Xms256m -Xmx256m"
"""Default broker heap, enough for Kafka's default configuration (its log cleaner alone takes 128 MiB);
the local component sets ``KAFKA_HEAP_OPTS`` smaller along with a smaller cleaner buffer."""

LOG4J = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=INFO
"""
"""Everything to stdout (kubelet keeps the log), Kafka's noisiest loggers quieter as in its own config."""

START_SCRIPT = f"""\
#!/bin/sh
# Formats the KRaft log directory on the first start (a no-op later), then runs broker and controller.
set -e
config={CONFIG_DIR}/server.properties
: "${{KAFKA_CLUSTER_ID:?KAFKA_CLUSTER_ID must name the cluster (22 characters, base64url)}}"
java -Xmx96m $KAFKA_JVM_OPTS kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$config" --ignore-formatted
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS kafka.Kafka "$config"
"""

STARTED_SCRIPT = """\
#!/bin/sh
# Started when a Kafka client gets the broker's metadata and API versions (a short JVM, about 1 s).
exec java -Xmx48m $KAFKA_JVM_OPTS -Dlog4j.rootLogger=ERROR kafka.admin.BrokerApiVersionsCommand \\
  --bootstrap-server "localhost:${KAFKA_PORT:-9092}" >/dev/null
"""

READY_SCRIPT = r"""#!/bin/sh
# Ready while the broker answers an ApiVersions request (v0, correlation id 7) on its client port with
# error code 0: a Kafka exchange through its request handlers, not just an accepted connection, and
# cheap enough (a few ms, no JVM) to run every few seconds.
set -- $(printf '\000\000\000\017\000\022\000\000\000\000\000\007\000\005probe' \
  | nc -w 2 localhost "${KAFKA_PORT:-9092}" | head -c 10 | od -An -tu1)
[ "$#" -eq 10 ] && [ "$5$6$7$8$9${10}" = "000700" ]
"""

PASSWD = f"root:x:0:0:root:/root:/sbin/nologin\nkafka:x:{NONROOT_UID}:{NONROOT_UID}:kafka:/tmp:/sbin/nologin\n"
GROUP = f"root:x:0:\nkafka:x:{NONROOT_UID}:\n"


def kafka_version(pom: Path = POM) -> str:
    """The ``kafka.version`` property of the POM: the image's tag (an image error when it is missing)."""
    try:
        return _pinned_kafka_version(pom)
    except ConfigError as exc:
        raise ImageError(str(exc)) from None


def resolve_jars(cache: Path, pom: Path = POM) -> Path:
    """Kafka's runtime jars with their dependencies in ``cache/kafka/<version>/libs``; Maven runs
    only when the POM changed since the folder was filled, so a second run needs no network. Two
    clusters starting at once (the integration tests' workers) take turns: the second finds the
    first one's jars instead of copying into the same folder."""
    libs = cache / "kafka" / kafka_version(pom) / "libs"
    with one_builder_at_a_time(libs):
        return _fill(libs, pom)


def _fill(libs: Path, pom: Path) -> Path:
    stamp = libs.parent / "libs.pom-sha256"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if libs.is_dir() and stamp.is_file() and stamp.read_text().strip() == digest:
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ImageError("mvn not found: install Debian's maven (make system-deps)")
    partial = libs.with_name("libs.partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "ERROR" in line] or ["no output"]
        raise ImageError(f"resolving Kafka's jars from {pom.relative_to(REPO_ROOT)} failed: {lines[0].strip()}")
    shutil.rmtree(libs, ignore_errors=True)
    partial.replace(libs)
    stamp.write_text(digest + "\n")
    return libs


def _write_if_changed(path: Path, text: str) -> Path:
    """Keeps the mtime of unchanged files, which is what tells ``build_all`` nothing changed."""
    if not path.is_file() or path.read_text() != text:
        write_atomically(path, text, mode=0o644)
    return path


def image_spec(cache: Path) -> ImageSpec:
    """The Kafka image; resolves the jars and writes the image's small files under ``cache`` first."""
    version = kafka_version()
    libs = resolve_jars(cache)
    generated = libs.parent / "image"
    jre_files, jre_links = package_files(JRE_PACKAGE, JAVA_HOME)
    java = Path(JAVA_HOME) / "bin" / "java"
    if str(java) not in jre_files:
        raise ImageError(f"{java} is missing: install Debian's {JRE_PACKAGE} (make system-deps)")
    loaded = [source for path, source in jre_files.items() if path == str(java) or path.endswith(".so")]
    files = {
        **jre_files,
        **shared_libraries(loaded),
        "/bin/busybox": BUSYBOX,
        START: _write_if_changed(generated / "kafka-start", START_SCRIPT),
        STARTED: _write_if_changed(generated / "kafka-started", STARTED_SCRIPT),
        READY: _write_if_changed(generated / "kafka-ready", READY_SCRIPT),
        f"{KAFKA_HOME}/config/log4j.properties": _write_if_changed(generated / "log4j.properties", LOG4J),
        "/etc/passwd": _write_if_changed(generated / "passwd", PASSWD),
        "/etc/group": _write_if_changed(generated / "group", GROUP),
    }
    return ImageSpec(
        "kafka",
        version,
        files,
        [START],
        links={
            **jre_links,
            **{f"/bin/{applet}": "busybox" for applet in SHELL_APPLETS},
            "/usr/bin/java": f"{JAVA_HOME}/bin/java",
        },
        trees={f"{KAFKA_HOME}/libs": libs},
        env={
            "JAVA_HOME": JAVA_HOME,
            "CLASSPATH": f"{KAFKA_HOME}/libs/*",
            "KAFKA_JVM_OPTS": JVM_OPTS,
            "KAFKA_HEAP_OPTS": HEAP_OPTS,
        },
    )
