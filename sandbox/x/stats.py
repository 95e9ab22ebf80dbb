"""Analytics: validated stats queries and X's metric arrays computed from the market's ledger.

Placements: ALL_ON_TWITTER is the market's feed + stories cells, PUBLISHER_NETWORK its network
cells, so the two placements together equal the ledger. Day-aligned DAY/TOTAL queries read the
segment frame directly; HOUR (and TOTAL over partial days) split each ad's hourly figures between
the placements so that every hour's split sums to the hour and every day's to the day's network cells.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from sandbox.market.entities import Account
from sandbox.market.keyed import largest_remainder
from sandbox.market.ledger import METRICS
from sandbox.market.segments import DIMENSIONS, PLACEMENTS, SEGMENT_INDEX
from sandbox.x.errors import XError, invalid_parameter, missing_parameter
from sandbox.x.nodes import (
    AGE_NAMES,
    COUNTRY_NAMES,
    GENDER_NAMES,
    PLACEMENT_NAMES,
    TWITTER_PLACEMENTS,
    XView,
    label,
)
from sandbox.x.request import XParams

ENTITIES = ("ACCOUNT", "FUNDING_INSTRUMENT", "CAMPAIGN", "LINE_ITEM", "PROMOTED_TWEET")
UNSERVED_ENTITIES = ("MEDIA_CREATIVE", "ORGANIC_TWEET", "PROMOTED_ACCOUNT")
GRANULARITIES = ("DAY", "HOUR", "TOTAL")
PLACEMENT_VALUES = ("ALL_ON_TWITTER", "PUBLISHER_NETWORK")
METRIC_GROUPS = (
    "ENGAGEMENT",
    "BILLING",
    "VIDEO",
    "MEDIA",
    "WEB_CONVERSION",
    "MOBILE_CONVERSION",
    "LIFE_TIME_VALUE_MOBILE_CONVERSION",
)
# X's segmentation types served, and the market dimension behind each. PLATFORMS is X's device
# platform split on the real API; the market has no devices, so the sandbox segments PLATFORMS by
# its placement dimension, labelled with X's placement names (TWITTER_TIMELINE, ...).
SEGMENTATIONS = {"AGE": "age", "GENDER": "gender", "LOCATIONS": "country", "PLATFORMS": "placement"}
SEGMENT_NAMES = {
    "age": AGE_NAMES,
    "gender": GENDER_NAMES,
    "country": COUNTRY_NAMES,
    "placement": PLACEMENT_NAMES,
}
MAX_ENTITY_IDS = 20
SYNC_DAYS, ASYNC_DAYS, ASYNC_SEGMENTED_DAYS = 7, 90, 45
STATS_PARAMS = {
    "entity",
    "entity_ids",
    "start_time",
    "end_time",
    "granularity",
    "placement",
    "metric_groups",
    "segmentation_type",
    "country",
    "platform",
}
NETWORK = PLACEMENTS.index("network")


@dataclass(frozen=True, kw_only=True)
class StatsQuery:
    account_id: str
    entity: str
    entity_ids: tuple[str, ...]
    start_hour: int
    end_hour: int  # exclusive
    granularity: str
    placement: str
    metric_groups: tuple[str, ...]
    segmentation: str | None = None

    @property
    def buckets(self) -> int:
        if self.granularity == "TOTAL":
            return 1
        span = self.end_hour - self.start_hour
        return span // 24 if self.granularity == "DAY" else span


def _window_error(message: str, parameter: str) -> XError:
    return XError("INVALID_TIME_WINDOW", message, parameter=parameter)


def parse_stats(view: XView, params: XParams, account: Account, *, job: bool) -> StatsQuery:
    entity = params.string("entity", required=True) or ""
    if entity.upper() in UNSERVED_ENTITIES:
        raise invalid_parameter("entity", f"The sandbox has no {entity} entities (no organic or media stats)")
    entity = params.enum("entity", ENTITIES, required=True) or ""
    granularity = params.enum("granularity", GRANULARITIES, required=True) or ""
    placement = params.enum("placement", PLACEMENT_VALUES, required=True) or ""
    groups = params.ids("metric_groups", required=True) or []
    for g in groups:
        if g.upper() not in METRIC_GROUPS:
            raise invalid_parameter("metric_groups", f'Unknown metric group "{g}"')
    segmentation = params.enum("segmentation_type", tuple(SEGMENTATIONS)) if job else None
    for name in ("country", "platform"):
        params.string(name)  # X's segment filters; every value is reported, so they are accepted and unused
    ids = params.ids("entity_ids", required=True) or []
    if len(ids) > MAX_ENTITY_IDS:
        raise invalid_parameter("entity_ids", f"Expected at most {MAX_ENTITY_IDS} entity_ids, got {len(ids)}")
    _check_entities(view, account, entity, ids)
    start_raw = params.string("start_time", required=True) or ""
    end_raw = params.string("end_time")
    start, start_whole = view.parse_time(account, start_raw, "start_time")
    if end_raw is None:
        if granularity == "DAY":
            raise missing_parameter("end_time")
        end, end_whole = view.hour, True
    else:
        end, end_whole = view.parse_time(account, end_raw, "end_time")
    if not (start_whole and end_whole):
        raise _window_error("start_time and end_time must be expressed in whole hours", "start_time")
    if end <= start:
        raise _window_error("end_time must be after start_time", "end_time")
    if granularity == "DAY" and (start % 24 or end % 24):
        raise _window_error(
            f"With DAY granularity start_time and end_time must be midnight in the account's time zone "
            f"({account.timezone})",
            "start_time",
        )
    days = SYNC_DAYS if not job else ASYNC_SEGMENTED_DAYS if segmentation else ASYNC_DAYS
    if end - start > days * 24:
        raise _window_error(f"The time range must not exceed {days} days", "end_time")
    if segmentation and (granularity == "HOUR" or start % 24 or end % 24):
        # The market segments whole days only.
        raise _window_error("Segmented stats are served for whole local days (DAY or TOTAL)", "granularity")
    return StatsQuery(
        account_id=account.id,
        entity=entity,
        entity_ids=tuple(ids),
        start_hour=start,
        end_hour=end,
        granularity=granularity,
        placement=placement,
        metric_groups=tuple(g.upper() for g in groups),
        segmentation=SEGMENTATIONS[segmentation] if segmentation else None,
    )


def _check_entities(view: XView, account: Account, entity: str, ids: list[str]) -> None:
    world = view.world
    tables: dict[str, dict[str, Any]] = {
        "CAMPAIGN": world.campaigns,
        "LINE_ITEM": world.adsets,
        "PROMOTED_TWEET": world.ads,
    }
    for entity_id in ids:
        if entity == "ACCOUNT":
            ok = entity_id == account.id
        elif entity == "FUNDING_INSTRUMENT":
            ok = entity_id == view.funding_id(account.id)
        else:
            found = tables[entity].get(entity_id)
            ok = found is not None and found.account_id == account.id
        if not ok:
            raise invalid_parameter(
                "entity_ids", f"{entity} {entity_id} does not exist in account {account.id}"
            )


@dataclass(kw_only=True)
class _Rows:
    """Ledger rows as parallel arrays: ad (an index into `ad_names`), bucket, placement group (0 X,
    1 network), segment cell. Integer ad codes keep per-request filtering vectorised on big accounts."""

    ad_code: np.ndarray
    ad_names: list[str]
    bucket: np.ndarray
    network: np.ndarray
    segment: np.ndarray | None
    metrics: dict[str, np.ndarray]


class StatsEngine:
    def __init__(self, view: XView) -> None:
        self.view = view
        self.market = view.market

    def body(self, q: StatsQuery) -> dict[str, Any]:
        """The sync endpoint's body without its request echo."""
        rows = self._rows(q)
        keep = rows.network == (1 if q.placement == "PUBLISHER_NETWORK" else 0)
        entity_of = self._entity_map(q, rows.ad_names)
        wanted = {entity_id: k for k, entity_id in enumerate(q.entity_ids)}
        code_of_ad = np.array([wanted.get(entity_of.get(a, ""), -1) for a in rows.ad_names] or [-1])
        row_code = code_of_ad[rows.ad_code] if rows.ad_code.size else np.zeros(0, dtype=np.int64)
        keep = keep & (row_code >= 0)
        owner = row_code[keep]
        data = []
        for k, entity_id in enumerate(q.entity_ids):
            mask = owner == k
            if q.segmentation is None:
                id_data = [{"segment": None, "metrics": self._metrics(q, rows, keep, mask)}]
            else:
                id_data = self._segments(q, rows, keep, mask)
            data.append({"id": entity_id, "id_data": id_data})
        return {"data_type": "stats", "time_series_length": q.buckets, "data": data}

    def _segments(
        self, q: StatsQuery, rows: _Rows, keep: np.ndarray, mask: np.ndarray
    ) -> list[dict[str, Any]]:
        dim = q.segmentation or ""
        values = DIMENSIONS[dim]
        if dim == "placement":
            values = TWITTER_PLACEMENTS if q.placement == "ALL_ON_TWITTER" else ("network",)
        assert rows.segment is not None
        of_row = SEGMENT_INDEX[dim][rows.segment[keep]]
        out = []
        for value in values:
            sub = mask & (of_row == DIMENSIONS[dim].index(value))
            out.append(
                {
                    "segment": {
                        "segment_name": SEGMENT_NAMES[dim][value],
                        "segment_value": label(dim, value),
                    },
                    "metrics": self._metrics(q, rows, keep, sub),
                }
            )
        return out

    def _metrics(self, q: StatsQuery, rows: _Rows, keep: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        n = q.buckets
        buckets = rows.bucket[keep][mask]

        def series(name: str) -> list[int] | None:
            values = rows.metrics[name][keep][mask]
            sums = np.bincount(buckets, weights=values, minlength=n)[:n] if values.size else np.zeros(n)
            out = [round(v) for v in sums.tolist()]
            return out if any(out) else None  # X reports null, not zeros, for a metric with no data

        def null_object(*keys: str) -> dict[str, None]:
            return dict.fromkeys(keys)

        metrics: dict[str, Any] = {}
        clicks = series("clicks")
        for group in q.metric_groups:
            match group:
                case "ENGAGEMENT":
                    metrics.update(
                        {
                            "impressions": series("impressions"),
                            "engagements": clicks,
                            "clicks": clicks,
                            "url_clicks": clicks,
                            "app_clicks": None,
                            "card_engagements": None,
                            "likes": None,
                            "retweets": None,
                            "replies": None,
                            "follows": None,
                            "qualified_impressions": None,
                        }
                    )
                case "BILLING":
                    metrics.update(
                        {"billed_charge_local_micro": series("spend_micros"), "billed_engagements": clicks}
                    )
                case "WEB_CONVERSION":
                    conversions = series("conversions")
                    metrics.update(
                        {
                            # Every purchase is one order of one item, attributed on click.
                            "conversion_purchases": {
                                "metric": conversions,
                                "sale_amount": series("value_micros"),
                                "order_quantity": conversions,
                                "post_view": None,
                                "post_engagement": conversions,
                            },
                            "conversion_sign_ups": null_object("metric", "sale_amount", "order_quantity"),
                            "conversion_site_visits": null_object("metric", "sale_amount", "order_quantity"),
                            "conversion_downloads": null_object("metric", "sale_amount", "order_quantity"),
                            "conversion_custom": null_object("metric", "sale_amount", "order_quantity"),
                        }
                    )
                case "VIDEO":
                    metrics.update(
                        dict.fromkeys(
                            (
                                "video_total_views",
                                "video_views_25",
                                "video_views_50",
                                "video_views_75",
                                "video_views_100",
                            )
                        )
                    )
                case "MEDIA":
                    metrics.update(dict.fromkeys(("media_views", "media_engagements")))
                case _:
                    metrics.update(
                        dict.fromkeys(("mobile_conversion_purchases", "mobile_conversion_installs"))
                    )
        return metrics

    def _entity_map(self, q: StatsQuery, ad_ids: list[str]) -> dict[str, str]:
        world = self.view.world
        match q.entity:
            case "PROMOTED_TWEET":
                return {a: a for a in ad_ids}
            case "LINE_ITEM":
                return {a: world.ads[a].adset_id for a in ad_ids}
            case "CAMPAIGN":
                return {a: world.ads[a].campaign_id for a in ad_ids}
            case "FUNDING_INSTRUMENT":
                return dict.fromkeys(ad_ids, self.view.funding_id(q.account_id))
            case _:
                return dict.fromkeys(ad_ids, q.account_id)

    # -- ledger rows ----------------------------------------------------------------------------

    def _rows(self, q: StatsQuery) -> _Rows:
        if q.granularity != "HOUR" and q.start_hour % 24 == 0 and q.end_hour % 24 == 0:
            return self._day_rows(q)
        return self._hour_rows(q)

    def _date(self, day: int) -> dt.date:
        return self.market.config.start_date + dt.timedelta(days=day)

    def _day_rows(self, q: StatsQuery) -> _Rows:
        d0, d1 = q.start_hour // 24, q.end_hour // 24 - 1
        frame = self.market.daily(q.account_id, self._date(d0), self._date(d1), segments=True)
        cols = frame.columns
        bucket = cols["day"] - d0 if q.granularity == "DAY" else np.zeros(len(frame), dtype=np.int64)
        network = (SEGMENT_INDEX["placement"][cols["segment"]] == NETWORK).astype(np.int64)
        return _Rows(
            ad_code=cols["ad"],
            ad_names=list(frame.ad_ids),
            bucket=bucket,
            network=network,
            segment=cols["segment"],
            metrics={m: cols[m] for m in METRICS},
        )

    def _hour_rows(self, q: StatsQuery) -> _Rows:
        parts: list[_Rows] = []
        names: dict[str, int] = {}  # ad id -> code, shared by every day's part
        step = self.view.step(q.account_id)
        money = ("spend_micros", "value_micros")
        for day in range(q.start_hour // 24, (q.end_hour + 23) // 24):
            if day < 0 or day > self.market.clock.today:
                continue
            hourly = self.market.hourly(q.account_id, self._date(day))
            if len(hourly) == 0:
                continue
            seg = self.market.daily(q.account_id, self._date(day), self._date(day), segments=True)
            ad_ids = sorted({hourly.ad_ids[i] for i in hourly.columns["ad"].tolist()})
            index = {a: i for i, a in enumerate(ad_ids)}
            h_ad = np.array([index[hourly.ad_ids[i]] for i in hourly.columns["ad"].tolist()], dtype=np.int64)
            s_cols = seg.columns
            s_net = SEGMENT_INDEX["placement"][s_cols["segment"]] == NETWORK
            s_ad = np.array([index.get(seg.ad_ids[i], -1) for i in s_cols["ad"].tolist()], dtype=np.int64)
            total: dict[str, np.ndarray] = {}
            net: dict[str, np.ndarray] = {}
            for m in METRICS:
                unit = step if m in money else 1
                dense = np.zeros((len(ad_ids), 24), dtype=np.int64)
                np.add.at(dense, (h_ad, hourly.columns["hour"]), hourly.columns[m] // unit)
                day_net = np.zeros(len(ad_ids), dtype=np.int64)
                sel = s_net & (s_ad >= 0)
                np.add.at(day_net, s_ad[sel], s_cols[m][sel] // unit)
                # The day's network share, spread over its hours in proportion to each hour's figure.
                net[m] = largest_remainder(day_net, dense) * unit
                total[m] = dense * unit
            hours = day * 24 + np.arange(24)
            inside = (hours >= q.start_hour) & (hours < q.end_hour)
            ad_grid = np.repeat(np.arange(len(ad_ids)), 24).reshape(len(ad_ids), 24)
            hour_grid = np.tile(hours, (len(ad_ids), 1))
            sel = np.broadcast_to(inside, ad_grid.shape)
            codes = np.array([names.setdefault(a, len(names)) for a in ad_ids] or [0], dtype=np.int64)
            ads = codes[ad_grid[sel]]
            bucket = (
                hour_grid[sel] - q.start_hour
                if q.granularity == "HOUR"
                else np.zeros(int(sel.sum()), np.int64)
            )
            for group in (0, 1):
                values = {m: (net[m] if group else total[m] - net[m])[sel] for m in METRICS}
                parts.append(
                    _Rows(
                        ad_code=ads,
                        ad_names=[],
                        bucket=bucket,
                        network=np.full(ads.size, group, dtype=np.int64),
                        segment=None,
                        metrics=values,
                    )
                )
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Rows(
                ad_code=empty,
                ad_names=[],
                bucket=empty,
                network=empty,
                segment=None,
                metrics={m: empty for m in METRICS},
            )
        return _Rows(
            ad_code=np.concatenate([p.ad_code for p in parts]),
            ad_names=list(names),
            bucket=np.concatenate([p.bucket for p in parts]),
            network=np.concatenate([p.network for p in parts]),
            segment=None,
            metrics={m: np.concatenate([p.metrics[m] for p in parts]) for m in METRICS},
        )


def echo(view: XView, account: Account, q: StatsQuery, params: XParams) -> dict[str, Any]:
    out = params.echo()
    out.update(
        {
            "account_id": account.id,
            "entity": q.entity,
            "entity_ids": list(q.entity_ids),
            "start_time": view.utc(account, q.start_hour),
            "end_time": view.utc(account, q.end_hour),
            "granularity": q.granularity,
            "placement": q.placement,
            "metric_groups": list(q.metric_groups),
        }
    )
    return out
