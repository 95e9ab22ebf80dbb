"""Cross-platform performance from the warehouse: sums first, ratios from the sums, in the native
currency and in one reporting currency through the explicit rate table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from storage.models import Account, Ad, AdSet, Campaign, DailyMetric

Grouping = Literal["platform", "account", "campaign", "adset", "ad"]
MICRO = Decimal(10**6)


class MissingRateError(ValueError):
    pass


class ReportRow(BaseModel):
    platform: str
    key: str  # the grouped entity's name ("all" when by=platform)
    currency: str  # native currency, or "mixed" when a group spans several
    spend: Decimal | None  # native major units (None when mixed)
    value: Decimal | None
    impressions: int
    clicks: int
    conversions: int
    reporting_currency: str
    spend_reporting: Decimal
    value_reporting: Decimal
    ctr: Decimal | None
    cpc: Decimal | None
    cpm: Decimal | None
    cpa: Decimal | None
    roas: Decimal | None


def _ratio(num: Decimal, den: Decimal | int) -> Decimal | None:
    return (num / Decimal(den)).quantize(Decimal("0.0001")) if den else None


def performance(
    engine: Engine,
    *,
    days: int = 7,
    until: dt.date | None = None,
    by: Grouping = "platform",
    fx: dict[str, Decimal],
    reporting_currency: str,
) -> tuple[dt.date, dt.date, list[ReportRow]]:
    with Session(engine) as session:
        last = until or session.exec(select(func.max(DailyMetric.day))).one()
        if last is None:
            return dt.date.today(), dt.date.today(), []
        first = last - dt.timedelta(days=days - 1)
        key_col = {
            "platform": Account.platform,
            "account": Account.name,
            "campaign": Campaign.name,
            "adset": AdSet.name,
            "ad": Ad.name,
        }[by]
        query = (
            select(
                Account.platform,
                key_col,
                DailyMetric.currency,
                func.sum(DailyMetric.spend_micros),
                func.sum(DailyMetric.value_micros),
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.clicks),
                func.sum(DailyMetric.conversions),
            )
            .join(Account, Account.id == DailyMetric.account_id)
            .join(Campaign, Campaign.id == DailyMetric.campaign_id)
            .join(AdSet, AdSet.id == DailyMetric.adset_id)
            .join(Ad, Ad.id == DailyMetric.ad_id)
            .where(DailyMetric.day >= first, DailyMetric.day <= last)
            .group_by(Account.platform, key_col, DailyMetric.currency)
        )
        raw = session.exec(query).all()
    groups: dict[tuple[str, str], list[tuple[str, int, int, int, int, int]]] = {}
    for platform, key, currency, spend, value, imps, clicks, conv in raw:
        if currency not in fx:
            raise MissingRateError(
                f"ADCLUSTER_FX_RATES has no rate for {currency}; add it to report in {reporting_currency}"
            )
        name = "all" if by == "platform" else str(key)
        groups.setdefault((platform, name), []).append(
            (currency, int(spend or 0), int(value or 0), int(imps or 0), int(clicks or 0), int(conv or 0))
        )
    rows = []
    for (platform, key), parts in sorted(groups.items()):
        currencies = {p[0] for p in parts}
        spend_rep = sum((Decimal(p[1]) / MICRO / fx[p[0]] for p in parts), Decimal(0))
        value_rep = sum((Decimal(p[2]) / MICRO / fx[p[0]] for p in parts), Decimal(0))
        imps, clicks, conv = (sum(p[i] for p in parts) for i in (3, 4, 5))
        native = len(currencies) == 1
        spend = Decimal(parts[0][1]) / MICRO if native else None
        value = Decimal(parts[0][2]) / MICRO if native else None
        base = spend if native and spend is not None else spend_rep
        rows.append(
            ReportRow(
                platform=platform,
                key=key,
                currency=parts[0][0] if native else "mixed",
                spend=spend,
                value=value,
                impressions=imps,
                clicks=clicks,
                conversions=conv,
                reporting_currency=reporting_currency,
                spend_reporting=spend_rep.quantize(Decimal("0.01")),
                value_reporting=value_rep.quantize(Decimal("0.01")),
                ctr=_ratio(Decimal(100 * clicks), imps),
                cpc=_ratio(base, clicks),
                cpm=_ratio(base * 1000, imps),
                cpa=_ratio(base, conv),
                roas=_ratio(value if native and value is not None else value_rep, base) if base else None,
            )
        )
    return first, last, rows


class DailyPlatformRow(BaseModel):
    day: dt.date
    platform: str
    spend_reporting: Decimal
    value_reporting: Decimal = Decimal(0)
    conversions: int
    clicks: int
    impressions: int


def daily_by_platform(
    engine: Engine,
    *,
    since: dt.date,
    until: dt.date,
    fx: dict[str, Decimal],
    reporting_currency: str,
    account_ids: list[str] | None = None,
) -> list[DailyPlatformRow]:
    """Per day and platform: spend in the reporting currency and the counts (for charts over time);
    `account_ids` (warehouse ids) limits it to those accounts."""
    with Session(engine) as session:
        query = (
            select(
                DailyMetric.day,
                Account.platform,
                DailyMetric.currency,
                func.sum(DailyMetric.spend_micros),
                func.sum(DailyMetric.conversions),
                func.sum(DailyMetric.clicks),
                func.sum(DailyMetric.impressions),
                func.sum(DailyMetric.value_micros),
            )
            .join(Account, Account.id == DailyMetric.account_id)
            .where(DailyMetric.day >= since, DailyMetric.day <= until)
            .group_by(DailyMetric.day, Account.platform, DailyMetric.currency)
        )
        if account_ids is not None:
            query = query.where(DailyMetric.account_id.in_(account_ids))  # type: ignore[attr-defined]
        raw = session.exec(query).all()
    sums: dict[tuple[dt.date, str], list[Decimal | int]] = {}
    for day, platform, currency, spend, conv, clicks, imps, value in raw:
        if currency not in fx:
            raise MissingRateError(
                f"ADCLUSTER_FX_RATES has no rate for {currency}; add it to report in {reporting_currency}"
            )
        row = sums.setdefault((day, platform), [Decimal(0), 0, 0, 0, Decimal(0)])
        row[0] += Decimal(int(spend or 0)) / MICRO / fx[currency]
        row[4] += Decimal(int(value or 0)) / MICRO / fx[currency]
        row[1] += int(conv or 0)
        row[2] += int(clicks or 0)
        row[3] += int(imps or 0)
    return [
        DailyPlatformRow(
            day=day,
            platform=platform,
            spend_reporting=Decimal(v[0]).quantize(Decimal("0.01")),
            value_reporting=Decimal(v[4]).quantize(Decimal("0.01")),
            conversions=int(v[1]),
            clicks=int(v[2]),
            impressions=int(v[3]),
        )
        for (day, platform), v in sorted(sums.items())
    ]
