"""No workload or ConfigMap points at a service in another region's namespace.

Scans container env values, commands and args of every workload (Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, Job, CronJob) and every ConfigMap data value for in-cluster service DNS
names `<service>.<namespace>.svc[.cluster.local]`, and refuses those whose namespace belongs to
another region. Bare `<service>.<namespace>` names are not matched: they are indistinguishable
from public hosts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from policies.facts.kubernetes import CONFIG_MAP, POD_SPECS, SERVICE_DNS, Namespaces, containers
from policies.facts.props import get, items, mappings
from policies.model import ResourceView, RuleContext, StackRule


def _strings(view: ResourceView) -> Iterator[tuple[str, str]]:
    if view.type == CONFIG_MAP:
        data = get(view.props, "data")
        if isinstance(data, Mapping):
            for key, value in data.items():
                if isinstance(value, str):
                    yield f"data['{key}']", value
        return
    for container in containers(get(view.props, POD_SPECS[view.type])):
        name = container.get("name", "?")
        for env in mappings(container.get("env")):
            value = env.get("value")
            if isinstance(value, str):
                yield f"container '{name}' env {env.get('name', '?')}", value
        for key in ("command", "args"):
            for value in items(container.get(key)):
                if isinstance(value, str):
                    yield f"container '{name}' {key}", value


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    namespaces = Namespaces(resources, ctx)
    for view in resources:
        if view.type != CONFIG_MAP and view.type not in POD_SPECS:
            continue
        for where, text in _strings(view):
            for match in SERVICE_DNS.finditer(text):
                namespace = match.group(1).lower()
                if namespaces.is_foreign(namespace):
                    yield (
                        view.urn,
                        (
                            f"{where} reaches '{match.group(0)}' in namespace '{namespace}' of region "
                            f"{namespaces.region_of(namespace)} (allowed: services in namespaces of region "
                            f"{ctx.region})"
                        ),
                    )


RULE = StackRule(
    name="kubernetes-cross-region-endpoint",
    description="No container env, command, args or ConfigMap value addresses a service in another region's namespace.",
    remediation="Point workloads at the service of the same region's namespace (the component's endpoint "
    "outputs), never at another region's.",
    validate=validate,
)
