"""Experiments in the warehouse: set one up (arms checked, sample planned), monitor it daily with the
sequential test, and conclude or stop it. The statistics are in tools/optimize/experiments.py.

An arm is an ad or an ad set, named by its warehouse id or its platform id. Arms are refused when the
platform's delivery, not the split, would pick the winner: ads in one ad set, ad sets under one campaign
budget, or ad sets with different daily budgets. Arms must share a currency and a campaign objective
and be live. The first arm is the control.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.models import Account, Ad, AdSet, Campaign, DailyMetric, Experiment
from tools.optimize.experiments import ArmDay, Comparison, Metric, Plan, compare, plan

BASELINE_DAYS = 14
MICRO = 1_000_000


class ExperimentError(ValueError):
    """An experiment that cannot be set up or read; the message says why."""


class Arm(BaseModel):
    name: str
    level: Literal["ad", "adset"]
    id: str  # warehouse id
    platform: str
    account_id: str  # the platform's account id
    platform_id: str
    adset_id: str  # warehouse id of the ad set that delivers it
    currency: str


class ArmTotals(BaseModel):
    name: str
    impressions: int
    clicks: int
    conversions: int
    spend_micros: int


class ExperimentStatus(BaseModel):
    id: str
    name: str
    metric: Metric
    status: str
    start_day: dt.date
    until: dt.date
    days: int
    arms: list[ArmTotals]
    planned_per_arm: Decimal
    progress: float = Field(description="the smallest arm's sample as a share of the plan")
    comparisons: list[Comparison]
    conclusion: str


def _find(session: Session, ref: str) -> tuple[Literal["ad", "adset"], Ad | AdSet]:
    for level, model in (("ad", Ad), ("adset", AdSet)):
        row = session.get(model, ref) or session.exec(select(model).where(model.platform_id == ref)).first()
        if row is not None:
            return level, row  # type: ignore[return-value]
    raise ExperimentError(f"no ad or ad set {ref!r} in the warehouse (sync first, or check the id)")


def resolve_arms(engine: Engine, refs: list[str]) -> list[Arm]:
    """The arms, checked; an ExperimentError names every problem."""
    if len(refs) < 2:
        raise ExperimentError("an experiment needs at least two arms")
    if len(set(refs)) != len(refs):
        raise ExperimentError("an arm is named twice")
    problems: list[str] = []
    arms: list[Arm] = []
    with Session(engine) as session:
        found = []
        for ref in refs:
            try:
                found.append(_find(session, ref))
            except ExperimentError as exc:
                problems.append(str(exc))
        if problems:
            raise ExperimentError("; ".join(problems))
        levels = {level for level, _ in found}
        if len(levels) > 1:
            raise ExperimentError("arms must all be ads or all be ad sets")
        adsets: dict[str, AdSet] = {}
        for level, row in found:
            adset = row if isinstance(row, AdSet) else session.get(AdSet, row.adset_id)
            if adset is None:
                raise ExperimentError(f"ad {row.platform_id}: its ad set is not in the warehouse")
            account = session.get(Account, row.account_id)
            assert account is not None
            adsets[row.id] = adset
            arms.append(
                Arm(
                    name=row.name,
                    level=level,
                    id=row.id,
                    platform=row.platform,
                    account_id=account.platform_id,
                    platform_id=row.platform_id,
                    adset_id=adset.id,
                    currency=account.currency,
                )
            )
            if row.status != "ACTIVE":
                problems.append(f"{level} {row.platform_id} is {row.status}: arms must be live")
        campaigns = {
            c.id: c
            for c in session.exec(
                select(Campaign).where(col(Campaign.id).in_([s.campaign_id for s in adsets.values()]))
            )
        }
    by_adset: dict[str, list[str]] = defaultdict(list)
    for arm in arms:
        by_adset[arm.adset_id].append(arm.platform_id)
    adset_platform_ids = {adsets[a.id].id: adsets[a.id].platform_id for a in arms}
    for adset_id, members in by_adset.items():
        if len(members) > 1:
            problems.append(
                f"ads {', '.join(members)} share ad set {adset_platform_ids[adset_id]}: its delivery would "
                "pick the winner; put each arm in its own ad set"
            )
    if len({a.currency for a in arms}) > 1:
        problems.append(
            f"arms bill in different currencies ({', '.join(sorted({a.currency for a in arms}))})"
        )
    arm_sets = [adsets[a.id] for a in arms]
    objectives = {(campaigns[s.campaign_id].objective or "") for s in arm_sets if s.campaign_id in campaigns}
    if len(objectives) > 1:
        problems.append(f"arms' campaigns have different objectives ({', '.join(sorted(objectives))})")
    shared = [
        s for s in arm_sets if s.campaign_id in campaigns and campaigns[s.campaign_id].daily_budget_micros
    ]
    if len({s.campaign_id for s in shared}) < len(shared):
        problems.append(
            "arms' ad sets share a campaign budget: the platform would move spend to the likely winner"
        )
    budgets = {s.daily_budget_micros for s in arm_sets}
    if len(budgets) > 1:
        shown = ", ".join(f"{s.platform_id}: {Decimal(s.daily_budget_micros or 0) / MICRO}" for s in arm_sets)
        problems.append(f"arms' daily budgets differ ({shown}): give them equal budgets first")
    if problems:
        raise ExperimentError("; ".join(problems))
    return arms


def _daily(session: Session, arm: Arm, since: dt.date, until: dt.date) -> dict[dt.date, ArmDay]:
    column = DailyMetric.ad_id if arm.level == "ad" else DailyMetric.adset_id
    rows = session.exec(
        select(
            DailyMetric.day,
            func.sum(DailyMetric.impressions),
            func.sum(DailyMetric.clicks),
            func.sum(DailyMetric.conversions),
            func.sum(DailyMetric.spend_micros),
        )
        .where(column == arm.id, DailyMetric.day >= since, DailyMetric.day <= until)
        .group_by(DailyMetric.day)
    ).all()
    return {
        day: ArmDay(
            impressions=int(i or 0),
            clicks=min(int(c or 0), int(i or 0)),
            conversions=int(v or 0),
            spend_micros=int(s or 0),
        )
        for day, i, c, v, s in rows
    }


def _baseline(arms: list[ArmDay], metric: Metric) -> float:
    imps = sum(a.impressions for a in arms)
    clicks = sum(a.clicks for a in arms)
    conv = sum(a.conversions for a in arms)
    spend = sum(a.spend_micros for a in arms) / MICRO
    rate = {"ctr": (clicks, imps), "cvr": (conv, clicks), "cpa": (conv, spend)}[metric]
    if not rate[0] or not rate[1]:
        raise ExperimentError(
            f"the arms had no {metric} to plan from in the last {BASELINE_DAYS} days: give --baseline"
        )
    return float(rate[0] / rate[1])


def create_experiment(
    engine: Engine,
    *,
    name: str,
    refs: list[str],
    metric: Metric,
    mde: Decimal,
    power: Decimal = Decimal("0.8"),
    alpha: Decimal = Decimal("0.05"),
    start_day: dt.date,
    by: str,
    baseline: float | None = None,
) -> tuple[Experiment, Plan]:
    """Record a running experiment whose figures count from `start_day`; its sample is planned from the
    arms' last BASELINE_DAYS days (or `baseline`)."""
    arms = resolve_arms(engine, refs)
    with Session(engine) as session:
        clash = _running_arms(session)
        taken = [a.platform_id for a in arms if a.id in clash or a.adset_id in clash]
        if taken:
            raise ExperimentError(f"already in a running experiment: {', '.join(taken)}")
        if baseline is None:
            since = start_day - dt.timedelta(days=BASELINE_DAYS)
            history = [
                d for a in arms for d in _daily(session, a, since, start_day - dt.timedelta(days=1)).values()
            ]
            baseline = _baseline(history, metric)
    planned = plan_sample(metric, baseline, mde=mde, power=power, alpha=alpha, arms=len(arms))
    record = save_experiment(
        engine,
        Experiment(
            id=uuid.uuid4().hex[:12],
            name=name,
            metric=metric,
            mde=str(mde),
            alpha=str(alpha),
            power=str(power),
            arms=[a.model_dump(mode="json") for a in arms],
            start_day=start_day,
            planned_per_arm=str(Decimal(str(round(planned.per_arm, 2)))),
            status="running",
            created_by=by,
            created_at=dt.datetime.now(dt.UTC),
        ),
    )
    return record, planned


