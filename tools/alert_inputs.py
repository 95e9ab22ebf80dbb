"""Alerts from the warehouse and the audit log: every ad set's recent days (and today's hours), the
statuses the platforms report for ads and campaigns, and the data flow's health (syncs, tokens, the
approval queue). The detection rules are in tools/optimize/alerts.py."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from storage.models import Account, Ad, AdSet, AuditProposal, Campaign, DailyMetric, HourlyMetric, SyncState
from tools.optimize.alerts import (
    AdSetWatch,
    Alert,
    AlertConfig,
    Day,
    Entity,
    adset_alerts,
    make_alert,
    status_alert,
)


class HealthConfig(BaseModel):
    stale_after: dt.timedelta = Field(
        default=dt.timedelta(hours=26), description="since a stream's last success"
    )
    token_expiry: dict[str, dt.date] = Field(default_factory=dict, description="platform -> token expiry day")
    token_warning: dt.timedelta = Field(default=dt.timedelta(days=7))
    max_pending: int = Field(default=25, ge=1, description="undecided proposals before the queue is flagged")


def adset_watches(engine: Engine, judged: dt.date, cfg: AlertConfig) -> list[AdSetWatch]:
    """Every ad set with figures in the window, its days up to `judged` and its hours of the day after."""
    since = judged - dt.timedelta(days=cfg.baseline_days + cfg.recent_days)
    with Session(engine) as session:
        rows = session.exec(
            select(
                DailyMetric.adset_id,
                DailyMetric.day,
                func.sum(DailyMetric.spend_micros),
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.clicks),
                func.sum(DailyMetric.conversions),
            )
            .where(DailyMetric.day >= since, DailyMetric.day <= judged)
            .group_by(DailyMetric.adset_id, DailyMetric.day)
        ).all()
        hours = session.exec(
            select(Ad.adset_id, HourlyMetric.hour, func.sum(HourlyMetric.spend_micros))
            .join(Ad, Ad.id == HourlyMetric.ad_id)
            .where(HourlyMetric.day == judged + dt.timedelta(days=1))
            .group_by(Ad.adset_id, HourlyMetric.hour)
        ).all()
        days: dict[str, list[Day]] = defaultdict(list)
        for adset_id, day, spend, imps, clicks, conv in rows:
            days[adset_id].append(
                Day(
                    day=day,
                    spend_micros=int(spend or 0),
                    impressions=int(imps or 0),
                    clicks=int(clicks or 0),
                    conversions=int(conv or 0),
                )
            )
        hourly: dict[str, dict[int, int]] = defaultdict(dict)
        for adset_id, hour, spend in hours:
            hourly[adset_id][int(hour)] = int(spend or 0)
        synced = dict(
            session.exec(
                select(DailyMetric.account_id, func.max(DailyMetric.day)).group_by(DailyMetric.account_id)
            ).all()
        )
        ids = sorted(days)
        adsets = list(session.exec(select(AdSet).where(col(AdSet.id).in_(ids)))) if ids else []
        campaigns = {c.id: c for c in session.exec(select(Campaign))}
        accounts = {a.id: a for a in session.exec(select(Account))}
    out = []
    for s in adsets:
        campaign = campaigns.get(s.campaign_id)
        account = accounts[s.account_id]
        budget = s.daily_budget_micros or (campaign.daily_budget_micros if campaign else None)
        today = hourly.get(s.id, {})
        out.append(
            AdSetWatch(
                entity=Entity(
                    platform=s.platform,
                    account_id=account.platform_id,
                    level="adset",
                    platform_id=s.platform_id,
                    name=s.name,
                    currency=account.currency,
                ),
                live=s.status == "ACTIVE" and (campaign is None or campaign.status == "ACTIVE"),
                daily_budget_micros=budget,
                days=sorted(days[s.id], key=lambda d: d.day),
                hours_today=[today.get(h, 0) for h in range(max(today) + 1)] if today else [],
                synced_through=synced.get(s.account_id),
            )
        )
    return out


def account_watches(watches: list[AdSetWatch]) -> list[AdSetWatch]:
    """Each account as one series (its ad sets' days and hours summed, their budgets added): the same
    checks then see an account-wide swing that no single ad set shows."""
    by_account: dict[tuple[str, str], list[AdSetWatch]] = defaultdict(list)
    for w in watches:
        by_account[(w.entity.platform, w.entity.account_id)].append(w)
    out = []
    for (platform, account_id), members in sorted(by_account.items()):
        days: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for w in members:
            for d in w.days:
                row = days[d.day]
                row[0] += d.spend_micros
                row[1] += d.impressions
                row[2] += d.clicks
                row[3] += d.conversions
        hours = [
            sum(w.hours_today[h] for w in members if h < len(w.hours_today))
            for h in range(max((len(w.hours_today) for w in members), default=0))
        ]
        budgets = [w.daily_budget_micros for w in members if w.live]
        out.append(
            AdSetWatch(
                entity=Entity(
                    platform=platform,
                    account_id=account_id,
                    level="account",
                    platform_id=account_id,
                    name=f"{platform} account {account_id}",
                    currency=members[0].entity.currency,
                ),
                live=any(w.live for w in members),
                daily_budget_micros=sum(b for b in budgets if b) or None,
                days=[
                    Day(day=k, spend_micros=v[0], impressions=v[1], clicks=v[2], conversions=v[3])
                    for k, v in sorted(days.items())
                ],
                hours_today=hours,
                synced_through=members[0].synced_through,
            )
        )
    return out


def status_alerts(engine: Engine, judged: dt.date) -> list[Alert]:
    """Ads disapproved and campaigns stopped by the platform while the advertiser has them live."""
    out = []
    with Session(engine) as session:
        accounts = {a.id: a for a in session.exec(select(Account))}
        rows: list[tuple[str, Ad | Campaign]] = [
            ("ad", a) for a in session.exec(select(Ad).where(Ad.status == "ACTIVE"))
        ]
        rows += [("campaign", c) for c in session.exec(select(Campaign).where(Campaign.status == "ACTIVE"))]
    for level, row in rows:
        account = accounts[row.account_id]
        entity = Entity(
            platform=row.platform,
            account_id=account.platform_id,
            level=level,  # type: ignore[arg-type]
            platform_id=row.platform_id,
            name=row.name,
            currency=account.currency,
        )
        alert = status_alert(entity, row.status, row.effective_status, judged)
        if alert is not None:
            out.append(alert)
    return out


def health_alerts(engine: Engine, *, now: dt.datetime, judged: dt.date, cfg: HealthConfig) -> list[Alert]:
    """Syncs stale or failing, tokens near expiry, an approval queue that keeps growing."""
    out = []
    with Session(engine) as session:
        accounts = {a.id: a for a in session.exec(select(Account))}
        states = list(session.exec(select(SyncState)))
        pending = session.exec(
            select(func.count(), func.min(AuditProposal.proposed_at)).where(
                AuditProposal.status == "proposed"
            )
        ).one()
    for s in states:
        account = accounts.get(s.account_id)
        platform = account.platform if account else "?"
        entity = Entity(
            platform=platform,
            account_id=account.platform_id if account else s.account_id,
            level="stream",
            platform_id=s.stream,
            name=f"{account.name if account else s.account_id} / {s.stream}",
        )
        if s.last_error:
            out.append(
                make_alert(
                    "sync_failing",
                    "critical",
                    entity,
                    judged,
                    f"{platform} {entity.name}: the last sync failed: {s.last_error[:300]}",
                    {"last_success": s.last_success.isoformat() if s.last_success else None},
                )
            )
        elif s.last_success is not None and now - _aware(s.last_success) > cfg.stale_after:
            hours = (now - _aware(s.last_success)).total_seconds() / 3600
            out.append(
                make_alert(
                    "sync_stale",
                    "warning",
                    entity,
                    judged,
                    f"{platform} {entity.name}: last synced {hours:.0f} h ago",
                    {"hours_since_sync": round(hours, 1)},
                )
            )
    for platform, expiry in sorted(cfg.token_expiry.items()):
        left = expiry - now.date()
        if left <= cfg.token_warning:
            entity = Entity(
                platform=platform, account_id="*", level="account", platform_id="token", name="access token"
            )
            what = "has expired" if left.days < 0 else f"expires in {left.days} day(s), on {expiry}"
            out.append(
                make_alert(
                    "token_expiring",
                    "critical" if left.days < 2 else "warning",
                    entity,
                    judged,
                    f"the {platform} access token {what}: renew it before syncs and changes fail",
                    {"expires": expiry.isoformat(), "days_left": left.days},
                )
            )
    count, oldest = int(pending[0] or 0), pending[1]
    if count >= cfg.max_pending:
        age = (now - _aware(oldest)).total_seconds() / 3600 if oldest else 0.0
        entity = Entity(
            platform="*", account_id="*", level="queue", platform_id="approvals", name="approval queue"
        )
        out.append(
            make_alert(
                "approvals_piling_up",
                "warning",
                entity,
                judged,
                f"{count} proposals wait for a decision, the oldest for {age:.0f} h "
                "(adcluster approvals list)",
                {"pending": count, "oldest_hours": round(age, 1)},
            )
        )
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def detect_all(
    engine: Engine,
    *,
    judged: dt.date,
    now: dt.datetime,
    cfg: AlertConfig | None = None,
    health: HealthConfig | None = None,
) -> list[Alert]:
    """Every alert for the day `judged`: ad sets, statuses, health; critical first."""
    cfg = cfg or AlertConfig()
    watches = adset_watches(engine, judged, cfg)
    alerts = [a for w in watches for a in adset_alerts(w, judged, cfg)]
    # An account-wide alert of a kind an ad set of it already raised says nothing new: left out.
    raised = {(a.kind, a.entity.platform, a.entity.account_id) for a in alerts}
    alerts += [
        a
        for w in account_watches(watches)
        for a in adset_alerts(w, judged, cfg)
        if (a.kind, a.entity.platform, a.entity.account_id) not in raised
    ]
    alerts += status_alerts(engine, judged)
    alerts += health_alerts(engine, now=now, judged=judged, cfg=health or HealthConfig())
    return sorted(
        alerts, key=lambda a: (a.severity != "critical", a.kind, a.entity.platform, a.entity.platform_id)
    )
