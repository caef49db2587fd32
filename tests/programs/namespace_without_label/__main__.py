"""kubernetes-namespace-region-label: a region namespace without its autocloud.io/region label."""

import pulumi_kubernetes as kubernetes

kubernetes.core.v1.Namespace("region", metadata={"name": "autocloud-eu", "labels": {"team": "fleet"}})