def plan_sample(
    metric: Metric, baseline: float, *, mde: Decimal, power: Decimal, alpha: Decimal, arms: int
) -> Plan:
    """The sequential test's sample per arm; an ExperimentError for impossible inputs."""
    try:
        return plan(
            metric=metric,
            baseline_rate=baseline,
            mde=float(mde),
            power=float(power),
            alpha=float(alpha),
            arms=arms,
        )
    except ValueError as exc:
        raise ExperimentError(str(exc)) from None


def save_experiment(engine: Engine, record: Experiment) -> Experiment:
    with session_scope(engine) as session:
        session.add(record)
        session.flush()
        session.expunge(record)  # kept readable after the commit
    return record


def ads_baseline(engine: Engine, ad_refs: list[str], metric: Metric, *, until: dt.date) -> float:
    """The metric's rate over the ads' last BASELINE_DAYS days (what a split's sample is planned from)."""
    with Session(engine) as session:
        ids = [
            (session.get(Ad, r) or session.exec(select(Ad).where(Ad.platform_id == r)).first() or Ad(id=r)).id
            for r in ad_refs
        ]
        row = session.exec(
            select(
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.clicks),
                func.sum(DailyMetric.conversions),
                func.sum(DailyMetric.spend_micros),
            ).where(
                col(DailyMetric.ad_id).in_(ids),
                DailyMetric.day > until - dt.timedelta(days=BASELINE_DAYS),
                DailyMetric.day <= until,
            )
        ).one()
    i, c, v, s = (int(x or 0) for x in row)
    return _baseline([ArmDay(impressions=i, clicks=min(c, i), conversions=v, spend_micros=s)], metric)


