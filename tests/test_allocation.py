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
    campaign_history,
    objective_for,
    platform_budget,
)
from tools.optimize.curves import fit_curve, water_fill
from tools.optimize.pacing import FlightBudget, pace


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
    assert by["good"].expected_results_after > by["good"].expected_results_now
    lo, hi = by["good"].interval_after
    assert lo <= by["good"].expected_results_after <= hi
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
    rule = CpaRule(goal_cost=5.0).allocate([a, b], 100_000_000)
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
        (lambda: CpaRule(goal_cost=0), "positive goal"),
    ],
)
def test_bad_input_gets_a_typed_error_never_a_nan(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        build()


def test_the_delivery_curve_uses_impressions_and_the_pooled_conversion_rate() -> None:
    from tools.optimize.curves import fit_delivery_curve

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


def test_account_caps_hold_and_the_rest_goes_where_it_returns_most() -> None:
    # Two strong ad sets share account "a" (capped at 60); "b" is weaker and uncapped.
    strong1 = _adset("s1", 40, ceiling=40, scale=60, seed=1, account_id="a")
    strong2 = _adset("s2", 40, ceiling=40, scale=60, seed=2, account_id="a")
    weak = _adset("w", 40, ceiling=10, scale=60, seed=3, account_id="b")
    guard = Guardrails(max_change=None, exploration=0, account_caps_micros={"a": 60_000_000})
    by = {
        p.adset_id: p.proposed_budget_micros
        for p in CurveAllocator(guard).allocate([strong1, strong2, weak], 120_000_000)
    }
    assert by["s1"] + by["s2"] <= 60_000_000 and by["s1"] + by["s2"] >= 59_980_000
    assert by["w"] >= 59_990_000  # what the cap leaves goes to the uncapped account
    # Without the cap the strong account takes most of it.
    free = CurveAllocator(Guardrails(max_change=None, exploration=0)).allocate(
        [strong1, strong2, weak], 120_000_000
    )
    assert sum(p.proposed_budget_micros for p in free if p.adset_id != "w") > 80_000_000


def test_water_filling_with_group_caps_matches_a_brute_force_optimum() -> None:
    ceilings, scales = np.array([30.0, 25.0, 10.0]), np.array([50.0, 40.0, 30.0])
    groups = np.array([0, 0, 1])
    spend = water_fill(
        ceilings, scales, np.zeros(3), np.full(3, np.inf), 150.0, groups=groups, group_caps={0: 70.0}
    )
    grid = np.linspace(0, 150, 301)
    best = max(
        float(np.sum(ceilings * (1 - np.exp(-np.array([x, y, 150 - x - y]) / scales))))
        for x in grid
        for y in grid
        if x + y <= 70 + 1e-9 and x + y <= 150
    )
    assert float(np.sum(ceilings * (1 - np.exp(-spend / scales)))) >= best - 1e-3
    assert spend[:2].sum() <= 70 + 1e-6
    with pytest.raises(AllocationError, match="below the sum of its minimums"):
        water_fill(
            ceilings, scales, np.full(3, 40.0), np.full(3, np.inf), 150.0, groups=groups, group_caps={0: 70.0}
        )


def test_a_campaign_budget_is_one_unit_funding_its_ad_sets() -> None:
    a = _adset("as1", 20, ceiling=20, scale=50, seed=1)
    b = _adset("as2", 20, ceiling=20, scale=50, seed=2)
    cbo = campaign_history("c1", [a, b], current_budget_micros=40_000_000)
    assert cbo.level == "campaign" and cbo.members == ["as1", "as2"]
    assert cbo.spend_micros == [x + y for x, y in zip(a.spend_micros, b.spend_micros, strict=True)]
    own = _adset("as3", 40, ceiling=10, scale=50, seed=3)
    proposals = CurveAllocator(Guardrails(max_change=None, exploration=0)).allocate([cbo, own], 80_000_000)
    camp = next(p for p in proposals if p.adset_id == "c1")
    assert camp.level == "campaign" and camp.members == ["as1", "as2"]
    assert camp.proposed_budget_micros > 40_000_000  # the campaign's two ad sets out-earn the third
    with pytest.raises(AllocationError, match="appears twice"):
        CurveAllocator().allocate([cbo, a], 80_000_000)
    jpy = a.model_copy(update={"currency": "JPY"})
    with pytest.raises(AllocationError, match="differ in currency"):
        campaign_history("c2", [a, jpy], current_budget_micros=1_000_000)


def _traffic(name: str, budget: float, clicks_ceiling: float, scale: float, seed: int) -> AdSetHistory:
    rng = np.random.default_rng(seed)
    spend = budget * rng.uniform(0.6, 1.4, size=21)
    clicks = rng.poisson(clicks_ceiling * (1 - np.exp(-spend / scale)))
    return AdSetHistory(
        adset_id=name,
        currency="USD",
        objective="clicks",
        current_budget_micros=int(budget * 1e6),
        spend_micros=[int(s * 1e6) for s in spend],
        conversions=[0.0] * 21,  # a traffic campaign converts little: it must not be judged on CPA
        clicks=clicks.tolist(),
    )


def test_traffic_budgets_are_judged_on_clicks_and_cpc_not_cpa() -> None:
    cheap = _traffic("cheap", 50, clicks_ceiling=900, scale=80, seed=1)
    dear = _traffic("dear", 50, clicks_ceiling=200, scale=80, seed=2)
    proposals = {
        p.adset_id: p
        for p in CurveAllocator(Guardrails(max_change=None)).allocate([cheap, dear], 100_000_000)
    }
    assert proposals["cheap"].proposed_budget_micros > proposals["dear"].proposed_budget_micros
    assert proposals["cheap"].cost_metric == "CPC" and "clicks/day" in proposals["cheap"].evidence
    assert proposals["cheap"].cost_per_result_after is not None
    rule = {p.adset_id: p for p in CpaRule(goal_cost=0.2).allocate([cheap, dear], 100_000_000)}
    assert rule["cheap"].proposed_budget_micros == 60_000_000  # CPC ~0.07 < 0.8 x 0.2: raise
    assert rule["dear"].proposed_budget_micros == 40_000_000  # CPC ~0.3 > 1.2 x 0.2: cut
    with pytest.raises(AllocationError, match="one objective"):
        CurveAllocator().allocate([cheap, _adset("sales", 50, 10, 50)], 100_000_000)
    with pytest.raises(ValueError, match="needs its daily clicks"):
        AdSetHistory(
            adset_id="t",
            currency="USD",
            objective="clicks",
            current_budget_micros=1,
            spend_micros=[1],
            conversions=[0],
        )
    assert objective_for("OUTCOME_TRAFFIC") == "clicks" and objective_for("REACH") == "impressions"
    assert objective_for("OUTCOME_SALES") == "conversions"
    with pytest.raises(AllocationError, match="unknown campaign objective"):
        objective_for("WIN_THE_LOTTERY")


def test_proposals_carry_the_platforms_own_budget_unit() -> None:
    assert platform_budget("meta", 52_370_000, "USD") == "5237"  # cents
    assert platform_budget("x", 52_370_000, "USD") == "52370000"  # micros
    assert platform_budget("tiktok", 52_370_000, "USD") == "52.37"
    assert platform_budget("meta", 5_000_000_000, "JPY") == "5000"
    a = _adset("m", 40, ceiling=20, scale=50, platform="meta")
    (p,) = EqualSplit().allocate([a], 33_330_000)
    assert p.platform_budget == "3333"


def test_a_flight_budget_is_paced_over_the_days_left() -> None:
    import datetime as dt

    flight = FlightBudget(
        currency="USD", total_micros=3_100_000_000, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31)
    )
    first = pace(flight, dt.date(2026, 12, 1))
    assert first.daily_total_micros == 100_000_000 and first.days_left == 31
    behind = flight.model_copy(update={"spent_micros": 1_000_000_000})  # 10 days in, under-spent
    assert pace(behind, dt.date(2026, 12, 11)).daily_total_micros == 100_000_000  # 2,100 over 21 days
    ahead = flight.model_copy(update={"spent_micros": 2_000_000_000})
    assert pace(ahead, dt.date(2026, 12, 11)).daily_total_micros == 52_380_000  # 1,100 / 21, floored
    # Weekends weigh double: a Saturday gets twice a weekday's share of what is left.
    weekend = flight.model_copy(update={"weekday_weights": (1, 1, 1, 1, 1, 2, 2)})
    assert pace(weekend, dt.date(2026, 12, 25)).daily_total_micros == 344_440_000  # Friday: 1/9 of 3,100
    assert pace(weekend, dt.date(2026, 12, 26)).daily_total_micros == 775_000_000  # Saturday: 2/8
    with pytest.raises(AllocationError, match="is spent"):
        pace(flight.model_copy(update={"spent_micros": 3_100_000_000}), dt.date(2026, 12, 20))
    with pytest.raises(AllocationError, match="outside the flight"):
        pace(flight, dt.date(2027, 1, 1))
    with pytest.raises(ValueError, match="ends"):
        FlightBudget(currency="USD", total_micros=1, start=dt.date(2026, 12, 2), end=dt.date(2026, 12, 1))
