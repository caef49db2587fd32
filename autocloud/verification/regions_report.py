"""``autocloud regions``: every jurisdiction, whether Azure can serve it and how, as text or JSON.

Reads the jurisdiction catalog (``platform_model.jurisdictions``) and the region profiles under ``regions/`` (which
profile serves which jurisdiction); nothing is asked of Azure, so it runs offline. A carmaker's first question per
market, "can we be there at all?", is the verdict; the limits say which services stay home and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from platform_model.formats import OutputFormat
from platform_model.jurisdictions import Jurisdiction, jurisdictions
from platform_model.locations import SERVICE_NAMES
from platform_model.profiles import available_profiles, load_profile


def serving_profiles(root: Path | None = None) -> dict[str, list[str]]:
    """Jurisdiction name -> the region profiles that serve it (a broken profile is a ConfigError, exit 2)."""
    served: dict[str, list[str]] = {}
    for name in available_profiles(root):
        profile = load_profile(name, root)
        served.setdefault(profile.jurisdiction, []).append(profile.name)
    return served


def jurisdiction_json(found: Jurisdiction, profiles: Sequence[str]) -> dict[str, Any]:
    """One jurisdiction as the JSON document lists it."""
    return {
        "name": found.name,
        "title": found.title,
        "verdict": found.verdict,
        "without": list(found.without),
        "reason": found.reason,
        "cloud": found.cloud,
        "locations": list(found.locations),
        "restricted": list(found.restricted),
        "rule": {
            "law": found.rule.law,
            "must_stay": found.rule.must_stay,
            "may_leave": found.rule.may_leave,
            "source": found.rule.source,
            "quote": found.rule.quote,
        },
        "limited": [
            {
                "service": flow.service,
                "kept": flow.kept,
                "where": flow.where,
                "condition": flow.condition or None,
                "source": flow.source,
            }
            for flow in found.flows.values()
            if flow.limited
        ],
        "profiles": list(profiles),
        "notes": list(found.notes),
        "read": found.read.isoformat(),
        "sources": list(found.sources),
        "file": found.file,
    }


def _verdict_line(found: Jurisdiction) -> str:
    if found.verdict == "deployable-without":
        return f"deployable without {', '.join(found.without)}"
    return found.verdict


def jurisdiction_text(found: Jurisdiction, profiles: Sequence[str]) -> list[str]:
    """One jurisdiction as a block of lines."""
    lines = [f"{found.name} ({found.title}): {_verdict_line(found)}", f"  why: {found.reason}"]
    lines.append(f"  law: {found.rule.law}")
    lines.append(f"    must stay: {found.rule.must_stay}")
    lines.append(f"    may leave: {found.rule.may_leave}")
    if found.locations:
        named = [f"{loc} (restricted)" if loc in found.restricted else loc for loc in found.locations]
        lines.append(f"  Azure locations: {', '.join(named)}")
    else:
        lines.append("  Azure locations: none")
    limited = [flow for flow in found.flows.values() if flow.limited]
    if not limited:
        lines.append("  limited services: none")
    elif not found.open_locations:
        lines.append("  limited services: all (no open Azure location)")
    else:
        lines.append("  limited services:")
        for flow in limited:
            state = f"only with {flow.condition}" if flow.kept else "left out"
            lines.append(f"    {SERVICE_NAMES[flow.service]}: {state}; {flow.where}")
    lines.append(f"  profile: {', '.join(profiles) if profiles else 'none'}")
    for note in found.notes:
        lines.append(f"  note: {note}")
    lines.append(f"  sources (read {found.read.isoformat()}):")
    lines += [f"    {source}" for source in found.sources]
    return lines


def regions_command(
    fmt: OutputFormat, found: Mapping[str, Jurisdiction] | None = None, root: Path | None = None
) -> str:
    """What ``autocloud regions`` prints."""
    listed = jurisdictions() if found is None else found
    served = serving_profiles(root)
    if fmt == OutputFormat.JSON:
        doc = [jurisdiction_json(j, served.get(name, [])) for name, j in listed.items()]
        return json.dumps({"jurisdictions": doc}, indent=2) + "\n"
    blocks = ["\n".join(jurisdiction_text(j, served.get(name, []))) for name, j in listed.items()]
    return "\n\n".join(blocks) + "\n"
