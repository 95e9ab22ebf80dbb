"""Expected delivery of one ad set, hour by hour: the deterministic half of the ledger.

For every simulated hour the ad set's settings in force at that hour (status, budget or its share
of a campaign budget, bid cap, targeting) give a win rate, a capacity and a concave budget response;
the platform splits the ad set's impressions across its live ads by quality; each ad's CTR carries
drift and fatigue from its own past delivery. The ledger draws counts around these expectations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from sandbox.market import keyed, params
from sandbox.market.entities import Ad, AdSet, Status
from sandbox.market.segments import Targeting
from sandbox.market.truth import AUDIENCE_PEOPLE_PER_IMPRESSION, CPM_AT_ZERO_WIN, AdSetTruth, TrueModel
from sandbox.market.world import World

STREAM_DRIFT = 11
STREAM_PACING = 12


@dataclass(frozen=True, kw_only=True)
class TargetingTerms:
    targeting: Targeting
    weights: np.ndarray  # [72] impression share per segment cell (zero outside the targeting)
    volume: float
    cpm_factor: float
    ctr_mix: np.ndarray  # [A] sum_s w_s * ctr_as for each ad
    conv_mix: np.ndarray  # [A] sum_s w_s * ctr_as * cvr_as


@dataclass(frozen=True, kw_only=True)
class AdSetPlan:
    adset_id: str
    ad_ids: list[str]
    ad_keys: np.ndarray  # [A] uint64
    n_hours: int
    active: np.ndarray  # [H] ad set can deliver (statuses, live ads)
    targeting_idx: np.ndarray  # [H]
    terms: list[TargetingTerms]
    win_rate: np.ndarray  # [H]
    bid_ctr: np.ndarray  # [H] the CTR the auction uses to turn a cost-per-click bid into a CPM cap
    capacity: np.ndarray  # [H] daily impressions available at this win rate and targeting
    scale_usd: np.ndarray  # [H] response scale S (USD/day)
    budget_usd: np.ndarray  # [H] daily budget in force (its share, under a campaign budget)
    spend_day_usd: np.ndarray  # [H] daily-equivalent spend after pacing and saturation
    imps_day: np.ndarray  # [H] daily-equivalent expected impressions
    exp_imps: np.ndarray  # [A, H]
    shares: np.ndarray  # [A, H] the platform's split of the ad set's impressions across live ads
    ctr: np.ndarray  # [A, H] link clicks per impression
    cvr: np.ndarray  # [A, H] purchases per click
    frequency: np.ndarray  # [A, D] decayed frequency per ad at the start of each day

    @property
    def cpm_eff_usd(self) -> np.ndarray:
        """Average price per thousand impressions paid at each hour (rises with spend)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.imps_day > 0, 1000.0 * self.spend_day_usd / np.maximum(self.imps_day, 1e-12), 0.0
            )


def weekday_of(start: dt.date, days: np.ndarray) -> np.ndarray:
    return (start.weekday() + days) % 7


def ad_live(ad: Ad, hours: np.ndarray) -> np.ndarray:
    idx, values = ad.values_over("status", hours)
    status_ok = np.array([v == Status.ACTIVE for v in values] + [False])[idx]
    reviewed = hours >= ad.created_hour + ad.review_hours
    taken_down = ad.numeric_over("disapproved_by_platform", hours, missing=0.0) > 0
    return status_ok & reviewed & (not ad.disapproved) & (hours >= ad.created_hour) & ~taken_down


def adset_running(world: World, adset: AdSet, hours: np.ndarray) -> np.ndarray:
    camp = world.campaign(adset.campaign_id)
    ci, cv = camp.values_over("status", hours)
    si, sv = adset.values_over("status", hours)
    ok = np.array([v == Status.ACTIVE for v in cv] + [False])[ci]
    ok &= np.array([v == Status.ACTIVE for v in sv] + [False])[si]
    ok &= hours >= adset.created_hour
    ok &= ~(camp.numeric_over("stopped_by_platform", hours, missing=0.0) > 0)
    end = adset.numeric_over("end_hour", hours)
    return ok & ~(np.isfinite(end) & (hours >= end))


