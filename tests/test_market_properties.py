"""Each property of ../shared/reference/market-model.md, checked on the market without HTTP."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sandbox.market import params
from sandbox.market.entities import Status
from sandbox.market.errors import ClockError, InvalidChangeError, UnknownEntityError
from sandbox.market.market import Market
from tests.conftest import small_config
from tests.helpers import account_of_platform, by_adset_day


def _budgeted_running_adsets(market: Market) -> list[str]:
    hour = market.clock.now_hour
    out = []
    for adset in market.world.adsets.values():
        plan = market.planner.plan(adset.id, hour + 24)
        if plan.active[hour] and adset.value_at("daily_budget_micros", hour) is not None:
            out.append(adset.id)
    return out


def test_fatigue_lowers_ctr_as_frequency_rises() -> None:
    pushed, control = Market(small_config()), Market(small_config())
    adset_id = _budgeted_running_adsets(pushed)[0]
    budget = pushed.world.adset(adset_id).value_at("daily_budget_micros", pushed.clock.now_hour)
    pushed.apply({"kind": "update_adset", "id": adset_id, "daily_budget_micros": budget * 4})
    for m in (pushed, control):
        m.advance(days=10)
    account = pushed.world.adset(adset_id).account_id
    hot = {r["ad_id"]: r for r in pushed.ad_truth(account) if r["adset_id"] == adset_id and r["live"]}
    cold = {r["ad_id"]: r for r in control.ad_truth(account) if r["adset_id"] == adset_id and r["live"]}
    assert hot
    for ad_id, row in hot.items():
        assert row["frequency"] > cold[ad_id]["frequency"]
        assert row["ctr"] < cold[ad_id]["ctr"]
        assert row["creative_ctr"] == pytest.approx(cold[ad_id]["creative_ctr"])


def test_a_higher_bid_wins_more_impressions_at_a_higher_cpm() -> None:
    low, high = Market(small_config()), Market(small_config())
    adset_id = _budgeted_running_adsets(low)[0]
    account = low.world.adset(adset_id).account_id
    curve = next(r for r in low.adset_truth(account) if r["adset_id"] == adset_id)
    # Ample budget, so the bid (not the budget) limits delivery.
    budget = int(curve["response"]["saturation_spend"] * 4) * 10**6
    centre_cpc = curve["auction"]["centre_cpm"] / (1000 * 0.01)
    results = []
    for market, factor in ((low, 0.6), (high, 1.6)):
        bid = int(centre_cpc * factor * 10**6) // 10**4 * 10**4
        market.apply(
            {"kind": "update_adset", "id": adset_id, "daily_budget_micros": budget, "bid_micros": bid}
        )
        market.advance(days=3)
        rows = by_adset_day(
            market, market.daily(account, market.now().date - dt.timedelta(days=3), market.now().date)
        )
        imps = sum(v["impressions"] for (s, _), v in rows.items() if s == adset_id)
        spend = sum(v["spend_micros"] for (s, _), v in rows.items() if s == adset_id)
        win = next(r for r in market.adset_truth(account) if r["adset_id"] == adset_id)["auction"]["win_rate"]
        results.append((imps, spend / imps, win))
    (imps_low, cpm_low, win_low), (imps_high, cpm_high, win_high) = results
    assert win_high > win_low
    assert imps_high > 1.2 * imps_low
    assert cpm_high > cpm_low


def test_restated_days_change_only_within_the_attribution_window() -> None:
    market = Market(small_config(accounts=1))
    account = account_of_platform(market, "meta")
    window = params.PLATFORMS[market.world.account(account).platform].attribution_days
    start, today = market.config.start_date, market.now().date
    before = by_adset_day(market, market.daily(account, start, today))
    market.advance(days=5)
    after = by_adset_day(market, market.daily(account, start, today))
    today_idx = market.day_index(today)
    changed_days = {d for key, row in before.items() for d in [key[1]] if after[key] != row}
    assert changed_days, "recent days must be restated as late purchases arrive"
    assert min(changed_days) >= today_idx - window
    for key, row in before.items():
        assert after[key]["conversions"] >= row["conversions"]
        assert after[key]["impressions"] == row["impressions"]
        assert after[key]["spend_micros"] == row["spend_micros"]


def test_pacing_overspends_some_days_but_keeps_each_week_within_seven_budgets() -> None:
    market = Market(small_config(accounts=2, ads=40, days=42))
    overspent = 0
    for account in market.world.accounts:
        days = by_adset_day(market, market.daily(account, market.config.start_date, market.now().date))
        for adset in market.world.adsets_of(account):
            if adset.value_at("daily_budget_micros", 0) is None:
                continue
            for block in range(0, 42, 7):
                hours = range(block * 24, (block + 7) * 24)
                budgets = {adset.value_at("daily_budget_micros", h) for h in hours}
                statuses = {adset.value_at("status", h) for h in hours}
                if len(budgets) != 1 or statuses != {Status.ACTIVE}:
                    continue
                budget = budgets.pop()
                spend = [
                    days.get((adset.id, d), {"spend_micros": 0})["spend_micros"]
                    for d in range(block, block + 7)
                ]
                assert sum(spend) <= 7 * budget
                assert max(spend) <= params.MAX_DAILY_OVERSPEND * budget
                overspent += sum(s > budget for s in spend)
    assert overspent > 0


def test_breakdowns_sum_to_the_unbroken_figures(small_market: Market) -> None:
    account = next(iter(small_market.world.accounts))
    start, today = small_market.config.start_date, small_market.now().date
    small_market.advance(hours=13)
    plain = small_market.daily(account, start, today)
    segmented = small_market.daily(account, start, today, segments=True)
    assert plain.totals() == segmented.totals()
    assert len(segmented) > 3 * len(plain)
    seg_days = by_adset_day(small_market, segmented)
    assert seg_days == by_adset_day(small_market, plain)
    for day in (today - dt.timedelta(days=2), today):
        hourly = small_market.hourly(account, day).totals()
        daily = small_market.daily(account, day, day).totals()
        assert hourly == daily
    today_hours = set(small_market.hourly(account, today).columns["hour"].tolist())
    assert today_hours and max(today_hours) < 13


def test_segment_rows_respect_targeting_and_keep_purchases_under_clicks(small_market: Market) -> None:
    account = next(iter(small_market.world.accounts))
    frame = small_market.daily(
        account, small_market.config.start_date, small_market.now().date, segments=True
    )
    cols = frame.columns
    assert (cols["clicks"] <= cols["impressions"]).all()
    assert (cols["conversions"] <= cols["clicks"]).all()
    now = small_market.clock.now_hour
    for adset in small_market.world.adsets_of(account):
        mask = adset.value_at("targeting", now).mask()
        ads = {i for i, a in enumerate(frame.ad_ids) if small_market.world.ads[a].adset_id == adset.id}
        rows = np.isin(cols["ad"], list(ads))
        assert mask[cols["segment"][rows]].all()


def test_changes_apply_from_the_next_hour_and_leave_the_past_alone(small_market: Market) -> None:
    account = next(iter(small_market.world.accounts))
    today = small_market.now().date
    small_market.advance(hours=10)
    before = small_market.hourly(account, today).to_rows()
    adset_id = _budgeted_running_adsets(small_market)[0]
    small_market.apply({"kind": "update_adset", "id": adset_id, "status": "PAUSED"})
    small_market.advance(hours=5)
    after = small_market.hourly(account, today).to_rows()
    assert [r for r in after if r["hour"] < 10] == before
    paused_ads = {a.id for a in small_market.world.ads_of_adset(adset_id)}
    assert not [r for r in after if r["hour"] >= 10 and r["ad_id"] in paused_ads]
    assert [r for r in after if r["hour"] >= 10]


def _new_ad(market: Market, adset_id: str, headline: str, image: str = "new.jpg") -> str:
    """Create a creative with this headline and an ad from it; return the ad id."""
    account = market.world.adset(adset_id).account_id
    creative = market.apply(
        {
            "kind": "create_creative",
            "account_id": account,
            "name": headline[:20],
            "headline": headline,
            "body": "Test body",
            "image_name": image,
        }
    ).created_id
    change = {"kind": "create_ad", "adset_id": adset_id, "creative_id": creative, "name": headline[:20]}
    return str(market.apply(change).created_id)


def test_new_ads_wait_for_review_and_draw_true_rates_from_their_content() -> None:
    a, b = Market(small_config()), Market(small_config())
    adset_id = _budgeted_running_adsets(a)[0]
    account = a.world.adset(adset_id).account_id
    first, twin = (
        _new_ad(a, adset_id, "Run further, feel lighter"),
        _new_ad(b, adset_id, "Run further, feel lighter"),
    )
    assert first == twin
    ad = a.world.ad(first)
    assert ad.review_status(a.clock.now_hour) == "PENDING_REVIEW"
    assert np.array_equal(a.truth.ad(first).log_ctr, b.truth.ad(twin).log_ctr)
    other = _new_ad(a, adset_id, "A completely different promise", image="other.jpg")
    assert not np.array_equal(a.truth.ad(other).log_ctr, a.truth.ad(first).log_ctr)
    a.advance(days=1)
    assert ad.review_status(a.clock.now_hour) in ("APPROVED", "DISAPPROVED")
    spam = _new_ad(a, adset_id, "Guaranteed miracle results")
    a.advance(days=1)
    assert a.world.ad(spam).review_status(a.clock.now_hour) == "DISAPPROVED"
    delivered = {
        r["ad_id"] for r in a.daily(account, a.now().date - dt.timedelta(days=1), a.now().date).to_rows()
    }
    assert spam not in delivered


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"kind": "update_adset", "id": "nope", "status": "PAUSED"}, UnknownEntityError),
        ({"kind": "update_adset", "id": "@adset", "daily_budget_micros": 10}, InvalidChangeError),
        ({"kind": "update_adset", "id": "@cbo_adset", "daily_budget_micros": 50_000_000}, InvalidChangeError),
        (
            {"kind": "update_campaign", "id": "@plain_campaign", "daily_budget_micros": 50_000_000},
            InvalidChangeError,
        ),
        (
            {"kind": "create_ad", "adset_id": "@adset", "creative_id": "missing", "name": "x"},
            UnknownEntityError,
        ),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(
    change: dict[str, object], error: type[Exception]
) -> None:
    market = Market(small_config(ads=40))
    hour = market.clock.now_hour
    plain = next(s for s in market.world.adsets.values() if s.value_at("daily_budget_micros", hour))
    cbo = next(s for s in market.world.adsets.values() if s.value_at("daily_budget_micros", hour) is None)
    refs = {"@adset": plain.id, "@cbo_adset": cbo.id, "@plain_campaign": plain.campaign_id}
    change = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    snapshot = market.world.model_dump_json()
    with pytest.raises(error):
        market.apply(change)
    assert market.world.model_dump_json() == snapshot
    assert market.log == []


def test_the_clock_refuses_to_go_backwards_and_stays_put() -> None:
    market = Market(small_config())
    before = market.now()
    for kwargs in ({"days": -1}, {"hours": -3}, {}, {"days": 10_000}):
        with pytest.raises(ClockError):
            market.advance(**kwargs)
    assert market.now() == before


def test_ground_truth_curves_rise_with_bid_and_flatten_with_spend(small_market: Market) -> None:
    account = next(iter(small_market.world.accounts))
    for truth in small_market.adset_truth(account):
        auction = [(p["win_rate"], p["cpm"], p["impressions_available"]) for p in truth["auction"]["points"]]
        assert auction == sorted(auction)
        response = truth["response"]["points"]
        gains = [b["conversions"] / b["spend"] for b in response]
        assert gains == sorted(gains, reverse=True)


def test_money_in_the_ledger_is_whole_minor_units(default_market: Market) -> None:
    for account in default_market.world.accounts.values():
        step = 10 ** (6 - params.CURRENCIES[account.currency].exponent)
        frame = default_market.daily(
            account.id, default_market.config.start_date, default_market.now().date, segments=True
        )
        assert (frame.columns["spend_micros"] % step == 0).all()
        assert (frame.columns["value_micros"] % step == 0).all()
