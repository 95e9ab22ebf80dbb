"""Entity lists: `filtering`, `fields` and page-number paging with `page_info`, as TikTok pages them."""

from __future__ import annotations

import math
from typing import Any

from sandbox.tiktok.errors import invalid
from sandbox.tiktok.request import TikTokParams

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
# Time filters compare TikTok's "YYYY-MM-DD HH:MM:SS" strings, which sort as times.
TIME_FILTERS = {
    "modified_after": ("modify_time", True),
    "creation_filter_start_time": ("create_time", True),
    "creation_filter_end_time": ("create_time", False),
}
# Filters on settings every sandbox entity shares (one objective, one buying type): nothing to narrow.
IGNORED_FILTERS = {"objective_type", "buying_types", "billing_events", "optimization_goal"}
PRIMARY = ("STATUS_ALL", "STATUS_DELIVERY_OK", "STATUS_DISABLE", "STATUS_DELETE", "STATUS_NOT_DELETE")


def page_window(params: TikTokParams) -> tuple[int, int]:
    page = params.integer("page", default=1, lo=1, hi=10**9)
    size = params.integer("page_size", default=DEFAULT_PAGE_SIZE, lo=1, hi=MAX_PAGE_SIZE)
    return int(page), int(size)


def paged(rows: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    total = len(rows)
    return {
        "list": rows[(page - 1) * size : page * size],
        "page_info": {
            "page": page,
            "page_size": size,
            "total_number": total,
            "total_page": math.ceil(total / size) if total else 0,
        },
    }


def select(rows: list[dict[str, Any]], params: TikTokParams, id_field: str) -> list[dict[str, Any]]:
    """Only the asked `fields` (all when absent); an unknown field name is 40002."""
    fields = params.string_list("fields")
    if fields is None or not rows:
        return rows
    known = set(rows[0])
    for f in fields:
        if f not in known:
            raise invalid("fields", f"unknown field {f!r}")
    keep = [id_field, *[f for f in fields if f != id_field]] if id_field in fields else fields
    return [{f: r[f] for f in keep} for r in rows]


def filter_rows(
    rows: list[dict[str, Any]], params: TikTokParams, *, level: str, keys: dict[str, str]
) -> list[dict[str, Any]]:
    """Apply `filtering` (id lists, name, primary/secondary status); deleted rows only when asked.

    `keys` maps a filter key (campaign_ids, ...) to the row field it matches.
    """
    spec = params.obj("filtering") or {}
    if not isinstance(spec, dict):
        raise invalid("filtering", "must be a JSON object")
    allowed = {*keys, "primary_status", "secondary_status", f"{level}_name", *TIME_FILTERS, *IGNORED_FILTERS}
    for key in spec:
        if key not in allowed:
            raise invalid(f"filtering.{key}", "unknown filter key for this endpoint")
    out = rows
    for key, field in keys.items():
        if spec.get(key) is not None:
            wanted = spec[key]
            if not isinstance(wanted, list) or not wanted:
                raise invalid(f"filtering.{key}", "must be a non-empty list of ids")
            ids = {str(i) for i in wanted}
            out = [r for r in out if str(r[field]) in ids]
    for key, (row_field, after) in TIME_FILTERS.items():
        if spec.get(key) is not None:
            bound = str(spec[key])
            out = [r for r in out if (r[row_field] >= bound if after else r[row_field] <= bound)]
    name = spec.get(f"{level}_name")
    if name is not None:
        out = [r for r in out if str(name).lower() in str(r[f"{level}_name"]).lower()]
    secondary, primary = spec.get("secondary_status"), spec.get("primary_status")
    everything = f"{level.upper()}_STATUS_ALL"
    if primary is not None and primary not in PRIMARY:
        raise invalid("filtering.primary_status", f"must be one of {', '.join(PRIMARY)}")
    if secondary is not None and (
        not isinstance(secondary, str) or not secondary.startswith(f"{level.upper()}_")
    ):
        raise invalid("filtering.secondary_status", f"must be a {level.upper()}_STATUS_* value")
    deleted = f"{level.upper()}_STATUS_DELETE"
    if secondary not in (None, everything):
        out = [r for r in out if r["secondary_status"] == secondary]
    elif primary == "STATUS_DELETE":
        out = [r for r in out if r["secondary_status"] == deleted]
    elif primary == "STATUS_DELIVERY_OK":
        out = [r for r in out if r["secondary_status"].endswith("DELIVERY_OK")]
    elif primary == "STATUS_DISABLE":
        out = [
            r
            for r in out
            if r["secondary_status"] != deleted and not r["secondary_status"].endswith("DELIVERY_OK")
        ]
    elif secondary != everything and primary != "STATUS_ALL":
        out = [r for r in out if r["secondary_status"] != deleted]  # deleted rows are hidden by default
    return out
