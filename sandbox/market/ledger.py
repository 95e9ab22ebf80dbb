"""The ledger: every figure any platform reports, drawn around the expected plan, read lazily.

Counts are drawn per (ad, hour) with keyed randomness: impressions ~ Poisson(expected), clicks ~
Binomial(impressions, CTR), purchases ~ Binomial(clicks, CVR). Each purchase is a unit with its own
keyed lag (days from click to purchase), segment and order value. A report "as of now" shows the
hours that have happened and the purchases whose lag has elapsed and lies inside the platform's
attribution window, so later reports restate recent days and never older ones. Segment rows split
the hour-level totals exactly (purchases by unit, clicks by unit, impressions and spend by largest
remainder), so every breakdown sums to the unbroken figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sandbox.market import keyed, params
from sandbox.market.delivery import Planner
from sandbox.market.errors import InvalidQueryError
from sandbox.market.segments import DIMENSIONS, N_SEGMENTS, SEGMENT_INDEX, SEGMENTS
from sandbox.market.truth import TrueModel
from sandbox.market.world import World

STREAM_IMPS, STREAM_CLICKS, STREAM_CONV = 1, 2, 3
STREAM_LAG, STREAM_VALUE, STREAM_UNIT_SEGMENT, STREAM_CLICK_SEGMENT, STREAM_IMP_JITTER = 4, 5, 6, 7, 8
_LAG_CDF = np.cumsum(params.LAG_PROBS)

METRICS = ("impressions", "clicks", "spend_micros", "conversions", "value_micros")


@dataclass(kw_only=True)
class LedgerFrame:
    """Columnar rows. `ad` indexes `ad_ids`; `day` is a day index from the world's first day."""

    ad_ids: list[str]
    start_date: dt.date
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["ad"])

    def to_rows(self, *, adset_of: dict[str, str] | None = None) -> list[dict[str, object]]:
        cols = self.columns
        n = len(self)
        ads = [self.ad_ids[i] for i in cols["ad"].tolist()]
        dates = [(self.start_date + dt.timedelta(days=d)).isoformat() for d in cols["day"].tolist()]
        rows: list[dict[str, object]] = [{"ad_id": ads[i], "date": dates[i]} for i in range(n)]
        if adset_of:
            for r in rows:
                r["adset_id"] = adset_of[str(r["ad_id"])]
        if "hour" in cols:
            for r, h in zip(rows, cols["hour"].tolist(), strict=True):
                r["hour"] = h
        if "segment" in cols:
            for r, s in zip(rows, cols["segment"].tolist(), strict=True):
                r.update(zip(("age", "gender", "country", "placement"), SEGMENTS[s], strict=True))
        for m in METRICS:
            for r, v in zip(rows, cols[m].tolist(), strict=True):
                r[m] = v
        return rows

    def totals(self) -> dict[str, int]:
        return {m: int(self.columns[m].sum()) for m in METRICS}


@dataclass(kw_only=True)
class _Cells:
    """Realised figures of one ad set over whole days [d0, d0 + n_days), hours after `now` zeroed."""

    d0: int
    imps: np.ndarray  # [A, D, 24]
    clicks: np.ndarray
    conv: np.ndarray  # eventual purchases by click hour
    spend: np.ndarray  # micros
    unit_ad: np.ndarray  # [U]
    unit_day: np.ndarray  # [U] absolute day
    unit_hour: np.ndarray  # [U] hour of day
    unit_ord: np.ndarray  # [U] ordinal within (ad, day)
    unit_lag: np.ndarray
    unit_value: np.ndarray  # micros


