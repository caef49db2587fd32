"""baseline-min-tls-version."""

from __future__ import annotations

from typing import Any

import pytest

from policies.model import ResourceView, RuleContext
from policies.rules.baseline.min_tls_version import RULE, tls_version
from policies.testing import DELETE, changed, details, judge

COMPLIANT = {
    "azure-native:iothub:IotHubResource": ("properties.minTlsVersion", "1.2", "1.0"),
    "azure-native:eventhub:Namespace": ("minimumTlsVersion", "1.2", "1.1"),
    "azure-native:servicebus:Namespace": ("minimumTlsVersion", "1.2", "1.0"),
    "azure-native:cosmosdb:DatabaseAccount": ("minimalTlsVersion", "Tls12", "Tls11"),
    "azure-native:storage:StorageAccount": ("minimumTlsVersion", "TLS1_2", "TLS1_0"),
}


def props(type_: str) -> dict[str, Any]:
    path, good, _ = COMPLIANT[type_]
    return changed({}, path, good)


def test_accepts_tls_12(eu: RuleContext) -> None:
    assert judge(RULE, [ResourceView.of(t, props(t), name=t) for t in COMPLIANT], eu) == []


def test_accepts_tls_13_on_storage(eu: RuleContext) -> None:
    view = ResourceView.of("azure-native:storage:StorageAccount", {"minimumTlsVersion": "TLS1_3"})
    assert judge(RULE, view, eu) == []


@pytest.mark.parametrize("type_", list(COMPLIANT))
def test_refuses_old_tls(eu: RuleContext, type_: str) -> None:
    path, good, old = COMPLIANT[type_]
    found = details(RULE, ResourceView.of(type_, changed(props(type_), path, old)), eu)
    assert len(found) == 1
    assert f"{path} is {old!r}, below TLS 1.2 (allowed: {good}" in found[0]


@pytest.mark.parametrize("type_", list(COMPLIANT))
def test_refuses_missing_tls_setting(eu: RuleContext, type_: str) -> None:
    path, _, _ = COMPLIANT[type_]
    assert (
        "is not set, below TLS 1.2" in details(RULE, ResourceView.of(type_, changed(props(type_), path, DELETE)), eu)[0]
    )


def test_refuses_bare_tls_on_cosmos(eu: RuleContext) -> None:
    view = ResourceView.of("azure-native:cosmosdb:DatabaseAccount", {"minimalTlsVersion": "Tls"})
    assert len(judge(RULE, view, eu)) == 1


def test_reads_every_spelling() -> None:
    assert tls_version("1.2") == tls_version("TLS1_2") == tls_version("Tls12") == (1, 2)
    assert tls_version("Tls") == (1, 0)
    assert tls_version("TLS1_3") == (1, 3)
    assert tls_version("strong") is None