class Planner:
    """Computes (and caches per change version) the expected delivery plans of a world's ad sets."""

    def __init__(self, world: World, truth: TrueModel) -> None:
        self.world = world
        self.truth = truth
        self.seed = world.config.seed
        self._cache: dict[tuple[str, int, int], AdSetPlan] = {}
        self.version = 0

    def invalidate(self) -> None:
        self.version += 1
        self._cache.clear()

    def plan(self, adset_id: str, n_hours: int) -> AdSetPlan:
        n_hours = int(-(-n_hours // 24) * 24)  # whole days, so day arrays line up
        key = (adset_id, n_hours, self.version)
        plan = self._cache.get(key)
        if plan is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            plan = self._make_plan(self.world.adset(adset_id), n_hours)
            self._cache[key] = plan
        return plan

    # -- pieces -------------------------------------------------------------------------------

    def _terms(
        self, base: AdSetTruth, ads_log_ctr: np.ndarray, ads_log_cvr: np.ndarray, targeting: Targeting
    ) -> TargetingTerms:
        mask = targeting.mask()
        weights = np.where(mask, base.volume, 0.0)
        vol = float(weights.sum())
        weights = weights / vol
        vol_share, cpm_factor = base.targeting_terms(targeting)
        ctr = np.exp(ads_log_ctr)
        return TargetingTerms(
            targeting=targeting,
            weights=weights,
            volume=vol_share,
            cpm_factor=cpm_factor,
            ctr_mix=ctr @ weights,
            conv_mix=(ctr * np.exp(ads_log_cvr)) @ weights,
        )

    def delivery_weight(self, adset: AdSet, hours: np.ndarray) -> np.ndarray:
        """How a campaign budget leans towards this ad set: its reachable volume while it can deliver."""
        base = self.truth.adset(adset.id)
        ti, tv = adset.values_over("targeting", hours)
        vols = np.array([base.targeting_terms(t)[0] for t in tv] + [0.0])[ti]
        ads = self.world.ads_of_adset(adset.id)
        any_live = np.zeros(hours.shape, dtype=bool)
        for ad in ads:
            any_live |= ad_live(ad, hours)
        return base.scale_usd * vols * adset_running(self.world, adset, hours) * any_live

    def _budget_usd(self, adset: AdSet, hours: np.ndarray, fx: float) -> np.ndarray:
        camp = self.world.campaign(adset.campaign_id)
        camp_budget = camp.numeric_over("daily_budget_micros", hours)
        own = adset.numeric_over("daily_budget_micros", hours)
        lifetime = adset.numeric_over("lifetime_budget_micros", hours)
        end = adset.numeric_over("end_hour", hours)
        days_left = np.maximum(1.0, (end - hours) / 24.0)
        own = np.where(
            np.isfinite(own),
            own,
            np.where(np.isfinite(lifetime) & np.isfinite(end), lifetime / days_left, 0.0),
        )
        if np.isfinite(camp_budget).any():
            siblings = [s for s in self.world.adsets.values() if s.campaign_id == camp.id]
            weights = {s.id: self.delivery_weight(s, hours) for s in siblings}
            total = np.sum(list(weights.values()), axis=0)
            share = np.where(total > 0, weights[adset.id] / np.where(total > 0, total, 1.0), 0.0)
            own = np.where(np.isfinite(camp_budget), camp_budget * share, own)
        return own / 1e6 / fx

    def pacing(self, adset_key: int, n_days: int) -> np.ndarray:
        """Daily overspend factors: up to 1.75x on a day, each 7-day block within 7x the budget."""
        weeks = -(-n_days // 7)
        days = np.arange(weeks * 7)
        z = keyed.normal(self.seed, adset_key, days, STREAM_PACING)
        # Headroom under the bounds absorbs the count noise of realised delivery.
        m = np.clip(np.exp(params.PACING_SIGMA * z), 0.5, 0.97 * params.MAX_DAILY_OVERSPEND).reshape(weeks, 7)
        m = m * np.minimum(1.0, 0.97 * 7.0 / m.sum(axis=1, keepdims=True))
        return m.reshape(-1)[:n_days]

    def plan_for(self, adset: AdSet, n_hours: int) -> AdSetPlan:
        """An uncached plan for an ad set that may differ from the world's (what-if questions)."""
        return self._make_plan(adset, int(-(-n_hours // 24) * 24))

    def _make_plan(self, adset: AdSet, n_hours: int) -> AdSetPlan:
        world, cfg = self.world, self.world.config
        account = world.account(adset.account_id)
        fx = params.CURRENCIES[account.currency].per_usd
        base = self.truth.adset(adset.id)
        ads = world.ads_of_adset(adset.id)
        ad_truths = [self.truth.ad(a.id) for a in ads]
        n_ads, n_days = len(ads), n_hours // 24
        hours = np.arange(n_hours)
        days = hours // 24
        weekday = weekday_of(cfg.start_date, np.arange(n_days))
        profile = params.HOURLY_PROFILE[hours % 24]
        ad_keys = np.array([keyed.stable_key("ad", a.id) for a in ads], dtype=np.uint64)
        adset_key = keyed.stable_key("adset", adset.id)

        log_ctr = np.array([t.log_ctr for t in ad_truths]).reshape(n_ads, -1)
        log_cvr = np.array([t.log_cvr for t in ad_truths]).reshape(n_ads, -1)
        tidx, tvalues = adset.values_over("targeting", hours)
        tidx = np.maximum(tidx, 0)
        terms = [self._terms(base, log_ctr, log_cvr, t or Targeting()) for t in tvalues]

        live = np.array([ad_live(a, hours) for a in ads]).reshape(n_ads, n_hours)
        created_day = np.array([a.created_hour // 24 for a in ads])
        steps = params.DRIFT_SIGMA * keyed.normal(
            self.seed, ad_keys[:, None], np.arange(n_days)[None, :], STREAM_DRIFT
        )
        steps = np.where(np.arange(n_days)[None, :] > created_day[:, None], steps, 0.0)
        drift = np.cumsum(steps, axis=1)  # [A, D]

        ctr_mix = np.array([t.ctr_mix for t in terms]).reshape(len(terms), n_ads)[tidx].T  # [A, H]
        conv_mix = np.array([t.conv_mix for t in terms]).reshape(len(terms), n_ads)[tidx].T
        quality = ctr_mix * np.exp(drift[:, days]) * live
        qsum = quality.sum(axis=0)
        shares = np.where(qsum > 0, quality / np.where(qsum > 0, qsum, 1.0), 0.0)

        bid = adset.numeric_over("bid_micros", hours) / 1e6 / fx
        adset_ctr = (shares * ctr_mix * np.exp(drift[:, days])).sum(axis=0)
        win = np.where(np.isfinite(bid), base.win_rate(np.nan_to_num(bid) * adset_ctr * 1000.0), 1.0)
        vol = np.array([t.volume for t in terms])[tidx]
        cpmf = np.array([t.cpm_factor for t in terms])[tidx]
        capacity = base.capacity_full * vol * win * params.DOW_VOLUME[weekday[days]]
        cpm = base.cpm_full_usd * cpmf * (CPM_AT_ZERO_WIN + (1 - CPM_AT_ZERO_WIN) * win)
        scale = np.maximum(capacity * cpm / 1000.0, 1e-9)

        active = adset_running(world, adset, hours) & (qsum > 0)
        budget = self._budget_usd(adset, hours, fx)
        pace = self.pacing(adset_key, n_days)[days]
        # Market events: a spend spike multiplies what the platform spends past the usual cap (buying
        # little extra delivery), a delivery drop takes both spend and delivery down.
        spike = adset.numeric_over("spend_factor", hours, missing=1.0)
        drop = adset.numeric_over("delivery_factor", hours, missing=1.0)
        spend_day = np.minimum(budget * pace, params.SATURATION_SCALES * scale) * active * spike * drop
        imps_day = capacity * (1.0 - np.exp(-spend_day / scale))
        exp_imps = (imps_day * profile)[None, :] * shares

        daily = exp_imps.reshape(n_ads, n_days, 24).sum(axis=2)
        people = base.capacity_full * AUDIENCE_PEOPLE_PER_IMPRESSION
        decay = params.FREQUENCY_DECAY
        frequency = lfilter([0.0, decay], [1.0, -decay], daily / people, axis=1) if n_ads else daily
        ctr = ctr_mix * np.exp(drift[:, days] - params.FATIGUE_PHI * frequency[:, days])
        with np.errstate(divide="ignore", invalid="ignore"):
            cvr = np.where(ctr_mix > 0, conv_mix / np.where(ctr_mix > 0, ctr_mix, 1.0), 0.0)
        cvr = cvr * params.DOW_CVR[weekday[days]][None, :]
        return AdSetPlan(
            adset_id=adset.id,
            ad_ids=[a.id for a in ads],
            ad_keys=ad_keys,
            n_hours=n_hours,
            active=active,
            targeting_idx=tidx,
            terms=terms,
            win_rate=win,
            bid_ctr=adset_ctr,
            capacity=capacity,
            scale_usd=scale,
            budget_usd=budget,
            spend_day_usd=spend_day,
            imps_day=imps_day,
            exp_imps=exp_imps,
            shares=shares,
            ctr=np.minimum(ctr, 0.5),
            cvr=np.minimum(cvr, 0.9),
            frequency=frequency,
        )
