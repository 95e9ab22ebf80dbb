"""Perception: a compact picture of the accounts from the warehouse (never from the platforms).

- Per platform: the last days' figures with ratios from the sums and the change against the days before.
- Per campaign, ad set and ad: the same figures, trends and, where a daily budget is set, pacing (the
  last days' mean spend against the budget). Only the `top` entities by spend are listed at each level,
  with the count of all, so the snapshot stays small at thousands of ads; entities that pace badly or
  whose CPA moved most are listed whatever their rank.
- Freshness: per account the last successful sync, the last day with figures and any sync error.
- Findings: the few lines a marketer reads first (stale data, pacing, CPA jumps), from the figures above.

It is what the report and the chat answer from; the analyst reads its own series.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, case
from sqlmodel import Session, func, select

from storage.models import Account, Ad, AdSet, Campaign, DailyMetric, SyncState
from tools.reporting import MICRO, MissingRateError, ReportRow, performance

Level = Literal["campaign", "adset", "ad"]
PACE_DAYS = 3  # the recent days whose mean spend is held against the daily budget
UNDER_PACE = 0.5  # below half the budget: delivery is limited (audience, bid, creative)
OVER_PACE = 1.25  # platforms may overspend a daily budget by a quarter on a given day, not on average
CPA_JUMP = 0.3  # a CPA change worth a finding, with at least MIN_CONVERSIONS in both periods
MIN_CONVERSIONS = 5
STALE_AFTER_DAYS = 2


class PlatformTrend(BaseModel):
    platform: str
    now: ReportRow
    before: ReportRow | None
    cpa_change: float | None
    ctr_change: float | None


class Figures(BaseModel):
    """Sums over a period, in the entity's own currency (major units), and ratios from the sums."""

    spend: Decimal
    impressions: int
    clicks: int
    conversions: int
    value: Decimal
    ctr: Decimal | None  # percent
    cpc: Decimal | None
    cpa: Decimal | None
    roas: Decimal | None


class EntityFigures(BaseModel):
    level: Level
    platform: str
    account_id: str  # the platform's account id
    id: str  # warehouse id
    platform_id: str
    name: str
    status: str
    currency: str
    now: Figures
    before: Figures | None
    cpa_change: float | None
    ctr_change: float | None
    daily_budget: Decimal | None = None  # set on this entity (campaign budgets apply to their ad sets)
    pacing: float | None = Field(default=None, description="mean spend of the last days / daily budget")


class LevelView(BaseModel):
    total: int = Field(description="entities of this level with figures in the period")
    listed: list[EntityFigures]


class Freshness(BaseModel):
    platform: str
    account_id: str
    name: str
    last_sync: dt.datetime | None
    last_day: dt.date | None  # the last day with figures in the warehouse
    days_behind: int | None  # from last_day to the snapshot's last day
    errors: list[str]


class Snapshot(BaseModel):
    since: dt.date
    until: dt.date
    reporting_currency: str
    platforms: list[PlatformTrend]
    campaigns: LevelView
    adsets: LevelView
    ads: LevelView
    freshness: list[Freshness]
    findings: list[str]
    last_sync: dt.datetime | None
    sync_errors: list[str]


def _change(now: Decimal | None, before: Decimal | None) -> float | None:
    return float(now / before - 1) if now is not None and before else None


def _ratio(num: Decimal, den: Decimal | int) -> Decimal | None:
    return (num / Decimal(den)).quantize(Decimal("0.0001")) if den else None


# (spend, impressions, clicks, conversions, value) in micros and counts
Sums = tuple[int, int, int, int, int]


def _add(a: Sums, b: Sums) -> Sums:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def _figures(s: Sums) -> Figures:
    spend, value = Decimal(s[0]) / MICRO, Decimal(s[4]) / MICRO
    return Figures(
        spend=spend.quantize(Decimal("0.01")),
        impressions=s[1],
        clicks=s[2],
        conversions=s[3],
        value=value.quantize(Decimal("0.01")),
        ctr=_ratio(Decimal(100 * s[2]), s[1]),
        cpc=_ratio(spend, s[2]),
        cpa=_ratio(spend, s[3]),
        roas=_ratio(value, spend) if spend else None,
    )


