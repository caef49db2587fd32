"""Maps on the local target: a stub HTTP service, only where the profile enables Maps.

No map data is served; the stub answers so that clients configured with the ``maps`` endpoint start.
It is BusyBox's httpd on the BusyBox image built here (`autocloud.runtime.images`), serving one JSON file.
Azure China has no Azure Maps, and the cn profile disables it, so the local cn stack has no stub either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial

import pulumi

from components.contracts import MapsEndpoints
from components.local.kube import ContainerResources, HttpProbe, LocalPlacement, Mount, Workload, deploy_workload
from platform_model.local_images import image_reference

STUB_PORT = 8080
STUB_UID = 65532
"""httpd needs nothing of root; any unprivileged UID works."""
STUB_SCRIPT = (
    'mkdir -p /tmp/www && printf "%s" "$BODY" > /tmp/www/index.html || exit 1\n'
    "httpd -f -p {port} -h /tmp/www & trap 'kill $!; exit 0' TERM; wait"
)
"""Writes the body where the read-only root filesystem allows (an emptyDir on /tmp), then serves it. The
shell stays PID 1 and ends httpd on SIGTERM: as PID 1, httpd itself would ignore SIGTERM (the kernel
gives PID 1 no default action) and every stop would wait out the pod's whole grace period."""
RESOURCES = ContainerResources(cpu_request_m=10, memory_request_mi=16, cpu_limit_m=50, memory_limit_mi=32)
OBJECT_NAME = "maps"


@dataclass(frozen=True)
class LocalMapsServiceArgs:
    """The region's Maps stub."""

    placement: LocalPlacement
    """Required. The region's namespace and labels."""
    image: str = field(default_factory=partial(image_reference, "busybox"))
    """Optional, default the BusyBox image built here."""


def stub_workload(region: str, image: str) -> Workload:
    """BusyBox httpd serving one fixed JSON body: enough for clients given the ``maps`` endpoint to start."""
    body = json.dumps({"service": "maps", "region": region, "stub": True}, sort_keys=True)
    return Workload(
        name=OBJECT_NAME,
        app="maps-stub",
        component="maps",
        image=image,
        port=STUB_PORT,
        port_name="http",
        resources=RESOURCES,
        run_as_user=STUB_UID,
        args=["-c", STUB_SCRIPT.format(port=STUB_PORT)],
        env={"BODY": body},
        mounts=[Mount(name="tmp", path="/tmp", source={"emptyDir": {"sizeLimit": "1Mi"}})],
        readiness=HttpProbe("/index.html", STUB_PORT),
        read_only_root=True,
        recreate=False,
    )


class LocalMapsService(pulumi.ComponentResource):
    """A stub Deployment + Service answering every request with a fixed JSON body."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    location: str
    endpoints: pulumi.Output[MapsEndpoints]

    def __init__(self, name: str, args: LocalMapsServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("autocloud:local:MapsService", name, None, opts)
        placement = args.placement
        self.location = placement.location
        workload = stub_workload(placement.region, args.image)
        deployed = deploy_workload(f"{name}-stub", self, placement, workload)

        self.name = deployed.deployment.metadata.apply(lambda m: m.name or OBJECT_NAME)
        self.resource_id = deployed.deployment.id
        self.endpoints = pulumi.Output.from_input(MapsEndpoints(api=f"http://{deployed.host}:{deployed.port}"))
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "location": self.location,
                "endpoints": self.endpoints,
            }
        )
