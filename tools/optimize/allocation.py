"""Budget allocation across ad sets (and platforms) of one currency: fitted diminishing-returns curves,
moved toward equal marginal return under a total budget and every guardrail; the seed's CPA rule and an
equal split as baselines behind the same interface.

Each ad set's daily history (spend, conversions) is fitted to conversions(b) = A (1 - exp(-b / S)); a
parametric bootstrap gives the fit's uncertainty, and ad sets whose curve is uncertain are valued
optimistically (an upper quantile of A) so that they get the budget that teaches something. The split
then solves max sum A_i (1 - exp(-b_i / S_i)) subject to sum b_i = total and lo_i <= b_i <= hi_i, where
the bounds combine the ad set's min/max, the platform minimum and the maximum change per step
(water-filling: equal marginal conversions per unit of spend, by bisection on the multiplier).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field, model_validator
from scipy.optimize import least_squares


class AllocationError(ValueError):
    """The request cannot be met as asked (the message says which constraint)."""


class AdSetHistory(BaseModel):
    """What the allocator knows about one ad set; money in integer micros of `currency`."""

    adset_id: str
    currency: str = Field(min_length=3, max_length=3)
    minor_unit_micros: int = Field(default=10_000, gt=0, description="budgets are whole minor units")
    current_budget_micros: int = Field(gt=0)
    min_budget_micros: int = Field(default=0, ge=0)
    max_budget_micros: int | None = Field(default=None, gt=0)
    spend_micros: list[int] = Field(default_factory=list, description="daily spend, oldest first")
    conversions: list[float] = Field(default_factory=list, description="daily conversions (or value)")
    impressions: list[int] | None = Field(
        default=None, description="daily impressions: a far less noisy curve"
    )

    @model_validator(mode="after")
    def _consistent(self) -> AdSetHistory:
        if len(self.spend_micros) != len(self.conversions) or (
            self.impressions is not None and len(self.impressions) != len(self.spend_micros)
        ):
            raise ValueError(
                f"{self.adset_id}: spend, conversions and impressions must have one entry per day"
            )
        if any(s < 0 for s in self.spend_micros) or any(
            not np.isfinite(c) or c < 0 for c in self.conversions
        ):
            raise ValueError(f"{self.adset_id}: spend and conversions must be finite and not negative")
        if self.max_budget_micros is not None and self.max_budget_micros < self.min_budget_micros:
            raise ValueError(f"{self.adset_id}: max budget below min budget")
        return self


class Guardrails(BaseModel):
    max_change: float | None = Field(default=0.3, gt=0, description="largest relative change per step")
    exploration: float = Field(default=1.0, ge=0, description="z of the optimistic quantile of a curve")
    min_days: int = Field(default=7, ge=2, description="days of history before a curve is trusted")


class CurveFit(BaseModel):
    scale: float  # S, in major units of spend
    ceiling: float  # A, conversions at saturation
    ceiling_sd: float
    days: int

    def conversions(self, spend: float, *, ceiling: float | None = None) -> float:
        return float((ceiling if ceiling is not None else self.ceiling) * (1 - np.exp(-spend / self.scale)))


class Proposal(BaseModel):
    adset_id: str
    currency: str
    current_budget_micros: int
    proposed_budget_micros: int
    expected_conversions_now: float | None
    expected_conversions_after: float | None
    interval_after: tuple[float, float] | None
    cpa_now: float | None
    cpa_after: float | None
    evidence: str


class Allocator(Protocol):
    name: str

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]: ...


def fit_delivery_curve(
    spend_micros: list[int], impressions: list[int], conversions: list[float]
) -> CurveFit | None:
    """The response fitted on impressions (thousands a day, little noise) times conversions per impression;
    the uncertainty of the conversion rate (Beta posterior) becomes the uncertainty of the ceiling."""
    b = np.asarray(spend_micros, float) / 1e6
    imps = np.asarray(impressions, float)
    conv = float(np.sum(conversions))
    use = (b > 0) & (imps > 0)
    if use.sum() < 2 or conv <= 0:
        return None
    b, imps = b[use], imps[use]

    def residual(theta: np.ndarray) -> np.ndarray:
        capacity, scale = np.exp(theta)
        return (imps - capacity * (1 - np.exp(-b / scale))) / np.sqrt(imps)

    fit = least_squares(
        residual, np.log([imps.max() * 2, b.mean()]), bounds=(np.log([1.0, 1e-6]), np.log([1e12, 1e9]))
    )
    capacity, scale = np.exp(fit.x)
    total_imps = float(np.sum(impressions))
    rate = (conv + 0.5) / (total_imps + 1.0)
    rate_sd = float(np.sqrt(rate * (1 - rate) / (total_imps + 1.0)))
    return CurveFit(
        scale=float(scale),
        ceiling=float(capacity * rate),
        ceiling_sd=float(capacity * rate_sd),
        days=int(b.size),
    )


def fit_curve(
    spend_micros: list[int], conversions: list[float], *, seed: int = 0, boot: int = 30
) -> CurveFit | None:
    """Least-squares fit of A (1 - exp(-b / S)), a parametric bootstrap of A; None without enough signal."""
    b = np.asarray(spend_micros, float) / 1e6
    y = np.asarray(conversions, float)
    use = b > 0
    b, y = b[use], y[use]
    if b.size < 2 or y.sum() <= 0 or (np.ptp(b) <= 0 and b.size < 3):
        return None

    def solve(target: np.ndarray) -> tuple[float, float]:
        def residual(theta: np.ndarray) -> np.ndarray:
            ceiling, scale = np.exp(theta)
            return (target - ceiling * (1 - np.exp(-b / scale))) / np.sqrt(np.maximum(target, 1.0))

        start = np.log([max(target.max(), 1e-3) * 2, max(b.mean(), 1e-6)])
        fit = least_squares(residual, start, bounds=(np.log([1e-6, 1e-6]), np.log([1e9, 1e9])))
        ceiling, scale = np.exp(fit.x)
        return float(ceiling), float(scale)

    ceiling, scale = solve(y)
    rng = np.random.default_rng(seed)
    expected = ceiling * (1 - np.exp(-b / scale))
    boots = [solve(rng.poisson(np.maximum(expected, 1e-9)).astype(float))[0] for _ in range(boot)]
    return CurveFit(scale=scale, ceiling=ceiling, ceiling_sd=float(np.std(boots)), days=int(b.size))


def water_fill(
    ceilings: np.ndarray, scales: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float
) -> np.ndarray:
    """argmax sum A_i (1 - exp(-b_i / S_i)) with sum b_i = total and lo_i <= b_i <= hi_i."""
    if lo.sum() > total + 1e-9:
        raise AllocationError(f"the total budget {total:.2f} is below the sum of minimums {lo.sum():.2f}")
    if hi.sum() < total - 1e-9:
        return hi.copy()  # every ad set at its ceiling; the rest stays unspent
    gain = ceilings / scales  # marginal conversions per unit of spend at zero spend

    def spend_at(lam: float) -> np.ndarray:
        with np.errstate(divide="ignore"):
            b = scales * np.log(np.where(gain > 0, gain / lam, 1e-300))
        return np.clip(b, lo, hi)

    low, high = 1e-300, float(max(gain.max(), 1e-300)) * 10
    for _ in range(300):
        mid = np.sqrt(low * high)
        if spend_at(mid).sum() > total:
            low = mid
        else:
            high = mid
    return spend_at(high)


def _bounds(a: AdSetHistory, guard: Guardrails) -> tuple[float, float]:
    current = a.current_budget_micros / 1e6
    lo, hi = a.min_budget_micros / 1e6, (a.max_budget_micros / 1e6 if a.max_budget_micros else np.inf)
    if guard.max_change is not None:
        lo, hi = max(lo, current * (1 - guard.max_change)), min(hi, current * (1 + guard.max_change))
    return lo, max(lo, hi)


def _round(micros: float, a: AdSetHistory) -> int:
    return int(micros // a.minor_unit_micros) * a.minor_unit_micros


def _one_currency(adsets: list[AdSetHistory], total: int) -> None:
    if not adsets:
        raise AllocationError("no ad sets to allocate over")
    currencies = {a.currency for a in adsets}
    if len(currencies) > 1:
        raise AllocationError(f"one allocation is in one currency; got {sorted(currencies)}")
    if total <= 0:
        raise AllocationError("the total budget must be positive")


class CurveAllocator:
    """Fitted curves + optimism where uncertain + water-filling under the guardrails."""

    name = "curves"

    def __init__(self, guardrails: Guardrails | None = None, *, seed: int = 0) -> None:
        self.guard = guardrails or Guardrails()
        self.seed = seed

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _one_currency(adsets, total_budget_micros)
        fits = [self._fit(a) for a in adsets]
        known = [f for f in fits if f is not None]
        # No trusted curve yet: the median gain of the others (or a flat one), scaled to its own budget.
        median_gain = float(np.median([f.ceiling / f.scale for f in known])) if known else 1.0
        ceilings, scales = [], []
        for a, f in zip(adsets, fits, strict=True):
            if f is None:
                scale = max(a.current_budget_micros / 1e6, 1e-6)
                ceilings.append(median_gain * scale * (1 + self.guard.exploration))
                scales.append(scale)
            else:
                ceilings.append(f.ceiling + self.guard.exploration * f.ceiling_sd)
                scales.append(f.scale)
        bounds = np.array([_bounds(a, self.guard) for a in adsets])
        spend = water_fill(
            np.array(ceilings), np.array(scales), bounds[:, 0], bounds[:, 1], total_budget_micros / 1e6
        )
        return [self._proposal(a, f, s) for a, f, s in zip(adsets, fits, spend, strict=True)]

    def _fit(self, a: AdSetHistory) -> CurveFit | None:
        if len(a.spend_micros) < self.guard.min_days:
            return None
        if a.impressions is not None:
            return fit_delivery_curve(a.spend_micros, a.impressions, a.conversions)
        return fit_curve(a.spend_micros, a.conversions, seed=self.seed)

    def _proposal(self, a: AdSetHistory, fit: CurveFit | None, spend: float) -> Proposal:
        proposed = max(_round(spend * 1e6, a), a.minor_unit_micros)
        if fit is None:
            return _plain(
                a,
                proposed,
                f"needs more data: {len(a.spend_micros)} day(s) of history, "
                f"{self.guard.min_days} needed for a curve",
            )
        now_b, after_b = a.current_budget_micros / 1e6, proposed / 1e6
        now, after = fit.conversions(now_b), fit.conversions(after_b)
        spread = 1.96 * fit.ceiling_sd * (1 - np.exp(-after_b / fit.scale))
        return Proposal(
            adset_id=a.adset_id,
            currency=a.currency,
            current_budget_micros=a.current_budget_micros,
            proposed_budget_micros=proposed,
            expected_conversions_now=now,
            expected_conversions_after=after,
            interval_after=(max(after - spread, 0.0), after + spread),
            cpa_now=now_b / now if now > 0 else None,
            cpa_after=after_b / after if after > 0 else None,
            evidence=f"curve from {fit.days} days: saturation {fit.ceiling:.1f} conversions/day "
            f"(sd {fit.ceiling_sd:.1f}), scale {fit.scale:.2f} {a.currency}/day",
        )


class EqualSplit:
    """Baseline: the same budget for every ad set."""

    name = "equal"

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _one_currency(adsets, total_budget_micros)
        share = total_budget_micros / len(adsets)
        return [_plain(a, max(_round(share, a), a.minor_unit_micros), "equal split") for a in adsets]


class CpaRule:
    """Baseline, the seed's rule: cut 20% when CPA is above 1.2x goal, raise 20% below 0.8x."""

    name = "cpa_rule"

    def __init__(self, goal_cpa: float, *, days: int = 7) -> None:
        if not goal_cpa > 0:
            raise AllocationError("the CPA rule needs a positive goal CPA")
        self.goal, self.days = goal_cpa, days

    def allocate(self, adsets: list[AdSetHistory], total_budget_micros: int) -> list[Proposal]:
        _one_currency(adsets, total_budget_micros)
        out = []
        for a in adsets:
            spend = sum(a.spend_micros[-self.days :]) / 1e6
            conv = sum(a.conversions[-self.days :])
            cpa = spend / conv if conv > 0 else float("inf")
            factor = 0.8 if cpa > 1.2 * self.goal else 1.2 if cpa < 0.8 * self.goal else 1.0
            out.append(
                _plain(
                    a,
                    max(_round(a.current_budget_micros * factor, a), a.minor_unit_micros),
                    f"CPA {cpa:.2f} vs goal {self.goal:.2f}: x{factor}",
                )
            )
        return out


def _plain(a: AdSetHistory, proposed: int, why: str) -> Proposal:
    return Proposal(
        adset_id=a.adset_id,
        currency=a.currency,
        current_budget_micros=a.current_budget_micros,
        proposed_budget_micros=proposed,
        expected_conversions_now=None,
        expected_conversions_after=None,
        interval_after=None,
        cpa_now=None,
        cpa_after=None,
        evidence=why,
    )

