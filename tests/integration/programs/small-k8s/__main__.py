"""A small Kubernetes program for the engine tests: a Namespace, a ConfigMap and a Deployment."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
namespace_name = config.require("namespace")
replicas = config.get_int("replicas") or 2
# Built here and imported into the embedded node (no registry is reachable); an image that is not
# keeps the Deployment from ever becoming ready, so a test can interrupt its create.
image = config.get("image") or "autocloud.local/pause:3.10"

provider = k8s.Provider("local", kubeconfig=config.require_secret("kubeconfig"))
opts = pulumi.ResourceOptions(provider=provider)

namespace = k8s.core.v1.Namespace(
    "ns",
    metadata={"name": namespace_name, "labels": {"autocloud.io/region": "eu"}},
    opts=opts,
)
settings = k8s.core.v1.ConfigMap(
    "settings",
    metadata={"name": "settings", "namespace": namespace.metadata["name"]},
    data={"greeting": "hello"},
    opts=opts,
)
labels = {"app.kubernetes.io/name": "web"}
deployment = k8s.apps.v1.Deployment(
    "web",
    metadata={"name": "web", "namespace": namespace.metadata["name"]},
    spec={
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }
                ]
            },
        },
    },
    opts=opts,
)

pulumi.export("namespace", namespace.metadata["name"])
pulumi.export("ready_replicas", deployment.status["ready_replicas"])
