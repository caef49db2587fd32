"""Container images built here, without a registry: one layer of files taken from this machine.

No registry is reachable from these machines, so every image the embedded node runs is written
as a docker-archive tarball (the format `ctr images import` reads) from files already on disk:
the node's `pause` sandbox and CoreDNS from the Go toolchain, a small BusyBox image from
Debian's `busybox-static` that proves the node runs real processes, and the local stacks' images:
our own programs (the telemetry ingest, the state writer) and the document store (FerretDB) from
the Go toolchain, and Kafka on Debian's JRE (``autocloud.runtime.kafka_image``), whose dynamic binaries
bring the libraries ``ldd`` names. Tarballs are reproducible (fixed mtimes, owners and order), so
the same inputs give the same image ID and a rebuild is skipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platform_model.errors import AutocloudError
from platform_model.files import write_atomically
from platform_model.local_images import NONROOT_UID as NONROOT_UID  # the images' user, for the cluster
from platform_model.local_images import REGISTRY, image_tag
from platform_model.local_images import image_reference as image_reference  # the cluster's images
from platform_model.paths import TOOLCHAIN_BIN, TOOLCHAIN_DIR


class ImageError(AutocloudError):
    """An image cannot be built (a missing binary); the message is one line for the user."""


@dataclass(frozen=True)
class ImageSpec:
    """One image: files copied from the host into an otherwise empty root filesystem."""

    name: str
    """Required. Repository under REGISTRY, e.g. ``pause``."""
    tag: str
    """Required. A release tag, never ``latest`` (kubelet would try to pull it)."""
    files: Mapping[str, Path]
    """Required. Path in the image -> file on this machine."""
    entrypoint: Sequence[str]
    """Required. The image's ENTRYPOINT."""
    links: Mapping[str, str] = field(default_factory=dict)
    """Optional. Symlinks in the image (path -> target), e.g. BusyBox applets."""
    trees: Mapping[str, Path] = field(default_factory=dict)
    """Optional. Path in the image -> a folder on this machine copied whole (files, symlinks, modes),
    e.g. a JRE or a folder of jars."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Optional. Environment of the image besides PATH."""
    user: str = f"{NONROOT_UID}:{NONROOT_UID}"
    """Optional, default a non-root user: images run as non-root unless a pod says otherwise."""

    @property
    def reference(self) -> str:
        return f"{REGISTRY}/{self.name}:{self.tag}"


def _add_dir(tar: tarfile.TarFile, path: str) -> None:
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE
    info.mode = 0o1777 if path == "tmp" else 0o755
    tar.addfile(info)


def _add_tree(tar: tarfile.TarFile, spec: ImageSpec, prefix: str, folder: Path) -> None:
    if not folder.is_dir():
        raise ImageError(f"image {spec.reference}: folder {folder} is missing")
    parts = prefix.split("/")
    for i in range(len(parts)):
        _add_dir(tar, "/".join(parts[: i + 1]))
    for source in sorted(folder.rglob("*")):
        name = f"{prefix}/{source.relative_to(folder).as_posix()}"
        info = tarfile.TarInfo(name)
        if source.is_symlink():
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(source)
            tar.addfile(info)
        elif source.is_dir():
            _add_dir(tar, name)
        else:
            data = source.read_bytes()
            info.size = len(data)
            info.mode = source.stat().st_mode & 0o755
            tar.addfile(info, io.BytesIO(data))


def _layer(spec: ImageSpec) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"tmp"}
        for path in [*spec.files, *spec.links]:
            parts = path.strip("/").split("/")[:-1]
            dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        for directory in sorted(dirs):
            _add_dir(tar, directory)
        for path, source in sorted(spec.files.items()):
            if not source.is_file():
                raise ImageError(f"image {spec.reference}: {source} is missing (make toolchain / make system-deps)")
            data = source.read_bytes()
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
        for path, folder in sorted(spec.trees.items()):
            _add_tree(tar, spec, path.strip("/"), folder)
        for path, target in sorted(spec.links.items()):
            info = tarfile.TarInfo(path.strip("/"))
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buffer.getvalue()


