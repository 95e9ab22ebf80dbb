"""Audience segments that cost more (or less) per conversion than their ad set, credibly.

Per ad set and dimension (age, gender, country or placement), each segment's conversions are Poisson in
its spend with a rate (conversions per unit of money) of its own. The rates of one ad set's segments
are drawn from a Gamma around the ad set's pooled rate, whose spread (the shape a) is learnt from the
segments themselves: each segment's posterior, Gamma(a + conversions, a / pooled + spend), is averaged
over a grid of shapes weighted by the negative-binomial marginal likelihood of all the segments
(hierarchical Bayes on a grid). A segment with little spend stays near the ad set, so three clicks and a
lucky conversion are never "the best".

A segment is `worse` when its posterior probability of a lower rate than the ad set's is at least
`credibility` and its posterior median CPA is at least `min_lift` above the ad set's (a difference that
is both credible and worth acting on), `better` symmetrically, `as_adset` otherwise, and `no_data` when
it spent nothing. CPA figures are in major units of the ad set's currency (estimates, not money acted
on: an action's money stays integer micros).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import optimize, special, stats

Dimension = Literal["age", "gender", "country", "placement"]
Verdict = Literal["worse", "better", "as_adset", "no_data"]
MICRO = 1_000_000


class SegmentFigures(BaseModel):
    value: str = Field(min_length=1)
    spend_micros: int = Field(ge=0)
    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(ge=0)
    value_micros: int = Field(default=0, ge=0)


class SegmentVerdict(BaseModel):
    value: str
    verdict: Verdict
    spend_micros: int
    conversions: int
    spend_share: float
    cpa_observed: float | None  # spend / conversions, major units; None without conversions
    cpa_estimate: float | None  # posterior median CPA, shrunk toward the ad set's
    cpa_interval: tuple[float, float] | None  # central credible interval of the CPA at `credibility`
    prob_worse: float | None  # posterior P(rate < the ad set's rate): P(CPA above the ad set's)
    reason: str


class SegmentReport(BaseModel):
    dimension: Dimension
    spend_micros: int
    conversions: int
    adset_cpa: float | None
    prior_shape: float | None = Field(description="the Gamma prior's mean shape: large means little spread")
    segments: list[SegmentVerdict]


SHAPES = np.geomspace(0.5, 1e4, 48)  # the grid of prior shapes the posterior averages over


class _Mixture:
    """A segment's posterior rate: Gamma(a + c, a / pooled + x) averaged over the prior shapes `a`,
    weighted by how well each shape explains all the ad set's segments (the negative-binomial marginal
    likelihood, a log-uniform prior on the grid). Averaging, rather than plugging in one estimated
    shape, keeps the intervals honest when a few segments say little about the spread."""

    def __init__(self, shapes: np.ndarray, weights: np.ndarray, pooled: float, c: float, x: float) -> None:
        self.dists = stats.gamma(shapes + c, scale=1 / (shapes / pooled + x))
        self.weights = weights

    def cdf(self, rate: float) -> float:
        return float(np.dot(self.weights, self.dists.cdf(rate)))

    def ppf(self, q: float) -> float:
        lo = float(np.min(self.dists.ppf(q)))
        hi = float(np.max(self.dists.ppf(q)))
        if hi - lo <= 1e-15 * max(hi, 1e-300):
            return hi
        return float(optimize.brentq(lambda r: self.cdf(r) - q, lo, hi, xtol=1e-12 * hi))


def _shape_weights(conv: np.ndarray, spend: np.ndarray, pooled: float) -> tuple[np.ndarray, np.ndarray]:
    """The prior shapes and their posterior weights. Shapes above the ad set's conversions per segment
    are left out: the pooled rate they would centre on is itself known only that well."""
    live = spend > 0
    c, x = conv[live], spend[live]
    cap = max(1.0, float(c.sum()) / max(1, int(live.sum())))
    shapes = SHAPES[cap >= SHAPES]
    if shapes.size == 0:
        shapes = SHAPES[:1]
    a = shapes[:, None]
    mu = pooled * x[None, :]
    loglik = (
        special.gammaln(a + c)
        - special.gammaln(a)
        - special.gammaln(c + 1)
        + a * np.log(a / (a + mu))
        + c * np.log(np.where(mu > 0, mu / (a + mu), 1.0))
    ).sum(axis=1)
    w = np.exp(loglik - loglik.max())
    return shapes, w / w.sum()


def segment_report(
    segments: Sequence[SegmentFigures],
    *,
    dimension: Dimension,
    credibility: float = 0.95,
    min_lift: float = 0.2,
) -> SegmentReport:
    """Each segment of one ad set's dimension against the ad set (the sum of the segments)."""
    if not 0.5 < credibility < 1:
        raise ValueError("credibility must be between 0.5 and 1")
    if min_lift < 0:
        raise ValueError("min_lift must not be negative")
    values = [s.value for s in segments]
    if len(set(values)) != len(values):
        raise ValueError(f"a {dimension} segment is listed twice: {sorted(values)}")
    spend = np.array([s.spend_micros / MICRO for s in segments], float)
    conv = np.array([s.conversions for s in segments], float)
    total_spend, total_conv = float(spend.sum()), float(conv.sum())
    total_micros = sum(s.spend_micros for s in segments)
    if total_spend <= 0 or total_conv <= 0:
        why = "no spend" if total_spend <= 0 else "no conversions in the ad set: no CPA to compare with"
        return SegmentReport(
            dimension=dimension,
            spend_micros=total_micros,
            conversions=int(total_conv),
            adset_cpa=None,
            prior_shape=None,
            segments=[
                SegmentVerdict(
                    value=s.value,
                    verdict="no_data",
                    spend_micros=s.spend_micros,
                    conversions=s.conversions,
                    spend_share=s.spend_micros / total_micros if total_micros else 0.0,
                    cpa_observed=None,
                    cpa_estimate=None,
                    cpa_interval=None,
                    prob_worse=None,
                    reason=why,
                )
                for s in segments
            ],
        )
    pooled = total_conv / total_spend
    shapes, weights = _shape_weights(conv, spend, pooled)
    shape = float(np.dot(weights, shapes))
    adset_cpa = 1 / pooled
    tail = (1 - credibility) / 2
    out = []
    for s, x, c in zip(segments, spend, conv, strict=True):
        share = s.spend_micros / total_micros
        observed = x / c if c else None
        if x <= 0:
            out.append(
                SegmentVerdict(
                    value=s.value,
                    verdict="no_data",
                    spend_micros=s.spend_micros,
                    conversions=s.conversions,
                    spend_share=share,
                    cpa_observed=None,
                    cpa_estimate=None,
                    cpa_interval=None,
                    prob_worse=None,
                    reason="no spend in this segment",
                )
            )
            continue
        posterior = _Mixture(shapes, weights, pooled, c, x)
        prob_worse = posterior.cdf(pooled)
        median_cpa = 1 / posterior.ppf(0.5)
        low_rate, high_rate = posterior.ppf(tail), posterior.ppf(1 - tail)
        interval = (1 / high_rate, 1 / low_rate if low_rate > 0 else float("inf"))
        if prob_worse >= credibility and median_cpa >= adset_cpa * (1 + min_lift):
            verdict: Verdict = "worse"
            reason = (
                f"CPA about {median_cpa:.2f} ({interval[0]:.2f}-{interval[1]:.2f}) against the ad set's "
                f"{adset_cpa:.2f}; {prob_worse:.0%} likely worse, on {share:.0%} of the spend"
            )
        elif 1 - prob_worse >= credibility and median_cpa <= adset_cpa / (1 + min_lift):
            verdict = "better"
            reason = (
                f"CPA about {median_cpa:.2f} ({interval[0]:.2f}-{interval[1]:.2f}) against the ad set's "
                f"{adset_cpa:.2f}; {1 - prob_worse:.0%} likely better"
            )
        else:
            verdict = "as_adset"
            reason = (
                f"not credibly different: CPA about {median_cpa:.2f} ({interval[0]:.2f}-{interval[1]:.2f}) "
                f"against the ad set's {adset_cpa:.2f}"
            )
        out.append(
            SegmentVerdict(
                value=s.value,
                verdict=verdict,
                spend_micros=s.spend_micros,
                conversions=s.conversions,
                spend_share=share,
                cpa_observed=observed,
                cpa_estimate=median_cpa,
                cpa_interval=interval,
                prob_worse=prob_worse,
                reason=reason,
            )
        )
    return SegmentReport(
        dimension=dimension,
        spend_micros=total_micros,
        conversions=int(total_conv),
        adset_cpa=adset_cpa,
        prior_shape=shape,
        segments=out,
    )
