"""Fatigue detection: a falling CTR beyond noise and weekday is flagged; seasonality alone is not."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sandbox.market.market import Market
from tests.conftest import small_config
from tools.optimize.fatigue import FatigueDay, detect_fatigue

START = dt.date(2026, 10, 1)
WEEKDAY = np.array([0.9, 0.95, 1.0, 1.0, 1.05, 1.15, 1.1])


def _days(seed: int, *, decay: float, days: int = 28, daily: int = 8_000) -> list[FatigueDay]:
    rng = np.random.default_rng(seed)
    out, seen = [], 0
    for d in range(days):
        day = START + dt.timedelta(days=d)
        ctr = 0.015 * WEEKDAY[day.weekday()] * np.exp(-decay * seen / 100_000)
        imps = int(rng.poisson(daily))
        out.append(FatigueDay(day=day, impressions=imps, clicks=int(rng.binomial(imps, ctr))))
        seen += imps
    return out


def test_a_ctr_falling_with_exposure_is_flagged_with_its_evidence() -> None:
    verdict = detect_fatigue(_days(1, decay=0.5))
    assert verdict.fatigued and verdict.z is not None and verdict.z < -3
    assert verdict.ctr_drop == pytest.approx(1 - np.exp(-0.5 * 8_000 * 27 / 100_000), abs=0.08)
    assert "weekday removed" in verdict.reason


def test_weekday_seasonality_and_noise_alone_are_not_fatigue() -> None:
    flagged = sum(detect_fatigue(_days(seed, decay=0.0)).fatigued for seed in range(60))
    assert flagged <= 1


def test_in_the_sandbox_an_ad_pushed_to_high_frequency_is_flagged_and_its_steady_twin_is_not() -> None:
    pushed, steady = Market(small_config(seed=21)), Market(small_config(seed=21))
    hour = pushed.clock.now_hour
    adset = next(
        s
        for s in pushed.world.adsets.values()
        if s.value_at("daily_budget_micros", hour) and pushed.planner.plan(s.id, hour + 24).active[hour]
    )
    budget = adset.value_at("daily_budget_micros", hour)
    pushed.apply({"kind": "update_adset", "id": adset.id, "daily_budget_micros": budget * 5})
    for market in (pushed, steady):
        market.advance(days=21)
    verdicts = {}
    for name, market in (("pushed", pushed), ("steady", steady)):
        rows = market.daily(
            adset.account_id,
            market.now().date - dt.timedelta(days=21),
            market.now().date - dt.timedelta(days=1),
        ).to_rows()
        by_ad: dict[str, list[FatigueDay]] = {}
        for r in rows:
            if market.world.ads[r["ad_id"]].adset_id == adset.id:
                by_ad.setdefault(r["ad_id"], []).append(
                    FatigueDay(
                        day=dt.date.fromisoformat(r["date"]), impressions=r["impressions"], clicks=r["clicks"]
                    )
                )
        top = max(by_ad, key=lambda a: sum(d.impressions for d in by_ad[a]))
        verdicts[name] = detect_fatigue(by_ad[top], min_drop=0.1)
    assert verdicts["pushed"].fatigued, verdicts["pushed"].reason
    assert not verdicts["steady"].fatigued, verdicts["steady"].reason


def test_thin_or_bad_input_gets_a_clear_answer() -> None:
    short = detect_fatigue(_days(2, decay=0.5, days=5))
    assert not short.fatigued and "needs more data" in short.reason
    flat = detect_fatigue(_days(3, decay=0.0), exposure=[1.0] * 28)
    assert not flat.fatigued and "did not change" in flat.reason
    with pytest.raises(ValueError, match="one value per day"):
        detect_fatigue(_days(3, decay=0.0), exposure=[1.0])
    with pytest.raises(ValueError, match="more clicks"):
        detect_fatigue([FatigueDay(day=START, impressions=1, clicks=2)])
