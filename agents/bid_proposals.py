"""Bid changes: for live ad sets with a bid cap, the bid toward the target CPA (the goal's, else the
account's) from the bids in force each day (`adset_day`); caps for uncapped ad sets whose CPA swings
(tools/optimize/bids.py)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from agents.actions import Action, BidChange, Evidence, ExpectedEffect, series_ref
from storage.models import AdSetDay
from tools.optimize.bids import BidConfig, BidDay, advise
from tools.optimize.rules_records import EntitySeries
from tools.platforms.money import exponent


def _bids_in_force(
    engine: Engine, ids: list[str], since: dt.date, until: dt.date
) -> dict[str, dict[dt.date, int | None]]:
    """Per ad set, the bid in force each day: the last settings a sync saw on or before it (before the
    first sync, the first one seen: the warehouse cannot know older changes)."""
    with Session(engine) as session:
        rows = (
            session.exec(
                select(AdSetDay).where(col(AdSetDay.adset_id).in_(ids)).order_by(col(AdSetDay.day))
            ).all()
            if ids
            else []
        )
    seen: dict[str, list[AdSetDay]] = defaultdict(list)
    for r in rows:
        seen[r.adset_id].append(r)
    out: dict[str, dict[dt.date, int | None]] = {}
    for adset_id, snaps in seen.items():
        per_day: dict[dt.date, int | None] = {}
        k = 0
        day = since
        while day <= until:
            while k + 1 < len(snaps) and snaps[k + 1].day <= day:
                k += 1
            per_day[day] = snaps[k].bid_micros
            day += dt.timedelta(days=1)
        out[adset_id] = per_day
    return out


def bid_actions(
    engine: Engine,
    adsets: list[EntitySeries],
    since: dt.date,
    until: dt.date,
    cfg: BidConfig,
    notes: list[str],
) -> list[Action]:
    """Bid changes for live ad sets with a bid cap toward the target CPA (the goal's, else the account's
    CPA over the window), and caps for uncapped ones whose CPA swings (tools/optimize/bids.py)."""
    live = [s for s in adsets if s.status == "ACTIVE" and s.days]
    bids = _bids_in_force(engine, [s.entity_id for s in live], since, until)
    account_cpa: dict[str, int] = {}
    for account in {s.account_id for s in live}:
        members = [s for s in adsets if s.account_id == account]
        spend = sum(d.spend_micros for s in members for d in s.days)
        conv = sum(d.conversions for s in members for d in s.days)
        if conv:
            account_cpa[account] = spend // conv
    actions: list[Action] = []
    for s in live:
        history = bids.get(s.entity_id)
        if history is None:
            continue  # no settings snapshot yet (synced before the history was kept)
        target = s.goal.target_cpa_micros if s.goal and s.goal.currency == s.currency else None
        target = target or account_cpa.get(s.account_id)
        days = [
            BidDay(
                day=d.day,
                bid_micros=history.get(d.day, s.bid_micros),
                spend_micros=d.spend_micros,
                impressions=d.impressions,
                clicks=min(d.clicks, d.impressions),
                conversions=d.conversions,
            )
            for d in s.days
            if since <= d.day <= until
        ]
        if not days:
            continue
        days[-1] = days[-1].model_copy(update={"bid_micros": s.bid_micros})  # the bid now
        budget = s.budget.daily_budget_micros if s.budget else None
        try:
            advice = advise(
                days,
                target_cpa_micros=target,
                budget_micros=budget,
                minor_unit_micros=10 ** (6 - exponent(s.currency)),
                config=cfg,
            )
        except ValueError as exc:
            notes.append(f"ad set {s.name!r}: no bid advice: {exc}")
            continue
        if advice.kind == "keep" or advice.proposed_bid_micros is None:
            continue
        actions.append(
            BidChange(
                entity=series_ref(s),
                currency=s.currency,
                before_micros=s.bid_micros,
                after_micros=advice.proposed_bid_micros,
                reason=advice.reason,
                evidence=[
                    Evidence(
                        source="bid response (log-log fit on the bids in force, or a probe)",
                        summary=advice.reason,
                        figures={
                            "cpa_now": advice.cpa_now,
                            "target_cpa": advice.target_cpa,
                            "cpa_expected": advice.cpa_expected,
                            "impressions_elasticity": advice.impressions_elasticity,
                            "spend_elasticity": advice.spend_elasticity,
                            "bid_levels_seen": advice.levels,
                            "pacing": advice.pacing,
                        },
                        sample_size=len(days),
                    )
                ],
                expected=ExpectedEffect(
                    metric="CPA (major units)", before=advice.cpa_now, after=advice.cpa_expected
                )
                if advice.cpa_expected is not None
                else None,
            )
        )
    return actions
