"""Cursor paging, field selection and filtering of Graph edges, as Meta does them."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from sandbox.meta.errors import invalid_parameter, nonexisting_field, reduce_data
from sandbox.meta.request import GraphParams

DEFAULT_LIMIT = 25
MAX_LIMIT = 5000
# Beyond this many cells (rows x fields) in one page Meta answers code 1 "reduce the amount of data".
MAX_PAGE_CELLS = 200_000
HIDDEN_BY_DEFAULT = {"DELETED", "ARCHIVED"}
OPERATORS = {
    "EQUAL",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
    "IN",
    "NOT_IN",
    "CONTAIN",
    "NOT_CONTAIN",
    "IN_RANGE",
    "NOT_IN_RANGE",
}


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = raw.partition(":")
        if kind != "offset":
            raise ValueError(raw)
        return max(0, int(number))
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter(f"Param {field} is not a valid paging cursor", field=field) from None


def select_fields(
    obj: dict[str, Any],
    fields: list[str] | None,
    node_type: str,
    *,
    default: tuple[str, ...] = ("id",),
) -> dict[str, Any]:
    wanted = fields or list(default)
    out: dict[str, Any] = {}
    for f in wanted:
        if f not in obj:
            if f in OPTIONAL_FIELDS.get(node_type, ()):
                continue  # a known field with no value on this object: Graph leaves it out
            raise nonexisting_field(f, node_type)
        out[f] = obj[f]
    if "id" in obj and "id" not in out:
        out["id"] = obj["id"]
    return out


# Fields Graph knows on a node type but only sends when they have a value.
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "Campaign": (
        "daily_budget",
        "lifetime_budget",
        "budget_remaining",
        "bid_strategy",
        "stop_time",
        "spend_cap",
    ),
    "AdSet": ("daily_budget", "lifetime_budget", "budget_remaining", "bid_amount", "end_time"),
    "Ad": ("ad_review_feedback", "bid_amount"),
}


def _value_for(obj: dict[str, Any], field: str) -> Any:
    if field in obj:
        return obj[field]
    if "." in field:
        head, _, tail = field.partition(".")
        if f"{head}_{tail}" in obj:
            return obj[f"{head}_{tail}"]
        nested = obj.get(head)
        if isinstance(nested, dict):
            return nested.get(tail)
    return None


def _as_comparable(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _matches(value: Any, operator: str, target: Any) -> bool:
    v, t = _as_comparable(value), target
    listed = t if isinstance(t, list) else [t]
    try:
        match operator:
            case "EQUAL":
                return str(value) == str(t)
            case "NOT_EQUAL":
                return str(value) != str(t)
            case "IN":
                return str(value) in {str(x) for x in listed}
            case "NOT_IN":
                return str(value) not in {str(x) for x in listed}
            case "CONTAIN":
                return str(t).lower() in str(value).lower()
            case "NOT_CONTAIN":
                return str(t).lower() not in str(value).lower()
            case "GREATER_THAN":
                return v > _as_comparable(t)
            case "GREATER_THAN_OR_EQUAL":
                return v >= _as_comparable(t)
            case "LESS_THAN":
                return v < _as_comparable(t)
            case "LESS_THAN_OR_EQUAL":
                return v <= _as_comparable(t)
            case "IN_RANGE":
                return _as_comparable(listed[0]) <= v <= _as_comparable(listed[1])
            case "NOT_IN_RANGE":
                return not _as_comparable(listed[0]) <= v <= _as_comparable(listed[1])
    except (TypeError, IndexError):
        return False
    return False


def filter_objects(objs: list[dict[str, Any]], params: GraphParams) -> list[dict[str, Any]]:
    """Apply `effective_status` and `filtering`; deleted and archived objects are hidden unless asked for."""
    statuses = params.string_list("effective_status")
    rules = params.json("filtering", list) or []
    asked_status = statuses is not None or any(
        isinstance(r, dict) and r.get("field") == "effective_status" for r in rules
    )
    out = [o for o in objs if asked_status or o.get("effective_status") not in HIDDEN_BY_DEFAULT]
    if statuses is not None:
        out = [o for o in out if o.get("effective_status") in statuses]
    for rule in rules:
        if not isinstance(rule, dict) or not {"field", "operator", "value"} <= set(rule):
            raise invalid_parameter("each filtering entry needs field, operator and value", field="filtering")
        if rule["operator"] not in OPERATORS:
            raise invalid_parameter(
                f"filtering operator {rule['operator']} is not one of {sorted(OPERATORS)}", field="filtering"
            )
        out = [o for o in out if _matches(_value_for(o, str(rule["field"])), rule["operator"], rule["value"])]
    return out


def page(
    items: list[dict[str, Any]], params: GraphParams, *, url: str, query: dict[str, str], width: int = 1
) -> dict[str, Any]:
    """One page of `items` with Graph's paging block (`next` only when more remain) and optional summary."""
    limit = params.integer("limit", minimum=1) or DEFAULT_LIMIT
    if limit > MAX_LIMIT or limit * max(width, 1) > MAX_PAGE_CELLS:
        raise reduce_data()
    after = params.raw("after")
    before = params.raw("before")
    start = decode_cursor(after, "after") + 1 if after else 0
    if before:
        start = max(0, decode_cursor(before, "before") - limit)
    chunk = items[start : start + limit]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        last = start + len(chunk) - 1
        paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": encode_cursor(last)}}
        if last + 1 < len(items):
            q = {k: v for k, v in query.items() if k not in ("after", "before")}
            q["after"] = encode_cursor(last)
            paging["next"] = f"{url}?{urlencode(q)}"
        if start > 0:
            q = {k: v for k, v in query.items() if k not in ("after", "before")}
            q["before"] = encode_cursor(start)
            paging["previous"] = f"{url}?{urlencode(q)}"
        body["paging"] = paging
    if params.boolean("summary"):
        body["summary"] = {"total_count": len(items)}
    return body