class Ledger:
    def __init__(self, world: World, truth: TrueModel, planner: Planner) -> None:
        self.world = world
        self.truth = truth
        self.planner = planner
        self.seed = world.config.seed

    # -- drawing ------------------------------------------------------------------------------

    def _cells(self, adset_id: str, d0: int, d1: int, now_hour: int) -> _Cells:
        n_days = d1 - d0 + 1
        plan = self.planner.plan(adset_id, (d1 + 1) * 24)
        account = self.world.account(self.world.adset(adset_id).account_id)
        fx = params.CURRENCIES[account.currency].per_usd
        step = _minor_step(account.currency)
        n_ads = len(plan.ad_ids)
        sl = slice(d0 * 24, (d1 + 1) * 24)
        t = np.arange(d0 * 24, (d1 + 1) * 24)
        happened = t < now_hour
        keys = plan.ad_keys[:, None]
        exp_imps = plan.exp_imps[:, sl] * happened
        imps = keyed.poisson(exp_imps, keyed.uniform(self.seed, keys, t, STREAM_IMPS))
        clicks = keyed.binomial(imps, plan.ctr[:, sl], keyed.uniform(self.seed, keys, t, STREAM_CLICKS))
        conv = keyed.binomial(clicks, plan.cvr[:, sl], keyed.uniform(self.seed, keys, t, STREAM_CONV))
        # Money is whole minor units in every cell, so any sum prints exactly in the platform's units.
        spend = np.rint(imps * plan.cpm_eff_usd[sl] * (fx * 1e3 / step)).astype(np.int64) * step
        shape = (n_ads, n_days, 24)
        imps, clicks, conv, spend = (a.reshape(shape) for a in (imps, clicks, conv, spend))

        counts = conv.ravel()
        flat = np.repeat(np.arange(counts.size), counts)
        before = (np.cumsum(conv, axis=2) - conv).ravel()
        group_start = np.repeat(np.cumsum(counts) - counts, counts)
        ordinal = before[flat] + (np.arange(flat.size) - group_start)
        unit_ad = flat // (n_days * 24)
        unit_day = d0 + (flat // 24) % n_days
        unit_hour = flat % 24
        ukeys = plan.ad_keys[unit_ad]
        lag = np.searchsorted(_LAG_CDF, keyed.uniform(self.seed, ukeys, unit_day, ordinal, STREAM_LAG))
        lag = np.minimum(lag, params.MAX_LAG_DAYS)
        seg = self._unit_segments(plan, adset_id, unit_ad, unit_day, unit_hour, ordinal, ukeys)
        log_aov = self.truth.adset(adset_id).log_aov[seg]
        z = keyed.normal(self.seed, ukeys, unit_day, ordinal, STREAM_VALUE)
        sigma = params.ORDER_VALUE_SIGMA
        value = (
            np.rint(np.exp(log_aov + sigma * z - sigma**2 / 2) * (fx * 1e6 / step)).astype(np.int64) * step
        )
        return _Cells(
            d0=d0,
            imps=imps,
            clicks=clicks,
            conv=conv,
            spend=spend,
            unit_ad=unit_ad,
            unit_day=unit_day,
            unit_hour=unit_hour,
            unit_ord=ordinal,
            unit_lag=lag,
            unit_value=value,
        )

    def _ad_segment_rates(self, plan_ad_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ctr = np.array([np.exp(self.truth.ad(a).log_ctr) for a in plan_ad_ids]).reshape(-1, N_SEGMENTS)
        cvr = np.array([np.exp(self.truth.ad(a).log_cvr) for a in plan_ad_ids]).reshape(-1, N_SEGMENTS)
        return ctr, cvr

    def _unit_segments(self, plan, adset_id, unit_ad, unit_day, unit_hour, ordinal, ukeys) -> np.ndarray:  # type: ignore[no-untyped-def]
        if unit_ad.size == 0:
            return np.zeros(0, dtype=np.int64)
        ctr, cvr = self._ad_segment_rates(plan.ad_ids)
        tix = plan.targeting_idx[unit_day * 24 + unit_hour]
        weights = np.array([t.weights for t in plan.terms])  # [T, 72]
        n_terms = len(plan.terms)
        # One row of segment weights per (ad, targeting) pair that occurs.
        row_id = unit_ad * n_terms + tix
        table = (ctr * cvr)[:, None, :] * weights[None, :, :]
        u = keyed.uniform(self.seed, ukeys, unit_day, ordinal, STREAM_UNIT_SEGMENT)
        return keyed.categorical(table.reshape(-1, N_SEGMENTS), row_id, u)

    # -- reporting ----------------------------------------------------------------------------

    def _visible(self, cells: _Cells, today: int, window: int) -> np.ndarray:
        lag = cells.unit_lag
        return (lag == 0) | ((lag < window) & (cells.unit_day + lag <= today))

    def _adset_ids(self, account_id: str) -> list[str]:
        self.world.account(account_id)
        return [s.id for s in self.world.adsets_of(account_id)]

    def _day_range(self, since: dt.date, until: dt.date, today: int) -> tuple[int, int] | None:
        if since > until:
            raise InvalidQueryError(f"since {since} is after until {until}")
        start = self.world.config.start_date
        d0 = max(0, (since - start).days)
        d1 = min(today, (until - start).days)
        return (d0, d1) if d0 <= d1 else None

    def daily(
        self, account_id: str, since: dt.date, until: dt.date, *, now_hour: int, segments: bool = False
    ) -> LedgerFrame:
        """Ad x day rows (x segment cell when `segments`) as reported at `now_hour`."""
        today = now_hour // 24
        window = params.PLATFORMS[self.world.account(account_id).platform].attribution_days
        ad_ids: list[str] = []
        parts: list[dict[str, np.ndarray]] = []
        rng = self._day_range(since, until, today)
        for adset_id in self._adset_ids(account_id):
            if rng is None:
                break
            cells = self._cells(adset_id, rng[0], rng[1], now_hour)
            offset = len(ad_ids)
            plan = self.planner.plan(adset_id, (rng[1] + 1) * 24)
            ad_ids.extend(plan.ad_ids)
            part = (
                self._segment_part(cells, plan, today, window)
                if segments
                else self._day_part(cells, today, window)
            )
            part["ad"] = part["ad"] + offset
            parts.append(part)
        return _frame(ad_ids, self.world.config.start_date, parts, segments=segments, hourly=False)

    def _day_part(self, cells: _Cells, today: int, window: int) -> dict[str, np.ndarray]:
        n_ads, n_days, _ = cells.imps.shape
        vis = self._visible(cells, today, window)
        idx = cells.unit_ad[vis] * n_days + (cells.unit_day[vis] - cells.d0)
        conv = np.bincount(idx, minlength=n_ads * n_days)
        value = np.bincount(idx, weights=cells.unit_value[vis], minlength=n_ads * n_days)
        imps = cells.imps.sum(axis=2).ravel()
        keep = np.nonzero(imps > 0)[0]
        return {
            "ad": keep // n_days,
            "day": cells.d0 + keep % n_days,
            "impressions": imps[keep],
            "clicks": cells.clicks.sum(axis=2).ravel()[keep],
            "spend_micros": cells.spend.sum(axis=2).ravel()[keep],
            "conversions": conv[keep].astype(np.int64),
            "value_micros": np.rint(value[keep]).astype(np.int64),
        }

    def _segment_part(self, cells: _Cells, plan, today: int, window: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
        n_ads, n_days, _ = cells.imps.shape
        rows = n_ads * n_days
        seg_cells = self._unit_segments_of(cells, plan)
        unit_row = cells.unit_ad * n_days + (cells.unit_day - cells.d0)
        flat = unit_row * N_SEGMENTS + seg_cells
        conv_all = np.bincount(flat, minlength=rows * N_SEGMENTS).reshape(rows, N_SEGMENTS)
        vis = self._visible(cells, today, window)
        conv_vis = np.bincount(flat[vis], minlength=rows * N_SEGMENTS).reshape(rows, N_SEGMENTS)
        value_vis = np.bincount(flat[vis], weights=cells.unit_value[vis], minlength=rows * N_SEGMENTS)

        # Day-level segment weights: the hour-level targeting weights, weighted by expected delivery.
        d0 = cells.d0
        sl = slice(d0 * 24, (d0 + n_days) * 24)
        exp_imps = plan.exp_imps[:, sl].reshape(n_ads, n_days, 24)
        weights = np.array([t.weights for t in plan.terms])[plan.targeting_idx[sl]].reshape(
            n_days, 24, N_SEGMENTS
        )
        day_w = np.einsum("adh,dhs->ads", exp_imps, weights).reshape(rows, N_SEGMENTS)
        ctr, _ = self._ad_segment_rates(plan.ad_ids)
        click_w = day_w * np.repeat(ctr, n_days, axis=0)

        imps_tot = cells.imps.sum(axis=2).ravel()
        clicks_tot = cells.clicks.sum(axis=2).ravel()
        spend_tot = cells.spend.sum(axis=2).ravel()
        conv_tot = conv_all.sum(axis=1)
        live = np.nonzero(imps_tot > 0)[0]
        ad_key_rows = np.repeat(plan.ad_keys, n_days)
        day_rows = np.tile(np.arange(d0, d0 + n_days), n_ads)

        # Clicks beyond the purchases, one keyed unit at a time.
        extra = clicks_tot[live] - conv_tot[live]
        owner = np.repeat(live, extra)
        ordinal = np.arange(owner.size) - np.repeat(np.cumsum(extra) - extra, extra)
        u = keyed.uniform(self.seed, ad_key_rows[owner], day_rows[owner], ordinal, STREAM_CLICK_SEGMENT)
        seg = keyed.categorical(click_w, owner, u)
        clicks_seg = conv_all.copy()
        np.add.at(clicks_seg, (owner, seg), 1)

        jitter = np.exp(
            0.05
            * keyed.normal(
                self.seed,
                ad_key_rows[live][:, None],
                day_rows[live][:, None],
                np.arange(N_SEGMENTS)[None, :],
                STREAM_IMP_JITTER,
            )
        )
        imps_seg = clicks_seg[live] + keyed.largest_remainder(
            imps_tot[live] - clicks_tot[live], day_w[live] * jitter
        )
        base = self.truth.adset(plan.adset_id)
        step = _minor_step(self.world.account(self.world.adset(plan.adset_id).account_id).currency)
        spend_seg = step * keyed.largest_remainder(
            spend_tot[live] // step, imps_seg * base.cpm_factor[None, :]
        )

        r, s = np.nonzero(imps_seg > 0)
        row = live[r]
        return {
            "ad": row // n_days,
            "day": d0 + row % n_days,
            "segment": s,
            "impressions": imps_seg[r, s],
            "clicks": clicks_seg[row, s],
            "spend_micros": spend_seg[r, s],
            "conversions": conv_vis[row, s],
            "value_micros": np.rint(value_vis.reshape(rows, N_SEGMENTS)[row, s]).astype(np.int64),
        }

    def _unit_segments_of(self, cells: _Cells, plan) -> np.ndarray:  # type: ignore[no-untyped-def]
        ukeys = plan.ad_keys[cells.unit_ad] if cells.unit_ad.size else np.zeros(0, dtype=np.uint64)
        return self._unit_segments(
            plan, plan.adset_id, cells.unit_ad, cells.unit_day, cells.unit_hour, cells.unit_ord, ukeys
        )

    def hourly(self, account_id: str, day: dt.date, *, now_hour: int) -> LedgerFrame:
        """Ad x hour rows of one day, as reported at `now_hour` (today: the hours so far)."""
        today = now_hour // 24
        window = params.PLATFORMS[self.world.account(account_id).platform].attribution_days
        d = (day - self.world.config.start_date).days
        ad_ids: list[str] = []
        parts: list[dict[str, np.ndarray]] = []
        if 0 <= d <= today:
            for adset_id in self._adset_ids(account_id):
                cells = self._cells(adset_id, d, d, now_hour)
                plan = self.planner.plan(adset_id, (d + 1) * 24)
                offset = len(ad_ids)
                ad_ids.extend(plan.ad_ids)
                n_ads = cells.imps.shape[0]
                vis = self._visible(cells, today, window)
                idx = cells.unit_ad[vis] * 24 + cells.unit_hour[vis]
                conv = np.bincount(idx, minlength=n_ads * 24)
                value = np.bincount(idx, weights=cells.unit_value[vis], minlength=n_ads * 24)
                imps = cells.imps.reshape(n_ads, 24).ravel()
                keep = np.nonzero(imps > 0)[0]
                parts.append(
                    {
                        "ad": keep // 24 + offset,
                        "day": np.full(keep.size, d),
                        "hour": keep % 24,
                        "impressions": imps[keep],
                        "clicks": cells.clicks.ravel()[keep],
                        "spend_micros": cells.spend.ravel()[keep],
                        "conversions": conv[keep].astype(np.int64),
                        "value_micros": np.rint(value[keep]).astype(np.int64),
                    }
                )
        return _frame(ad_ids, self.world.config.start_date, parts, segments=False, hourly=True)


def _minor_step(currency: str) -> int:
    """Micros per minor unit of the currency (10,000 for cents, 1,000,000 for yen)."""
    return 10 ** (6 - params.CURRENCIES[currency].exponent)


def _frame(
    ad_ids: list[str], start: dt.date, parts: list[dict[str, np.ndarray]], *, segments: bool, hourly: bool
) -> LedgerFrame:
    names = ["ad", "day", *(["hour"] if hourly else []), *(["segment"] if segments else []), *METRICS]
    columns = {
        n: (np.concatenate([p[n] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64))
        for n in names
    }
    return LedgerFrame(ad_ids=ad_ids, start_date=start, columns=columns)


def segment_values(frame: LedgerFrame, dimension: str) -> np.ndarray:
    """The value index of `dimension` for each segment row of a frame."""
    if dimension not in DIMENSIONS:
        raise InvalidQueryError(f"unknown dimension {dimension!r}")
    return SEGMENT_INDEX[dimension][frame.columns["segment"]]