def _running_arms(session: Session) -> set[str]:
    ids: set[str] = set()
    for e in session.exec(select(Experiment).where(Experiment.status == "running")):
        for arm in e.arms:
            ids.update((arm["id"], arm["adset_id"]))
    return ids


def running_arm_ids(engine: Engine) -> set[str]:
    """Warehouse ids of the ads and ad sets in running experiments (and the ad sets that deliver them)."""
    with Session(engine) as session:
        return _running_arms(session)


def concluded_experiments(engine: Engine) -> list[Experiment]:
    with Session(engine) as session:
        return list(session.exec(select(Experiment).where(Experiment.status == "concluded")))


def get_experiment(engine: Engine, ref: str) -> Experiment:
    with Session(engine) as session:
        found = (
            session.get(Experiment, ref)
            or session.exec(
                select(Experiment).where(or_(Experiment.name == ref, col(Experiment.id).startswith(ref)))
            ).first()
        )
    if found is None:
        raise ExperimentError(f"no experiment {ref!r} (see adcluster experiment list)")
    return found


def list_experiments(engine: Engine) -> list[Experiment]:
    with Session(engine) as session:
        return list(session.exec(select(Experiment).order_by(col(Experiment.created_at))))


def _resolve_pending(engine: Engine, exp: Experiment, until: dt.date) -> Experiment:
    """A pending experiment (its arms' ad sets to be made) starts once a sync sees every arm: the arms get
    their ids and the test counts from the first day any of them delivered (or `until`)."""
    with Session(engine) as session:
        found = {
            s.name: s
            for s in session.exec(select(AdSet).where(col(AdSet.name).in_([a["name"] for a in exp.arms])))
        }
        if len(found) < len(exp.arms):
            return exp
        first = session.exec(
            select(func.min(DailyMetric.day)).where(
                col(DailyMetric.adset_id).in_([s.id for s in found.values()])
            )
        ).one()
    arms = [
        {
            **a,
            "id": found[a["name"]].id,
            "adset_id": found[a["name"]].id,
            "platform_id": found[a["name"]].platform_id,
        }
        for a in exp.arms
    ]
    with session_scope(engine) as session:
        row = session.get(Experiment, exp.id)
        assert row is not None
        row.arms, row.status, row.start_day = arms, "running", first or until
        session.add(row)
    return get_experiment(engine, exp.id)


