"""An experiment on ads that share an ad set: the platform's delivery in that ad set would pick the
winner, so each arm gets an ad set of its own, made for the test. Each is a `CreateAdSet` in the source
ad set's campaign, with the source's targeting and bid, an equal share of its daily budget, and the
arm's ad made from the same creative; the actions wait for approval like any change that spends. The
experiment is recorded as `pending` with the arms' deterministic ad set names, and starts counting on
the day a sync first sees every arm (tools/experiment_runs.py:status)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, select

from agents.actions import CreateAdSet, EntityRef, Evidence
from storage.models import Account, Ad, AdSet, Campaign, Creative, Experiment
from tools.experiment_runs import ExperimentError, plan_sample, running_arm_ids, save_experiment
from tools.optimize.experiments import Metric, Plan
from tools.platforms.base import NewAd, NewAdSet
from tools.platforms.money import exponent
from tools.platforms.records import TargetingSpec


def split_arms(
    engine: Engine,
    *,
    name: str,
    refs: list[str],
    metric: Metric,
    mde: Decimal,
    power: Decimal,
    alpha: Decimal,
    baseline: float,
    by: str,
) -> tuple[Experiment, list[CreateAdSet], Plan]:
    """The arms' ad sets to create and the pending experiment; an ExperimentError says why not."""
    if len(refs) < 2 or len(set(refs)) != len(refs):
        raise ExperimentError("an experiment needs two or more different ads")
    with Session(engine) as session:
        ads = []
        for ref in refs:
            ad = session.get(Ad, ref) or session.exec(select(Ad).where(Ad.platform_id == ref)).first()
            if ad is None:
                raise ExperimentError(f"no ad {ref!r} in the warehouse (sync first, or check the id)")
            ads.append(ad)
        sources = {a.adset_id for a in ads}
        if len(sources) != 1:
            raise ExperimentError("--split makes ad sets for ads of one ad set; these are in several")
        source = session.get(AdSet, ads[0].adset_id)
        assert source is not None
        campaign = session.get(Campaign, source.campaign_id)
        account = session.get(Account, source.account_id)
        assert campaign is not None and account is not None
        if not source.daily_budget_micros:
            raise ExperimentError(
                f"ad set {source.platform_id} spends its campaign's budget: equal arms need budgets of "
                "their own"
            )
        if source.id in running_arm_ids(engine):
            raise ExperimentError(f"ad set {source.platform_id} is in a running experiment")
        creatives = {}
        for ad in ads:
            creative = session.get(Creative, ad.creative_id) if ad.creative_id else None
            if creative is None:
                raise ExperimentError(f"ad {ad.platform_id}: its creative is not in the warehouse")
            creatives[ad.id] = creative.platform_id
    planned = plan_sample(metric, baseline, mde=mde, power=power, alpha=alpha, arms=len(ads))
    step = 10 ** (6 - exponent(account.currency))
    share = source.daily_budget_micros // len(ads) // step * step
    if share <= 0:
        raise ExperimentError("the ad set's budget is too small to split into equal arms")
    experiment_id = uuid.uuid4().hex[:12]
    targeting = TargetingSpec.model_validate(source.targeting or {})
    actions = [
        CreateAdSet(
            entity=EntityRef(
                platform=source.platform,  # type: ignore[arg-type]
                account_id=account.platform_id,
                level="campaign",
                platform_id=campaign.platform_id,
                name=campaign.name,
            ),
            spec=NewAdSet(
                campaign_platform_id=campaign.platform_id,
                name=f"{name[:40]} | arm {k + 1} {experiment_id}",
                daily_budget_micros=share,
                bid_micros=source.bid_micros,
                targeting=targeting,
                status="ACTIVE",
            ),
            ad=NewAd(
                adset_platform_id="",
                name=f"{ad.name[:60]} | {name[:30]}",
                creative_platform_id=creatives[ad.id],
                status="ACTIVE",
            ),
            reason=f"experiment {name!r}: arm {k + 1} ({ad.name}) in an ad set of its own, so that the split "
            "is the platform's to enforce and not its delivery's to pick",
            proposed_by="experiment",
            evidence=[
                Evidence(
                    source="experiment plan (sequential test)",
                    summary=f"{planned.per_arm:,.0f} per arm ({metric}) find a {float(mde):.0%} lift with "
                    f"{float(power):.0%} power; each arm gets 1/{len(ads)} of the ad set's daily budget",
                    figures={"per_arm": planned.per_arm, "baseline_rate": baseline, "arms": len(ads)},
                )
            ],
        )
        for k, ad in enumerate(ads)
    ]
    arms = [
        {
            "name": a.spec.name,
            "level": "adset",
            "id": "",
            "platform": source.platform,
            "account_id": account.platform_id,
            "platform_id": "",
            "adset_id": "",
            "currency": account.currency,
        }
        for a in actions
    ]
    record = Experiment(
        id=experiment_id,
        name=name,
        metric=metric,
        mde=str(mde),
        alpha=str(alpha),
        power=str(power),
        arms=arms,
        start_day=dt.date.min,
        planned_per_arm=str(Decimal(str(round(planned.per_arm, 2)))),
        status="pending",
        created_by=by,
        created_at=dt.datetime.now(dt.UTC),
    )
    record = save_experiment(engine, record)
    return record, actions, planned
