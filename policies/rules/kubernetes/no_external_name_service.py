"""No Service of type ExternalName.

An ExternalName service is a DNS alias to any host, including another region's namespace or an
endpoint outside the cluster; its target is invisible to NetworkPolicies. Reach in-region services
by their own names instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.facts.kubernetes import SERVICE
from policies.facts.props import get, show
from policies.model import ResourceRule, ResourceView, RuleContext


def validate(view: ResourceView, ctx: RuleContext) -> Iterator[str]:
    if get(view.props, "spec.type") == "ExternalName":
        target = get(view.props, "spec.externalName")
        yield (
            f"spec.type is 'ExternalName' aliasing {show(target)}, which NetworkPolicies cannot confine "
            "(allowed: ClusterIP, NodePort, LoadBalancer)"
        )


RULE = ResourceRule(
    name="kubernetes-no-external-name-service",
    description="Services are not of type ExternalName (an alias that can reach another region).",
    remediation="Use a ClusterIP Service in the region's own namespace and address it directly.",
    resource_types=frozenset({SERVICE}),
    validate=validate,
)
