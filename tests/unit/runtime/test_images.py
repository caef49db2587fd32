"""Images written without a registry: docker-archive layout, reproducible, rebuilt only on change."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from autocloud.runtime import images
from autocloud.runtime.toolchain import load_versions
from platform_model import local_images


def _spec(tmp_path: Path) -> images.ImageSpec:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF fake binary")
    return images.ImageSpec("tool", "1.0", {"/usr/bin/tool": binary}, ["/usr/bin/tool"], links={"/bin/t": "tool"})


def test_archive_has_manifest_config_and_layer(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    image_id = images.write_archive(spec, tmp_path / "out.tar")
    with tarfile.open(tmp_path / "out.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest[0]["RepoTags"] == ["autocloud.local/tool:1.0"]
        config = json.loads(tar.extractfile(manifest[0]["Config"]).read())  # type: ignore[union-attr]
        layer = tar.extractfile(manifest[0]["Layers"][0])
        assert layer is not None
        with tarfile.open(fileobj=layer) as rootfs:
            members = {m.name: m for m in rootfs.getmembers()}
    assert image_id == "sha256:" + manifest[0]["Config"].removesuffix(".json")
    assert config["config"]["Entrypoint"] == ["/usr/bin/tool"]
    assert config["config"]["User"] == f"{local_images.NONROOT_UID}:{local_images.NONROOT_UID}"
    assert members["usr/bin/tool"].mode == 0o755
    assert members["bin/t"].issym() and members["bin/t"].linkname == "tool"
    assert members["tmp"].mode == 0o1777


def test_same_inputs_give_the_same_image(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    first = images.write_archive(spec, tmp_path / "a.tar")
    second = images.write_archive(spec, tmp_path / "b.tar")
    assert first == second
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_build_all_skips_unchanged_and_names_a_missing_binary(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    out = tmp_path / "images"
    built = images.build_all(out, [spec])
    tarball = built[spec.reference]
    mtime = tarball.stat().st_mtime_ns
    images.build_all(out, [spec])
    assert tarball.stat().st_mtime_ns == mtime
    missing = images.ImageSpec("gone", "1", {"/gone": tmp_path / "nope"}, ["/gone"])
    with pytest.raises(images.ImageError, match=r"autocloud.local/gone:1: .*nope is missing"):
        images.build_all(out, [missing])


def test_local_images_are_told_apart() -> None:
    assert images.is_local(local_images.image_reference("pause"))
    assert not images.is_local("apache/kafka:3.9.0")


def test_trees_keep_files_symlinks_and_modes(tmp_path: Path) -> None:
    tree = tmp_path / "jre"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "java").write_bytes(b"java")
    (tree / "bin" / "java").chmod(0o755)
    (tree / "lib.txt").write_text("x")
    (tree / "current").symlink_to("bin")
    spec = images.ImageSpec(
        "jre", "17", {}, ["/opt/jre/bin/java"], trees={"/opt/jre": tree}, env={"JAVA_HOME": "/opt/jre"}
    )
    images.write_archive(spec, tmp_path / "jre.tar")
    with tarfile.open(tmp_path / "jre.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = json.loads(tar.extractfile(manifest[0]["Config"]).read())  # type: ignore[union-attr]
        with tarfile.open(fileobj=tar.extractfile(manifest[0]["Layers"][0])) as rootfs:
            members = {m.name: m for m in rootfs.getmembers()}
    assert members["opt/jre/bin/java"].mode == 0o755
    assert members["opt/jre/lib.txt"].mode == 0o644
    assert members["opt/jre/current"].issym() and members["opt/jre/current"].linkname == "bin"
    assert "JAVA_HOME=/opt/jre" in config["config"]["Env"]


def test_the_cluster_imports_the_node_and_platform_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest = next(s for s in images.program_images(tmp_path) if s.name == "ingest")
    assert ingest.reference == local_images.image_reference("ingest") and images.is_local(
        local_images.image_reference("ingest")
    )
    assert ingest.files == {"/ingest": tmp_path / "autocloud-ingest"} and list(ingest.entrypoint) == ["/ingest"]
    assert ingest.user == f"{local_images.NONROOT_UID}:{local_images.NONROOT_UID}"
    specs = images.node_images(tmp_path) + images.program_images(tmp_path)
    for spec in specs:
        for source in spec.files.values():
            if source.parent == tmp_path:
                source.write_bytes(b"\x7fELF fake binary")
    monkeypatch.setattr(images, "cluster_images", lambda: specs)
    assert set(images.build_all(tmp_path / "out")) == {s.reference for s in specs}
    assert local_images.image_reference("ingest") in {s.reference for s in specs}


def test_shared_libraries_include_the_loader_at_the_paths_ldd_names() -> None:
    libs = images.shared_libraries([Path(sys.executable).resolve()])
    assert any(Path(path).name.startswith("libc.so") for path in libs)
    assert any("ld-linux" in Path(path).name for path in libs)
    assert all(source.is_file() and not source.is_symlink() for source in libs.values())


def test_a_library_nobody_provides_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgone.so.1 => not found\n\tlibjvm.so => not found\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=output, stderr=""))
    with pytest.raises(images.ImageError, match=r"needs libgone\.so\.1"):
        images.shared_libraries([tmp_path / "bin" / "java"])
    # A library among the binaries themselves is found at run time by their own search path.
    output = "\tlibjvm.so => not found\n"
    assert images.shared_libraries([tmp_path / "bin" / "java", tmp_path / "libjvm.so"]) == {}


def test_package_files_resolve_links_that_leave_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jre = tmp_path / "jre"
    (jre / "lib" / "security").mkdir(parents=True)
    (jre / "legal").mkdir()
    etc = tmp_path / "etc" / "java.security"
    etc.parent.mkdir()
    etc.write_text("security")
    (jre / "lib" / "libjava.so").write_bytes(b"\x7fELF")
    (jre / "lib" / "security" / "java.security").symlink_to(etc)
    (jre / "legal" / "NOTICE").symlink_to("../lib/libjava.so")
    (jre / "lib" / "docs").symlink_to(tmp_path / "etc")
    listed = [str(jre), str(jre / "lib"), *(str(p) for p in sorted(jre.rglob("*"))), "/etc/other"]
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="\n".join(listed), stderr="")
    )
    files, links = images.package_files("jre", str(jre))
    assert files == {
        str(jre / "lib" / "libjava.so"): jre / "lib" / "libjava.so",
        str(jre / "lib" / "security" / "java.security"): etc,
    }
    assert links == {str(jre / "legal" / "NOTICE"): "../lib/libjava.so"}


def test_a_package_that_is_not_installed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, stdout="", stderr="not installed")
    )
    with pytest.raises(images.ImageError, match="Debian package openjdk-17-jre-headless is not installed"):
        images.package_files("openjdk-17-jre-headless", "/usr/lib/jvm/java-17-openjdk-amd64")


def test_build_reports_what_it_rebuilt(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    [first] = images.build(tmp_path / "images", [spec])
    [second] = images.build(tmp_path / "images", [spec])
    assert (first.rebuilt, second.rebuilt) == (True, False)
    assert second.size == first.tarball.stat().st_size > 0


def test_the_data_plane_images_follow_the_toolchain(tmp_path: Path) -> None:
    references = [spec.reference for spec in (*images.node_images(tmp_path), *images.program_images(tmp_path))]
    assert references[: len(images.node_images())] == [spec.reference for spec in images.node_images()]
    assert {local_images.image_reference("docstore"), local_images.image_reference("statewriter")} <= set(references)
    # The docstore's tag follows the FerretDB the toolchain builds: its release, and our patch of it.
    ferretdb = load_versions()["ferretdb"]
    assert ferretdb["image_tag"].startswith(ferretdb["version"].lstrip("v") + "-autocloud.")
    assert local_images.image_reference("docstore").endswith(":" + ferretdb["image_tag"])
    assert local_images.image_reference("statewriter").endswith(":" + load_versions()["statewriter"]["version"][1:])
    docstore = [s for s in images.program_images(tmp_path) if s.name == "docstore"]
    with pytest.raises(images.ImageError, match=r"docstore:.*ferretdb is missing"):
        images.build_all(tmp_path / "out", docstore)
