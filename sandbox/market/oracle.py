"""The oracle: the best split of a total daily budget over ad sets, on their true response curves.

Expected purchases of ad set i at daily spend b: r_i * C_i * (1 - exp(-b / S_i)) for b up to the
saturation cap; the optimum equalises marginal purchases per unit of spend (water-filling), found
by bisection on the marginal value.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from sandbox.market.params import SATURATION_SCALES


class Curve(BaseModel):
    """One ad set's true daily response on a given day (money in the account currency's major units)."""

    adset_id: str
    capacity: float  # impressions per day at saturation
    scale: float  # spend scale S
    conversions_per_impression: float

    def conversions(self, spend: np.ndarray | float) -> np.ndarray:
        b = np.minimum(np.asarray(spend, dtype=float), SATURATION_SCALES * self.scale)
        return self.conversions_per_impression * self.capacity * (1.0 - np.exp(-b / max(self.scale, 1e-12)))

    def marginal_cpa(self, spend: float) -> float:
        """Spend per extra purchase at this spend level (infinite past saturation)."""
        if spend >= SATURATION_SCALES * self.scale:
            return float("inf")
        rate = self.conversions_per_impression * self.capacity / self.scale * np.exp(-spend / self.scale)
        return float(1.0 / rate) if rate > 0 else float("inf")


def water_fill(curves: list[Curve], total: float, *, iterations: int = 200) -> np.ndarray:
    """Spend per curve maximising expected purchases with sum(spend) <= total."""
    if total < 0:
        raise ValueError("total budget must not be negative")
    if not curves:
        return np.zeros(0)
    scale = np.array([c.scale for c in curves])
    gain = np.array([c.conversions_per_impression * c.capacity / max(c.scale, 1e-12) for c in curves])
    cap = SATURATION_SCALES * scale
    if cap.sum() <= total:
        return cap

    def spend_at(lam: float) -> np.ndarray:
        with np.errstate(divide="ignore"):
            b = scale * np.log(np.where(gain > 0, gain / lam, 0.0))
        return np.clip(np.nan_to_num(b, nan=0.0, neginf=0.0), 0.0, cap)

    lo, hi = 1e-300, float(gain.max()) if gain.max() > 0 else 1.0
    for _ in range(iterations):
        mid = np.sqrt(lo * hi) if lo > 0 else hi / 2
        if spend_at(mid).sum() > total:
            lo = mid
        else:
            hi = mid
    return spend_at(hi)


def expected_conversions(curves: list[Curve], spend: np.ndarray) -> float:
    return float(sum(c.conversions(s) for c, s in zip(curves, spend, strict=True)))
