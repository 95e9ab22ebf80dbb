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
- Bids: for live ad sets with a bid cap, the bid toward the target CPA (the goal's, else the account's)
  from a log-log fit of delivery and spend on the bids in force each day, or a one-step probe when only
  one bid was seen; a cap for uncapped ad sets whose CPA swings (`tools/optimize/bids.py`).
- Audiences: exclusions of credibly dearer segments (`audience_actions`). Experiments: running arms are
  left alone, a concluded test's loser is proposed for pausing.
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
from sqlmodel import Session, col, select

from agents.actions import (
    Action,
    BidChange,
    BudgetChange,
    EntityRef,
    Evidence,
    ExpectedEffect,
    StatusChange,
    TargetingChange,
)
from storage.models import Ad, AdSetDay, Creative
from tools.audience_inputs import AdSetSegments, load_segments
from tools.experiment_runs import (
    Arm,
    ExperimentError,
    concluded_experiments,
    end_experiment,
    list_experiments,
    running_arm_ids,
)
from tools.experiment_runs import status as experiment_status
from tools.optimize.allocation import (
    AdSetHistory,
    AllocationError,
    CurveAllocator,
    Guardrails,
    campaign_history,
)
from tools.optimize.audiences import segment_report
from tools.optimize.bids import BidConfig, BidDay, advise
from tools.optimize.creatives import CreativeDay, CreativeState, PastCreative, Thresholds, creative_report
from tools.optimize.fatigue import FatigueDay, detect_fatigue
from tools.optimize.priors import BetaPrior, empirical_bayes_prior
from tools.optimize.rules_records import EntitySeries
from tools.platforms.money import exponent
from tools.platforms.records import TARGETING_VALUES
from tools.platforms.registry import targeting_problem
from tools.rule_inputs import load_series

MAX_PAST_CREATIVES = 200  # the account's most-seen other ads that inform the element model


class AudienceConfig(BaseModel):
    credibility: float = Field(default=0.95, gt=0.5, lt=1, description="posterior probability of worse")
    min_lift: float = Field(default=0.2, ge=0, description="CPA at least this share above the ad set's")
    max_cut_share: float = Field(default=0.3, gt=0, lt=1, description="most spend one exclusion may take out")
    min_conversions: int = Field(
        default=20, ge=1, description="an ad set's conversions before segments count"
    )


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
                    entity=EntityRef(
                        platform=s.platform,  # type: ignore[arg-type]
                        account_id=s.account_platform_id,
                        level=level,  # type: ignore[arg-type]
                        platform_id=platform_id,
                        name=name,
                    ),
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
                    entity=EntityRef(
                        platform=s.platform,  # type: ignore[arg-type]
                        account_id=s.account_platform_id,
                        level="ad",
                        platform_id=s.platform_id,
                        name=s.name,
                    ),
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


FIELDS = {"age": "ages", "gender": "genders", "country": "countries", "placement": "placements"}


