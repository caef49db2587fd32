"""A small Kubernetes program for the drift test: a Namespace, a ConfigMap, a Deployment and a Service."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
namespace_name = config.require("namespace")
provider = k8s.Provider("local", kubeconfig=config.require_secret("kubeconfig"))
opts = pulumi.ResourceOptions(provider=provider)
labels = {"app.kubernetes.io/name": "web"}

namespace = k8s.core.v1.Namespace("ns", metadata={"name": namespace_name}, opts=opts)
scoped = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])
k8s.core.v1.ConfigMap(
    "settings", metadata={"name": "settings", "namespace": namespace_name}, data={"greeting": "hello"}, opts=scoped
)
k8s.apps.v1.Deployment(
    "web",
    metadata={"name": "web", "namespace": namespace_name},
    spec={
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "autocloud.local/pause:3.10",
                        "imagePullPolicy": "Never",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }
                ]
            },
        },
    },
    opts=scoped,
)
k8s.core.v1.Service(
    "web-svc",
    metadata={"name": "web", "namespace": namespace_name},
    spec={"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
    opts=scoped,
)
