"""A/B tests that stay valid under daily peeking: a mixture sequential probability ratio test (mSPRT,
Johari, Pekelis and Walsh 2017, "Always valid inference") on the log ratio of two arms' rates.

- Metrics: `ctr` (clicks per impression), `cvr` (conversions per click), both binomial; `cpa`
  (conversions per unit of spend, Poisson in spend; a higher rate is a lower CPA).
- The estimate is theta = log(rate_treatment / rate_control) with its delta-method variance V. With a
  normal mixing distribution N(0, tau^2) over the true effect, the mixture likelihood ratio is
  Lambda = sqrt(V / (V + tau^2)) * exp(theta^2 tau^2 / (2 V (V + tau^2))), and p = min over looks of
  1 / Lambda is an always-valid p-value: stopping at the first look where p <= alpha keeps the false
  winner rate at most alpha however often one looks. Inverting the test gives a confidence sequence
  (the intersection of each look's interval), valid at every look at once.
- More than two arms: each treatment against the control at alpha / (arms - 1) (Bonferroni).
- `plan` gives the per-arm sample (impressions, clicks or conversions) at which the test reaches the
  power asked for a minimum detectable effect, counting only the last look (earlier looks can only add
  power), so the plan is conservative.

tau defaults to the minimum detectable effect on the log scale, the usual choice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import optimize, stats

Metric = Literal["ctr", "cvr", "cpa"]
MICRO = 1_000_000


class ArmDay(BaseModel):
    """One arm's figures on one day (or summed over days)."""

    impressions: int = Field(default=0, ge=0)
    clicks: int = Field(default=0, ge=0)
    conversions: int = Field(default=0, ge=0)
    spend_micros: int = Field(default=0, ge=0)


def _counts(arm: ArmDay, metric: Metric) -> tuple[float, float]:
    """(exposure, successes) of an arm for the metric."""
    if metric == "ctr":
        return float(arm.impressions), float(arm.clicks)
    if metric == "cvr":
        return float(arm.clicks), float(arm.conversions)
    return arm.spend_micros / MICRO, float(arm.conversions)


def log_ratio(control: ArmDay, treatment: ArmDay, metric: Metric) -> tuple[float, float] | None:
    """theta-hat and its variance, or None while either arm has no successes (no estimate yet)."""
    n0, k0 = _counts(control, metric)
    n1, k1 = _counts(treatment, metric)
    if k0 <= 0 or k1 <= 0 or n0 <= 0 or n1 <= 0:
        return None
    if metric != "cpa" and (k0 > n0 or k1 > n1):
        raise ValueError(f"an arm has more successes than trials for {metric}")
    theta = math.log((k1 / n1) / (k0 / n0))
    var = 1 / k0 + 1 / k1 if metric == "cpa" else max(1 / k0 - 1 / n0 + 1 / k1 - 1 / n1, 1e-12)
    return theta, var


def mixture_lr(theta: float, var: float, tau2: float, theta0: float = 0.0) -> float:
    """The mSPRT statistic for H0: theta = theta0 (in logs, to stay finite)."""
    d = theta - theta0
    log_l = 0.5 * math.log(var / (var + tau2)) + d * d * tau2 / (2 * var * (var + tau2))
    return math.exp(min(log_l, 700.0))


def _radius(var: float, tau2: float, alpha: float) -> float:
    """Half-width of the look's interval: the theta0 not rejected at level alpha."""
    return math.sqrt(
        2 * var * (var + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * math.log((var + tau2) / var))
    )


class Look(BaseModel):
    day: int
    theta: float | None
    p_value: float  # always-valid: the running minimum of 1 / Lambda
    low: float | None  # the confidence sequence for theta so far (running intersection)
    high: float | None


class Comparison(BaseModel):
    metric: Metric
    control: str
    treatment: str
    alpha: float
    looks: list[Look]
    decided_at: int | None = Field(description="the first look with p <= alpha, if any")
    winner: str | None
    lift: float | None = Field(description="treatment / control - 1 at the last look, on the rate")
    lift_interval: tuple[float, float] | None

    @property
    def p_value(self) -> float:
        return self.looks[-1].p_value if self.looks else 1.0


def compare(
    control: Sequence[ArmDay],
    treatment: Sequence[ArmDay],
    *,
    metric: Metric,
    mde: float,
    alpha: float = 0.05,
    names: tuple[str, str] = ("control", "treatment"),
) -> Comparison:
    """Daily looks at two arms (each a list of daily figures, same days), cumulative."""
    if len(control) != len(treatment):
        raise ValueError("both arms need the same days")
    if not 0 < alpha < 1 or mde <= 0:
        raise ValueError("alpha must be in (0, 1) and the minimum detectable effect positive")
    tau2 = math.log1p(mde) ** 2
    c_sum, t_sum = ArmDay(), ArmDay()
    p, low, high = 1.0, -math.inf, math.inf
    looks: list[Look] = []
    decided: int | None = None
    for day, (c, t) in enumerate(zip(control, treatment, strict=True)):
        c_sum = _add(c_sum, c)
        t_sum = _add(t_sum, t)
        est = log_ratio(c_sum, t_sum, metric)
        if est is not None:
            theta, var = est
            p = min(p, 1 / mixture_lr(theta, var, tau2))
            r = _radius(var, tau2, alpha)
            low, high = max(low, theta - r), min(high, theta + r)
        looks.append(
            Look(
                day=day,
                theta=est[0] if est else None,
                p_value=p,
                low=None if math.isinf(low) else low,
                high=None if math.isinf(high) else high,
            )
        )
        if decided is None and p <= alpha:
            decided = day
    last = looks[-1].theta if looks else None
    winner = None
    if decided is not None and last is not None:
        winner = names[1] if last > 0 else names[0]
    interval = None
    if looks and looks[-1].low is not None and looks[-1].high is not None:
        interval = (math.expm1(looks[-1].low), math.expm1(looks[-1].high))
    return Comparison(
        metric=metric,
        control=names[0],
        treatment=names[1],
        alpha=alpha,
        looks=looks,
        decided_at=decided,
        winner=winner,
        lift=math.expm1(last) if last is not None else None,
        lift_interval=interval,
    )


