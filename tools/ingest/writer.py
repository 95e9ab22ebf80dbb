"""Normalised records into the warehouse: internal ids, parent links, one transaction per batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.models import (
    Account,
    Ad,
    AdSet,
    Campaign,
    Creative,
    CustomAudience,
    DailyMetric,
    DailySegmentMetric,
    HourlyMetric,
    SyncState,
    internal_id,
)
from storage.upsert import upsert
from tools.platforms.base import RowProblem
from tools.platforms.records import (
    AccountRecord,
    AdRecord,
    AdSetRecord,
    AudienceRecord,
    CampaignRecord,
    CreativeRecord,
    HourlyRow,
    MetricRow,
    SegmentMetricRow,
)


def account_key(account: AccountRecord) -> str:
    return internal_id(account.platform, account.platform_id, "account", account.platform_id)


def entity_key(account: AccountRecord, kind: str, platform_id: str) -> str:
    return internal_id(account.platform, account.platform_id, kind, platform_id)


class WarehouseWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def accounts(self, records: Sequence[AccountRecord]) -> int:
        rows = [
            {
                "id": account_key(a),
                "platform": a.platform,
                "platform_id": a.platform_id,
                "name": a.name,
                "currency": a.currency,
                "timezone": a.timezone,
                "status": a.status,
                "synced_at": self.now(),
            }
            for a in records
        ]
        with session_scope(self.engine) as session:
            return upsert(session, Account, rows)

    def entities(
        self, account: AccountRecord, stream: str, items: Sequence[Any]
    ) -> tuple[int, list[RowProblem]]:
        """Upsert entity records; rows whose parent is unknown are reported, not written."""
        acc = account_key(account)
        now = self.now()
        problems: list[RowProblem] = []
        rows: list[dict[str, Any]] = []
        model: Any
        with session_scope(self.engine) as session:
            if stream == "campaigns":
                model = Campaign
                rows = [
                    {
                        "id": entity_key(account, "campaign", c.platform_id),
                        "account_id": acc,
                        "platform": account.platform,
                        "platform_id": c.platform_id,
                        "name": c.name,
                        "status": c.status,
                        "effective_status": c.effective_status,
                        "objective": c.objective,
                        "currency": account.currency,
                        "daily_budget_micros": c.daily_budget_micros,
                        "lifetime_budget_micros": c.lifetime_budget_micros,
                        "updated_at": c.updated_at,
                        "synced_at": now,
                    }
                    for c in items
                    if isinstance(c, CampaignRecord)
                ]
            elif stream == "adsets":
                model = AdSet
                known = self._ids(session, Campaign, acc)
                for i, s in enumerate(items):
                    assert isinstance(s, AdSetRecord)
                    parent = entity_key(account, "campaign", s.campaign_platform_id)
                    if parent not in known:
                        problems.append(self._orphan(account, stream, i, "campaign", s.campaign_platform_id))
                        continue
                    rows.append(
                        {
                            "id": entity_key(account, "adset", s.platform_id),
                            "account_id": acc,
                            "campaign_id": parent,
                            "platform": account.platform,
                            "platform_id": s.platform_id,
                            "name": s.name,
                            "status": s.status,
                            "effective_status": s.effective_status,
                            "currency": account.currency,
                            "daily_budget_micros": s.daily_budget_micros,
                            "lifetime_budget_micros": s.lifetime_budget_micros,
                            "bid_micros": s.bid_micros,
                            "bid_strategy": s.bid_strategy,
                            "optimization_goal": s.optimization_goal,
                            "targeting": s.targeting.model_dump(),
                            "end_time": s.end_time,
                            "updated_at": s.updated_at,
                            "synced_at": now,
                        }
                    )
            elif stream == "ads":
                model = Ad
                known = self._ids(session, AdSet, acc)
                for i, a in enumerate(items):
                    assert isinstance(a, AdRecord)
                    parent = entity_key(account, "adset", a.adset_platform_id)
                    if parent not in known:
                        problems.append(self._orphan(account, stream, i, "ad set", a.adset_platform_id))
                        continue
                    rows.append(
                        {
                            "id": entity_key(account, "ad", a.platform_id),
                            "account_id": acc,
                            "adset_id": parent,
                            "campaign_id": entity_key(account, "campaign", a.campaign_platform_id),
                            "platform": account.platform,
                            "platform_id": a.platform_id,
                            "name": a.name,
                            "status": a.status,
                            "effective_status": a.effective_status,
                            "creative_id": entity_key(account, "creative", a.creative_platform_id)
                            if a.creative_platform_id
                            else None,
                            "updated_at": a.updated_at,
                            "synced_at": now,
                        }
                    )
            elif stream == "creatives":
                model = Creative
                rows = [
                    {
                        "id": entity_key(account, "creative", c.platform_id),
                        "account_id": acc,
                        "platform": account.platform,
                        "platform_id": c.platform_id,
                        "name": c.name,
                        "headline": c.headline,
                        "body": c.body,
                        "image_hash": c.image_hash,
                        "image_url": c.image_url,
                        "call_to_action": c.call_to_action,
                        "link": c.link,
                        "synced_at": now,
                    }
                    for c in items
                    if isinstance(c, CreativeRecord)
                ]
            elif stream == "audiences":
                model = CustomAudience
                rows = [
                    {
                        "id": entity_key(account, "audience", c.platform_id),
                        "account_id": acc,
                        "platform": account.platform,
                        "platform_id": c.platform_id,
                        "name": c.name,
                        "subtype": c.subtype,
                        "size_lower": c.size_lower,
                        "size_upper": c.size_upper,
                        "adset_ids": [entity_key(account, "adset", s) for s in c.adset_platform_ids],
                        "synced_at": now,
                    }
                    for c in items
                    if isinstance(c, AudienceRecord)
                ]
            else:
                raise ValueError(f"unknown entity stream {stream!r}")
            return upsert(session, model, rows), problems

    def _ids(self, session: Any, model: Any, account_id: str) -> set[str]:
        return set(session.exec(select(model.id).where(model.account_id == account_id)).all())

    def _orphan(self, account: AccountRecord, stream: str, row: int, kind: str, pid: str) -> RowProblem:
        return RowProblem(
            platform=account.platform,
            account=account.platform_id,
            stream=stream,
            row=row,
            error=f"unknown {kind} {pid}: read it before its children",
        )

    def metrics(
        self, account: AccountRecord, stream: str, items: Sequence[Any]
    ) -> tuple[int, list[RowProblem]]:
        """Upsert daily, segment or hourly metric rows in one transaction (no half-written day)."""
        acc = account_key(account)
        now = self.now()
        problems: list[RowProblem] = []
        rows: list[dict[str, Any]] = []
        with session_scope(self.engine) as session:
            parents = {
                r[0]: (r[1], r[2])
                for r in session.exec(
                    select(Ad.id, Ad.adset_id, Ad.campaign_id).where(Ad.account_id == acc)
                ).all()
            }
            for i, m in enumerate(items):
                ad = entity_key(account, "ad", m.ad_platform_id)
                if ad not in parents:
                    problems.append(self._orphan(account, stream, i, "ad", m.ad_platform_id))
                    continue
                adset, campaign = parents[ad]
                base = {
                    "ad_id": ad,
                    "day": m.day,
                    "account_id": acc,
                    "currency": account.currency,
                    "impressions": m.impressions,
                    "clicks": m.clicks,
                    "spend_micros": m.spend_micros,
                    "synced_at": now,
                }
                if isinstance(m, HourlyRow):
                    rows.append({**base, "hour": m.hour})
                    continue
                base.update(conversions=m.conversions, value_micros=m.value_micros, adset_id=adset)
                if isinstance(m, SegmentMetricRow):
                    rows.append(
                        {
                            **base,
                            "breakdown": m.breakdown,
                            "age": m.age,
                            "gender": m.gender,
                            "country": m.country,
                            "placement": m.placement,
                        }
                    )
                else:
                    assert isinstance(m, MetricRow)
                    rows.append({**base, "campaign_id": campaign})
            model = (
                HourlyMetric
                if stream == "hourly"
                else (DailyMetric if stream == "insights" else DailySegmentMetric)
            )
            return upsert(session, model, rows), problems

    def state(self, account: AccountRecord, stream: str) -> SyncState | None:
        with session_scope(self.engine) as session:
            state = session.get(SyncState, (account_key(account), stream))
            if state is not None:
                session.expunge(state)
            return state

    def mark(
        self,
        account: AccountRecord,
        stream: str,
        *,
        cursor: dt.date | None = None,
        rows: int = 0,
        error: str | None = None,
    ) -> None:
        """Record a stream's outcome: the cursor moves only on success."""
        key = (account_key(account), stream)
        with session_scope(self.engine) as session:
            state = session.get(SyncState, key) or SyncState(account_id=key[0], stream=stream)
            if error is None:
                state.cursor_day = cursor or state.cursor_day
                state.last_success = self.now()
                state.last_error = None
                state.rows = rows
            else:
                state.last_error = error[:1000]
            session.add(state)