def audience_actions(adsets: list[AdSetSegments], cfg: AudienceConfig, notes: list[str]) -> list[Action]:
    """Per live ad set, at most one exclusion: the dimension whose credibly worse segments take the most
    spend (within `max_cut_share`), if the platform can express the narrower targeting."""
    actions: list[Action] = []
    for s in adsets:
        if s.status != "ACTIVE":
            continue
        options = []
        for dimension, segments in s.dimensions.items():
            report = segment_report(
                segments, dimension=dimension, credibility=cfg.credibility, min_lift=cfg.min_lift
            )
            if report.conversions < cfg.min_conversions or report.adset_cpa is None:
                continue
            targeted = getattr(s.targeting, FIELDS[dimension])  # empty: every value
            # Only segments still targeted: an excluded one keeps its past rows in the window.
            worse = [
                v for v in report.segments if v.verdict == "worse" and (not targeted or v.value in targeted)
            ]
            share = sum(v.spend_share for v in worse)
            if worse and share <= cfg.max_cut_share:
                options.append((share, dimension, report, worse))
            elif worse:
                notes.append(
                    f"ad set {s.name!r}: {dimension} {', '.join(v.value for v in worse)} cost more per "
                    f"conversion but take {share:.0%} of its spend, over the {cfg.max_cut_share:.0%} one "
                    "change may exclude"
                )
        for share, dimension, report, worse in sorted(options, key=lambda o: (-o[0], o[1])):
            field = FIELDS[dimension]
            current = getattr(s.targeting, field) or list(
                TARGETING_VALUES.get(field, ()) or (v.value for v in report.segments)
            )
            out = {v.value for v in worse}
            after = s.targeting.model_copy(update={field: [v for v in current if v not in out]})
            problem = targeting_problem(s.platform, after) if after.model_dump()[field] else "nothing left"
            if problem:
                notes.append(
                    f"ad set {s.name!r}: excluding {dimension} {', '.join(sorted(out))} is not possible: "
                    f"{problem}"
                )
                continue
            kept_spend = report.spend_micros - sum(v.spend_micros for v in worse)
            kept_conv = report.conversions - sum(v.conversions for v in worse)
            actions.append(
                TargetingChange(
                    entity=EntityRef(
                        platform=s.platform,  # type: ignore[arg-type]
                        account_id=s.account_id,
                        level="adset",
                        platform_id=s.platform_id,
                        name=s.name,
                    ),
                    before=s.targeting,
                    after=after,
                    excluded={field: sorted(out)},
                    excluded_spend_share=round(share, 4),
                    reason=f"exclude {dimension} {', '.join(sorted(out))}: credibly dearer per conversion "
                    f"than the rest of the ad set",
                    evidence=[
                        Evidence(
                            source="audience segments (hierarchical Gamma-Poisson, shrunk to the ad set)",
                            summary=f"{dimension} {v.value}: {v.reason}",
                            figures={
                                "cpa_estimate": v.cpa_estimate,
                                "cpa_low": v.cpa_interval[0] if v.cpa_interval else None,
                                "cpa_high": v.cpa_interval[1] if v.cpa_interval else None,
                                "adset_cpa": report.adset_cpa,
                                "prob_worse": v.prob_worse,
                                "spend_share": round(v.spend_share, 4),
                                "conversions": v.conversions,
                            },
                            sample_size=v.conversions,
                        )
                        for v in worse
                    ],
                    expected=ExpectedEffect(
                        metric="ad set CPA (major units) if its budget goes to the remaining segments",
                        before=report.adset_cpa,
                        after=(kept_spend / 1e6 / kept_conv) if kept_conv else None,
                    ),
                )
            )
            break
    return actions


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
                entity=EntityRef(
                    platform=s.platform,  # type: ignore[arg-type]
                    account_id=s.account_platform_id,
                    level="adset",
                    platform_id=s.platform_id,
                    name=s.name,
                ),
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
    actions += _experiment_actions(engine, notes)
    new_ads.sort(key=lambda r: NEW_AD_ORDER[r.kind])
    return Analysis(actions=actions, notes=notes, new_ads=new_ads)


def monitor_experiments(engine: Engine, until: dt.date, notes: list[str]) -> None:
    """The daily look at each running experiment: concluded once every treatment has a verdict (the
    sequential test is valid at any look), stopped once the planned sample is reached without one."""
    for exp in [e for e in list_experiments(engine) if e.status in ("running", "pending")]:
        try:
            found = experiment_status(engine, exp.id, until=until)
        except ExperimentError as exc:
            notes.append(f"experiment {exp.name!r}: {exc}")
            continue
        if found.status != "running" or not found.comparisons:
            continue
        if all(c.winner for c in found.comparisons):
            end_experiment(engine, exp.id, until=until, stopped=False)
            notes.append(f"experiment {exp.name!r} concluded: {found.conclusion}")
        elif found.progress >= 1.0:
            end_experiment(engine, exp.id, until=until, stopped=True)
            notes.append(
                f"experiment {exp.name!r} reached its planned sample without a winner: {found.conclusion}"
            )


def _experiment_actions(engine: Engine, notes: list[str]) -> list[Action]:
    """A concluded experiment's losing arms, proposed for pausing with the test's figures as evidence
    (once: the audit log does not ask again about a change answered before)."""
    actions: list[Action] = []
    for exp in concluded_experiments(engine):
        result = exp.result or {}
        arms = [Arm.model_validate(a) for a in exp.arms]
        control = arms[0]
        for arm, winner, lift, interval, p in zip(
            arms[1:],
            result.get("winners", []),
            result.get("lifts", []),
            result.get("intervals", []),
            result.get("p_values", []),
            strict=False,
        ):
            if winner is None:
                continue
            loser = control if winner == arm.name else arm
            actions.append(
                StatusChange(
                    entity=EntityRef(
                        platform=loser.platform,  # type: ignore[arg-type]
                        account_id=loser.account_id,
                        level=loser.level,
                        platform_id=loser.platform_id,
                        name=loser.name,
                    ),
                    before="ACTIVE",
                    after="PAUSED",
                    reason=f"lost experiment {exp.name!r} to {winner} on {exp.metric}",
                    evidence=[
                        Evidence(
                            source="experiment (sequential test, always-valid)",
                            summary=str(result.get("conclusion", ""))[:500],
                            figures={
                                "lift_treatment_vs_control": lift,
                                "lift_low": interval[0] if interval else None,
                                "lift_high": interval[1] if interval else None,
                                "p_value": p,
                            },
                        )
                    ],
                )
            )
        if actions:
            notes.append(f"experiment {exp.name!r} concluded: its losers are proposed for pausing")
    return actions
