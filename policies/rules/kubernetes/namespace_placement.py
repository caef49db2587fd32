"""Nothing of this stack is created inside another region's namespace.

A stack deploys one region; an object placed in another region's namespace runs (and keeps its
data) there, past every NetworkPolicy that separates the regions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from policies.facts.kubernetes import Namespaces, is_kubernetes, namespace_of
from policies.model import ResourceView, RuleContext, StackRule


def validate(resources: Sequence[ResourceView], ctx: RuleContext) -> Iterator[tuple[str, str]]:
    namespaces = Namespaces(resources, ctx)
    for view in resources:
        namespace = namespace_of(view) if is_kubernetes(view) else None
        if namespace is not None and namespaces.is_foreign(namespace):
            yield (
                view.urn,
                (
                    f"metadata.namespace '{namespace}' belongs to region {namespaces.region_of(namespace)} "
                    f"(allowed: namespaces of region {ctx.region})"
                ),
            )


RULE = StackRule(
    name="kubernetes-namespace-placement",
    description="Kubernetes objects are created only in namespaces of the stack's own region.",
    remediation="Create the object in the region namespace the ComputeCluster component outputs.",
    validate=validate,
)
