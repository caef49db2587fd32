"""``autocloud prerequisites``: what an azure stack's first apply needs, as text or JSON.

Reads the stack as every tool does (``platform_model.stack.resolve_stack``: stack file, region profile
with the stack's fleet overrides, capacity plan) and prints ``platform_model.prerequisites.first_apply``;
nothing is asked of Azure, so it runs offline and before any credential exists.
"""

from __future__ import annotations

import json
from typing import Any

from platform_model.errors import InputError, excerpt
from platform_model.formats import OutputFormat
from platform_model.prerequisites import FirstApply, first_apply
from platform_model.stack import require_stack, resolve_stack, stack_config, stack_names


def prerequisites_for_stack(stack: str) -> tuple[str, FirstApply]:
    """The stack's name and what its first apply needs; InputError (exit 2) for a stack that has no file
    under stacks/ or does not target Azure (ConfigError for a stack file that is there but wrong)."""
    require_stack(stack, "prerequisites")
    if stack_config(stack).target != "azure":
        azure = ", ".join(name for name in stack_names() if stack_config(name).target == "azure")
        raise InputError(
            f"prerequisites: stack {excerpt(stack)} targets the local cluster; Azure prerequisites apply to "
            f"azure stacks ({azure})"
        )
    resolved = resolve_stack(stack)
    return stack, first_apply(resolved.profile, resolved.plan)


def prerequisites_json(stack: str, needs: FirstApply) -> dict[str, Any]:
    return {"stack": stack, **needs.to_dict()}


def prerequisites_text(stack: str, needs: FirstApply) -> list[str]:
    """The checklist a platform engineer works through before ``pulumi up``, one line per item."""
    lines = [f"Before the first apply of {stack} (region {needs.region}, cloud {needs.cloud}):", ""]
    lines.append(f"Azure CLI cloud: az cloud set --name {needs.az_cloud}")
    lines += [
        "",
        f"Resource providers to register (pulumi-azure-native does not: {needs.providers_not_registered_by}):",
    ]
    for provider in needs.providers:
        lines.append(f"  {provider.command}    # {provider.why}")
    lines.append(f"  source: {needs.providers_source}")
    lines += ["", "The deployer's roles:"]
    for role in needs.roles:
        lines.append(f"  to {role.purpose}: one of {', '.join(role.any_of)} on the {role.scope}")
        lines.append(f"    source: {role.source}")
    lines += ["", "Quotas needed:"]
    for quota in needs.quotas:
        limit = f" (limit {quota.limit})" if quota.limit is not None else ""
        where = "per subscription" if quota.location == "subscription" else f"in {quota.location}"
        lines.append(f"  {quota.quota} {where}: {quota.needed}{limit}")
        lines.append(f"    {quota.basis}")
        lines.append(f"    check: {quota.check}")
        lines.append(f"    source: {quota.source}")
    if not needs.quotas:
        lines.append("  none of the published quotas this stack's services count against")
    lines += ["", "Region access:"]
    for note in needs.region_access:
        lines.append(f"  {note.location}: {note.note}")
        lines.append(f"    check: {note.check}")
        lines.append(f"    source: {note.source}")
    if not needs.region_access:
        lines.append("  nothing beyond the locations themselves (restricted locations are refused by the profile)")
    return lines


def prerequisites_command(stack: str, fmt: OutputFormat) -> str:
    """What ``autocloud prerequisites`` prints."""
    name, needs = prerequisites_for_stack(stack)
    if fmt == OutputFormat.JSON:
        return json.dumps(prerequisites_json(name, needs), indent=2) + "\n"
    return "\n".join(prerequisites_text(name, needs)) + "\n"
