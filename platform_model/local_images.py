"""The images built here for the local target, by reference: what the local components run and
what ``autocloud.runtime.images`` builds, kept apart from the builder so the components need none of it.

Tags come from the repository's pins: ``toolchain/versions.json`` (FerretDB) and Kafka's POM.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Literal

from platform_model.errors import ConfigError
from platform_model.paths import REPO_ROOT

VERSIONS_FILE = REPO_ROOT / "toolchain" / "versions.json"
"""Every Go-built tool and the module version it is built from."""
KAFKA_POM = REPO_ROOT / "toolchain" / "kafka" / "pom.xml"
"""The one place Kafka's version and its logging backend are pinned."""

REGISTRY = "autocloud.local"
"""Prefix of every image built here; nothing under it is ever pulled."""
NONROOT_UID = 65532
"""The user every image built here runs as."""


def pinned_versions(path: Path = VERSIONS_FILE) -> dict[str, dict[str, str]]:
    """The tools pinned in ``versions.json`` (entries starting with ``_`` are notes)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read pinned versions: {exc}") from exc
    return {name: entry for name, entry in data.items() if not name.startswith("_")}


def kafka_version(pom: Path = KAFKA_POM) -> str:
    """The ``kafka.version`` property of the POM: the Kafka image's tag."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(pom).getroot().findtext("m:properties/m:kafka.version", namespaces=ns)
    if not version:
        raise ConfigError(str(pom), "", "properties.kafka.version is missing")
    return version.strip()


LocalImage = Literal["pause", "coredns", "busybox", "ingest", "docstore", "statewriter", "kafka"]

_FIXED_TAGS: dict[LocalImage, str] = {"pause": "3.10", "busybox": "1.35"}
"""Tags no pin gives: the sandbox image is tagged as Kubernetes' own pause image, and BusyBox packs
the host's ``/bin/busybox``."""
_PINNED_AS: dict[LocalImage, str] = {"docstore": "ferretdb"}
"""Images named otherwise than the ``versions.json`` entry they are built from."""


@cache
def image_tag(image: LocalImage) -> str:
    """The tag of an image built here, from the pin of what it packs: Kafka's POM for Kafka, else
    the tool's ``versions.json`` ``image_tag`` (a build of ours that differs from upstream's release)
    or its version without the ``v``. Read on first use, not at import."""
    if image in _FIXED_TAGS:
        return _FIXED_TAGS[image]
    if image == "kafka":
        return kafka_version()
    pin = pinned_versions()[_PINNED_AS.get(image, image)]
    return pin.get("image_tag") or pin["version"].lstrip("v")


def image_reference(image: LocalImage) -> str:
    """``autocloud.local/<image>:<tag>``: how components, the node and the builder name the image."""
    return f"{REGISTRY}/{image}:{image_tag(image)}"


KAFKA_HOME = "/opt/kafka"
KAFKA_CONFIG_DIR = "/etc/kafka"
"""Where the component mounts ``server.properties`` (a ConfigMap)."""
KAFKA_STARTED = f"{KAFKA_HOME}/bin/kafka-started"
"""The startup probe the image carries."""
KAFKA_READY = f"{KAFKA_HOME}/bin/kafka-ready"
"""The readiness probe the image carries."""
