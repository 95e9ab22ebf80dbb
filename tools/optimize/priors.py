"""Empirical-Bayes Beta priors from an account's own creatives, so a new test starts where the
account's creatives really are (CTRs under 1%) instead of at Beta(1, 1)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

DEFAULT_STRENGTH = 50.0  # pseudo-trials of a fallback prior when the history cannot estimate spread


class BetaPrior(BaseModel):
    alpha: float = Field(gt=0)
    beta: float = Field(gt=0)
    creatives: int = Field(ge=0, description="how many creatives with data informed it")
    basis: str = Field(description="moments | pooled mean (no spread estimate) | default")

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


def empirical_bayes_prior(
    successes: np.ndarray, trials: np.ndarray, *, default_rate: float = 0.01, max_strength: float = 1e5
) -> BetaPrior:
    """A Beta prior by the beta-binomial method of moments over creatives' (successes, trials).

    The spread between creatives is the variance of their rates minus the binomial noise each rate
    carries; the prior's strength alpha + beta = m (1 - m) / spread - 1. With fewer than two creatives
    with data, or no spread beyond noise, it falls back to a weak prior at the pooled (or default) mean.
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if s.shape != n.shape:
        raise ValueError("successes and trials must have the same length")
    if np.any(~np.isfinite(s)) or np.any(~np.isfinite(n)) or np.any(s < 0) or np.any(s > n):
        raise ValueError("need finite 0 <= successes <= trials for every creative")
    if not 0 < default_rate < 1:
        raise ValueError("default_rate must be in (0, 1)")
    used = n > 0
    if not used.any() or s[used].sum() == 0:
        m = default_rate if not used.any() else max(0.5 / n[used].sum(), 1e-6)
        return BetaPrior(
            alpha=m * DEFAULT_STRENGTH,
            beta=(1 - m) * DEFAULT_STRENGTH,
            creatives=int(used.sum()),
            basis="default",
        )
    s, n = s[used], n[used]
    m = float(s.sum() / n.sum())
    m = min(max(m, 1e-6), 1 - 1e-6)
    if s.size < 2:
        return BetaPrior(
            alpha=m * DEFAULT_STRENGTH,
            beta=(1 - m) * DEFAULT_STRENGTH,
            creatives=1,
            basis="pooled mean (no spread estimate)",
        )
    rates = s / n
    weights = n / n.sum()
    observed = float(np.sum(weights * (rates - m) ** 2))
    noise = float(np.sum(weights * m * (1 - m) / n))
    spread = observed - noise
    # No spread beyond noise: the creatives look alike, so the prior may be as strong as allowed.
    strength = max_strength if spread <= 0 else min(max(m * (1 - m) / spread - 1.0, 2.0), max_strength)
    return BetaPrior(alpha=m * strength, beta=(1 - m) * strength, creatives=int(s.size), basis="moments")
