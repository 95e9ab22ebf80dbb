"""The default world (seed 7) is worth optimising: on the ground truth and on the noisy ledger."""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import spearmanr

from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from sandbox.market.worldgen import round_minor
from tests.conftest import TODAY
from tests.helpers import by_adset_day

CURRENCIES = ("USD", "JPY")


def _running_budgeted(market: Market, currency: str) -> list[str]:
    hour = market.clock.now_hour
    return [
        s.id
        for s in market.world.adsets.values()
        if market.world.account(s.account_id).currency == currency
        and s.value_at("daily_budget_micros", hour) is not None
        and market.planner.plan(s.id, hour + 24).active[hour + 12]
    ]


def test_default_world_has_what_the_design_asks_for(default_market: Market) -> None:
    world = default_market.world
    for platform in ("meta", "x", "tiktok"):
        accounts = [a for a in world.accounts.values() if a.platform.value == platform]
        assert len(accounts) >= 2
        assert {a.currency for a in accounts} >= {"USD", "JPY"}
        assert len({a.timezone for a in accounts}) == len(accounts)
        assert sum(len(world.ads_of(a.id)) for a in accounts) >= 100
        assert any(c.has_campaign_budget(0) for a in accounts for c in world.campaigns_of(a.id))
        assert any(aud.account_id == a.id for a in accounts for aud in world.audiences.values())
    assert default_market.config.days == 60


def test_equal_split_reaches_at_most_85_percent_of_the_oracle_on_the_truth(default_market: Market) -> None:
    for currency in CURRENCIES:
        ids = _running_budgeted(default_market, currency)
        hour = default_market.clock.now_hour
        total = sum(default_market.world.adset(i).value_at("daily_budget_micros", hour) for i in ids)
        result = default_market.oracle(currency, total, adset_ids=ids)
        assert result["equal_split_expected_conversions"] <= 0.85 * result["expected_conversions"]


def test_equal_split_reaches_at_most_85_percent_of_the_oracle_on_the_ledger() -> None:
    config = WorldConfig(seed=7, today=TODAY)
    equal, best = Market(config), Market(config)
    ids = _running_budgeted(equal, "USD")
    hour = equal.clock.now_hour
    total = sum(equal.world.adset(i).value_at("daily_budget_micros", hour) for i in ids)
    allocation = {
        a["adset_id"]: a["budget_micros"] for a in best.oracle("USD", total, adset_ids=ids)["allocation"]
    }
    for adset_id in ids:
        equal.apply(
            {
                "kind": "update_adset",
                "id": adset_id,
                "daily_budget_micros": round_minor(total / len(ids), "USD"),
            }
        )
        budget = allocation[adset_id]
        change = {"daily_budget_micros": budget} if budget > 0 else {"status": "PAUSED"}
        best.apply({"kind": "update_adset", "id": adset_id, **change})
    start = equal.now().date
    purchases = []
    for market in (equal, best):
        market.advance(days=21)  # 7 days of delivery, then two weeks for late purchases to be reported
        count = 0
        for account in {market.world.adset(i).account_id for i in ids}:
            rows = by_adset_day(market, market.daily(account, start, start + dt.timedelta(days=6)))
            count += sum(v["conversions"] for (s, _), v in rows.items() if s in ids)
        purchases.append(count)
    assert purchases[1] > 100
    assert purchases[0] <= 0.85 * purchases[1]


def test_within_an_ad_set_the_best_creative_has_at_least_3x_the_ctr_of_the_worst(
    default_market: Market,
) -> None:
    for account in default_market.world.accounts:
        by_adset: dict[str, list[float]] = {}
        for row in default_market.ad_truth(account):
            by_adset.setdefault(row["adset_id"], []).append(row["creative_ctr"])
        for adset_id, ctrs in by_adset.items():
            assert max(ctrs) >= 3 * min(ctrs), adset_id


def test_excluding_an_ad_sets_worst_segment_lowers_its_true_cpa_by_at_least_10_percent(
    default_market: Market,
) -> None:
    market = default_market
    gains = []
    for account in market.world.accounts:
        for truth in market.adset_truth(account):
            if not truth["running"]:
                continue
            adset = market.world.adset(truth["adset_id"])
            targeting = adset.value_at("targeting", market.clock.now_hour)
            best = 0.0
            for value in truth["segment_values"]:
                narrower = targeting.excluding(value["dimension"], value["value"])
                if narrower == targeting:
                    continue
                outcome = market.what_if(adset.id, targeting=narrower)
                best = max(best, 1 - outcome["what_if"]["cpa"] / outcome["current"]["cpa"])
            gains.append(best)
    assert len(gains) >= 30
    assert float(np.median(gains)) >= 0.10


def test_what_if_agrees_with_the_change_applied_to_the_market() -> None:
    market = Market(WorldConfig(seed=7, today=TODAY))
    adset_id = _running_budgeted(market, "USD")[0]
    narrower = (
        market.world.adset(adset_id).value_at("targeting", market.clock.now_hour).excluding("age", "18-24")
    )
    tomorrow = market.now().date + dt.timedelta(days=1)
    market.advance(days=1)
    predicted = market.what_if(adset_id, targeting=narrower)["what_if"]
    market.apply({"kind": "update_adset", "id": adset_id, "targeting": narrower.model_dump()})
    market.advance(days=1)
    actual = market.what_if(adset_id, date=tomorrow)["current"]
    assert actual["cpa"] == predicted["cpa"] or abs(actual["cpa"] / predicted["cpa"] - 1) < 0.02


def _fit_marginal_cpa(spend: np.ndarray, imps: np.ndarray, conv: np.ndarray, at: float) -> float:
    """Fit impressions = C (1 - exp(-spend / S)) by least squares; purchases per impression from sums."""

    def residual(theta: np.ndarray) -> np.ndarray:
        capacity, scale = np.exp(theta)
        return (imps - capacity * (1 - np.exp(-spend / scale))) / max(imps.mean(), 1.0)

    start = np.log([imps.max() * 2, spend.mean()])
    capacity, scale = np.exp(least_squares(residual, start).x)
    rate = conv.sum() / imps.sum()
    return float(1.0 / (rate * capacity / scale * np.exp(-at / scale)))


def test_response_curves_fitted_to_60_days_rank_marginal_cpa_as_the_truth_does(
    default_market: Market,
) -> None:
    market = default_market
    start, end = market.config.start_date, market.now().date - dt.timedelta(days=1)
    for currency in CURRENCIES:
        fitted, true = [], []
        for account in [a.id for a in market.world.accounts.values() if a.currency == currency]:
            days = by_adset_day(market, market.daily(account, start, end))
            for truth in market.adset_truth(account):
                if not truth["running"]:
                    continue
                series = [days.get((truth["adset_id"], d)) for d in range(market.config.days)]
                rows = [r for r in series if r and r["spend_micros"] > 0]
                if len(rows) < 30:
                    continue
                spend = np.array([r["spend_micros"] for r in rows]) / 1e6
                imps = np.array([r["impressions"] for r in rows], dtype=float)
                conv = np.array([r["conversions"] for r in rows], dtype=float)
                fitted.append(_fit_marginal_cpa(spend, imps, conv, truth["expected_spend"]))
                true.append(truth["marginal_cpa"])
        assert len(fitted) >= 10
        assert spearmanr(fitted, true).statistic >= 0.8, currency