def _add(a: ArmDay, b: ArmDay) -> ArmDay:
    return ArmDay(
        impressions=a.impressions + b.impressions,
        clicks=a.clicks + b.clicks,
        conversions=a.conversions + b.conversions,
        spend_micros=a.spend_micros + b.spend_micros,
    )


class Plan(BaseModel):
    metric: Metric
    baseline_rate: float
    mde: float
    power: float
    alpha: float
    per_arm: float = Field(
        description="impressions (ctr), clicks (cvr) or spend in major units (cpa) per arm"
    )
    successes_per_arm: float = Field(description="expected clicks (ctr) or conversions at the baseline")


def _variance(n: float, p0: float, p1: float, metric: Metric) -> float:
    if metric == "cpa":
        return 1 / (n * p0) + 1 / (n * p1)
    return (1 - p0) / (n * p0) + (1 - p1) / (n * p1)


def power_at(n: float, *, metric: Metric, baseline_rate: float, mde: float, alpha: float) -> float:
    """The chance the last look at `n` per arm rejects a true lift of `mde` (earlier looks only add)."""
    p1 = baseline_rate * (1 + mde)
    var = _variance(n, baseline_rate, p1, metric)
    tau2 = math.log1p(mde) ** 2
    r = _radius(var, tau2, alpha)
    theta = math.log1p(mde)
    sd = math.sqrt(var)
    return float(stats.norm.sf((r - theta) / sd) + stats.norm.cdf((-r - theta) / sd))


def plan(
    *,
    metric: Metric,
    baseline_rate: float,
    mde: float,
    power: float = 0.8,
    alpha: float = 0.05,
    arms: int = 2,
) -> Plan:
    """The per-arm sample at which the sequential test reaches `power` against a lift of `mde`.
    `baseline_rate`: CTR or CVR as a fraction, or conversions per unit of spend (1 / CPA) for cpa."""
    if arms < 2:
        raise ValueError("an experiment needs at least two arms")
    if not 0 < power < 1 or mde <= 0 or baseline_rate <= 0:
        raise ValueError("power must be in (0, 1), the effect and the baseline positive")
    if metric != "cpa" and not baseline_rate * (1 + mde) < 1:
        raise ValueError("a rate and its lifted value must stay below 1")
    level = alpha / (arms - 1)

    def gap(log_n: float) -> float:
        return (
            power_at(math.exp(log_n), metric=metric, baseline_rate=baseline_rate, mde=mde, alpha=level)
            - power
        )

    hi = math.log(10.0 / baseline_rate)
    while gap(hi) < 0:
        hi += 1.0
        if hi > 60:
            raise ValueError("no sample size reaches that power")
    n = math.exp(optimize.brentq(gap, math.log(1e-9 + 1.0 / baseline_rate) - 5, hi, xtol=1e-6))
    return Plan(
        metric=metric,
        baseline_rate=baseline_rate,
        mde=mde,
        power=power,
        alpha=alpha,
        per_arm=n,
        successes_per_arm=n * baseline_rate,
    )


def simulate_false_winners(
    *, runs: int, days: int, daily_trials: float, rate: float, mde: float, alpha: float, seed: int
) -> float:
    """A/A: the share of `runs` in which two identical binomial arms, looked at daily, get a winner."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(daily_trials, size=(2, runs, days)).astype(float)
    k = rng.binomial(n.astype(np.int64), rate).astype(float)
    return float(_sequential_rejects(n, k, mde, alpha).mean())


def simulate_power(
    *,
    runs: int,
    days: int,
    daily_trials: float,
    rate: float,
    lift: float,
    mde: float,
    alpha: float,
    seed: int,
) -> float:
    """A/B: the share of runs in which the treatment (true lift `lift`) is declared within `days`."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(daily_trials, size=(2, runs, days)).astype(float)
    rates = np.array([rate, rate * (1 + lift)])[:, None, None]
    k = rng.binomial(n.astype(np.int64), rates).astype(float)
    return float(_sequential_rejects(n, k, mde, alpha, direction=1).mean())


def _sequential_rejects(
    n: np.ndarray, k: np.ndarray, mde: float, alpha: float, direction: int = 0
) -> np.ndarray:
    """Vectorised mSPRT over runs: per run, whether some daily look rejects (in `direction`, if set)."""
    cn, ck = n.cumsum(axis=2), k.cumsum(axis=2)
    ok = (ck > 0).all(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.log((ck[1] / cn[1]) / (ck[0] / cn[0]))
        var = np.maximum(1 / ck[0] - 1 / cn[0] + 1 / ck[1] - 1 / cn[1], 1e-12)
    tau2 = math.log1p(mde) ** 2
    log_l = 0.5 * np.log(var / (var + tau2)) + theta**2 * tau2 / (2 * var * (var + tau2))
    reject = ok & (log_l >= math.log(1 / alpha))
    if direction:
        reject &= np.sign(theta) == direction
    return reject.any(axis=1)
