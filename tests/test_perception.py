"""Perception on a hand-built warehouse whose answers are known: sums, ratios from sums, trends against
the days before, pacing against daily budgets, the listing cap, freshness and the findings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from agents.perception import snapshot
from storage.models import Account, Ad, AdSet, Campaign, DailyMetric, SyncState

UNTIL = dt.date(2026, 3, 14)
FX = {"USD": Decimal(1)}
M = 1_000_000


def build(engine: Engine, *, extra_ads: int = 0) -> None:
    """Ad set `steady` (budget 50/day) spends 50 a day on ad a1; ad set `starved` (budget 100/day)
    spends 20 a day on a2. The week before, a1 cost 10 per conversion; this week 20."""
    with Session(engine) as s:
        s.add(
            Account(
                id="acc",
                platform="meta",
                platform_id="act_1",
                name="Shop",
                currency="USD",
                timezone="UTC",
                status="ACTIVE",
            )
        )
        s.add(
            Campaign(
                id="c1",
                account_id="acc",
                platform="meta",
                platform_id="11",
                name="Spring",
                status="ACTIVE",
                effective_status="ACTIVE",
                currency="USD",
            )
        )
        s.commit()  # no relationships declared: the foreign keys' order is ours to keep
        for sid, name, budget in (("s1", "steady", 50), ("s2", "starved", 100)):
            s.add(
                AdSet(
                    id=sid,
                    account_id="acc",
                    campaign_id="c1",
                    platform="meta",
                    platform_id=sid + "p",
                    name=name,
                    status="ACTIVE",
                    effective_status="ACTIVE",
                    currency="USD",
                    daily_budget_micros=budget * M,
                )
            )
        s.commit()
        ads = [("a1", "s1"), ("a2", "s2")] + [(f"x{i}", "s1") for i in range(extra_ads)]
        for aid, sid in ads:
            s.add(
                Ad(
                    id=aid,
                    account_id="acc",
                    adset_id=sid,
                    campaign_id="c1",
                    platform="meta",
                    platform_id=aid + "p",
                    name=f"ad {aid}",
                    status="ACTIVE",
                    effective_status="ACTIVE",
                )
            )
        s.commit()
        for back in range(14):
            day = UNTIL - dt.timedelta(days=back)
            this_week = back < 7
            s.add(
                DailyMetric(
                    ad_id="a1",
                    day=day,
                    account_id="acc",
                    adset_id="s1",
                    campaign_id="c1",
                    currency="USD",
                    impressions=10_000,
                    clicks=100,
                    spend_micros=50 * M,
                    conversions=(25 if this_week else 50) // 10,
                    value_micros=100 * M,
                )
            )
            s.add(
                DailyMetric(
                    ad_id="a2",
                    day=day,
                    account_id="acc",
                    adset_id="s2",
                    campaign_id="c1",
                    currency="USD",
                    impressions=4_000,
                    clicks=20,
                    spend_micros=20 * M,
                    conversions=1,
                    value_micros=0,
                )
            )
            for i in range(extra_ads):
                s.add(
                    DailyMetric(
                        ad_id=f"x{i}",
                        day=day,
                        account_id="acc",
                        adset_id="s1",
                        campaign_id="c1",
                        currency="USD",
                        impressions=100,
                        clicks=1,
                        spend_micros=(i + 1) * 10_000,
                        conversions=0,
                        value_micros=0,
                    )
                )
        s.add(
            SyncState(
                account_id="acc",
                stream="insights",
                last_success=dt.datetime(2026, 3, 15, 6, tzinfo=dt.UTC),
                last_error=None,
            )
        )
        s.add(SyncState(account_id="acc", stream="segments", last_error="rate limited (code 17)"))
        s.commit()


def test_sums_ratios_trends_and_pacing_per_level(engine: Engine) -> None:
    build(engine)
    snap = snapshot(engine, until=UNTIL, fx=FX, reporting_currency="USD")
    assert (snap.since, snap.until) == (UNTIL - dt.timedelta(days=6), UNTIL)
    ads = {e.id: e for e in snap.ads.listed}
    a1 = ads["a1"]
    # 7 days: 350 spent, 70,000 impressions, 700 clicks, 14 conversions (2 a day); before: 35 conversions
    assert (a1.now.spend, a1.now.impressions, a1.now.clicks, a1.now.conversions) == (
        Decimal("350.00"),
        70_000,
        700,
        14,
    )
    assert a1.now.cpa == Decimal("25.0000") and a1.before is not None and a1.before.cpa == Decimal("10.0000")
    assert a1.cpa_change == 1.5 and a1.now.ctr == Decimal("1.0000") and a1.ctr_change == 0.0
    assert a1.now.roas == Decimal("2.0000")
    adsets = {e.name: e for e in snap.adsets.listed}
    assert adsets["steady"].pacing == 1.0 and adsets["starved"].pacing == 0.2
    assert adsets["starved"].daily_budget == Decimal(100)
    (campaign,) = snap.campaigns.listed
    assert campaign.now.spend == Decimal("490.00") and campaign.now.conversions == 21
    assert campaign.pacing is None  # no campaign budget: the ad sets hold the budgets
    assert [e.id for e in snap.ads.listed] == ["a1", "a2"]  # by spend


def test_findings_name_the_starved_ad_set_the_cpa_jump_and_the_failing_stream(engine: Engine) -> None:
    build(engine)
    snap = snapshot(engine, until=UNTIL, fx=FX, reporting_currency="USD")
    text = "\n".join(snap.findings)
    assert "'starved' spends 20% of its daily budget 100 USD" in text
    assert "'steady': CPA 10.0000 -> 25.0000 USD (+150%) on 35 -> 14 conversions" in text
    assert "the last sync failed: segments: rate limited (code 17)" in text
    assert "'steady' spends" not in text  # on pace
    (fresh,) = snap.freshness
    assert fresh.last_day == UNTIL and fresh.days_behind == 0
    assert fresh.last_sync == dt.datetime(2026, 3, 15, 6, tzinfo=dt.UTC)


def test_stale_figures_are_a_finding(engine: Engine) -> None:
    build(engine)
    snap = snapshot(engine, until=UNTIL + dt.timedelta(days=3), fx=FX, reporting_currency="USD")
    assert snap.freshness[0].days_behind == 3
    assert any("figures end 2026-03-14, 3 days ago" in f for f in snap.findings)


def test_the_listing_is_capped_but_counts_every_entity_and_keeps_the_notable(engine: Engine) -> None:
    build(engine, extra_ads=30)
    snap = snapshot(engine, until=UNTIL, fx=FX, reporting_currency="USD", top=5)
    assert snap.ads.total == 32 and len(snap.ads.listed) == 5
    assert [e.id for e in snap.ads.listed][:2] == ["a1", "a2"]
    assert [e.id for e in snap.ads.listed][2:] == ["x29", "x28", "x27"]
    small = snapshot(engine, until=UNTIL, fx=FX, reporting_currency="USD", top=1)
    # `starved` is outside the top 1 by spend but paces at 20%: listed anyway
    assert [e.name for e in small.adsets.listed] == ["steady", "starved"]


def test_an_empty_warehouse_gives_an_empty_snapshot(engine: Engine) -> None:
    snap = snapshot(engine, until=UNTIL, fx=FX, reporting_currency="USD")
    assert snap.platforms == [] and snap.ads.total == 0 and snap.findings == [] and snap.freshness == []