def _ad_sums(session: Session, *, since: dt.date, until: dt.date, days: int) -> dict[str, dict[int, Sums]]:
    """Per ad: sums for bucket 0 (the days before), 1 (the period) and 2 (its last PACE_DAYS)."""
    before = since - dt.timedelta(days=days)
    recent = until - dt.timedelta(days=PACE_DAYS - 1)
    bucket = case((DailyMetric.day < since, 0), (DailyMetric.day >= recent, 2), else_=1)
    rows = session.exec(
        select(
            DailyMetric.ad_id,
            bucket,
            func.sum(DailyMetric.spend_micros),
            func.sum(DailyMetric.impressions),
            func.sum(DailyMetric.clicks),
            func.sum(DailyMetric.conversions),
            func.sum(DailyMetric.value_micros),
        )
        .where(DailyMetric.day >= before, DailyMetric.day <= until)
        .group_by(DailyMetric.ad_id, bucket)
    ).all()
    out: dict[str, dict[int, Sums]] = defaultdict(dict)
    for ad_id, b, *sums in rows:
        out[ad_id][int(b)] = tuple(int(v or 0) for v in sums)  # type: ignore[assignment]
    return out


def _entity(
    level: Level,
    row: Campaign | AdSet | Ad,
    account: Account,
    buckets: dict[int, Sums],
) -> EntityFigures:
    zero: Sums = (0, 0, 0, 0, 0)
    now_sums = _add(buckets.get(1, zero), buckets.get(2, zero))
    now = _figures(now_sums)
    before = _figures(buckets[0]) if 0 in buckets else None
    budget_micros = getattr(row, "daily_budget_micros", None)
    pacing = None
    if budget_micros:
        pacing = round(buckets.get(2, zero)[0] / PACE_DAYS / budget_micros, 3)
    return EntityFigures(
        level=level,
        platform=account.platform,
        account_id=account.platform_id,
        id=row.id,
        platform_id=row.platform_id,
        name=row.name[:120],
        status=row.status,
        currency=account.currency,
        now=now,
        before=before,
        cpa_change=_change(now.cpa, before.cpa) if before else None,
        ctr_change=_change(now.ctr, before.ctr) if before else None,
        daily_budget=(Decimal(budget_micros) / MICRO) if budget_micros else None,
        pacing=pacing,
    )


def _notable(e: EntityFigures) -> bool:
    paced = e.pacing is not None and e.status == "ACTIVE" and not UNDER_PACE <= e.pacing <= OVER_PACE
    return paced or _cpa_jump(e)


def _cpa_jump(e: EntityFigures) -> bool:
    return (
        e.cpa_change is not None
        and abs(e.cpa_change) >= CPA_JUMP
        and e.before is not None
        and min(e.now.conversions, e.before.conversions) >= MIN_CONVERSIONS
    )


def _view(entities: Iterable[EntityFigures], fx: dict[str, Decimal], top: int) -> LevelView:
    with_figures = [e for e in entities if e.now.impressions or (e.before and e.before.impressions)]
    for e in with_figures:
        if e.currency not in fx:
            raise MissingRateError(f"ADCLUSTER_FX_RATES has no rate for {e.currency}")
    ranked = sorted(with_figures, key=lambda e: (-(e.now.spend / fx[e.currency]), e.id))
    listed = ranked[:top] + [e for e in ranked[top:] if _notable(e)][:top]
    return LevelView(total=len(with_figures), listed=listed)


def _findings(snap_levels: list[LevelView], freshness: list[Freshness]) -> list[str]:
    lines = []
    for f in freshness:
        if f.days_behind is not None and f.days_behind >= STALE_AFTER_DAYS:
            lines.append(
                f"{f.platform} account {f.account_id}: figures end {f.last_day}, {f.days_behind} days ago"
            )
        for error in f.errors[:2]:
            lines.append(f"{f.platform} account {f.account_id}: the last sync failed: {error[:160]}")
    for view in snap_levels:
        for e in view.listed:
            if e.pacing is not None and e.status == "ACTIVE" and e.pacing < UNDER_PACE:
                lines.append(
                    f"{e.platform} {e.level} {e.name!r} spends {e.pacing:.0%} of its daily budget "
                    f"{e.daily_budget} {e.currency} (last {PACE_DAYS} days): delivery is limited"
                )
            elif e.pacing is not None and e.status == "ACTIVE" and e.pacing > OVER_PACE:
                lines.append(
                    f"{e.platform} {e.level} {e.name!r} spends {e.pacing:.0%} of its daily budget "
                    f"{e.daily_budget} {e.currency} (last {PACE_DAYS} days)"
                )
            if e.level != "ad" and _cpa_jump(e):
                assert e.before is not None and e.cpa_change is not None
                lines.append(
                    f"{e.platform} {e.level} {e.name!r}: CPA {e.before.cpa} -> {e.now.cpa} {e.currency} "
                    f"({e.cpa_change:+.0%}) on {e.before.conversions} -> {e.now.conversions} conversions"
                )
    return lines


