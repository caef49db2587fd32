"""Work only a real deployment may do (shelling out, waiting), guarded the way `pulumi preview` expects."""

import pulumi
import pulumi_azure_native as azure_native

TAGS = {"region": "eu", "data-residency": "eu", "data-classification": "vehicle-data"}

group = azure_native.resources.ResourceGroup("app", location="westeurope", tags=TAGS)

if not pulumi.runtime.is_dry_run():
    raise RuntimeError("this would have called `az` and waited for the deployment")


def seed(properties: object) -> str:
    raise RuntimeError(f"seeding runs only once the group exists: {properties}")


# `properties` is computed by Azure: unknown at preview, so the callback does not run.
group.properties.apply(seed)
