"""The embedded cluster's volume provisioner against a fake API: which claims it serves, the volume it
binds to each, and what it removes when a claim is gone."""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import pytest

from autocloud.runtime.cluster import volumes


def _claim(name: str, *, provisioner: str = volumes.PROVISIONER, phase: str = "Pending") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "autocloud-eu",
            "uid": f"{name}-0123456789",
            "annotations": {volumes.PROVISIONER_ANNOTATION: provisioner},
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
        "status": {"phase": phase},
    }


class FakeApi:
    def __init__(self, claims: list[dict[str, Any]], volumes_: list[dict[str, Any]] | None = None) -> None:
        self.claims = claims
        self.volumes = volumes_ or []
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path))
        if path == "/api/v1/persistentvolumeclaims":
            return {"items": self.claims}
        if path == "/api/v1/persistentvolumes" and method == "GET":
            return {"items": self.volumes}
        if path.startswith("/apis/storage.k8s.io/v1/storageclasses/"):
            return {"reclaimPolicy": "Delete"}
        if method == "POST":
            assert body is not None
            if any(v["metadata"]["name"] == body["metadata"]["name"] for v in self.volumes):
                raise urllib.error.HTTPError(path, 409, "AlreadyExists", {}, None)  # type: ignore[arg-type]
            self.volumes.append(body)
            return body
        if method == "DELETE":
            self.volumes = [v for v in self.volumes if not path.endswith("/" + v["metadata"]["name"])]
            return {}
        raise AssertionError(f"unexpected {method} {path}")


def test_a_pending_claim_of_its_class_gets_a_writable_folder_and_a_bound_volume(tmp_path: Path) -> None:
    root = tmp_path / "volumes"
    claims = [_claim("streaming-1-data"), _claim("other", provisioner="example.com/x"), _claim("done", phase="Bound")]
    api = FakeApi(claims)
    lines: list[str] = []
    provisioner = volumes.Provisioner(api, root, lines.append)
    provisioner.reconcile()
    (volume,) = api.volumes
    folder = root / "autocloud-eu" / "streaming-1-data-streamin"
    assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o777
    assert root.stat().st_mode & 0o777 == 0o700, "no other user of the machine reaches the folders"
    assert volume["metadata"]["name"] == "pvc-streaming-1-data-0123456789"
    assert volume["spec"]["hostPath"] == {"path": str(folder), "type": "Directory"}
    assert volume["spec"]["claimRef"]["uid"] == "streaming-1-data-0123456789"
    assert volume["spec"]["capacity"] == {"storage": "2Gi"}
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert lines == [f"provisioned autocloud-eu/streaming-1-data in {folder}"]
    provisioner.reconcile()
    assert len(api.volumes) == 1, "a second pass over a still-pending claim makes nothing twice"


def test_a_released_volume_loses_its_folder_and_a_foreign_path_is_never_removed(tmp_path: Path) -> None:
    root = tmp_path / "volumes"
    api = FakeApi([_claim("state-data")])
    provisioner = volumes.Provisioner(api, root, lambda _line: None)
    provisioner.reconcile()
    folder = Path(api.volumes[0]["spec"]["hostPath"]["path"])
    (folder / "kept.sqlite").write_text("data")
    api.claims = []
    api.volumes[0]["status"] = {"phase": "Bound"}
    provisioner.reconcile()
    assert folder.is_dir(), "a bound volume stays"
    api.volumes[0]["status"] = {"phase": "Released"}
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    stranger = volumes.volume_for(_claim("x"), outside, "Delete") | {"status": {"phase": "Released"}}
    api.volumes.append(stranger)
    provisioner.reconcile()
    assert not folder.exists() and api.volumes == []
    assert not folder.parent.exists(), "the namespace's folder goes with its last volume"
    assert outside.is_dir(), "only folders under the provisioner's root are removed"


def test_the_default_storage_class_names_this_provisioner() -> None:
    klass = volumes.storage_class()
    assert klass["provisioner"] == volumes.PROVISIONER
    assert klass["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_down_waits_only_for_the_volumes_this_provisioner_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autocloud.runtime import cluster
    from autocloud.runtime.cluster import lifecycle

    made = volumes.volume_for(_claim("state-data"), tmp_path, "Delete")
    foreign = {"metadata": {"name": "static-pv", "annotations": {}}}
    listings = [[made, foreign], [made, foreign], [foreign]]

    class Api:
        def __init__(self, *_args: object) -> None:
            pass

        def request(self, _method: str, _path: str) -> dict[str, Any]:
            return {"items": listings.pop(0) if len(listings) > 1 else listings[0]}

    monkeypatch.setattr(lifecycle, "Api", Api)
    monkeypatch.setattr(lifecycle, "external", lambda _lay: None)
    monkeypatch.setattr(lifecycle, "running", lambda _lay, _comp: 1)
    monkeypatch.setattr("autocloud.runtime.cluster.lifecycle.time.sleep", lambda _s: None)
    assert lifecycle.wait_volumes_removed(cluster.Layout(tmp_path)) == []
    assert listings == [[foreign]], "it polled until its own volume was gone, ignoring the static one"
    listings[:] = [[made]]
    assert lifecycle.wait_volumes_removed(cluster.Layout(tmp_path), timeout=0) == ["pvc-state-data-0123456789"]
