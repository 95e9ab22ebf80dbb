"""Reports: `report/integrated/get/` (BASIC and AUDIENCE) aggregated from the market's ledger, and the
async report tasks (`report/task/create/`, `report/task/check/`, a CSV download served by the sandbox).

Metric values are strings; a ratio with a zero denominator is "-". Purchases are TikTok's
`conversion` and `complete_payment`; their value is `total_complete_payment_rate` (TikTok's name for
the total value of complete payments), with `complete_payment_roas` = value / spend.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from sandbox.market.ledger import METRICS, LedgerFrame
from sandbox.market.segments import COUNTRIES, GENDERS, SEGMENT_INDEX
from sandbox.tiktok.errors import invalid, no_permission
from sandbox.tiktok.nodes import AGE_NAMES, PLACEMENT_NAMES, TikTokView
from sandbox.tiktok.paging import page_window, paged
from sandbox.tiktok.request import TikTokParams

LEVELS = {
    "AUCTION_ADVERTISER": "advertiser_id",
    "AUCTION_CAMPAIGN": "campaign_id",
    "AUCTION_ADGROUP": "adgroup_id",
    "AUCTION_AD": "ad_id",
}
TIME_DIMS = ("stat_time_day", "stat_time_hour")
# AUDIENCE dimensions -> (market dimension, TikTok's value for each market value, in the market's order).
AUDIENCE_DIMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": ("age", tuple(AGE_NAMES.values())),
    "gender": ("gender", tuple({"female": "FEMALE", "male": "MALE"}[g] for g in GENDERS)),
    "country_code": ("country", COUNTRIES),
    "placement": ("placement", tuple(PLACEMENT_NAMES.values())),
}
METRIC_NAMES = (
    "spend",
    "impressions",
    "clicks",
    "ctr",
    "cpc",
    "cpm",
    "conversion",
    "cost_per_conversion",
    "conversion_rate",
    "complete_payment",
    "cost_per_complete_payment",
    "complete_payment_rate",
    "total_complete_payment_rate",
    "value_per_complete_payment",
    "complete_payment_roas",
)
NOT_MODELLED = {"reach", "frequency", "video_play_actions", "likes", "shares", "comments", "follows"}
DEFAULT_METRICS = ("spend", "impressions", "clicks", "ctr", "cpc", "cpm")
ACCEPTED = frozenset(
    {
        "advertiser_id",
        "service_type",
        "report_type",
        "data_level",
        "dimensions",
        "metrics",
        "start_date",
        "end_date",
        "query_lifetime",
        "filtering",
        "page",
        "page_size",
        "enable_total_metrics",
        "order_field",
        "order_type",
        "multi_adv_report_in_utc_time",
        "query_mode",
        "output_format",
        "file_name",
        "enable_report_title_translation",
    }
)
MAX_DAILY_DAYS = 30
MAX_TOTAL_DAYS = 365
FILTER_KEYS = {"campaign_ids": "campaign_id", "adgroup_ids": "adgroup_id", "ad_ids": "ad_id"}


@dataclass(frozen=True, kw_only=True)
class ReportQuery:
    account_id: str
    report_type: str
    id_dim: str
    time_dim: str | None
    audience_dim: str | None
    metrics: tuple[str, ...]
    since: dt.date
    until: dt.date
    filters: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(d for d in (self.id_dim, self.time_dim, self.audience_dim) if d)


def _date(params: TikTokParams, name: str) -> dt.date:
    value = params.string(name, required=True)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise invalid(name, 'must be a date "YYYY-MM-DD"') from None


def parse_report(view: TikTokView, params: TikTokParams) -> ReportQuery:
    account = view.advertiser(params.string("advertiser_id", required=True))
    params.choice("service_type", ("AUCTION",), default="AUCTION")
    report_type = params.choice("report_type", ("BASIC", "AUDIENCE"))
    if report_type is None:
        raise invalid("report_type", "this field is required (BASIC or AUDIENCE in the sandbox)")
    level = params.choice("data_level", tuple(LEVELS), default="AUCTION_ADVERTISER")
    id_dim = LEVELS[str(level)]
    dims = params.string_list("dimensions", required=True) or []
    time_dims = [d for d in dims if d in TIME_DIMS]
    audience = [d for d in dims if d in AUDIENCE_DIMS]
    for d in dims:
        if d not in (id_dim, *TIME_DIMS, *AUDIENCE_DIMS):
            raise invalid("dimensions", f"{d!r} is not a dimension of {report_type} at data_level {level}")
    if id_dim not in dims or len(time_dims) > 1 or len(dims) != len(set(dims)):
        raise invalid("dimensions", f"give {id_dim} and at most one of {', '.join(TIME_DIMS)}")
    if report_type == "BASIC" and audience:
        raise invalid("dimensions", f"{audience[0]} is an AUDIENCE dimension; use report_type AUDIENCE")
    if report_type == "AUDIENCE" and len(audience) != 1:
        raise invalid("dimensions", f"an AUDIENCE report takes one of {', '.join(AUDIENCE_DIMS)}")
    time_dim = time_dims[0] if time_dims else None
    if report_type == "AUDIENCE" and time_dim == "stat_time_hour":
        raise invalid("dimensions", "AUDIENCE reports are daily; stat_time_hour is BASIC only")
    metrics = tuple(params.string_list("metrics") or DEFAULT_METRICS)
    for m in metrics:
        if m in NOT_MODELLED:
            raise invalid("metrics", f"{m} is not modelled by the sandbox market")
        if m not in METRIC_NAMES:
            raise invalid("metrics", f"unknown metric {m!r}")
    today = view.market.now().date
    if params.boolean("query_lifetime"):
        if time_dim is not None:
            raise invalid("query_lifetime", "a lifetime report takes no time dimension")
        since, until = view.market.config.start_date, today
    else:
        since, until = _date(params, "start_date"), _date(params, "end_date")
        if since > until:
            raise invalid("start_date", "must not be after end_date")
        days = (until - since).days + 1
        if time_dim == "stat_time_hour" and days > 1:
            raise invalid(
                "end_date", "an hourly report (stat_time_hour) covers one day: start_date == end_date"
            )
        cap = MAX_DAILY_DAYS if time_dim == "stat_time_day" else MAX_TOTAL_DAYS
        if days > cap:
            raise invalid("end_date", f"the date range is at most {cap} days for this report; got {days}")
    filters = _filters(view, params, account.id)
    return ReportQuery(
        account_id=account.id,
        report_type=str(report_type),
        id_dim=id_dim,
        time_dim=time_dim,
        audience_dim=audience[0] if audience else None,
        metrics=metrics,
        since=since,
        until=until,
        filters=filters,
    )


def _filters(
    view: TikTokView, params: TikTokParams, account_id: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`filtering` as the SDK sends it ([{field_name, filter_type: IN, filter_value: "[...]"}]) or as
    the older object form ({"campaign_ids": [...]})."""
    spec = params.obj("filtering")
    if spec is None:
        return ()
    pairs: list[tuple[str, Any]] = []
    if isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        for item in spec:
            if not isinstance(item, dict) or "field_name" not in item or "filter_value" not in item:
                raise invalid("filtering", "each filter needs field_name, filter_type and filter_value")
            if item.get("filter_type", "IN") not in ("IN", "EQUALS"):
                raise invalid("filtering.filter_type", "the sandbox takes IN and EQUALS")
            value = item["filter_value"]
            if isinstance(value, str):
                try:
                    value = json.loads(value) if value.startswith("[") else [value]
                except ValueError:
                    raise invalid("filtering.filter_value", "must be a JSON list of ids") from None
            pairs.append((str(item["field_name"]), value))
    out = []
    for key, value in pairs:
        if key not in FILTER_KEYS:
            raise invalid(f"filtering.{key}", f"the sandbox filters reports on {', '.join(FILTER_KEYS)}")
        if not isinstance(value, list) or not value:
            raise invalid(f"filtering.{key}", "must be a non-empty list of ids")
        ids = tuple(sorted(str(v) for v in value))
        table = {
            "campaign_ids": view.world.campaigns,
            "adgroup_ids": view.world.adsets,
            "ad_ids": view.world.ads,
        }[key]
        for i in ids:
            entity = table.get(i)
            if entity is not None and entity.account_id != account_id:
                raise no_permission(f"{key[:-1]} {i}")
        out.append((key, ids))
    return tuple(out)


