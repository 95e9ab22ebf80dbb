"""The marketer's rules' inputs from the warehouse: each ad, ad set or campaign's daily figures (summed
over its ads), status, where its daily budget lives, its currency and its goal; and the rules file.

The history covers `since`..`until`, cut at the last day the account's daily metrics were synced (the
"insights" stream's cursor, else its newest metric day) and at its oldest metric day, so that days the
warehouse never read do not pass for days without delivery. Pass `until` = yesterday to judge complete
days only: a synced "today" is a partial day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import Account, Ad, AdSet, Campaign, DailyMetric, Goal, SyncState
from tools.optimize.rules_language import Level, Rule, RulesFileError, parse_rules
from tools.optimize.rules_records import BudgetHolder, DailyRow, EntitySeries, GoalTarget

METRIC_STREAM = "insights"


class RuleInputError(ValueError):
    """A warehouse row the rules cannot read (the message names it)."""


def load_rules(path_or_text: str | Path) -> list[Rule]:
    """Rules from a file (a Path, or a string ending in .toml without a line break) or from TOML text."""
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and path_or_text.endswith(".toml")):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesFileError([f"{path}: cannot read the rules file: {exc}"]) from None
        return parse_rules(text, source=str(path))
    return parse_rules(path_or_text)


@contextmanager
def _session(source: Session | Engine) -> Iterator[Session]:
    if isinstance(source, Session):
        yield source
    else:
        with Session(source) as session:
            yield session


def load_series(source: Session | Engine, level: Level, since: dt.date, until: dt.date) -> list[EntitySeries]:
    """Every entity of `level` in the warehouse, with its daily figures from `since` to `until`."""
    if since > until:
        raise ValueError(f"since {since} is after until {until}")
    with _session(source) as session:
        accounts = {a.id: a for a in session.exec(select(Account))}
        campaigns = {c.id: c for c in session.exec(select(Campaign))}
        adsets = {s.id: s for s in session.exec(select(AdSet))} if level != "campaign" else {}
        entities: list[Campaign | AdSet | Ad] = (
            list(campaigns.values())
            if level == "campaign"
            else list(adsets.values())
            if level == "adset"
            else list(session.exec(select(Ad)))
        )
        goals = {(g.scope, g.entity_id): g for g in session.exec(select(Goal))}
        spans = _spans(session, since, until)
        key = {"campaign": DailyMetric.campaign_id, "adset": DailyMetric.adset_id, "ad": DailyMetric.ad_id}[
            level
        ]
        rows = session.exec(
            select(
                key,
                DailyMetric.account_id,
                DailyMetric.day,
                DailyMetric.currency,
                func.sum(DailyMetric.spend_micros),
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.clicks),
                func.sum(DailyMetric.conversions),
                func.sum(DailyMetric.value_micros),
            )
            .where(DailyMetric.day >= since, DailyMetric.day <= until)
            .group_by(key, DailyMetric.account_id, DailyMetric.day, DailyMetric.currency)
        ).all()
    daily: dict[str, list[DailyRow]] = {}
    for entity_id, account_id, day, currency, spend, imps, clicks, conv, value in rows:
        first, last = spans.get(account_id, (None, None))
        if first is None or last is None or not first <= day <= last:
            continue
        daily.setdefault(entity_id, []).append(
            DailyRow(
                day=day,
                spend_micros=int(spend or 0),
                impressions=int(imps or 0),
                clicks=int(clicks or 0),
                conversions=int(conv or 0),
                value_micros=int(value or 0),
                currency=currency,
            )
        )
    out = []
    for e in sorted(entities, key=lambda e: e.id):
        account = accounts[e.account_id]
        campaign = campaigns[e.id] if isinstance(e, Campaign) else campaigns[e.campaign_id]
        adset = e if isinstance(e, AdSet) else adsets.get(e.adset_id) if isinstance(e, Ad) else None
        first, last = spans.get(account.id, (None, None))
        out.append(
            EntitySeries(
                entity_id=e.id,
                platform_id=e.platform_id,
                name=e.name,
                level=level,
                platform=account.platform,
                account_id=account.id,
                account_platform_id=account.platform_id,
                currency=account.currency,
                status=e.status,
                budget=_budget(campaign, adset),
                bid_micros=(adset.bid_micros or None) if isinstance(e, AdSet) and adset else None,
                goal=_goal(goals, campaign, account),
                first_day=first,
                last_day=last,
                days=sorted(daily.get(e.id, []), key=lambda r: (r.day, r.currency or "")),
            )
        )
    return out


def _spans(
    session: Session, since: dt.date, until: dt.date
) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Per account, the days of `since`..`until` the warehouse has read."""
    bounds = {
        account_id: (first, last)
        for account_id, first, last in session.exec(
            select(DailyMetric.account_id, func.min(DailyMetric.day), func.max(DailyMetric.day)).group_by(
                DailyMetric.account_id
            )
        )
    }
    cursors = {
        s.account_id: s.cursor_day
        for s in session.exec(select(SyncState).where(SyncState.stream == METRIC_STREAM))
        if s.cursor_day is not None
    }
    out: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    for account_id, (first, newest) in bounds.items():
        first_day = max(since, first)
        last_day = min(until, cursors.get(account_id, newest))
        out[account_id] = (first_day, last_day) if first_day <= last_day else (None, None)
    return out


def _budget(campaign: Campaign, adset: AdSet | None) -> BudgetHolder | None:
    """The campaign's budget when it has one (it then governs its ad sets), else the ad set's."""
    if campaign.daily_budget_micros or campaign.lifetime_budget_micros:
        return BudgetHolder(
            level="campaign",
            entity_id=campaign.id,
            platform_id=campaign.platform_id,
            name=campaign.name,
            daily_budget_micros=campaign.daily_budget_micros or None,
            lifetime_budget_micros=campaign.lifetime_budget_micros or None,
        )
    if adset is not None and (adset.daily_budget_micros or adset.lifetime_budget_micros):
        return BudgetHolder(
            level="adset",
            entity_id=adset.id,
            platform_id=adset.platform_id,
            name=adset.name,
            daily_budget_micros=adset.daily_budget_micros or None,
            lifetime_budget_micros=adset.lifetime_budget_micros or None,
        )
    return None


def _goal(goals: dict[tuple[str, str], Goal], campaign: Campaign, account: Account) -> GoalTarget | None:
    """The campaign's goal, else the account's; a goal row may name either by internal or platform id."""
    for scope, ids in (
        ("campaign", (campaign.id, campaign.platform_id)),
        ("account", (account.id, account.platform_id)),
    ):
        for entity_id in ids:
            goal = goals.get((scope, entity_id))
            if goal is not None:
                return _goal_target(goal, f"{scope} {entity_id}")
    return None


def _goal_target(goal: Goal, source: str) -> GoalTarget:
    roas = None
    if goal.target_roas is not None:
        try:
            roas = Decimal(goal.target_roas)
        except InvalidOperation:
            roas = None
        if roas is None or not roas.is_finite() or roas <= 0:
            raise RuleInputError(
                f"goal {goal.id} ({source}): target_roas {goal.target_roas!r} is not a positive decimal"
            )
    if goal.target_cpa_micros is not None and goal.target_cpa_micros <= 0:
        raise RuleInputError(
            f"goal {goal.id} ({source}): target_cpa_micros {goal.target_cpa_micros} is not positive"
        )
    return GoalTarget(
        source=source, currency=goal.currency, target_cpa_micros=goal.target_cpa_micros, target_roas=roas
    )
