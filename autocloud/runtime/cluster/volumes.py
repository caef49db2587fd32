"""The embedded cluster's storage: persistent volumes that are folders under the cluster's own folder.

Kafka's log and the document store's data must outlive their pods, a node restart and a cluster stop
and start, so the local stacks keep them on PersistentVolumeClaims of the cluster's default
StorageClass. On the embedded cluster that class is :data:`STORAGE_CLASS`, served by this provisioner;
on any other cluster the same claims get that cluster's default class.

Why not kube-controller-manager's own hostPath provisioner (``--enable-hostpath-provisioner``): it makes
each volume a root-owned folder with mode 0750 under ``/tmp/hostpath_pv`` (k8s.io/kubernetes
pkg/volume/hostpath/host_path.go, ``Provision``), which the platform's non-root pods cannot write and a
reboot empties. This one is an external provisioner as the PV controller knows them: the StorageClass
names it, the controller marks each claim of that class with the annotation
:data:`PROVISIONER_ANNOTATION` and leaves the volume to it. For each such claim it makes one folder,
``volumes/<namespace>/<claim>-<uid prefix>`` under the cluster's folder, writable by the pod's user
(the platform's pods run as non-root users of their images), and a hostPath PersistentVolume bound to
the claim. A claim deleted under reclaim policy ``Delete`` releases its volume, and the provisioner
removes the folder and the volume; ``Retain`` keeps both.

Run inside the node (``python -m autocloud.runtime.cluster.volumes``) as its own least-privileged
identity; ``autocloud cluster start`` starts it with the other components.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

PROVISIONER = "autocloud.local/host-folder"
STORAGE_CLASS = "autocloud-local"
PROVISIONER_ANNOTATION = "volume.kubernetes.io/storage-provisioner"
LEGACY_PROVISIONER_ANNOTATION = "volume.beta.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
FOLDER_MODE = 0o777
"""The claim's folder: whichever non-root user the pod runs as may write it. The folders above it are
the cluster's own (0700), so no other user of the machine reaches it."""
POLL_SECONDS = 1.0


def storage_class() -> dict[str, Any]:
    """The cluster's default StorageClass (an add-on): claims that name no class get it."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def wanted(claim: Mapping[str, Any]) -> bool:
    """A claim this provisioner must serve: marked for it by the PV controller, pending, no volume yet."""
    annotations = claim.get("metadata", {}).get("annotations") or {}
    ours = PROVISIONER in (annotations.get(PROVISIONER_ANNOTATION), annotations.get(LEGACY_PROVISIONER_ANNOTATION))
    return ours and claim.get("status", {}).get("phase") == "Pending" and not claim.get("spec", {}).get("volumeName")


def claim_folder(root: Path, claim: Mapping[str, Any]) -> Path:
    meta = claim["metadata"]
    return root / str(meta["namespace"]) / f"{meta['name']}-{str(meta['uid'])[:8]}"


def volume_for(claim: Mapping[str, Any], folder: Path, reclaim_policy: str) -> dict[str, Any]:
    """The hostPath PersistentVolume bound to ``claim`` (named as dynamic volumes are: ``pvc-<uid>``)."""
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": "Filesystem",
            "persistentVolumeReclaimPolicy": reclaim_policy,
            "storageClassName": spec.get("storageClassName") or STORAGE_CLASS,
            "hostPath": {"path": str(folder), "type": "Directory"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def released(volume: Mapping[str, Any]) -> bool:
    """One of ours whose claim is gone and whose policy is to delete it."""
    annotations = volume.get("metadata", {}).get("annotations") or {}
    return (
        annotations.get(PROVISIONED_BY) == PROVISIONER
        and volume.get("status", {}).get("phase") in ("Released", "Failed")
        and volume.get("spec", {}).get("persistentVolumeReclaimPolicy") == "Delete"
    )


def ours(volumes_: list[Mapping[str, Any]]) -> list[str]:
    """The names of the volumes this provisioner made, of those listed."""
    return [
        str(v["metadata"]["name"])
        for v in volumes_
        if (v.get("metadata", {}).get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER
    ]


class Provisioner:
    """One reconcile pass at a time over the API (``call(method, path, body)``), folders under ``root``."""

    def __init__(self, call: Callable[..., Any], root: Path, log: Callable[[str], None] = print) -> None:
        self.call = call
        self.root = root
        self.log = log

    def reconcile(self) -> None:
        claims = self.call("GET", "/api/v1/persistentvolumeclaims")["items"]
        for claim in filter(wanted, claims):
            self.provision(claim)
        for volume in filter(released, self.call("GET", "/api/v1/persistentvolumes")["items"]):
            self.delete(volume)

    def provision(self, claim: Mapping[str, Any]) -> None:
        klass = claim.get("spec", {}).get("storageClassName") or STORAGE_CLASS
        reclaim = self.call("GET", f"/apis/storage.k8s.io/v1/storageclasses/{klass}").get("reclaimPolicy", "Delete")
        folder = claim_folder(self.root, claim)
        folder.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        folder.chmod(FOLDER_MODE)
        try:
            self.call("POST", "/api/v1/persistentvolumes", volume_for(claim, folder, reclaim))
        except urllib.error.HTTPError as exc:
            if exc.code != 409:  # made by an earlier pass: the binder will use it
                raise
        meta = claim["metadata"]
        self.log(f"provisioned {meta['namespace']}/{meta['name']} in {folder}")

    def delete(self, volume: Mapping[str, Any]) -> None:
        name = volume["metadata"]["name"]
        folder = Path(volume["spec"]["hostPath"]["path"])
        if folder.resolve().is_relative_to(self.root.resolve()) and folder.resolve() != self.root.resolve():
            shutil.rmtree(folder, ignore_errors=True)
            if folder.parent != self.root:
                with contextlib.suppress(OSError):  # the namespace's folder, once its last volume is gone
                    folder.parent.rmdir()
        else:
            self.log(f"volume {name}: {folder} is not under {self.root}; left in place")
        try:
            self.call("DELETE", f"/api/v1/persistentvolumes/{name}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        self.log(f"deleted volume {name} and {folder}")


def _api(kubeconfig: Path) -> Callable[..., Any]:
    """A caller of the API server the kubeconfig names, with its token and CA."""
    config = json.loads(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    token = config["users"][0]["user"]["token"]
    tls = ssl.create_default_context(cafile=cluster["certificate-authority"])

    def call(method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(cluster["server"] + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=tls, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="The folder that holds every volume.")
    args = parser.parse_args(argv)
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    args.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    provisioner = Provisioner(_api(args.kubeconfig), args.root, log=lambda line: print(line, flush=True))
    last_problem = ""
    while not stopping:
        try:
            provisioner.reconcile()
            last_problem = ""
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 401:
                problem += " (an API server started before this identity existed: `autocloud cluster stop`, then start)"
            if problem != last_problem:  # the API server restarting: say it once, keep trying
                print(f"reconcile failed, retrying: {problem}", flush=True)
            last_problem = problem
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main()
