"""Insights: the ledger as Meta reports it (levels, time increments, breakdowns, actions, strings)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from sandbox.market.ledger import LedgerFrame
from sandbox.market.params import CURRENCIES
from sandbox.market.segments import DIMENSIONS, SEGMENT_INDEX
from sandbox.meta.errors import GraphError, invalid_parameter, reduce_data
from sandbox.meta.nodes import MetaView
from sandbox.meta.request import GraphParams

LEVELS = ("account", "campaign", "adset", "ad")
PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "purchase", "omni_purchase")
HOURLY = ("hourly_stats_aggregated_by_advertiser_time_zone", "hourly_stats_aggregated_by_audience_time_zone")
# Meta's breakdown names -> (market dimension, Meta's value for each of the dimension's values).
BREAKDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "age": ("age", ("18-24", "25-34", "35-44", "45+")),
    "gender": ("gender", ("female", "male")),
    "country": ("country", ("US", "GB", "JP")),
    "publisher_platform": ("placement", ("facebook", "instagram", "audience_network")),
    "platform_position": ("placement", ("feed", "instagram_stories", "an_classic")),
}
ID_FIELDS = (
    "account_id",
    "account_name",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
)
METRIC_FIELDS = (
    "impressions",
    "clicks",
    "inline_link_clicks",
    "spend",
    "ctr",
    "cpc",
    "cpm",
    "actions",
    "action_values",
    "cost_per_action_type",
    "purchase_roas",
    "conversions",
    "conversion_values",
    "inline_link_click_ctr",
    "cost_per_inline_link_click",
)
UNAVAILABLE = {"reach", "frequency", "unique_clicks", "unique_ctr", "video_play_actions"}
DEFAULT_FIELDS = ("account_id", "impressions", "spend")
ACCEPTED_PARAMS = (
    "level",
    "fields",
    "time_range",
    "time_ranges",
    "date_preset",
    "time_increment",
    "breakdowns",
    "action_breakdowns",
    "filtering",
    "limit",
    "after",
    "before",
    "summary",
    "default_summary",
    "sort",
    "action_attribution_windows",
    "action_report_time",
    "use_account_attribution_setting",
    "use_unified_attribution_setting",
    "time_zone",
)


@dataclass(frozen=True, kw_only=True)
class InsightsQuery:
    """A validated insights request, hashable for caching."""

    node_kind: str  # account | campaign | adset | ad
    node_id: str
    account_id: str
    level: str
    fields: tuple[str, ...]
    since: dt.date
    until: dt.date
    increment: str  # "1".."90" | all_days | monthly
    breakdowns: tuple[str, ...]
    filters: tuple[tuple[str, str, tuple[str, ...]], ...]

    def estimated_cells(self, entities: int) -> int:
        days = (self.until - self.since).days + 1
        buckets = (
            days
            if self.increment == "1"
            else max(1, days // max(1, int(self.increment)))
            if self.increment.isdigit()
            else (days // 28 + 1 if self.increment == "monthly" else 1)
        )
        cells = 1
        dims = {BREAKDOWNS[b][0] for b in self.breakdowns if b in BREAKDOWNS}
        for dim in dims:
            cells *= len(DIMENSIONS[dim])
        if any(b in HOURLY for b in self.breakdowns):
            cells *= 24
            buckets = days
        return entities * buckets * cells


def _presets(today: dt.date, preset: str) -> tuple[dt.date, dt.date]:
    day = dt.timedelta(days=1)
    first = today.replace(day=1)
    table = {
        "today": (today, today),
        "yesterday": (today - day, today - day),
        "this_month": (first, today),
        "last_month": ((first - day).replace(day=1), first - day),
        "maximum": (dt.date(2000, 1, 1), today),
        "this_year": (today.replace(month=1, day=1), today),
    }
    for n in (3, 7, 14, 28, 30, 90):
        table[f"last_{n}d"] = (today - n * day, today - day)
    if preset not in table:
        raise invalid_parameter(f"date_preset must be one of {sorted(table)}", field="date_preset")
    return table[preset]


def parse_query(
    view: MetaView, params: GraphParams, *, node_kind: str, node_id: str, account_id: str
) -> InsightsQuery:
    level = params.raw("level") or node_kind
    if level not in LEVELS or LEVELS.index(level) < LEVELS.index(node_kind):
        raise invalid_parameter(
            f"level must be one of {list(LEVELS[LEVELS.index(node_kind) :])} here", field="level"
        )
    fields = tuple(params.fields() or DEFAULT_FIELDS)
    for f in fields:
        if f in UNAVAILABLE:
            raise invalid_parameter(
                f"{f} is not available in the sandbox: its market does not simulate unique people",
                field="fields",
            )
        if f not in ID_FIELDS + METRIC_FIELDS + ("date_start", "date_stop", "account_currency"):
            raise invalid_parameter(f"{f} is not a valid insights field", field="fields")
    today = view.market.now().date
    time_range = params.json("time_range", dict)
    ranges = params.json("time_ranges", list)
    preset = params.raw("date_preset")
    if time_range is None and ranges:
        if len(ranges) != 1 or not isinstance(ranges[0], dict):
            raise invalid_parameter("the sandbox serves one time range per request", field="time_ranges")
        time_range = ranges[0]
    if time_range is not None:
        try:
            since = dt.date.fromisoformat(str(time_range["since"]))
            until = dt.date.fromisoformat(str(time_range["until"]))
        except (KeyError, ValueError):
            raise invalid_parameter(
                'time_range must be {"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}', field="time_range"
            ) from None
    else:
        since, until = _presets(today, preset or "last_30d")
    if since > until:
        raise invalid_parameter("time_range since must not be after until", field="time_range")
    if (today - since).days > 37 * 31:
        raise invalid_parameter("time_range starts more than 37 months ago", field="time_range")
    increment = (params.raw("time_increment") or "all_days").lower()
    if increment not in ("all_days", "monthly") and not (increment.isdigit() and 1 <= int(increment) <= 90):
        raise invalid_parameter("time_increment must be 1-90, monthly or all_days", field="time_increment")
    breakdowns = tuple(params.string_list("breakdowns") or ())
    for b in breakdowns:
        if b not in BREAKDOWNS and b not in HOURLY:
            raise invalid_parameter(
                f"breakdowns value {b} is not supported; use {sorted(BREAKDOWNS) + list(HOURLY)}",
                field="breakdowns",
            )
    if any(b in HOURLY for b in breakdowns) and len(breakdowns) > 1:
        raise invalid_parameter(
            "hourly breakdowns cannot be combined with other breakdowns", field="breakdowns"
        )
    action_breakdowns = params.string_list("action_breakdowns")
    if action_breakdowns not in (None, [], ["action_type"]):
        raise invalid_parameter(
            "the sandbox supports action_breakdowns=action_type only", field="action_breakdowns"
        )
    report_time = params.raw("action_report_time")
    if report_time not in (None, "impression", "mixed"):
        raise invalid_parameter("the sandbox reports actions at impression time", field="action_report_time")
    filters = []
    for rule in params.json("filtering", list) or []:
        if (
            not isinstance(rule, dict)
            or rule.get("field") not in ("ad.id", "adset.id", "campaign.id")
            or rule.get("operator") not in ("IN", "EQUAL")
        ):
            raise invalid_parameter(
                "insights filtering supports ad.id, adset.id and campaign.id with IN or EQUAL",
                field="filtering",
            )
        values = rule["value"] if isinstance(rule["value"], list) else [rule["value"]]
        filters.append((str(rule["field"]), str(rule["operator"]), tuple(str(v) for v in values)))
    for name in (
        "sort",
        "action_attribution_windows",
        "use_account_attribution_setting",
        "use_unified_attribution_setting",
        "time_zone",
        "default_summary",
    ):
        params.raw(name)  # accepted; the sandbox has one attribution setting and sorts by date then id
    return InsightsQuery(
        node_kind=node_kind,
        node_id=node_id,
        account_id=account_id,
        level=level,
        fields=fields,
        since=since,
        until=until,
        increment=increment,
        breakdowns=breakdowns,
        filters=tuple(filters),
    )


class InsightsEngine:
    """Computes insight rows from the market's ledger."""

    def __init__(self, view: MetaView, *, max_sync_cells: int) -> None:
        self.view = view
        self.max_sync_cells = max_sync_cells

    def _ads_in_scope(self, q: InsightsQuery) -> list[str]:
        world = self.view.world
        ads = world.ads_of(q.account_id)
        if q.node_kind == "campaign":
            ads = [a for a in ads if a.campaign_id == q.node_id]
        elif q.node_kind == "adset":
            ads = [a for a in ads if a.adset_id == q.node_id]
        elif q.node_kind == "ad":
            ads = [a for a in ads if a.id == q.node_id]
        for field, _, values in q.filters:
            attr = {"ad.id": "id", "adset.id": "adset_id", "campaign.id": "campaign_id"}[field]
            ads = [a for a in ads if getattr(a, attr) in values]
        return [a.id for a in ads]

    def check_size(self, q: InsightsQuery, *, limit: int | None = None) -> None:
        ads = self._ads_in_scope(q)
        world = self.view.world
        entities = {
            "ad": len(ads),
            "adset": len({world.ads[a].adset_id for a in ads}),
            "campaign": len({world.ads[a].campaign_id for a in ads}),
            "account": 1,
        }[q.level]
        if q.estimated_cells(entities) > (limit or self.max_sync_cells):
            raise reduce_data()

    def rows(self, q: InsightsQuery) -> list[dict[str, Any]]:
        market = self.view.market
        scope = set(self._ads_in_scope(q))
        hourly = any(b in HOURLY for b in q.breakdowns)
        dims = [BREAKDOWNS[b][0] for b in q.breakdowns if b in BREAKDOWNS]
        if hourly:
            frames = [
                market.hourly(q.account_id, q.since + dt.timedelta(days=i))
                for i in range((min(q.until, market.now().date) - q.since).days + 1)
            ]
        else:
            frames = [market.daily(q.account_id, q.since, q.until, segments=bool(dims))]
        out: list[dict[str, Any]] = []
        for frame in frames:
            out.extend(self._aggregate(q, frame, scope, dims, hourly))
        out.sort(key=lambda r: (r["date_start"], r.get("_order", "")))
        for r in out:
            r.pop("_order", None)
        return out

    def _aggregate(
        self, q: InsightsQuery, frame: LedgerFrame, scope: set[str], dims: list[str], hourly: bool
    ) -> list[dict[str, Any]]:
        world = self.view.world
        cols = frame.columns
        if not len(frame):
            return []
        in_scope = np.array([a in scope for a in frame.ad_ids], dtype=bool)
        keep = in_scope[cols["ad"]]
        if not keep.any():
            return []
        entity_of_ad = {
            "ad": lambda a: a,
            "adset": lambda a: world.ads[a].adset_id,
            "campaign": lambda a: world.ads[a].campaign_id,
            "account": lambda a: q.account_id,
        }[q.level]
        entities = sorted({entity_of_ad(a) for a in frame.ad_ids})
        ent_index = {e: i for i, e in enumerate(entities)}
        ad_to_entity = np.array([ent_index[entity_of_ad(a)] for a in frame.ad_ids])
        start_day = self.view.market.day_index(q.since)
        day = cols["day"][keep]
        if q.increment == "1" or hourly:
            bucket = day - start_day
        elif q.increment.isdigit():
            bucket = (day - start_day) // int(q.increment)
        elif q.increment == "monthly":
            dates = [self.view.market.config.start_date + dt.timedelta(days=int(d)) for d in day]
            bucket = np.array([d.year * 12 + d.month for d in dates])
        else:
            bucket = np.zeros(day.shape, dtype=np.int64)
        parts = [ad_to_entity[cols["ad"][keep]], bucket]
        bases = [len(entities), int(bucket.max()) + 1]
        dim_values: list[np.ndarray] = []
        for dim in dims:
            values = SEGMENT_INDEX[dim][cols["segment"][keep]]
            dim_values.append(values)
            parts.append(values)
            bases.append(len(DIMENSIONS[dim]))
        if hourly:
            parts.append(cols["hour"][keep])
            bases.append(24)
        key = np.zeros(day.shape, dtype=np.int64)
        for part, base in zip(parts, bases, strict=True):
            key = key * base + part
        uniq, inverse = np.unique(key, return_inverse=True)
        sums = {
            m: np.bincount(inverse, weights=cols[m][keep].astype(np.float64), minlength=len(uniq)).astype(
                np.int64
            )
            for m in ("impressions", "clicks", "spend_micros", "conversions", "value_micros")
        }
        first = np.zeros(len(uniq), dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse))[::-1]
        rows = []
        for i in range(len(uniq)):
            j = first[i]
            ent = entities[parts[0][j]]
            day_j = int(day[j])
            d0, d1 = self._bucket_dates(q, day_j)
            row = self._row(q, ent, {m: int(v[i]) for m, v in sums.items()}, d0, d1)
            for b in q.breakdowns:
                if b in BREAKDOWNS:
                    dim = BREAKDOWNS[b][0]
                    row[b] = BREAKDOWNS[b][1][int(dim_values[dims.index(dim)][j])]
                else:
                    hour = int(cols["hour"][keep][j])
                    row[b] = f"{hour:02d}:00:00 - {hour:02d}:59:59"
            row["_order"] = ent
            rows.append(row)
        return rows

    def _bucket_dates(self, q: InsightsQuery, day: int) -> tuple[dt.date, dt.date]:
        date = self.view.market.config.start_date + dt.timedelta(days=day)
        if q.increment == "1" or any(b in HOURLY for b in q.breakdowns):
            return date, date
        if q.increment.isdigit():
            n = int(q.increment)
            offset = (date - q.since).days // n * n
            start = q.since + dt.timedelta(days=offset)
            return start, min(q.until, start + dt.timedelta(days=n - 1))
        if q.increment == "monthly":
            last = calendar.monthrange(date.year, date.month)[1]
            return max(q.since, date.replace(day=1)), min(q.until, date.replace(day=last))
        return q.since, q.until

    def _row(
        self, q: InsightsQuery, entity: str, m: dict[str, int], d0: dt.date, d1: dt.date
    ) -> dict[str, Any]:
        world = self.view.world
        account = world.account(q.account_id)
        exp = CURRENCIES[account.currency].exponent
        spend = Decimal(m["spend_micros"]) / Decimal(10**6)
        value = Decimal(m["value_micros"]) / Decimal(10**6)
        imps, clicks, conv = m["impressions"], m["clicks"], m["conversions"]

        def money(x: Decimal) -> str:
            return f"{x:.{exp}f}"

        ids: dict[str, Any] = {
            "account_id": account.id,
            "account_name": account.name,
            "account_currency": account.currency,
        }
        if q.level in ("campaign", "adset", "ad"):
            camp = world.campaign(
                entity
                if q.level == "campaign"
                else (world.adset(entity).campaign_id if q.level == "adset" else world.ad(entity).campaign_id)
            )
            ids.update(campaign_id=camp.id, campaign_name=camp.name)
        if q.level in ("adset", "ad"):
            adset = world.adset(entity if q.level == "adset" else world.ad(entity).adset_id)
            ids.update(adset_id=adset.id, adset_name=adset.name)
        if q.level == "ad":
            ad = world.ad(entity)
            ids.update(ad_id=ad.id, ad_name=ad.name)
        actions = [{"action_type": "link_click", "value": str(clicks)}] if clicks else []
        values = []
        if conv:
            actions += [{"action_type": t, "value": str(conv)} for t in PURCHASE_TYPES]
            values = [{"action_type": t, "value": money(value)} for t in PURCHASE_TYPES]
        metrics: dict[str, Any] = {
            "impressions": str(imps),
            "clicks": str(clicks),
            "inline_link_clicks": str(clicks),
            "spend": money(spend),
            "ctr": f"{100 * clicks / imps:.6f}" if imps else "0",
            "inline_link_click_ctr": f"{100 * clicks / imps:.6f}" if imps else "0",
            "cpm": f"{1000 * spend / imps:.6f}" if imps else "0",
            "actions": actions,
            "action_values": values,
            "conversions": actions[1:2],
            "conversion_values": values[:1],
        }
        if clicks:
            metrics["cpc"] = metrics["cost_per_inline_link_click"] = f"{spend / clicks:.6f}"
        if conv:
            metrics["cost_per_action_type"] = [
                {"action_type": t, "value": f"{spend / conv:.6f}"} for t in PURCHASE_TYPES
            ]
        if spend:
            metrics["purchase_roas"] = [{"action_type": "omni_purchase", "value": f"{value / spend:.6f}"}]
        row: dict[str, Any] = {}
        for f in q.fields:
            if f in ids and (
                f.split("_")[0] in ("account",) or LEVELS.index(f.split("_")[0]) <= LEVELS.index(q.level)
            ):
                row[f] = ids[f]
            elif f in metrics and metrics[f] != []:
                row[f] = metrics[f]  # Graph leaves out list metrics with nothing in them
        row["date_start"], row["date_stop"] = d0.isoformat(), d1.isoformat()
        return row


def not_ready(run_id: str) -> GraphError:
    return invalid_parameter(
        f"report run {run_id} has not completed; poll it until async_status is Job Completed",
        field="report_run_id",
    )
