"""Bid advice with known answers on seeded synthetic ad sets: elasticities fitted from two bid levels
and the bid that reaches the target CPA (within one step), a probe when only one level was seen, a cap
for a volatile uncapped ad set, and nothing when the data say nothing."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tools.optimize.bids import BidDay, advise

START = dt.date(2026, 3, 1)
M = 1_000_000


def capped(
    rng: np.random.Generator, bids: list[float], *, imps_exp: float = 1.5, spend_exp: float = 2.0
) -> list[BidDay]:
    """Days whose delivery follows impressions ~ bid^1.5 and spend ~ bid^2 around a 0.50 bid; two
    conversions per thousand impressions."""
    out = []
    for k, bid in enumerate(bids):
        r = bid / 0.5
        imps = int(10_000 * r**imps_exp * np.exp(rng.normal(0, 0.05)))
        spend = 100 * r**spend_exp * float(np.exp(rng.normal(0, 0.05)))
        out.append(
            BidDay(
                day=START + dt.timedelta(days=k),
                bid_micros=round(bid * M),
                spend_micros=round(spend * M),
                impressions=imps,
                clicks=imps // 100,
                conversions=int(rng.poisson(imps * 0.002)),
            )
        )
    return out


def test_two_bid_levels_give_the_elasticities_and_the_bid_for_the_target() -> None:
    days = capped(np.random.default_rng(1), [0.5] * 14 + [0.6] * 14)
    # At 0.60: spend 144 and 13,145 impressions (26.3 conversions) a day, CPA ~5.5; CPA ~ bid^0.5, so a
    # target of 5.2 wants ~0.54.
    advice = advise(days, target_cpa_micros=5_200_000, budget_micros=300 * M)
    assert advice.impressions_elasticity == pytest.approx(1.5, abs=0.15)
    assert advice.spend_elasticity == pytest.approx(2.0, abs=0.15)
    assert advice.kind == "lower" and advice.proposed_bid_micros == pytest.approx(540_000, abs=20_000)
    assert advice.cpa_expected == pytest.approx(5.2, rel=0.03)
    # A far lower target is reached one step at a time.
    far = advise(days, target_cpa_micros=2 * M, budget_micros=300 * M)
    assert far.proposed_bid_micros == 480_000  # 0.60 - 20%


def test_the_budget_bounds_a_raise() -> None:
    days = capped(np.random.default_rng(2), [0.5] * 14 + [0.6] * 14)
    # CPA ~5 under a target of 8 would raise toward 0.72, but a 160 budget allows spend ~ 144 * (b/0.6)^2.
    advice = advise(days, target_cpa_micros=8 * M, budget_micros=160 * M)
    assert advice.kind == "raise" and advice.proposed_bid_micros == pytest.approx(630_000, abs=10_000)


def test_one_bid_level_gives_a_probe_of_one_step() -> None:
    days = capped(np.random.default_rng(3), [0.5] * 21)
    cheap = advise(days, target_cpa_micros=8 * M, budget_micros=200 * M)  # CPA 5, half the budget spent
    assert cheap.kind == "raise" and cheap.proposed_bid_micros == 600_000 and "probe" in cheap.reason
    dear = advise(days, target_cpa_micros=3 * M, budget_micros=200 * M)
    assert dear.kind == "lower" and dear.proposed_bid_micros == 400_000
    on_target = advise(days, target_cpa_micros=5 * M, budget_micros=200 * M)
    assert on_target.kind == "keep"


def _uncapped(rng: np.random.Generator, volatile: bool) -> list[BidDay]:
    out = []
    for k in range(21):
        conv = int(rng.poisson(40 if k % 3 == 0 else 2)) if volatile else int(rng.poisson(15))
        out.append(
            BidDay(
                day=START + dt.timedelta(days=k),
                bid_micros=None,
                spend_micros=150 * M,
                impressions=30_000,
                clicks=300,
                conversions=conv,
            )
        )
    return out


def test_a_volatile_uncapped_ad_set_gets_a_cap_and_a_steady_one_does_not() -> None:
    rng = np.random.default_rng(4)
    volatile = advise(_uncapped(rng, True), target_cpa_micros=10 * M, budget_micros=150 * M)
    clicks = 300 * 21
    conv = sum(d.conversions for d in _uncapped(np.random.default_rng(4), True))
    assert volatile.kind == "cap" and volatile.current_bid_micros is None
    assert (
        volatile.proposed_bid_micros == round(10 * conv / clicks * 100) * 10_000
    )  # target x conversions per click
    steady = advise(_uncapped(rng, False), target_cpa_micros=10 * M, budget_micros=150 * M)
    assert steady.kind == "keep" and "no cap needed" in steady.reason


def test_too_few_conversions_or_no_target_or_no_days() -> None:
    days = [d.model_copy(update={"conversions": 0}) for d in capped(np.random.default_rng(5), [0.5] * 10)]
    assert advise(days, target_cpa_micros=5 * M, budget_micros=None).kind == "keep"
    assert (
        advise(capped(np.random.default_rng(5), [0.5] * 10), target_cpa_micros=None, budget_micros=None).kind
        == "keep"
    )
    with pytest.raises(ValueError, match="no days"):
        advise([], target_cpa_micros=M, budget_micros=None)
