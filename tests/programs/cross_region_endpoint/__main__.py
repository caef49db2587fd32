"""kubernetes-cross-region-endpoint: an EU workload publishing to the US region's broker."""

import pulumi
import pulumi_kubernetes as kubernetes

namespace = kubernetes.core.v1.Namespace(
    "region", metadata={"name": "autocloud-eu", "labels": {"autocloud.io/region": "eu"}}
)
kubernetes.apps.v1.Deployment(
    "router",
    metadata={"name": "router", "namespace": "autocloud-eu"},
    spec={
        "selector": {"match_labels": {"app": "router"}},
        "template": {
            "metadata": {"labels": {"app": "router"}},
            "spec": {
                "containers": [
                    {
                        "name": "router",
                        "image": "registry.local/router:1",
                        "env": [{"name": "BROKER", "value": "mqtt://mqtt.autocloud-us.svc.cluster.local:1883"}],
                    }
                ]
            },
        },
    },
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
)