def write_archive(spec: ImageSpec, out: Path) -> str:
    """Write a docker-archive tarball for ``spec``; returns the image's config digest (its ID)."""
    layer = _layer(spec)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(spec.entrypoint),
            "User": spec.user,
            "WorkingDir": "/",
            "Env": ["PATH=/bin:/usr/bin", *(f"{k}={v}" for k, v in sorted(spec.env.items()))],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "autocloud.runtime.images"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    manifest = [
        {"Config": f"{config_digest}.json", "RepoTags": [spec.reference], "Layers": [f"{diff_id[7:]}/layer.tar"]}
    ]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (
            (f"{config_digest}.json", config_bytes),
            (f"{diff_id[7:]}/layer.tar", layer),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    write_atomically(out, archive.getvalue())
    return "sha256:" + config_digest


BUSYBOX = Path("/bin/busybox")
BUSYBOX_APPLETS = ("sh", "wget", "nc", "nslookup", "httpd", "sleep", "cat", "echo", "ls", "hostname", "id")


def node_images(bin_dir: Path = TOOLCHAIN_BIN) -> tuple[ImageSpec, ...]:
    """The images every embedded node imports: its sandbox, its DNS and a small test image."""
    return (
        ImageSpec("pause", image_tag("pause"), {"/pause": bin_dir / "pause"}, ["/pause"]),
        ImageSpec("coredns", image_tag("coredns"), {"/coredns": bin_dir / "coredns"}, ["/coredns"]),
        ImageSpec(
            "busybox",
            image_tag("busybox"),
            {"/bin/busybox": BUSYBOX},
            ["/bin/sh"],
            links={f"/bin/{applet}": "busybox" for applet in BUSYBOX_APPLETS},
        ),
    )


def program_images(bin_dir: Path = TOOLCHAIN_BIN) -> tuple[ImageSpec, ...]:
    """The local stacks' programs from the Go toolchain: the telemetry ingest, the region's document
    store (FerretDB on SQLite, standing in for Cosmos DB) and the state writer that feeds it from Kafka."""
    return (
        ImageSpec("ingest", image_tag("ingest"), {"/ingest": bin_dir / "autocloud-ingest"}, ["/ingest"]),
        ImageSpec("docstore", image_tag("docstore"), {"/ferretdb": bin_dir / "ferretdb"}, ["/ferretdb"]),
        ImageSpec(
            "statewriter",
            image_tag("statewriter"),
            {"/statewriter": bin_dir / "autocloud-statewriter"},
            ["/statewriter"],
        ),
    )


def platform_images(bin_dir: Path = TOOLCHAIN_BIN, cache: Path = TOOLCHAIN_DIR) -> tuple[ImageSpec, ...]:
    """The images the local stacks run, built here because no registry can serve them: our own
    programs, and Kafka assembled from the package registries into ``cache``."""
    from autocloud.runtime import kafka_image  # it builds on this module's helpers

    return (*program_images(bin_dir), kafka_image.image_spec(cache))


def cluster_images(bin_dir: Path = TOOLCHAIN_BIN) -> tuple[ImageSpec, ...]:
    """Everything the embedded node imports at start."""
    return node_images(bin_dir) + platform_images(bin_dir)


_LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(\S+|not found)(?: \(0x[0-9a-f]+\))?$")


def shared_libraries(binaries: Iterable[Path]) -> dict[str, Path]:
    """Image path -> file on this machine of every shared library ``binaries`` load, the dynamic
    loader included, at the paths ``ldd`` names so the loader finds them in the image too.

    A library ``ldd`` cannot find is an error unless one of ``binaries`` is that library (a JRE's
    ``libjvm.so`` is found through the launcher's own search path, not the binary's)."""
    binaries = list(binaries)
    if shutil.which("ldd") is None:
        raise ImageError("ldd not found: it comes with glibc (Debian's libc-bin)")
    provided = {binary.name for binary in binaries}
    found: dict[str, Path] = {}
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        if "not a dynamic executable" in result.stdout + result.stderr:
            continue
        for line in result.stdout.splitlines():
            match = _LDD_LINE.match(line)
            if match is None or match.group(2).startswith("linux-vdso"):
                continue
            soname, path = match.groups()
            if path == "not found":
                if soname not in provided:
                    raise ImageError(f"{binary} needs {soname}, which this machine does not have")
                continue
            if path.startswith("/") and soname not in provided:
                found[path] = Path(path).resolve()
    return found


def package_files(package: str, folder: str) -> tuple[dict[str, Path], dict[str, str]]:
    """Files and symlinks that Debian's ``package`` installed under ``folder``, as ImageSpec
    ``files`` and ``links``: a symlink leaving ``folder`` (a JRE's configuration under /etc) becomes
    the file it points to, since its target is not in the image; one to a folder outside (the docs)
    or to nothing is dropped.

    The package's own list, not the folder, so what another package adds there (a JDK beside the
    JRE) stays out of the image."""
    result = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ImageError(f"Debian package {package} is not installed (make system-deps)")
    root = folder.rstrip("/")
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    for line in sorted(set(result.stdout.splitlines())):
        if not line.startswith(root + "/"):
            continue
        path = Path(line)
        if path.is_symlink():
            target = os.readlink(path)
            inside = os.path.normpath(path.parent / target).startswith(root + "/")
            if inside and not target.startswith("/"):
                links[line] = target
            elif path.resolve().is_file():
                files[line] = path.resolve()
        elif path.is_file():
            files[line] = path
    return files, links


def is_local(reference: str) -> bool:
    """True for images built here (the embedded node has them); others need a registry."""
    return reference.startswith(REGISTRY + "/")


@dataclass(frozen=True)
class BuiltImage:
    """One image's tarball after :func:`build`."""

    reference: str
    tarball: Path
    rebuilt: bool
    """False when an identical tarball was already there."""

    @property
    def size(self) -> int:
        return self.tarball.stat().st_size


def build(out_dir: Path, specs: Sequence[ImageSpec] | None = None) -> list[BuiltImage]:
    """Write each image's tarball (default: the node's and the platform's images) unless an
    identical one exists."""
    built: list[BuiltImage] = []
    for spec in specs if specs is not None else cluster_images():
        out = out_dir / f"{spec.name}-{spec.tag}.tar"
        stamp = out.with_suffix(".inputs")
        inputs = _inputs_digest(spec)
        fresh = out.is_file() and stamp.is_file() and stamp.read_text() == inputs
        if not fresh:
            write_archive(spec, out)
            stamp.write_text(inputs)
        built.append(BuiltImage(spec.reference, out, rebuilt=not fresh))
    return built


def build_all(out_dir: Path, specs: Sequence[ImageSpec] | None = None) -> dict[str, Path]:
    """:func:`build`, as reference -> tarball."""
    return {image.reference: image.tarball for image in build(out_dir, specs)}


def _inputs_digest(spec: ImageSpec) -> str:
    digest = hashlib.sha256(
        json.dumps(
            [
                spec.reference,
                list(spec.entrypoint),
                dict(spec.links),
                spec.user,
                {k: str(v) for k, v in spec.trees.items()},
                dict(spec.env),
            ],
            sort_keys=True,
        ).encode()
    )
    for path, folder in sorted(spec.trees.items()):
        if not folder.is_dir():
            raise ImageError(f"image {spec.reference}: folder {folder} is missing")
        for source in sorted(folder.rglob("*")):
            if source.is_file() and not source.is_symlink():
                stat = source.stat()
                digest.update(f"{path}/{source.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for path, source in sorted(spec.files.items()):
        if not source.is_file():
            raise ImageError(f"image {spec.reference}: {source} is missing (make toolchain / make system-deps)")
        stat = source.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
