"""Bids: for an ad set with a bid cap, the bid that reaches a target CPA (or spends its budget) within a
maximum step; for one without, whether a cap would have tamed a volatile CPA.

Bids are cost-per-click caps in the account currency's micros, as the sandbox's auction reads them (a
cap on what one click may cost). On the real platforms a bid's unit follows the ad set's optimisation
goal (Meta's bid_amount on a conversion goal is per result): that difference is not modelled.

Capped ad sets. From the days of the window, each with the bid in force that day (from the settings
history a sync keeps, `adset_day`), two log-log regressions: impressions ~ bid (the delivery
elasticity b) and spend ~ bid (e). With conversions proportional to impressions, CPA(bid) = CPA now x
(bid / bid now)^(e - b); the target CPA then gives the bid, and the budget bounds it (spend(bid) at
most the budget). With a single bid level seen there is nothing to fit: the advice is a probe of one
maximum step in the direction the target points (raise when CPA is under target and the budget is not
spent, lower when CPA is over), which the next review fits. Every step is at most `max_step` of the
current bid, in whole minor units, within the platform's limits.

Uncapped ad sets. Daily conversions against the Poisson spread their spend implies: when they vary far
more (dispersion at least `volatile_dispersion`) and at least `dear_day_share` of the days cost over
`dear_ratio` times the target per conversion, a cap of target CPA x conversions per click is proposed:
what a click may cost for conversions to cost the target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

MICRO = 1_000_000


class BidDay(BaseModel):
    day: dt.date
    bid_micros: int | None = Field(description="the cap in force that day; None: no cap")
    spend_micros: int = Field(ge=0)
    impressions: int = Field(ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(ge=0)


class BidConfig(BaseModel):
    max_step: float = Field(default=0.2, gt=0, lt=1, description="largest change per review, as a share")
    min_change: float = Field(default=0.02, ge=0, description="smaller changes are not worth proposing")
    recent_days: int = Field(default=7, ge=3)
    min_conversions: int = Field(default=5, ge=1, description="in the recent days, to judge a CPA")
    min_days_per_level: int = Field(default=3, ge=2)
    tolerance: float = Field(default=0.1, ge=0, lt=1, description="CPA within this share of target: fine")
    volatile_dispersion: float = Field(default=3.0, gt=1)
    dear_ratio: float = Field(default=1.5, gt=1)
    dear_day_share: float = Field(default=0.3, gt=0, lt=1)


class BidAdvice(BaseModel):
    kind: Literal["raise", "lower", "cap", "keep"]
    current_bid_micros: int | None
    proposed_bid_micros: int | None
    reason: str
    levels: int = Field(description="distinct bid levels seen in the window")
    impressions_elasticity: float | None = None
    spend_elasticity: float | None = None
    cpa_now: float | None = None  # major units
    cpa_expected: float | None = None
    target_cpa: float | None = None
    pacing: float | None = Field(default=None, description="recent mean daily spend / daily budget")


def _round(micros: float, step: int) -> int:
    return max(step, round(micros / step) * step)


def _fit(days: Sequence[BidDay]) -> tuple[float, float] | None:
    """(impressions elasticity, spend elasticity) from days at two or more bid levels."""
    rows = [d for d in days if d.bid_micros and d.impressions > 0 and d.spend_micros > 0]
    x = np.log([d.bid_micros for d in rows])  # type: ignore[misc]
    if len(rows) < 4 or np.ptp(x) < 1e-6:
        return None
    design = np.column_stack([np.ones(len(rows)), x])
    b = np.linalg.lstsq(design, np.log([d.impressions for d in rows]), rcond=None)[0][1]
    e = np.linalg.lstsq(design, np.log([d.spend_micros for d in rows]), rcond=None)[0][1]
    return float(b), float(e)


def advise(
    days: Sequence[BidDay],
    *,
    target_cpa_micros: int | None,
    budget_micros: int | None,
    minor_unit_micros: int = 10_000,
    min_bid_micros: int | None = None,
    max_bid_micros: int | None = None,
    config: BidConfig | None = None,
) -> BidAdvice:
    """The bid advice for one ad set from its days (oldest first; the last day's bid is the current)."""
    cfg = config or BidConfig()
    if not days:
        raise ValueError("no days to judge a bid from")
    rows = sorted(days, key=lambda d: d.day)
    current = rows[-1].bid_micros
    # The CPA now: every day since the current bid took effect (at least the recent days): less noise.
    tail = 0
    while tail < len(rows) and rows[-1 - tail].bid_micros == current:
        tail += 1
    recent = rows[-max(tail, cfg.recent_days) :]
    spend = sum(d.spend_micros for d in recent)
    conv = sum(d.conversions for d in recent)
    cpa_now = spend / conv / MICRO if conv else None
    target = target_cpa_micros / MICRO if target_cpa_micros else None
    pacing = (spend / len(recent)) / budget_micros if budget_micros else None
    levels = {d.bid_micros for d in rows if d.bid_micros}
    base = {
        "current_bid_micros": current,
        "levels": len(levels),
        "cpa_now": cpa_now,
        "target_cpa": target,
        "pacing": pacing,
    }
    if current is None:
        return _uncapped(rows, target, minor_unit_micros, cfg, base)
    if target is None or cpa_now is None or conv < cfg.min_conversions:
        return BidAdvice(
            kind="keep",
            proposed_bid_micros=None,
            reason=f"{conv} conversions in the last {len(recent)} days: too few to judge the bid",
            **base,
        )
    lo = current * (1 - cfg.max_step)
    hi = current * (1 + cfg.max_step)
    fitted = (
        _fit(rows)
        if len([lv for lv in levels if sum(d.bid_micros == lv for d in rows) >= cfg.min_days_per_level]) >= 2
        else None
    )
    if fitted is not None:
        b, e = fitted
        slope = e - b
        wanted = float(current)
        if slope > 0.05:
            wanted = current * (target / cpa_now) ** (1 / slope)
        elif cpa_now <= target and (pacing is None or pacing < 0.9):
            wanted = hi  # CPA barely moves with the bid: buy the delivery the budget allows
        if budget_micros and e > 0.05 and spend > 0:
            wanted = min(wanted, current * (budget_micros * len(recent) / spend) ** (1 / e))
        reason_how = f"fitted on {len(levels)} bid levels: impressions ~ bid^{b:.2f}, spend ~ bid^{e:.2f}"
    else:
        b = e = None  # type: ignore[assignment]
        if cpa_now < target * (1 - cfg.tolerance) and (pacing is None or pacing < 0.85):
            wanted = hi
        elif cpa_now > target * (1 + cfg.tolerance):
            wanted = lo
        else:
            wanted = float(current)
        reason_how = "one bid level seen: a probe of one step, which the next review fits"
    wanted = min(max(wanted, lo), hi)
    if min_bid_micros is not None:
        wanted = max(wanted, min_bid_micros)
    if max_bid_micros is not None:
        wanted = min(wanted, max_bid_micros)
    proposed = _round(wanted, minor_unit_micros)
    expected = None
    if fitted is not None and b is not None and e is not None:
        expected = cpa_now * (proposed / current) ** (e - b)
    if abs(proposed - current) < cfg.min_change * current:
        return BidAdvice(
            kind="keep",
            proposed_bid_micros=None,
            reason=f"CPA {cpa_now:.2f} against a target of {target:.2f}: the bid is where it should be "
            f"({reason_how})",
            impressions_elasticity=b,
            spend_elasticity=e,
            cpa_expected=expected,
            **base,
        )
    kind: Literal["raise", "lower"] = "raise" if proposed > current else "lower"
    why = (
        f"CPA {cpa_now:.2f} is under the target {target:.2f}"
        + (f" and the budget is {pacing:.0%} spent" if pacing is not None else "")
        if kind == "raise"
        else f"CPA {cpa_now:.2f} is over the target {target:.2f}"
    )
    return BidAdvice(
        kind=kind,
        proposed_bid_micros=proposed,
        reason=f"{why}: {kind} the bid ({reason_how})",
        impressions_elasticity=b,
        spend_elasticity=e,
        cpa_expected=expected,
        **base,
    )


def _uncapped(
    rows: Sequence[BidDay], target: float | None, minor: int, cfg: BidConfig, base: dict[str, object]
) -> BidAdvice:
    live = [d for d in rows if d.spend_micros > 0]
    spend = sum(d.spend_micros for d in live) / MICRO
    conv = sum(d.conversions for d in live)
    clicks = sum(d.clicks for d in live)
    if target is None or len(live) < 7 or conv < 10 or clicks == 0:
        return BidAdvice(
            kind="keep", proposed_bid_micros=None, reason="too little to judge the CPA's volatility", **base
        )
    rate = conv / spend
    expected = np.array([d.spend_micros / MICRO * rate for d in live])
    observed = np.array([d.conversions for d in live], float)
    dispersion = float(np.sum((observed - expected) ** 2 / np.maximum(expected, 1e-9)) / (len(live) - 1))
    dear = sum(d.spend_micros / MICRO > cfg.dear_ratio * target * max(d.conversions, 1) for d in live) / len(
        live
    )
    if dispersion < cfg.volatile_dispersion or dear < cfg.dear_day_share:
        return BidAdvice(
            kind="keep",
            proposed_bid_micros=None,
            reason=f"no cap needed: conversions vary {dispersion:.1f}x the Poisson spread, {dear:.0%} of "
            f"days over {cfg.dear_ratio:g}x the target CPA",
            **base,
        )
    cap = _round(target * (conv / clicks) * MICRO, minor)
    return BidAdvice(
        kind="cap",
        proposed_bid_micros=cap,
        reason=f"volatile CPA: conversions vary {dispersion:.1f}x the Poisson spread and {dear:.0%} of days "
        f"cost over {cfg.dear_ratio:g}x the target {target:.2f} per conversion; a cap of {cap / MICRO:.2f} a "
        f"click is the target at its {conv / clicks:.2%} conversion rate",
        **base,
    )
