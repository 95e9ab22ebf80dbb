"""Collections in X's envelope: count / cursor paging (next_cursor null on the last page), sort_by,
with_total_count (not with a cursor), and the request echo."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.x.errors import XError, invalid_parameter
from sandbox.x.request import XParams

DEFAULT_COUNT, MAX_COUNT = 200, 1000


def _encode_cursor(offset: int) -> str:
    return "c-" + base64.urlsafe_b64encode(f"x:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = cursor.removeprefix("c-")
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, offset = text.split(":")
        if prefix != "x" or int(offset) < 0:
            raise ValueError(cursor)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter("cursor", f'Invalid cursor "{cursor}"') from None


def _sort(rows: list[dict[str, Any]], sort_by: str | None) -> list[dict[str, Any]]:
    if sort_by is None:
        return rows
    for spec in reversed(sort_by.split(",")):
        field, _, direction = spec.partition("-")
        if direction not in ("asc", "desc") or (rows and field not in rows[0]):
            raise invalid_parameter("sort_by", f'Invalid sort_by "{spec}": use <attribute>-asc or -desc')
        present = [r for r in rows if r.get(field) is not None]
        absent = [r for r in rows if r.get(field) is None]
        present.sort(
            key=lambda r: str(r[field]) if isinstance(r[field], str) else r[field],
            reverse=direction == "desc",
        )
        rows = present + absent
    return rows


def page(rows: list[dict[str, Any]], params: XParams) -> dict[str, Any]:
    """One page of `rows` (already filtered) in the collection envelope."""
    count = params.integer("count", lo=1, hi=MAX_COUNT) or DEFAULT_COUNT
    cursor = params.string("cursor")
    with_total = params.boolean("with_total_count")
    if with_total and cursor is not None:
        raise XError(
            "EXCLUSIVE_PARAMETERS",
            "with_total_count and cursor are exclusive parameters",
            parameter="with_total_count",
        )
    rows = _sort(rows, params.string("sort_by"))
    start = _decode_cursor(cursor) if cursor is not None else 0
    chunk = rows[start : start + count]
    more = start + count < len(rows)
    body: dict[str, Any] = {
        "request": {"params": params.echo()},
        "data": chunk,
        "next_cursor": _encode_cursor(start + count) if more else None,
    }
    if with_total:
        body["total_count"] = len(rows)
    return body


def single(obj: dict[str, Any], params: XParams) -> dict[str, Any]:
    return {"request": {"params": params.echo()}, "data": obj}
