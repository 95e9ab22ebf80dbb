"""Diminishing-returns response curves and the water-filling that splits a budget across them.

A curve is results(b) = A (1 - exp(-b / S)) with b the daily spend in major units: A is the saturation
(results a day at unlimited spend) and A / S the marginal return of the first unit spent. The split
maximises the sum of the curves under a total, per-entity bounds and optional group caps (accounts),
by equalising marginal returns (the KKT conditions of this concave, separable problem).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from scipy.optimize import least_squares


class AllocationError(ValueError):
    """The request cannot be met as asked (the message says which constraint)."""


class CurveFit(BaseModel):
    scale: float  # S, in major units of spend
    ceiling: float  # A, results at saturation
    ceiling_sd: float
    days: int

    def results(self, spend: float, *, ceiling: float | None = None) -> float:
        return float((ceiling if ceiling is not None else self.ceiling) * (1 - np.exp(-spend / self.scale)))


def fit_delivery_curve(
    spend_micros: list[int], impressions: list[int], results: list[float]
) -> CurveFit | None:
    """The response fitted on impressions (thousands a day, little noise) times results per impression;
    the uncertainty of that rate (a binomial posterior) becomes the uncertainty of the ceiling."""
    b = np.asarray(spend_micros, float) / 1e6
    imps = np.asarray(impressions, float)
    total_results = float(np.sum(results))
    use = (b > 0) & (imps > 0)
    if use.sum() < 2 or total_results <= 0:
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
    rate = (total_results + 0.5) / (total_imps + 1.0)
    rate_sd = float(np.sqrt(rate * max(1 - rate, 0.0) / (total_imps + 1.0)))
    return CurveFit(
        scale=float(scale),
        ceiling=float(capacity * rate),
        ceiling_sd=float(capacity * rate_sd),
        days=int(b.size),
    )


def fit_curve(
    spend_micros: list[int], results: list[float], *, seed: int = 0, boot: int = 30
) -> CurveFit | None:
    """Least-squares fit of A (1 - exp(-b / S)), a parametric bootstrap of A; None without enough signal."""
    b = np.asarray(spend_micros, float) / 1e6
    y = np.asarray(results, float)
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


def _water_fill(
    ceilings: np.ndarray, scales: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float
) -> np.ndarray:
    if lo.sum() > total + 1e-9:
        raise AllocationError(f"the total budget {total:.2f} is below the sum of minimums {lo.sum():.2f}")
    if hi.sum() < total - 1e-9:
        return hi.copy()  # every entity at its ceiling; the rest stays unspent
    gain = ceilings / scales  # marginal results per unit of spend at zero spend

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


def water_fill(
    ceilings: np.ndarray,
    scales: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    total: float,
    *,
    groups: np.ndarray | None = None,
    group_caps: dict[int, float] | None = None,
) -> np.ndarray:
    """argmax sum A_i (1 - exp(-b_i / S_i)) with sum b_i <= total, lo_i <= b_i <= hi_i and, per group g
    with a cap, sum of b_i over g <= cap_g.

    Group caps: a group over its cap is solved alone at its cap (its own, higher multiplier), fixed, and
    the others re-solved on what is left, until no group exceeds its cap.
    """
    caps = group_caps or {}
    if not caps:
        return _water_fill(ceilings, scales, lo, hi, total)
    if groups is None or groups.shape != ceilings.shape:
        raise ValueError("group caps need one group label per entity")
    for g, cap in caps.items():
        floor = lo[groups == g].sum()
        if floor > cap + 1e-9:
            raise AllocationError(
                f"group {g}: its cap {cap:.2f} is below the sum of its minimums {floor:.2f}"
            )
    spend = np.zeros_like(ceilings)
    free = np.ones(ceilings.size, bool)
    left = total
    while True:
        idx = np.flatnonzero(free)
        if idx.size == 0:
            return spend
        spend[idx] = _water_fill(ceilings[idx], scales[idx], lo[idx], hi[idx], left)
        over = [
            g for g, cap in caps.items() if free[groups == g].any() and spend[groups == g].sum() > cap + 1e-9
        ]
        if not over:
            return spend
        for g in over:
            members = np.flatnonzero((groups == g) & free)
            fixed = spend[(groups == g) & ~free].sum()
            spend[members] = _water_fill(
                ceilings[members], scales[members], lo[members], hi[members], caps[g] - fixed
            )
            free[members] = False
            left -= spend[members].sum()
