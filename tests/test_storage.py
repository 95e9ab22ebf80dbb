"""The warehouse schema, bulk upserts and the raw lake, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlmodel import Session, func, select

from storage.db import migrate
from storage.lake import RawLake
from storage.models import Account, DailyMetric, FxRate, internal_id
from storage.upsert import upsert

DAY = dt.date(2026, 11, 20)


def _account(platform: str = "meta", platform_id: str = "123") -> dict[str, object]:
    return {
        "id": internal_id(platform, platform_id, "account", platform_id),
        "platform": platform,
        "platform_id": platform_id,
        "name": "Shop",
        "currency": "JPY",
        "timezone": "Asia/Tokyo",
        "status": "ACTIVE",
    }


def test_migrations_create_every_table_and_run_twice_harmlessly(engine: Engine) -> None:
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "account",
        "campaign",
        "adset",
        "ad",
        "creative",
        "custom_audience",
        "daily_metric",
        "daily_segment_metric",
        "hourly_metric",
        "goal",
        "fx_rate",
        "sync_state",
    } <= tables


def test_internal_ids_are_deterministic_and_distinct_per_platform() -> None:
    assert internal_id("meta", "1", "ad", "9") == internal_id("meta", "1", "ad", "9")
    assert internal_id("meta", "1", "ad", "9") != internal_id("x", "1", "ad", "9")
    assert internal_id("meta", "1", "ad", "9") != internal_id("meta", "2", "ad", "9")


def test_upsert_overwrites_instead_of_duplicating_and_keeps_money_exact(engine: Engine) -> None:
    account = _account()
    big = 9_007_199_254_740_993  # above 2**53: a float would round it
    row = {
        "ad_id": "a1",
        "day": DAY,
        "account_id": account["id"],
        "adset_id": "s1",
        "campaign_id": "c1",
        "currency": "JPY",
        "impressions": 10,
        "clicks": 1,
        "spend_micros": big,
        "conversions": 0,
        "value_micros": 0,
    }
    with Session(engine) as session:
        upsert(session, Account, [account])
        upsert(session, DailyMetric, [row])
        upsert(session, DailyMetric, [{**row, "conversions": 2, "value_micros": 5_000_000_000}])
        session.commit()
        assert session.exec(select(func.count()).select_from(DailyMetric)).one() == 1
        stored = session.exec(select(DailyMetric)).one()
        assert stored.spend_micros == big and stored.conversions == 2
        upsert(
            session,
            FxRate,
            [{"currency": "JPY", "reporting_currency": "USD", "per_reporting_unit": Decimal("151.2345")}],
        )
        session.commit()
        assert session.exec(select(FxRate)).one().per_reporting_unit == Decimal("151.2345")


def test_the_lake_keeps_bodies_as_received_without_secrets(tmp_path: Path) -> None:
    lake = RawLake(tmp_path)
    path = lake.write(
        platform="meta",
        account="act_1",
        stream="insights",
        method="GET",
        url="https://graph.example/v25.0/act_1/insights?access_token=SECRET&limit=5",
        params={"access_token": "SECRET", "limit": "5"},
        status=200,
        body=b'{"data": [',
    )
    lake.write(
        platform="meta",
        account="act_1",
        stream="insights",
        method="GET",
        url="u",
        params={},
        status=500,
        body="oops",
    )
    raw = gzip.decompress(path.read_bytes()).decode()
    assert "SECRET" not in raw
    records = list(lake.records())
    assert [r.body for r in records] == ['{"data": [', "oops"]
    assert records[0].params["access_token"] == "***" and records[0].params["limit"] == "5"
    assert list(lake.records(platform="x")) == []
