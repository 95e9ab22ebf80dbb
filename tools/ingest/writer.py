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
    AdSetDay,
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
    HourlyRow,
    MetricRow,
    SegmentMetricRow,
)


def account_key(account: AccountRecord) -> str:
    return internal_id(account.platform, account.platform_id, "account", account.platform_id)


def entity_key(account: AccountRecord, kind: str, platform_id: str) -> str:
    return internal_id(account.platform, account.platform_id, kind, platform_id)


# stream -> (kind used in internal ids, table)
ENTITY_TABLES: dict[str, tuple[str, Any]] = {
    "campaigns": ("campaign", Campaign),
    "adsets": ("adset", AdSet),
    "ads": ("ad", Ad),
    "creatives": ("creative", Creative),
    "audiences": ("audience", CustomAudience),
}
# stream -> (parent kind, the record's field naming it, parent table): children need their parent first
PARENTS: dict[str, tuple[str, str, Any]] = {
    "adsets": ("campaign", "campaign_platform_id", Campaign),
    "ads": ("adset", "adset_platform_id", AdSet),
}
# record field holding platform ids -> the relative they name
REFERENCES = {
    "campaign_platform_id": "campaign",
    "adset_platform_id": "adset",
    "creative_platform_id": "creative",
    "adset_platform_ids": "adset_ids",
}


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
        self, account: AccountRecord, stream: str, items: Sequence[Any], *, day: dt.date | None = None
    ) -> tuple[int, list[RowProblem]]:
        """Upsert entity records; rows whose parent is unknown are reported, not written. With `day` (the
        account's today), ad sets' settings are also kept for that day (`adset_day`)."""
        if stream not in ENTITY_TABLES:
            raise ValueError(f"unknown entity stream {stream!r}")
        kind, model = ENTITY_TABLES[stream]
        parent = PARENTS.get(stream)
        now = self.now()
        problems: list[RowProblem] = []
        rows: list[dict[str, Any]] = []
        with session_scope(self.engine) as session:
            known = self._ids(session, parent[2], account_key(account)) if parent else set()
            for i, record in enumerate(items):
                row = self._entity_row(account, kind, record, now)
                if parent and row[f"{parent[0]}_id"] not in known:
                    problems.append(self._orphan(account, stream, i, parent[0], getattr(record, parent[1])))
                    continue
                rows.append(row)
            written = upsert(session, model, rows)
            if stream == "adsets" and day is not None and rows:
                upsert(
                    session,
                    AdSetDay,
                    [
                        {
                            "adset_id": r["id"],
                            "day": day,
                            "account_id": r["account_id"],
                            "status": r["status"],
                            "bid_micros": r.get("bid_micros"),
                            "bid_strategy": r.get("bid_strategy"),
                            "daily_budget_micros": r.get("daily_budget_micros"),
                            "synced_at": now,
                        }
                        for r in rows
                    ],
                )
            return written, problems

    def _entity_row(self, account: AccountRecord, kind: str, record: Any, now: dt.datetime) -> dict[str, Any]:
        """A record's own fields, with platform ids of itself and its relatives turned into internal ids."""
        row = record.model_dump()
        for field, relative in REFERENCES.items():
            if field in row:
                value = row.pop(field)
                if relative == "adset_ids":
                    row[relative] = [entity_key(account, "adset", v) for v in value]
                else:
                    row[f"{relative}_id"] = entity_key(account, relative, value) if value else None
        row.update(
            id=entity_key(account, kind, record.platform_id),
            account_id=account_key(account),
            platform=account.platform,
            synced_at=now,
        )
        if kind in ("campaign", "adset"):
            row["currency"] = account.currency
        return row

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