def status(engine: Engine, ref: str, *, until: dt.date) -> ExperimentStatus:
    """Each treatment against the control, looked at day by day from the start to `until`."""
    exp = get_experiment(engine, ref)
    if exp.status == "pending":
        exp = _resolve_pending(engine, exp, until)
    if exp.status == "pending":
        return ExperimentStatus(
            id=exp.id,
            name=exp.name,
            metric=exp.metric,  # type: ignore[arg-type]
            status="pending",
            start_day=until,
            until=until,
            days=0,
            arms=[
                ArmTotals(name=a["name"], impressions=0, clicks=0, conversions=0, spend_micros=0)
                for a in exp.arms
            ],
            planned_per_arm=Decimal(exp.planned_per_arm),
            progress=0.0,
            comparisons=[],
            conclusion="waiting for the arms' ad sets: approve their creation (adcluster approvals), "
            "then sync",
        )
    arms = [Arm.model_validate(a) for a in exp.arms]
    last = min(until, exp.ended_at.date()) if exp.ended_at else until
    days = [exp.start_day + dt.timedelta(days=k) for k in range(max(0, (last - exp.start_day).days + 1))]
    with Session(engine) as session:
        series = [_daily(session, a, exp.start_day, last) for a in arms]
    daily = [[s.get(d, ArmDay()) for d in days] for s in series]
    metric: Metric = exp.metric  # type: ignore[assignment]
    level = float(exp.alpha) / (len(arms) - 1)
    comparisons = [
        compare(
            daily[0],
            daily[k],
            metric=metric,
            mde=float(exp.mde),
            alpha=level,
            names=(arms[0].name, arms[k].name),
        )
        for k in range(1, len(arms))
    ]
    totals = [
        ArmTotals(
            name=a.name,
            impressions=sum(d.impressions for d in ds),
            clicks=sum(d.clicks for d in ds),
            conversions=sum(d.conversions for d in ds),
            spend_micros=sum(d.spend_micros for d in ds),
        )
        for a, ds in zip(arms, daily, strict=True)
    ]
    planned = Decimal(exp.planned_per_arm)
    sample = {"ctr": "impressions", "cvr": "clicks", "cpa": "spend_micros"}[metric]
    smallest = min(getattr(t, sample) for t in totals) / (MICRO if metric == "cpa" else 1)
    progress = float(Decimal(str(smallest)) / planned) if planned else 0.0
    return ExperimentStatus(
        id=exp.id,
        name=exp.name,
        metric=metric,
        status=exp.status,
        start_day=exp.start_day,
        until=last,
        days=len(days),
        arms=totals,
        planned_per_arm=planned,
        progress=progress,
        comparisons=comparisons,
        conclusion=conclusion(comparisons, metric, progress),
    )


def conclusion(comparisons: list[Comparison], metric: Metric, progress: float) -> str:
    parts = []
    for c in comparisons:
        what = {"ctr": "CTR", "cvr": "conversion rate", "cpa": "conversions per spend (1/CPA)"}[metric]
        interval = (
            f" (confidence sequence {c.lift_interval[0]:+.1%}..{c.lift_interval[1]:+.1%})"
            if c.lift_interval
            else ""
        )
        lift = f"{c.lift:+.1%}" if c.lift is not None else "no estimate yet"
        if c.winner is not None:
            loser = c.control if c.winner == c.treatment else c.treatment
            parts.append(
                f"{c.winner} beats {loser} on {what}: {c.treatment} vs {c.control} {lift}{interval}, "
                f"always-valid p {c.p_value:.3g} (decided on day {c.decided_at})"
            )
        else:
            parts.append(
                f"no credible difference between {c.treatment} and {c.control} on {what} yet: {lift}"
                f"{interval}, always-valid p {c.p_value:.3g}; {progress:.0%} of the planned sample"
            )
    return "; ".join(parts)


def end_experiment(engine: Engine, ref: str, *, until: dt.date, stopped: bool) -> ExperimentStatus:
    """Conclude (a winner was declared) or stop (by a person) an experiment, keeping its result."""
    found = status(engine, ref, until=until)
    with session_scope(engine) as session:
        exp = session.get(Experiment, found.id)
        assert exp is not None
        if exp.status not in ("running", "pending"):
            raise ExperimentError(f"experiment {exp.name} is already {exp.status}")
        exp.status = "stopped" if stopped else "concluded"
        exp.ended_at = dt.datetime.now(dt.UTC)
        exp.result = _result(found)
        session.add(exp)
    return found.model_copy(update={"status": "stopped" if stopped else "concluded"})


def _result(found: ExperimentStatus) -> dict[str, Any]:
    return {
        "until": found.until.isoformat(),
        "conclusion": found.conclusion,
        "winners": [c.winner for c in found.comparisons],
        "lifts": [c.lift for c in found.comparisons],
        "intervals": [c.lift_interval for c in found.comparisons],
        "p_values": [c.p_value for c in found.comparisons],
        "progress": found.progress,
    }
