"""`autocloud cost --refresh-prices`: re-read the price table's public prices from the Azure Retail Prices API.

Where a network allows. Each public (USD) entry is looked up by its own serviceName, armRegionName and
meterName, consumption prices only (https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices);
a match with the same unitOfMeasure updates unitPrice, effectiveStartDate, the day taken and the source (the
query). Azure China has no retail API: its entries stay as read from the azure.cn pages. The file is edited
in place, entry by entry, so its comments and sources stay; the result is validated before it is written.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platform_model.inputs import parse_yaml
from platform_model.prices import PRICES_PATH, Price, parse_table

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
TIMEOUT_S = 30
MAX_PAGES = 10
"""A query for one meter in one location answers in a page or two; more is a query gone wrong."""

Fetch = Callable[[str], bytes]

_ENTRY = re.compile(r"^  - \{.*?\}[ \t]*$", re.MULTILINE | re.DOTALL)


def _http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        body: bytes = response.read()
        return body


def _literal(value: str) -> str:
    """A string in an OData filter: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def query_url(price: Price) -> str:
    """The Retail Prices API query for one entry's meter in its location (consumption prices)."""
    clauses = (
        f"serviceName eq {_literal(price.service_name)}",
        f"armRegionName eq {_literal(price.arm_region_name)}",
        f"meterName eq {_literal(price.meter_name)}",
        "priceType eq 'Consumption'",
    )
    return f"{RETAIL_PRICES_URL}?{urllib.parse.urlencode({'$filter': ' and '.join(clauses)})}"


def retail_items(url: str, fetch: Fetch) -> list[dict[str, Any]]:
    """Every item the API answers, following NextPageLink."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if not next_url:
            break
        page = json.loads(fetch(next_url))
        items += [item for item in page.get("Items", []) if isinstance(item, dict)]
        next_url = page.get("NextPageLink")
    return items


def _replace(entry: str, key: str, value: str) -> str:
    return re.sub(rf"({key}: )(\"[^\"]*\"|[^,}}\n]*)", lambda m: m.group(1) + value, entry, count=1)


def refresh_text(text: str, label: str, fetch: Fetch, today: datetime.date) -> tuple[str, list[str]]:
    """The table's text with every public price the API answers for updated, and one line per entry."""
    report: list[str] = []

    def refresh(match: re.Match[str]) -> str:
        entry = match.group(0)
        parsed = parse_yaml(entry.strip()[2:], label)
        price = Price.model_validate(parsed)
        where = f"{price.meter} in {price.arm_region_name}"
        if price.currency_code != "USD":
            return entry
        url = query_url(price)
        try:
            items = retail_items(url, fetch)
        except (OSError, ValueError) as error:
            report.append(f"{where}: not refreshed: {error}")
            return entry
        same_unit = [item for item in items if item.get("unitOfMeasure") == price.unit_of_measure]
        if not same_unit:
            units = sorted({str(item.get("unitOfMeasure")) for item in items})
            found = f"only in {', '.join(units)}" if units else "no such meter"
            report.append(f"{where}: not refreshed: {found}")
            return entry
        item = same_unit[0]
        unit_price = float(item["unitPrice"])
        start = str(item.get("effectiveStartDate") or "")[:10] or "null"
        entry = _replace(entry, "unitPrice", f"{unit_price:g}")
        entry = _replace(entry, "effectiveStartDate", start)
        entry = _replace(entry, "taken", today.isoformat())
        entry = _replace(entry, "source", json.dumps(url))
        entry = _replace(
            entry, "quote", json.dumps(f"Retail Prices API: unitPrice {unit_price:g} per {price.unit_of_measure}")
        )
        report.append(f"{where}: {price.unit_price:g} -> {unit_price:g} {price.currency_code}")
        return entry

    updated = _ENTRY.sub(refresh, text)
    parse_table(parse_yaml(updated, label), label)  # never write a table that would not load
    return updated, report


def refresh_price_file(
    path: Path = PRICES_PATH, fetch: Fetch = _http_get, today: datetime.date | None = None
) -> list[str]:
    """Refresh ``path`` in place; returns what changed or could not be refreshed, one line per entry."""
    text = path.read_text(encoding="utf-8")
    updated, report = refresh_text(text, path.name, fetch, today or datetime.date.today())
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return report
