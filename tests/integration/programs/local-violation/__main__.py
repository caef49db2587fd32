"""The repository's program with one deliberate residency violation, for the policy-pack tests.

The per-run override ``violation:kind`` (``platform_model.stack.OVERRIDES_ENV``; a test-only namespace the
program itself ignores) picks it:
- ``unlabelled-namespace``: the region namespace loses its ``autocloud.io/region`` label;
- ``foreign-endpoint``: scale unit 1's broker routes point at the US region's namespace.
Everything else is the real program, run from the repository through the symlinked packages.
"""

import json
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi

import components
from platform_model.stack import OVERRIDES_ENV
from platform_model.vocabulary import REGION_LABEL

KIND = json.loads(os.environ.get(OVERRIDES_ENV, "{}")).get("violation:kind")
PROGRAM = Path(components.__file__).resolve().parents[1] / "__main__.py"


def _without_region_label(props: dict[str, Any]) -> dict[str, Any]:
    metadata = dict(props["metadata"])
    metadata["labels"] = {k: v for k, v in metadata["labels"].items() if k != REGION_LABEL}
    return props | {"metadata": metadata}


def _pointing_at_us(props: dict[str, Any]) -> dict[str, Any]:
    data = {key: value.replace(".autocloud-eu.svc", ".autocloud-us.svc") for key, value in props["data"].items()}
    return props | {"data": data}


def violate(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    if KIND == "unlabelled-namespace" and args.type_ == "kubernetes:core/v1:Namespace":
        return pulumi.ResourceTransformationResult(_without_region_label(args.props), args.opts)
    if (
        KIND == "foreign-endpoint"
        and args.type_ == "kubernetes:core/v1:ConfigMap"
        and args.name.endswith("telemetry-1-config")
    ):
        return pulumi.ResourceTransformationResult(_pointing_at_us(args.props), args.opts)
    return None


pulumi.runtime.register_stack_transformation(violate)
runpy.run_path(str(PROGRAM), run_name="__main__")