def snapshot(
    engine: Engine,
    *,
    until: dt.date,
    days: int = 7,
    fx: dict[str, Decimal],
    reporting_currency: str,
    top: int = 10,
) -> Snapshot:
    """The warehouse's last `days` up to `until` against the `days` before them."""
    first, last, rows = performance(
        engine, days=days, until=until, fx=fx, reporting_currency=reporting_currency
    )
    _, _, prior = performance(
        engine, days=days, until=until - dt.timedelta(days=days), fx=fx, reporting_currency=reporting_currency
    )
    before = {r.platform: r for r in prior}
    trends = [
        PlatformTrend(
            platform=r.platform,
            now=r,
            before=before.get(r.platform),
            cpa_change=_change(r.cpa, before[r.platform].cpa) if r.platform in before else None,
            ctr_change=_change(r.ctr, before[r.platform].ctr) if r.platform in before else None,
        )
        for r in rows
    ]
    since = until - dt.timedelta(days=days - 1)
    with Session(engine) as session:
        per_ad = _ad_sums(session, since=since, until=until, days=days)
        accounts = {a.id: a for a in session.exec(select(Account))}
        ads = list(session.exec(select(Ad).where(Ad.id.in_(list(per_ad)))))  # type: ignore[union-attr]
        adset_ids = {a.adset_id for a in ads}
        campaign_ids = {a.campaign_id for a in ads}
        adsets = list(session.exec(select(AdSet).where(AdSet.id.in_(adset_ids))))  # type: ignore[attr-defined]
        campaigns = list(session.exec(select(Campaign).where(Campaign.id.in_(campaign_ids))))  # type: ignore[attr-defined]
        states = list(session.exec(select(SyncState)))
        last_days = dict(
            session.exec(
                select(DailyMetric.account_id, func.max(DailyMetric.day)).group_by(DailyMetric.account_id)
            ).all()
        )
    by_adset: dict[str, dict[int, Sums]] = defaultdict(dict)
    by_campaign: dict[str, dict[int, Sums]] = defaultdict(dict)
    for ad in ads:
        for b, sums in per_ad[ad.id].items():
            for target, key in ((by_adset, ad.adset_id), (by_campaign, ad.campaign_id)):
                target[key][b] = _add(target[key].get(b, (0, 0, 0, 0, 0)), sums)
    levels = [
        _view(
            (_entity("campaign", c, accounts[c.account_id], by_campaign[c.id]) for c in campaigns), fx, top
        ),
        _view((_entity("adset", s, accounts[s.account_id], by_adset[s.id]) for s in adsets), fx, top),
        _view((_entity("ad", a, accounts[a.account_id], per_ad[a.id]) for a in ads), fx, top),
    ]
    errors_by_account: dict[str, list[str]] = defaultdict(list)
    last_success: dict[str, dt.datetime] = {}
    for s in states:
        if s.last_error:
            errors_by_account[s.account_id].append(f"{s.stream}: {s.last_error}")
        if s.last_success and (
            s.account_id not in last_success or s.last_success > last_success[s.account_id]
        ):
            last_success[s.account_id] = s.last_success
    freshness = [
        Freshness(
            platform=a.platform,
            account_id=a.platform_id,
            name=a.name[:120],
            last_sync=last_success.get(a.id),
            last_day=last_days.get(a.id),
            days_behind=(until - last_days[a.id]).days if a.id in last_days else None,
            errors=errors_by_account.get(a.id, []),
        )
        for a in sorted(accounts.values(), key=lambda a: (a.platform, a.platform_id))
    ]
    return Snapshot(
        since=first,
        until=last,
        reporting_currency=reporting_currency,
        platforms=trends,
        campaigns=levels[0],
        adsets=levels[1],
        ads=levels[2],
        freshness=freshness,
        findings=_findings(levels, freshness),
        last_sync=max(last_success.values(), default=None),
        sync_errors=[f"{s.account_id}/{s.stream}: {s.last_error}" for s in states if s.last_error],
    )
