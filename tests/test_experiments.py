"""The sequential A/B test with known answers: an A/A simulation (two identical arms looked at daily for
28 days, 1,000 runs) declares a winner in at most 5% of runs; an A/B simulation reaches the planned
power at the planned size; a clear winner is found with an interval that holds the true lift; the
confidence sequence only narrows; bad input is refused."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tools.optimize.experiments import ArmDay, compare, plan, power_at, simulate_false_winners, simulate_power


def test_aa_two_identical_arms_looked_at_daily_rarely_get_a_winner() -> None:
    share = simulate_false_winners(
        runs=1000, days=28, daily_trials=20_000, rate=0.01, mde=0.1, alpha=0.05, seed=1
    )
    assert share <= 0.05


def test_ab_reaches_the_planned_power_at_the_planned_size() -> None:
    p = plan(metric="ctr", baseline_rate=0.01, mde=0.1, power=0.8)
    assert power_at(p.per_arm, metric="ctr", baseline_rate=0.01, mde=0.1, alpha=0.05) == pytest.approx(
        0.8, abs=1e-3
    )
    reached = simulate_power(
        runs=1000, days=28, daily_trials=p.per_arm / 28, rate=0.01, lift=0.1, mde=0.1, alpha=0.05, seed=2
    )
    assert reached >= 0.78  # the plan counts only the last look: earlier looks add power
    # Half the planned size falls clearly short.
    half = simulate_power(
        runs=1000, days=28, daily_trials=p.per_arm / 56, rate=0.01, lift=0.1, mde=0.1, alpha=0.05, seed=3
    )
    assert half < reached - 0.2


def test_a_clear_winner_is_declared_with_an_interval_holding_the_true_lift() -> None:
    rng = np.random.default_rng(7)
    days = 28
    imps = rng.poisson(30_000, size=(2, days))
    clicks = rng.binomial(imps, [[0.010], [0.012]])  # a true lift of 20%
    arms = [
        [ArmDay(impressions=int(i), clicks=int(c)) for i, c in zip(imps[a], clicks[a], strict=True)]
        for a in (0, 1)
    ]
    result = compare(arms[0], arms[1], metric="ctr", mde=0.1, names=("A", "B"))
    assert result.winner == "B" and result.decided_at is not None and result.decided_at < days - 1
    assert result.lift_interval is not None and result.lift_interval[0] < 0.2 < result.lift_interval[1]
    assert result.p_value <= 0.05
    widths = [lk.high - lk.low for lk in result.looks if lk.low is not None and lk.high is not None]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(widths))  # it only narrows
    ps = [lk.p_value for lk in result.looks]
    assert all(b <= a for a, b in itertools.pairwise(ps))


def test_cpa_arms_compare_conversions_per_spend() -> None:
    # B converts 1.5x as often per dollar over 28 days of 200 dollars each: its CPA is lower.
    a = [ArmDay(spend_micros=200_000_000, conversions=10) for _ in range(28)]
    b = [ArmDay(spend_micros=200_000_000, conversions=15) for _ in range(28)]
    result = compare(a, b, metric="cpa", mde=0.1, names=("A", "B"))
    assert result.winner == "B" and result.lift == pytest.approx(0.5)


def test_no_estimate_before_both_arms_have_successes_and_bad_input() -> None:
    quiet = compare([ArmDay(impressions=100)], [ArmDay(impressions=100, clicks=1)], metric="ctr", mde=0.1)
    assert quiet.looks[0].theta is None and quiet.winner is None and quiet.p_value == 1.0
    with pytest.raises(ValueError, match="same days"):
        compare([ArmDay()], [], metric="ctr", mde=0.1)
    with pytest.raises(ValueError, match="more successes than trials"):
        compare([ArmDay(impressions=1, clicks=2)], [ArmDay(impressions=5, clicks=1)], metric="ctr", mde=0.1)
    with pytest.raises(ValueError):
        plan(metric="ctr", baseline_rate=0.95, mde=0.1)
    with pytest.raises(ValueError):
        plan(metric="ctr", baseline_rate=0.01, mde=0.1, arms=1)
    three = plan(metric="cvr", baseline_rate=0.05, mde=0.2, arms=3)
    assert three.per_arm > plan(metric="cvr", baseline_rate=0.05, mde=0.2).per_arm  # Bonferroni
    assert math.isclose(three.successes_per_arm, three.per_arm * 0.05)
