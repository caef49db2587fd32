"""Policy benchmarks: rule evaluation throughput on 10,000 synthetic resources, and `autocloud check --all`.

Throughput counts resource-rule checks (each resource against each rule that looks at its type; a
stack rule counts once per resource it is given) per second; the target is at least 50,000/s, so a
region of thousands of resources is judged in well under a second. The end-to-end figure is the
wall time of `autocloud check --all` (one mocked program run per stack, in parallel, then every pack).

Run with `make bench` (or `python tests/bench/bench_policies.py`); figures go to bench/results/policies.json.
"""

from __future__ import annotations

import io
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from autocloud.verification.check.command import run_check
from platform_model.formats import OutputFormat
from platform_model.paths import REPO_ROOT
from platform_model.profiles import load_profile
from policies.config import context_for_profile
from policies.engine import Evaluator
from policies.model import ResourceView, RuleContext
from policies.packs import ALL_RULES, PACK_RULES
from tests.bench.common import record, timed

RESOURCES = 10_000
ROUNDS = 5
TARGET_CHECKS_PER_SECOND = 50_000
TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}


def _azure(i: int) -> list[ResourceView]:
    """One scale unit's worth of Azure resources, compliant, as the engine passes them."""
    unit = f"u{i}"
    located = {"location": "westeurope", "tags": TAGS}
    return [
        ResourceView.of("azure-native:resources:ResourceGroup", located, name=f"rg-{unit}"),
        ResourceView.of(
            "azure-native:storage:StorageAccount",
            located
            | {
                "accountName": f"ac{unit}",
                "sku": {"name": "Standard_ZRS"},
                "publicNetworkAccess": "Disabled",
                "allowBlobPublicAccess": False,
                "allowSharedKeyAccess": False,
                "minimumTlsVersion": "TLS1_2",
            },
            name=f"st-{unit}",
        ),
        ResourceView.of(
            "azure-native:eventhub:Namespace",
            located | {"publicNetworkAccess": "Disabled", "minimumTlsVersion": "1.2", "disableLocalAuth": True},
            name=f"ns-{unit}",
        ),
        ResourceView.of(
            "azure-native:eventhub:EventHub",
            {"captureDescription": {"destination": {"storageAccountResourceId": f"/x/storageAccounts/ac{unit}"}}},
            name=f"eh-{unit}",
        ),
        ResourceView.of(
            "azure-native:iothub:IotHubResource",
            located
            | {
                "properties": {
                    "publicNetworkAccess": "Disabled",
                    "minTlsVersion": "1.2",
                    "disableLocalAuth": True,
                    "enableDataResidency": True,
                    "routing": {
                        "endpoints": {
                            "eventHubs": [{"name": "t", "endpointUri": f"sb://ns-{unit}.servicebus.windows.net"}]
                        }
                    },
                }
            },
            name=f"hub-{unit}",
        ),
        ResourceView.of(
            "azure-native:cosmosdb:DatabaseAccount",
            located
            | {
                "locations": [{"locationName": "westeurope"}, {"locationName": "northeurope"}],
                "publicNetworkAccess": "Disabled",
                "minimalTlsVersion": "Tls12",
                "disableLocalAuth": True,
            },
            name=f"cosmos-{unit}",
        ),
        ResourceView.of("azure-native:authorization:RoleAssignment", {"scope": f"/x/{unit}"}, name=f"ra-{unit}"),
    ]


def _kubernetes(i: int) -> list[ResourceView]:
    namespace = f"autocloud-eu-{i}"
    return [
        ResourceView.of(
            "kubernetes:core/v1:Namespace",
            {"metadata": {"name": namespace, "labels": {"autocloud.io/region": "eu"}}},
            name=f"ns-{i}",
        ),
        ResourceView.of(
            "kubernetes:apps/v1:Deployment",
            {
                "metadata": {"namespace": namespace},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "mqtt", "env": [{"name": "KAFKA", "value": f"kafka.{namespace}.svc:9092"}]}
                            ]
                        }
                    }
                },
            },
            name=f"mqtt-{i}",
        ),
        ResourceView.of(
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            {
                "metadata": {"namespace": namespace},
                "spec": {
                    "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"autocloud.io/region": "eu"}}}]}]
                },
            },
            name=f"np-{i}",
        ),
    ]


def synthetic_stack(count: int, seed: int = 7) -> list[ResourceView]:
    """`count` resources: Azure scale units and local namespaces, about 1% of them moved out of region."""
    rng = random.Random(seed)
    resources: list[ResourceView] = []
    i = 0
    while len(resources) < count:
        resources.extend(_azure(i) if i % 3 else _kubernetes(i))
        i += 1
    resources = resources[:count]
    for index in rng.sample(range(count), count // 100):
        view = resources[index]
        if "location" in view.props:
            resources[index] = ResourceView(view.type, view.name, view.urn, dict(view.props) | {"location": "eastus"})
    return resources


def throughput(evaluator: Evaluator, resources: list[ResourceView], ctx: RuleContext) -> dict[str, Any]:
    best = float("inf")
    checks = violations = 0
    for _ in range(ROUNDS):
        evaluation, seconds = timed(lambda: evaluator.run(resources, ctx))
        best = min(best, seconds)
        checks, violations = evaluation.checks, len(evaluation.violations)
    return {
        "checks": checks,
        "violations": violations,
        "best_seconds": round(best, 4),
        "checks_per_second": int(checks / best),
    }


def main() -> int:
    ctx = context_for_profile(load_profile("eu"))
    resources = synthetic_stack(RESOURCES)
    figures: dict[str, Any] = {"resources": len(resources), "types": len(Counter(r.type for r in resources))}
    overall = throughput(Evaluator(ALL_RULES), resources, ctx)
    figures["all_packs"] = overall
    for pack, rules in PACK_RULES.items():
        figures[pack] = throughput(Evaluator(rules), resources, ctx)
    figures["target_checks_per_second"] = TARGET_CHECKS_PER_SECOND
    figures["meets_target"] = overall["checks_per_second"] >= TARGET_CHECKS_PER_SECOND

    stacks = sorted(p.name for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))

    def check_all() -> int:
        return run_check(None, True, None, None, OutputFormat.JSON, out=io.StringIO())

    code, seconds = timed(check_all)
    figures["check_all"] = {"stacks": len(stacks), "exit_code": code, "seconds": round(seconds, 2)}
    record("policies", figures)
    return 0 if figures["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
