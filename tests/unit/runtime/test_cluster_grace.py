"""`down` ends the pods its destroy is deleting with a short grace, and touches no other pod."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from autocloud.runtime import cluster
from autocloud.runtime.cluster.grace import GRACE_SECONDS, ShortGrace


def _pod(name: str, deleting: bool, grace: int = 30) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "autocloud-eu"}
    if deleting:
        meta |= {"deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": grace}
    return {"metadata": meta}


class FakeApi:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.calls: list[tuple[str, str, Any]] = []

    def get(self, path: str) -> dict[str, Any]:
        self.calls.append(("GET", path, None))
        return {"items": self.pods}

    def request(self, method: str, path: str, body: Any = None) -> None:
        self.calls.append((method, path, body))


def test_only_terminating_pods_with_a_longer_grace_are_shortened() -> None:
    api = FakeApi([_pod("broker", True), _pod("running", False), _pod("ending", True, grace=1)])
    short = ShortGrace(api, "app.kubernetes.io/part-of=autocloud")  # type: ignore[arg-type]
    assert short.sweep() == 1
    assert api.calls == [
        ("GET", "/api/v1/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dautocloud", None),
        (
            "DELETE",
            "/api/v1/namespaces/autocloud-eu/pods/broker",
            {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": GRACE_SECONDS},
        ),
    ]
    assert short.shortened == {"autocloud-eu/broker"}


def test_an_api_that_does_not_answer_changes_nothing() -> None:
    class Silent(FakeApi):
        def get(self, path: str) -> None:  # type: ignore[override]
            return None

    assert ShortGrace(Silent([]), "x=y").sweep() == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ["another cluster", "never started"])
def test_nothing_is_shortened_off_the_embedded_cluster(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lay = cluster.Layout(tmp_path / "cluster")
    lay.pki.mkdir(parents=True)
    if case == "another cluster":
        lay.token_file.write_text("")
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "theirs"))
    else:
        monkeypatch.delenv("KUBECONFIG", raising=False)
    assert isinstance(cluster.short_grace("x=y", lay), contextlib.nullcontext)
