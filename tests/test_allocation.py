"""Budget allocation: constraints, the analytic optimum on known curves, baselines, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tools.optimize.allocation import (
    AdSetHistory,
    AllocationError,
    CpaRule,
    CurveAllocator,
    EqualSplit,
    Guardrails,
    fit_curve,
    water_fill,
)


def test_water_filling_equalises_marginal_returns_on_known_curves() -> None:
    ceilings, scales = np.array([50.0, 20.0, 80.0]), np.array([100.0, 30.0, 400.0])
    spend = water_fill(ceilings, scales, np.zeros(3), np.full(3, np.inf), 300.0)
    assert spend.sum() == pytest.approx(300.0)
    marginal = ceilings / scales * np.exp(-spend / scales)
    funded = spend > 1e-6
    assert np.allclose(marginal[funded], marginal[funded][0], rtol=1e-6)
    assert np.all(marginal[~funded] <= marginal[funded][0] + 1e-9)
    # No other split of the same total does better (a random search around it).
    best = float(np.sum(ceilings * (1 - np.exp(-spend / scales))))
    rng = np.random.default_rng(0)
    for _ in range(2000):
        other = rng.dirichlet(np.ones(3)) * 300.0
        assert np.sum(ceilings * (1 - np.exp(-other / scales))) <= best + 1e-9


def test_water_filling_respects_bounds_and_refuses_impossible_minimums() -> None:
    spend = water_fill(
        np.array([50.0, 20.0]),
        np.array([100.0, 30.0]),
        np.array([10.0, 60.0]),
        np.array([120.0, 80.0]),
        150.0,
    )
    assert spend.sum() == pytest.approx(150.0)
    assert 10 <= spend[0] <= 120 and 60 <= spend[1] <= 80
    with pytest.raises(AllocationError, match="below the sum of minimums"):
        water_fill(
            np.array([1.0, 1.0]), np.array([1.0, 1.0]), np.array([10.0, 10.0]), np.array([20.0, 20.0]), 5.0
        )


def test_the_curve_fit_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(2)
    spend = rng.uniform(20, 200, size=40)
    conversions = rng.poisson(30 * (1 - np.exp(-spend / 80)))
    fit = fit_curve([int(s * 1e6) for s in spend], conversions.tolist())
    assert fit is not None
    assert fit.ceiling == pytest.approx(30, rel=0.25) and fit.scale == pytest.approx(80, rel=0.35)
    assert fit_curve([], []) is None and fit_curve([10_000_000, 20_000_000], [0, 0]) is None


def _adset(
    name: str, budget: float, ceiling: float, scale: float, *, days: int = 21, seed: int = 0, **kw: object
) -> AdSetHistory:
    rng = np.random.default_rng(seed)
    spend = budget * rng.uniform(0.6, 1.4, size=days)
    conv = rng.poisson(ceiling * (1 - np.exp(-spend / scale)))
    return AdSetHistory(
        adset_id=name,
        currency="USD",
        current_budget_micros=int(budget * 1e6),
        spend_micros=[int(s * 1e6) for s in spend],
        conversions=conv.astype(float).tolist(),
        **kw,
    )  # type: ignore[arg-type]


def test_the_allocator_moves_budget_toward_the_better_curve_within_every_guardrail() -> None:
    good = _adset("good", 50, ceiling=40, scale=100, seed=1)
    poor = _adset("poor", 50, ceiling=8, scale=100, seed=2, min_budget_micros=20_000_000)
    proposals = CurveAllocator(Guardrails(max_change=0.3)).allocate([good, poor], 100_000_000)
    by = {p.adset_id: p for p in proposals}
    assert sum(p.proposed_budget_micros for p in proposals) <= 100_000_000
    assert by["good"].proposed_budget_micros == 65_000_000  # +30%, the step cap
    assert by["poor"].proposed_budget_micros == 35_000_000  # -30%, above its minimum
    assert all(p.proposed_budget_micros % 10_000 == 0 for p in proposals)
    assert by["good"].expected_conversions_after > by["good"].expected_conversions_now
    lo, hi = by["good"].interval_after
    assert lo <= by["good"].expected_conversions_after <= hi
    free = CurveAllocator(Guardrails(max_change=None, exploration=0)).allocate([good, poor], 100_000_000)
    unleashed = {p.adset_id: p.proposed_budget_micros for p in free}
    assert unleashed["poor"] == 20_000_000  # down to its minimum
    assert unleashed["good"] >= 79_990_000  # the rest, floored to whole cents


def test_an_ad_set_without_history_needs_more_data_and_keeps_a_sane_budget() -> None:
    fresh = AdSetHistory(adset_id="new", currency="USD", current_budget_micros=30_000_000)
    old = _adset("old", 30, ceiling=20, scale=60)
    proposals = CurveAllocator().allocate([fresh, old], 60_000_000)
    new = next(p for p in proposals if p.adset_id == "new")
    assert "needs more data" in new.evidence and 21_000_000 <= new.proposed_budget_micros <= 39_000_000


def test_baselines_follow_their_rules() -> None:
    a = _adset("a", 40, ceiling=10, scale=50, seed=3)
    b = _adset("b", 60, ceiling=30, scale=50, seed=4)
    assert [p.proposed_budget_micros for p in EqualSplit().allocate([a, b], 100_000_000)] == [50_000_000] * 2
    rule = CpaRule(goal_cpa=5.0).allocate([a, b], 100_000_000)
    factors = [p.proposed_budget_micros / h.current_budget_micros for p, h in zip(rule, [a, b], strict=True)]
    assert all(f in (0.8, 1.0, 1.2) for f in factors)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CurveAllocator().allocate([], 10), "no ad sets"),
        (
            lambda: CurveAllocator().allocate(
                [
                    _adset("a", 10, 5, 5),
                    AdSetHistory(adset_id="b", currency="JPY", current_budget_micros=10**9),
                ],
                10**9,
            ),
            "one currency",
        ),
        (lambda: CurveAllocator().allocate([_adset("a", 10, 5, 5)], 0), "positive"),
        (
            lambda: AdSetHistory(
                adset_id="a",
                currency="USD",
                current_budget_micros=1,
                spend_micros=[1],
                conversions=[float("nan")],
            ),
            "finite",
        ),
        (
            lambda: AdSetHistory(
                adset_id="a", currency="USD", current_budget_micros=1, spend_micros=[-5], conversions=[1.0]
            ),
            "not negative",
        ),
        (
            lambda: CurveAllocator(Guardrails(max_change=None)).allocate(
                [_adset("a", 10, 5, 5, min_budget_micros=50_000_000)], 10_000_000
            ),
            "sum of minimums",
        ),
        (lambda: CpaRule(goal_cpa=0), "positive goal"),
    ],
)
def test_bad_input_gets_a_typed_error_never_a_nan(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        build()


def test_the_delivery_curve_uses_impressions_and_the_pooled_conversion_rate() -> None:
    from tools.optimize.allocation import fit_delivery_curve

    rng = np.random.default_rng(5)
    spend = rng.uniform(20, 200, size=30)
    imps = rng.poisson(20_000 * (1 - np.exp(-spend / 90)))
    conv = rng.binomial(imps, 0.001)
    fit = fit_delivery_curve([int(s * 1e6) for s in spend], imps.tolist(), conv.astype(float).tolist())
    assert fit is not None
    assert fit.scale == pytest.approx(90, rel=0.1)
    assert fit.ceiling == pytest.approx(20, rel=0.25)  # 20,000 impressions x 0.1%
    assert 0 < fit.ceiling_sd < fit.ceiling / 3
    assert fit_delivery_curve([10_000_000], [100], [1.0]) is None
