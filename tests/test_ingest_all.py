"""All three platforms in one sync, composed from settings against one sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from sqlalchemy import Engine

from app import composition
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from sandbox.market.market import Market
from tests.conftest import small_config
from tests.warehouse_helpers import dump
from tools.ingest.sync import Syncer, SyncOptions
from tools.ingest.writer import WarehouseWriter
from tools.platforms.meta import normalise
from tools.platforms.records import AccountRecord


def _sync_all(url: str, engine: Engine) -> object:
    settings = Settings(sandbox_url=url)

    async def run() -> object:
        world = await composition.sandbox_world(settings)
        adapters = composition.build_adapters(settings, world, platforms=["meta", "x", "tiktok"], sink=None)
        try:
            syncer = Syncer(
                writer=WarehouseWriter(engine), adapters=adapters, today=composition.today_for(world)
            )
            return await syncer.sync(SyncOptions(days=5, segments=False))
        finally:
            for adapter in adapters.values():
                await adapter.aclose()

    return asyncio.run(run())


def test_an_expired_token_stops_its_platform_and_the_others_finish(engine: Engine) -> None:
    market = Market(small_config(seed=13, accounts=1, ads=12, days=10))
    with running_sandbox(market) as url:
        httpx.put(f"{url}/_sandbox/faults/tiktok", json={"rate": 1.0, "kinds": ["expired_token"]})
        report = _sync_all(url, engine)
    assert set(report.stopped) == {"tiktok"}  # type: ignore[attr-defined]
    assert "credential" in report.stopped["tiktok"] or "token" in report.stopped["tiktok"]  # type: ignore[attr-defined]
    rows = dump(engine, ("account", "daily_metric"))
    platforms = {r[1] for r in rows["account"]}
    assert platforms == {"meta", "x"}
    assert rows["daily_metric"]


def test_three_platforms_land_in_one_schema_in_micros(engine: Engine) -> None:
    market = Market(small_config(seed=13, accounts=1, ads=12, days=10))
    with running_sandbox(market) as url:
        report = _sync_all(url, engine)
    assert report.ok, report  # type: ignore[attr-defined]
    today = market.now().date
    expected = sum(
        market.daily(a.id, today - dt.timedelta(days=4), today).totals()["spend_micros"]
        for a in market.world.accounts.values()
    )
    stored = sum(int(r[8]) for r in dump(engine, ("daily_metric",))["daily_metric"])
    assert stored == expected


def test_a_bad_row_is_reported_and_does_not_poison_its_batch() -> None:
    account = AccountRecord(
        platform="meta", platform_id="1", name="a", currency="USD", timezone="UTC", status="ACTIVE"
    )
    good = {
        "ad_id": "1",
        "date_start": "2026-11-01",
        "impressions": "10",
        "inline_link_clicks": "1",
        "spend": "1.25",
    }
    bad_type = {**good, "ad_id": "2", "impressions": "ten"}
    missing = {"ad_id": "3", "date_start": "2026-11-01"}
    too_precise = {**good, "ad_id": "4", "spend": "0.0000001"}
    batch = normalise("insights", account, [good, bad_type, missing, too_precise])
    assert [r.ad_platform_id for r in batch.items] == ["1"]
    assert batch.items[0].spend_micros == 1_250_000
    assert [(p.stream, p.row) for p in batch.problems] == [("insights", 1), ("insights", 2), ("insights", 3)]
    assert all(p.platform == "meta" and p.account == "1" for p in batch.problems)


@pytest.mark.parametrize("platform", ["meta", "x", "tiktok"])
def test_every_platform_module_has_a_lake_codec(platform: str) -> None:
    from tools.platforms import registry

    codec = registry.codec(platform)
    assert {"campaigns", "adsets", "ads"} <= codec.streams
