"""Perception: a compact picture of the accounts from the warehouse (never from the platforms): per
platform the last days' figures with ratios from the sums, the change against the days before, and how
fresh the data is. It is what the report and the chat answer from; the analyst reads its own series."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from storage.models import SyncState
from tools.reporting import ReportRow, performance


class PlatformTrend(BaseModel):
    platform: str
    now: ReportRow
    before: ReportRow | None
    cpa_change: float | None
    ctr_change: float | None


class Snapshot(BaseModel):
    since: dt.date
    until: dt.date
    reporting_currency: str
    platforms: list[PlatformTrend]
    last_sync: dt.datetime | None
    sync_errors: list[str]


def _change(now: Decimal | None, before: Decimal | None) -> float | None:
    return float(now / before - 1) if now is not None and before else None


def snapshot(
    engine: Engine, *, until: dt.date, days: int = 7, fx: dict[str, Decimal], reporting_currency: str
) -> Snapshot:
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
    with Session(engine) as session:
        last_sync = session.exec(select(func.max(SyncState.last_success))).one()
        errors = [
            f"{s.account_id}/{s.stream}: {s.last_error}"
            for s in session.exec(select(SyncState))
            if s.last_error
        ]
    return Snapshot(
        since=first,
        until=last,
        reporting_currency=reporting_currency,
        platforms=trends,
        last_sync=last_sync,
        sync_errors=errors,
    )
