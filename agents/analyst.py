"""The analyst: the optimizers run on the warehouse's figures, and their answers turned into typed
actions with the evidence behind each. The numbers come from the tools, never from an LLM.

- Budgets: per account and currency, the curve allocator re-splits the same total across the budgets
  that are live (an ad set's own, or its campaign's), within the allocator's guardrails; a change
  smaller than `min_change_share` is not worth a learning-phase reset and is not proposed.
- Creatives: per ad set with two or more ads, the creative report says keep, pause or re-activate, past
  its evidence thresholds. Its posteriors on CTR come from the shared-element model (headline, body,
  image, CTA), which also learns from the account's other ads, when every ad's creative is in the
  warehouse and the account has other ads with figures; otherwise from one Beta posterior per ad with
  the account's empirical-Bayes prior.
- Bids (`agents/bid_proposals.py`): capped ad sets toward the target CPA, caps for volatile uncapped
  ones. Audiences (`agents/audience_proposals.py`): exclusions of credibly dearer segments.
  Experiments (`agents/experiment_proposals.py`): the daily look, and the pause of a concluded test's
  loser; running arms are left alone here.
- New ads: an ad set with a fatigued live ad (`tools/optimize/fatigue.py`), or whose best live ad is
  credibly below the account's typical CTR, or that has settled on a winner, is handed to the creative
  agent (in that order of priority) as a `NewAdRequest`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, Field
from scipy import stats
from sqlalchemy import Engine
from sqlmodel import Session, select

from agents.actions import (
    Action,
    BudgetChange,
    Evidence,
    ExpectedEffect,
    StatusChange,
    series_ref,
)
from agents.audience_proposals import AudienceConfig, audience_actions
from agents.bid_proposals import bid_actions
from agents.experiment_proposals import experiment_actions, monitor_experiments
from storage.models import Ad, Creative
from tools.audience_inputs import load_segments
from tools.experiment_runs import (
    running_arm_ids,
)
from tools.optimize.allocation import (
    AdSetHistory,
    AllocationError,
    CurveAllocator,
    Guardrails,
    campaign_history,
)
from tools.optimize.bids import BidConfig
from tools.optimize.creatives import CreativeDay, CreativeState, PastCreative, Thresholds, creative_report
from tools.optimize.fatigue import FatigueDay, detect_fatigue
from tools.optimize.priors import BetaPrior, empirical_bayes_prior
from tools.optimize.rules_records import EntitySeries
from tools.platforms.money import exponent
from tools.rule_inputs import load_series

MAX_PAST_CREATIVES = 200  # the account's most-seen other ads that inform the element model


class AnalystConfig(BaseModel):
    days: int = Field(default=28, ge=7, le=365, description="history the optimizers read")
    min_change_share: float = Field(default=0.05, ge=0, lt=1)
    allocation: Guardrails = Field(default_factory=Guardrails)
    creatives: Thresholds = Field(default_factory=Thresholds)
    audiences: AudienceConfig = Field(default_factory=AudienceConfig)
    bids: BidConfig = Field(default_factory=BidConfig)


class NewAdRequest(BaseModel):
    """An ad set worth a new ad (the creative agent's input): settled on a winner (test a challenger),
    with a fatigued ad (replace it with fresh copy) or losing (its best ad is credibly below the
    account's typical CTR)."""

    adset_id: str
    base_ad_id: str = Field(
        description="the ad to write from: the likely best of the ad set, or the tired one"
    )
    reason: str
    kind: Literal["fatigued", "losing", "settled"] = "settled"
    replaces_ad_id: str | None = Field(
        default=None, description="fatigued: the ad paused once the new one runs"
    )


NEW_AD_ORDER = {"fatigued": 0, "losing": 1, "settled": 2}  # which ad sets get new copy first
LOSING_MARGIN = 0.25  # an ad set is losing when even its CTR's upper bound is this far under the account's
LOSING_MIN_IMPRESSIONS = 5_000


class Analysis(BaseModel):
    actions: list[Action]
    notes: list[str] = Field(default_factory=list, description="what was looked at and left alone, and why")
    new_ads: list[NewAdRequest] = Field(default_factory=list)


def _history(s: EntitySeries, budget: int, *, level: str = "adset") -> AdSetHistory:
    return AdSetHistory(
        adset_id=s.entity_id,
        currency=s.currency,
        level="adset" if level == "adset" else "campaign",
        platform=s.platform if s.platform in ("meta", "x", "tiktok") else None,  # type: ignore[arg-type]
        account_id=s.account_id,
        minor_unit_micros=10 ** (6 - exponent(s.currency)),
        current_budget_micros=budget,
        min_budget_micros=s.min_budget_micros or 0,
        spend_micros=[d.spend_micros for d in s.days],
        conversions=[float(d.conversions) for d in s.days],
        impressions=[d.impressions for d in s.days],
    )


def _budget_actions(adsets: list[EntitySeries], config: AnalystConfig, notes: list[str]) -> list[Action]:
    units: dict[tuple[str, str], list[tuple[AdSetHistory, EntitySeries, str, str]]] = defaultdict(list)
    by_campaign: dict[str, list[EntitySeries]] = defaultdict(list)
    for s in adsets:
        if s.status != "ACTIVE" or s.budget is None or not s.budget.daily_budget_micros:
            continue
        if s.budget.level == "campaign":
            by_campaign[s.budget.entity_id].append(s)
        else:
            units[(s.account_id, s.currency)].append(
                (_history(s, s.budget.daily_budget_micros), s, "adset", s.platform_id)
            )
    for members in by_campaign.values():
        first = members[0]
        budget = first.budget
        assert budget is not None and budget.daily_budget_micros
        try:
            unit = campaign_history(
                budget.entity_id,
                [_history(m, budget.daily_budget_micros) for m in members],
                current_budget_micros=budget.daily_budget_micros,
            )
        except AllocationError as exc:
            notes.append(f"campaign {budget.name or budget.entity_id}: {exc}")
            continue
        units[(first.account_id, first.currency)].append((unit, first, "campaign", budget.platform_id))
    actions: list[Action] = []
    allocator = CurveAllocator(config.allocation)
    for (account, currency), group in units.items():
        if len(group) < 2:
            notes.append(f"account {account} ({currency}): one live budget, nothing to re-split")
            continue
        total = sum(h.current_budget_micros for h, *_ in group)
        try:
            proposals = allocator.allocate([h for h, *_ in group], total)
        except AllocationError as exc:
            notes.append(f"account {account} ({currency}): {exc}")
            continue
        for p, (h, s, level, platform_id) in zip(proposals, group, strict=True):
            change = abs(p.proposed_budget_micros - p.current_budget_micros)
            if change < config.min_change_share * p.current_budget_micros:
                continue
            name = s.budget.name if level == "campaign" and s.budget else s.name
            actions.append(
                BudgetChange(
                    entity=series_ref(s, level=level, platform_id=platform_id, name=name),  # type: ignore[arg-type]
                    currency=currency,
                    before_micros=p.current_budget_micros,
                    after_micros=p.proposed_budget_micros,
                    reason=f"re-split account {s.account_platform_id}'s budgets toward equal marginal return",
                    evidence=[
                        Evidence(
                            source="budget allocator (fitted curves)",
                            summary=p.evidence,
                            figures={
                                "expected_conversions_now": p.expected_results_now,
                                "expected_conversions_after": p.expected_results_after,
                                "cpa_now": p.cost_per_result_now,
                                "cpa_after": p.cost_per_result_after,
                            },
                            sample_size=len(h.spend_micros),
                        )
                    ],
                    expected=ExpectedEffect(
                        metric="conversions per day",
                        before=p.expected_results_now,
                        after=p.expected_results_after,
                        interval=p.interval_after,
                    ),
                )
            )
    return actions


def _creative_actions(
    engine: Engine,
    ads: list[EntitySeries],
    config: AnalystConfig,
    until: dt.date,
    notes: list[str],
    new_ads: list[NewAdRequest],
) -> list[Action]:
    with Session(engine) as session:
        ad_rows = list(session.exec(select(Ad)))
        contents = {
            c.id: (c.headline or "", c.body or "", c.image_hash or "", c.call_to_action or "")
            for c in session.exec(select(Creative))
        }
    parent = {a.id: a.adset_id for a in ad_rows}
    elements = {a.id: contents[a.creative_id] for a in ad_rows if a.creative_id in contents}
    by_adset: dict[str, list[EntitySeries]] = defaultdict(list)
    by_account: dict[str, list[EntitySeries]] = defaultdict(list)
    for s in ads:
        if s.status in ("ACTIVE", "PAUSED") and s.entity_id in parent:
            by_adset[parent[s.entity_id]].append(s)
            by_account[s.account_id].append(s)
    priors = {}
    for account, members in by_account.items():
        clicks = [sum(d.clicks for d in m.days) for m in members]
        imps = [sum(d.impressions for d in m.days) for m in members]
        priors[account] = empirical_bayes_prior(clicks, imps)
    actions: list[Action] = []
    for adset, members in by_adset.items():
        request = _tired_or_losing(adset, members, priors[members[0].account_id])
        if request is not None:
            new_ads.append(request)
            notes.append(f"ad set {adset}: {request.reason}")
        if len(members) < 2:
            continue
        days = [
            CreativeDay(
                ad_id=m.entity_id, day=d.day, impressions=d.impressions, clicks=min(d.clicks, d.impressions)
            )
            for m in members
            for d in m.days
        ]
        states = [CreativeState(ad_id=m.entity_id, active=m.status == "ACTIVE") for m in members]
        # The element model where the account's other ads can teach it about these ads' elements (its
        # edge in benchmarks/optimizers.py); one Beta posterior per ad otherwise (the better of the two
        # in benchmarks/keep_pause_loop.py, whose ad sets have no such history).
        known = all(m.entity_id in elements for m in members)
        past = _past_creatives(by_account[members[0].account_id], adset, parent, elements) if known else []
        report = creative_report(
            days,
            states,
            priors[members[0].account_id],
            thresholds=config.creatives,
            today=until,
            elements={m.entity_id: elements[m.entity_id] for m in members} if past else None,
            history=past or None,
        )
        source = (
            "creative bandit (shared elements, account history)"
            if report.model == "elements"
            else "creative bandit (Thompson, account prior)"
        )
        series = {m.entity_id: m for m in members}
        for v in report.creatives:
            if v.verdict == "keep":
                continue
            s = series[v.ad_id]
            after = "PAUSED" if v.verdict == "pause" else "ACTIVE"
            actions.append(
                StatusChange(
                    entity=series_ref(s),
                    before="ACTIVE" if after == "PAUSED" else "PAUSED",
                    after=after,  # type: ignore[arg-type]
                    reason=f"{v.verdict}: {v.reason}",
                    evidence=[
                        Evidence(
                            source=source,
                            summary=v.reason,
                            figures={
                                "ctr_posterior_mean": v.posterior_mean,
                                "ctr_low": v.interval[0],
                                "ctr_high": v.interval[1],
                                "prob_best": v.prob_best,
                                "expected_loss": v.expected_loss,
                            },
                            sample_size=v.impressions,
                        )
                    ],
                )
            )
        if report.add_new_ad and report.add_new_reason and request is None:
            notes.append(f"ad set {adset}: {report.add_new_reason}")
            best = max(report.creatives, key=lambda v: v.prob_best)
            new_ads.append(NewAdRequest(adset_id=adset, base_ad_id=best.ad_id, reason=report.add_new_reason))
    return actions


def _tired_or_losing(adset: str, members: list[EntitySeries], prior: BetaPrior) -> NewAdRequest | None:
    """A fatigued live ad (CTR falling with exposure beyond noise and weekday), or else an ad set whose
    best live ad is credibly below the account's typical CTR: either is worth new copy."""
    live = [m for m in members if m.status == "ACTIVE" and m.days]
    tired = []
    for m in live:
        verdict = detect_fatigue(
            [
                FatigueDay(day=d.day, impressions=d.impressions, clicks=min(d.clicks, d.impressions))
                for d in m.days
            ]
        )
        if verdict.fatigued:
            tired.append((verdict.ctr_drop or 0.0, m, verdict.reason))
    if tired:
        _, ad, why = max(tired, key=lambda t: (t[0], t[1].entity_id))
        return NewAdRequest(
            adset_id=adset,
            base_ad_id=ad.entity_id,
            kind="fatigued",
            replaces_ad_id=ad.entity_id,
            reason=f"ad {ad.name or ad.entity_id!r} is fatigued: {why}",
        )
    seen = [
        (sum(d.impressions for d in m.days), sum(min(d.clicks, d.impressions) for d in m.days), m)
        for m in live
    ]
    seen = [t for t in seen if t[0] >= LOSING_MIN_IMPRESSIONS]
    if not seen:
        return None
    # The best live ad's 95% upper bound on CTR (its Beta posterior from the account's prior).
    high, imps, ad = max(
        (float(stats.beta.ppf(0.95, prior.alpha + c, prior.beta + n - c)), n, m) for n, c, m in seen
    )
    if high >= prior.mean * (1 - LOSING_MARGIN):
        return None
    return NewAdRequest(
        adset_id=adset,
        base_ad_id=ad.entity_id,
        kind="losing",
        reason=f"losing: its best ad's CTR is at most {high:.3%} (95% bound, {imps:,} impressions) against "
        f"the account's typical {prior.mean:.3%}",
    )


def _past_creatives(
    account_ads: list[EntitySeries], adset: str, parent: dict[str, str], elements: dict[str, tuple[str, ...]]
) -> list[PastCreative]:
    """The account's other ads with known creatives: evidence about the elements this ad set shares."""
    past = [
        PastCreative(
            elements=elements[m.entity_id],
            successes=sum(min(d.clicks, d.impressions) for d in m.days),
            trials=sum(d.impressions for d in m.days),
            context=parent[m.entity_id],
        )
        for m in account_ads
        if parent[m.entity_id] != adset and m.entity_id in elements
    ]
    past = [p for p in past if p.trials > 0]
    return sorted(past, key=lambda p: -p.trials)[:MAX_PAST_CREATIVES]


def analyse(engine: Engine, *, until: dt.date, config: AnalystConfig | None = None) -> Analysis:
    """Typed actions from the optimizers over the last `config.days` synced days up to `until`."""
    cfg = config or AnalystConfig()
    since = until - dt.timedelta(days=cfg.days - 1)
    notes: list[str] = []
    adsets = load_series(engine, "adset", since, until)
    ads = load_series(engine, "ad", since, until)
    # A running experiment's split must hold: its arms' ad sets (and any campaign budget over them) and
    # their ads are left alone until it ends.
    held = running_arm_ids(engine)
    if held:
        held_campaigns = {s.budget.entity_id for s in adsets if s.entity_id in held and s.budget}
        before = len(adsets)
        adsets = [
            s
            for s in adsets
            if s.entity_id not in held and not (s.budget and s.budget.entity_id in held_campaigns)
        ]
        with Session(engine) as session:
            parent = dict(session.exec(select(Ad.id, Ad.adset_id)).all())
        ads = [a for a in ads if a.entity_id not in held and parent.get(a.entity_id) not in held]
        notes.append(f"{before - len(adsets)} ad set(s) in running experiments left alone")
    new_ads: list[NewAdRequest] = []
    actions = _budget_actions(adsets, cfg, notes) + _creative_actions(engine, ads, cfg, until, notes, new_ads)
    actions += bid_actions(engine, adsets, since, until, cfg.bids, notes)
    segments = [s for s in load_segments(engine, since, until) if s.adset_id not in held]
    actions += audience_actions(segments, cfg.audiences, notes)
    monitor_experiments(engine, until, notes)
    actions += experiment_actions(engine, notes)
    new_ads.sort(key=lambda r: NEW_AD_ORDER[r.kind])
    return Analysis(actions=actions, notes=notes, new_ads=new_ads)
