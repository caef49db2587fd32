"""kubernetes-cross-region-endpoint (stack rule)."""

from __future__ import annotations

from policies.model import ResourceView, RuleContext
from policies.rules.kubernetes.cross_region_endpoint import RULE
from policies.testing import changed, details, judge

NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRON_JOB = "kubernetes:batch/v1:CronJob"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
CONTAINER = {
    "name": "router",
    "image": "router:1",
    "env": [{"name": "BROKER", "value": "mqtt://mqtt.autocloud-eu.svc.cluster.local:1883"}],
    "args": ["--kafka", "kafka.autocloud-eu.svc:9092", "--docs", "https://example.com/a.b.svc"],
}
DEPLOYMENT_PROPS = {
    "metadata": {"namespace": "autocloud-eu"},
    "spec": {"template": {"spec": {"containers": [CONTAINER], "initContainers": [changed(CONTAINER, "name", "init")]}}},
}
CONFIG_PROPS = {
    "metadata": {"namespace": "autocloud-eu"},
    "data": {"routes.yaml": "target: kafka.autocloud-eu.svc:9092"},
}


def stack(*extra: ResourceView) -> list[ResourceView]:
    return [
        ResourceView.of(NAMESPACE, {"metadata": {"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}}}),
        ResourceView.of(
            NAMESPACE, {"metadata": {"name": "fleet-b", "labels": {"autocloud.io/region": "us"}}}, name="b"
        ),
        *extra,
    ]


def test_accepts_own_region_endpoints(eu: RuleContext) -> None:
    resources = stack(
        ResourceView.of(DEPLOYMENT, DEPLOYMENT_PROPS, name="router"), ResourceView.of(CONFIG_MAP, CONFIG_PROPS)
    )
    assert judge(RULE, resources, eu) == []


def test_refuses_env_reaching_other_region(eu: RuleContext) -> None:
    props = changed(
        DEPLOYMENT_PROPS,
        "spec.template.spec.containers.0.env.0.value",
        "mqtt://mqtt.autocloud-us.svc.cluster.local:1883",
    )
    found = judge(RULE, stack(ResourceView.of(DEPLOYMENT, props, name="router")), eu)
    assert len(found) == 1
    assert found[0].urn.endswith("::router")
    assert "container 'router' env BROKER reaches 'mqtt.autocloud-us.svc' in namespace 'autocloud-us' of region us" in (
        found[0].message
    )


def test_refuses_args_reaching_declared_foreign_namespace(eu: RuleContext) -> None:
    props = changed(DEPLOYMENT_PROPS, "spec.template.spec.initContainers.0.args.1", "kafka.fleet-b.svc:9092")
    assert (
        "container 'init' args reaches 'kafka.fleet-b.svc'"
        in details(RULE, stack(ResourceView.of(DEPLOYMENT, props)), eu)[0]
    )


def test_refuses_cron_job_env(eu: RuleContext) -> None:
    props = {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [changed(CONTAINER, "env.0.value", "http://x.autocloud-cn.svc")]}
                    }
                }
            }
        }
    }
    assert len(details(RULE, stack(ResourceView.of(CRON_JOB, props)), eu)) == 1


def test_refuses_config_map_reaching_other_region(eu: RuleContext) -> None:
    props = {"metadata": {"namespace": "autocloud-eu"}, "data": {"routes.yaml": "target: kafka.autocloud-us.svc:9092"}}
    assert (
        "data['routes.yaml'] reaches 'kafka.autocloud-us.svc'"
        in details(RULE, stack(ResourceView.of(CONFIG_MAP, props)), eu)[0]
    )
