"""Creative fatigue: is an ad's CTR falling with its frequency (or age) beyond noise and the weekday?

A binomial regression of daily clicks on impressions, with a weekday effect and one slope on the ad's
cumulative frequency proxy (impressions so far per reachable person, or days live), fitted by
iteratively reweighted least squares. An ad is flagged when the slope is negative, its z-score clears
the threshold, and the fitted CTR has fallen by at least `min_drop` over the observed range.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats


class FatigueDay(BaseModel):
    day: dt.date
    impressions: int = Field(ge=0)
    clicks: int = Field(ge=0)


class FatigueVerdict(BaseModel):
    fatigued: bool
    slope: float | None  # change in log-odds CTR per unit of exposure
    z: float | None
    p_value: float | None
    ctr_drop: float | None  # fitted relative CTR fall from the first to the last day
    days: int
    reason: str


def _irls(
    x: np.ndarray, clicks: np.ndarray, trials: np.ndarray, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    beta = np.zeros(x.shape[1])
    beta[0] = np.log((clicks.sum() + 0.5) / (trials.sum() - clicks.sum() + 0.5))
    for _ in range(iterations):
        eta = x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        w = trials * p * (1 - p)
        z = eta + (clicks - trials * p) / np.maximum(w, 1e-12)
        xtw = x.T * w
        hessian = xtw @ x + 1e-9 * np.eye(x.shape[1])
        new = np.linalg.solve(hessian, xtw @ z)
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    w = trials * p * (1 - p)
    cov = np.linalg.inv((x.T * w) @ x + 1e-9 * np.eye(x.shape[1]))
    return beta, cov


def detect_fatigue(
    days: list[FatigueDay],
    *,
    exposure: list[float] | None = None,
    z_threshold: float = 3.0,
    min_drop: float = 0.15,
    min_days: int = 10,
    min_impressions: int = 5_000,
) -> FatigueVerdict:
    """Flag fatigue; `exposure` defaults to cumulative impressions (in thousands) before each day."""
    rows = sorted(days, key=lambda d: d.day)
    rows = [r for r in rows if r.impressions > 0]
    if any(r.clicks > r.impressions for r in rows):
        raise ValueError("a day has more clicks than impressions")
    total = sum(r.impressions for r in rows)
    if len(rows) < min_days or total < min_impressions:
        return FatigueVerdict(
            fatigued=False,
            slope=None,
            z=None,
            p_value=None,
            ctr_drop=None,
            days=len(rows),
            reason=f"needs more data: {len(rows)} days and {total:,} impressions "
            f"(at least {min_days} days and {min_impressions:,})",
        )
    trials = np.array([r.impressions for r in rows], float)
    clicks = np.array([r.clicks for r in rows], float)
    if exposure is None:
        expo = (np.cumsum(trials) - trials) / 1000.0
    else:
        if len(exposure) != len(days):
            raise ValueError("exposure needs one value per day")
        by_day = dict(zip([d.day for d in sorted(days, key=lambda d: d.day)], exposure, strict=True))
        expo = np.array([by_day[r.day] for r in rows], float)
    if not np.all(np.isfinite(expo)):
        raise ValueError("exposure must be finite")
    weekday = np.array([r.day.weekday() for r in rows])
    dummies = [
        (weekday == k).astype(float) for k in range(1, 7) if (weekday == k).any() and (weekday != k).any()
    ]
    span = float(expo.max() - expo.min())
    if span <= 0:
        return FatigueVerdict(
            fatigued=False,
            slope=None,
            z=None,
            p_value=None,
            ctr_drop=None,
            days=len(rows),
            reason="exposure did not change over the days observed",
        )
    x = np.column_stack([np.ones(len(rows)), (expo - expo.min()) / span, *dummies])
    beta, cov = _irls(x, clicks, trials)
    slope, se = float(beta[1]), float(np.sqrt(cov[1, 1]))
    z = slope / se if se > 0 else 0.0
    p_value = float(stats.norm.cdf(z))  # one-sided: a falling CTR
    base = 1.0 / (1.0 + np.exp(-beta[0]))
    end = 1.0 / (1.0 + np.exp(-(beta[0] + slope)))
    drop = float(1.0 - end / base)
    fatigued = z <= -z_threshold and drop >= min_drop
    reason = (
        f"CTR falls {drop:.0%} across the exposure observed (z {z:.1f}, one-sided p {p_value:.1e}), "
        "weekday removed"
        if fatigued
        else f"no significant fall: z {z:.1f}, fitted change {-drop:+.0%} (needs z <= -{z_threshold} and a "
        f"{min_drop:.0%} drop)"
    )
    return FatigueVerdict(
        fatigued=fatigued,
        slope=slope / span,
        z=z,
        p_value=p_value,
        ctr_drop=drop,
        days=len(rows),
        reason=reason,
    )