def _fmt(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _ratio(num: Decimal, den: int | Decimal, places: int = 2, scale: int = 1) -> str:
    return "-" if not den else _fmt(num * scale / Decimal(den), places)


def format_metrics(sums: dict[str, int], metrics: tuple[str, ...], exponent: int) -> dict[str, str]:
    spend = Decimal(sums["spend_micros"]) / 1_000_000
    value = Decimal(sums["value_micros"]) / 1_000_000
    imps, clicks, conv = sums["impressions"], sums["clicks"], sums["conversions"]
    table = {
        "spend": lambda: _fmt(spend, exponent),
        "impressions": lambda: str(imps),
        "clicks": lambda: str(clicks),
        "ctr": lambda: _ratio(Decimal(clicks), imps, scale=100),
        "cpc": lambda: _ratio(spend, clicks),
        "cpm": lambda: _ratio(spend, imps, scale=1000),
        "conversion": lambda: str(conv),
        "cost_per_conversion": lambda: _ratio(spend, conv),
        "conversion_rate": lambda: _ratio(Decimal(conv), clicks, scale=100),
        "complete_payment": lambda: str(conv),
        "cost_per_complete_payment": lambda: _ratio(spend, conv),
        "complete_payment_rate": lambda: _ratio(Decimal(conv), clicks, scale=100),
        "total_complete_payment_rate": lambda: _fmt(value, exponent),
        "value_per_complete_payment": lambda: _ratio(value, conv),
        "complete_payment_roas": lambda: _ratio(value, spend),
    }
    return {m: table[m]() for m in metrics}


class ReportEngine:
    def __init__(self, view: TikTokView) -> None:
        self.view = view
        self.market = view.market

    def _frame(self, q: ReportQuery) -> LedgerFrame:
        if q.time_dim == "stat_time_hour":
            return self.market.hourly(q.account_id, q.since)
        return self.market.daily(q.account_id, q.since, q.until, segments=q.report_type == "AUDIENCE")

    def _entity_keys(self, q: ReportQuery, frame: LedgerFrame) -> tuple[list[str], np.ndarray]:
        """Per ledger ad: the id shown at the report's level, and whether the filters keep it."""
        world = self.view.world
        ads = [world.ads[a] for a in frame.ad_ids]
        ids = {
            "advertiser_id": [q.account_id] * len(ads),
            "campaign_id": [a.campaign_id for a in ads],
            "adgroup_id": [a.adset_id for a in ads],
            "ad_id": [a.id for a in ads],
        }
        keep = np.ones(len(ads), dtype=bool)
        for key, wanted in q.filters:
            column = ids[FILTER_KEYS[key]]
            keep &= np.array([c in wanted for c in column], dtype=bool)
        return ids[q.id_dim], keep

    def rows(self, q: ReportQuery) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Report rows (zero-delivery rows omitted) and the summed counts over all of them."""
        frame = self._frame(q)
        cols = frame.columns
        exponent = self.view.exponent(q.account_id)
        per_ad, keep_ad = self._entity_keys(q, frame)
        totals = dict.fromkeys(METRICS, 0)
        if not len(frame):
            return [], totals
        labels = sorted(set(per_ad))
        label_idx = np.array([labels.index(e) for e in per_ad] or [0], dtype=np.int64)
        mask = keep_ad[cols["ad"]]
        entity = label_idx[cols["ad"]]
        if q.time_dim == "stat_time_hour":
            when = cols["hour"]
        elif q.time_dim == "stat_time_day":
            when = cols["day"]
        else:
            when = np.zeros(len(frame), dtype=np.int64)
        if q.audience_dim:
            segment = SEGMENT_INDEX[AUDIENCE_DIMS[q.audience_dim][0]][cols["segment"]]
        else:
            segment = np.zeros(len(frame), dtype=np.int64)
        key = np.stack([when[mask], entity[mask], segment[mask]], axis=1)
        if not len(key):
            return [], totals
        groups, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        sums = {m: np.zeros(len(groups), dtype=np.int64) for m in METRICS}
        for m in METRICS:
            np.add.at(sums[m], inverse, cols[m][mask])
        out = []
        for g, (w, e, s) in enumerate(groups.tolist()):
            counts = {m: int(sums[m][g]) for m in METRICS}
            if not any(counts.values()):
                continue
            for m in METRICS:
                totals[m] += counts[m]
            dims: dict[str, str] = {q.id_dim: labels[e]}
            if q.time_dim == "stat_time_day":
                dims["stat_time_day"] = f"{frame.start_date + dt.timedelta(days=w)} 00:00:00"
            elif q.time_dim == "stat_time_hour":
                dims["stat_time_hour"] = f"{q.since} {w:02d}:00:00"
            if q.audience_dim:
                dims[q.audience_dim] = AUDIENCE_DIMS[q.audience_dim][1][s]
            out.append({"dimensions": dims, "metrics": format_metrics(counts, q.metrics, exponent)})
        return out, totals

    def answer(self, q: ReportQuery, params: TikTokParams) -> dict[str, Any]:
        rows, totals = self.rows(q)
        page, size = page_window(params)
        body = paged(rows, page, size)
        if params.boolean("enable_total_metrics"):
            body["total_metrics"] = format_metrics(totals, q.metrics, self.view.exponent(q.account_id))
        return body


def to_csv(q: ReportQuery, rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*q.dimensions, *q.metrics])
    for r in rows:
        writer.writerow([*(r["dimensions"][d] for d in q.dimensions), *(r["metrics"][m] for m in q.metrics)])
    return buffer.getvalue().encode()


@dataclass(kw_only=True)
class ReportTask:
    id: str
    account_id: str
    query: ReportQuery
    rows: list[dict[str, Any]]
    checks: int = 0


@dataclass
class ReportTasks:
    """Async report tasks: QUEUING, then PROCESSING, then SUCCESS after `polls` checks."""

    polls: int = 2
    _tasks: dict[str, ReportTask] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def add(self, account_id: str, query: ReportQuery, rows: list[dict[str, Any]], seed: int) -> ReportTask:
        with self._lock:
            task_id = f"7{seed % 1000:03d}{next(self._ids):015d}"
            task = self._tasks[task_id] = ReportTask(
                id=task_id, account_id=account_id, query=query, rows=rows
            )
            return task

    def get(self, task_id: str, account_id: str) -> ReportTask:
        task = self._tasks.get(task_id)
        if task is None:
            raise invalid("task_id", f"task {task_id} does not exist")
        if task.account_id != account_id:
            raise no_permission(f"task {task_id}")
        return task

    def check(self, task: ReportTask) -> str:
        with self._lock:
            task.checks += 1
            if task.checks > self.polls:
                return "SUCCESS"
            return "QUEUING" if task.checks == 1 else "PROCESSING"

    def done(self, task: ReportTask) -> bool:
        return task.checks > self.polls
