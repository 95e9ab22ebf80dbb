"""Meta ingestion against the sandbox over HTTP: exact figures, idempotent re-syncs, restatements,
faults, a crash half-way, and a rebuild from the lake."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.credentials import credentials_for
from storage.lake import RawLake
from tests.conftest import small_config
from tests.helpers import no_sleep as _no_sleep
from tests.warehouse_helpers import dump
from tools.ingest.rebuild import rebuild
from tools.ingest.sync import Syncer, SyncOptions
from tools.ingest.writer import WarehouseWriter, entity_key
from tools.platforms.meta import MetaAdapter, MetaConfig
from tools.platforms.records import AccountRecord
from tools.platforms.transport import RetryPolicy

SEED = 6
DAYS = 14


@pytest.fixture
def world() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=2, ads=30, days=21))
    market.advance(hours=7)
    with running_sandbox(market) as url:
        yield url, market


def _adapter(url: str, lake: RawLake | None = None, **config: object) -> MetaAdapter:
    creds = credentials_for(SEED).meta
    settings = {"page_size": 200, **config}
    return MetaAdapter(
        MetaConfig(base_url=url, access_token=creds.access_token, app_secret=creds.app_secret, **settings),  # type: ignore[arg-type]
        sink=lake.write if lake else None,
        sleep=_no_sleep,
        retry=RetryPolicy(attempts=8, initial_seconds=0.0, max_seconds=0.0),
    )


def _sync(url: str, market: Market, engine: Engine, lake: RawLake | None = None, **options: object):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        adapter = _adapter(url, lake)
        try:
            syncer = Syncer(
                writer=WarehouseWriter(engine),
                adapters={"meta": adapter},
                today=lambda _account: market.now().date,
            )
            return await syncer.sync(SyncOptions(days=DAYS, **options))  # type: ignore[arg-type]
        finally:
            await adapter.aclose()

    return asyncio.run(run())


def test_a_full_sync_equals_the_sandbox_figures_exactly(world: tuple[str, Market], engine: Engine) -> None:
    url, market = world
    report = _sync(url, market, engine)
    assert report.ok, report
    today = market.now().date
    since = today - dt.timedelta(days=DAYS - 1)
    stored = {(r[0], r[1]): r for r in dump(engine, ("daily_metric",))["daily_metric"]}
    expected = 0
    for account in market.world.accounts.values():
        if account.platform is not Platform.META:
            continue
        record = AccountRecord(
            platform="meta",
            platform_id=account.id,
            name="",
            currency=account.currency,
            timezone=account.timezone,
            status="ACTIVE",
        )
        for row in market.daily(account.id, since, today).to_rows():
            expected += 1
            key = (entity_key(record, "ad", row["ad_id"]), row["date"])
            got = stored[key]
            # columns: ad_id, day, account_id, adset_id, campaign_id, currency, impressions, clicks,
            # spend_micros, conversions, value_micros
            assert [int(x) for x in got[6:11]] == [
                row["impressions"],
                row["clicks"],
                row["spend_micros"],
                row["conversions"],
                row["value_micros"],
            ]
    assert expected == len(stored) > 100
    segments = dump(engine, ("daily_segment_metric",))["daily_segment_metric"]
    assert {r[2] for r in segments} == {"age", "gender", "country", "placement"}
    assert dump(engine, ("hourly_metric",))["hourly_metric"]


def test_a_second_sync_changes_nothing_and_a_later_one_picks_up_new_and_restated_days(
    world: tuple[str, Market],
    engine: Engine,
) -> None:
    url, market = world
    _sync(url, market, engine)
    first = dump(engine)
    _sync(url, market, engine)
    assert dump(engine) == first
    market.advance(days=3)
    _sync(url, market, engine)
    after = {(r[0], r[1]): r for r in dump(engine, ("daily_metric",))["daily_metric"]}
    before = {(r[0], r[1]): r for r in first["daily_metric"]}
    new_days = {k[1] for k in after} - {k[1] for k in before}
    assert len(new_days) == 3
    restated = [k for k in before if after[k] != before[k]]
    assert restated, "late purchases must overwrite past days"
    assert all(int(after[k][9]) >= int(before[k][9]) for k in before)


def test_requests_grow_with_pages_not_with_ads(engine: Engine) -> None:
    market = Market(small_config(seed=SEED, accounts=1, ads=1000, days=14, platforms=("meta",)))
    with running_sandbox(market) as url:
        adapter = _adapter(url, page_size=1000, insights_window_days=7)

        async def run() -> int:
            account = (await adapter.accounts())[0]
            batch = await adapter.daily_metrics(
                account, market.now().date - dt.timedelta(days=6), market.now().date - dt.timedelta(days=1)
            )
            assert len(batch.items) > 2000
            await adapter.aclose()
            return adapter.transport.requests

        requests = asyncio.run(run())
    assert requests <= 10  # one account listing + pages of 1000 rows; a per-ad loop would need 1000


def test_with_injected_faults_the_sync_ends_in_the_same_warehouse(
    world: tuple[str, Market], engine: Engine, engine_factory
) -> None:  # type: ignore[no-untyped-def]
    url, market = world
    clean = engine_factory()
    _sync(url, market, clean)
    kinds = ["rate_limit", "server_error", "malformed", "truncated", "slow"]
    httpx.put(
        f"{url}/_sandbox/faults/meta", json={"rate": 0.1, "seed": 3, "kinds": kinds, "slow_seconds": 0.3}
    )
    report = asyncio.run(_faulty_sync(url, market, engine))
    injected = httpx.get(f"{url}/_sandbox/faults").json()["meta"]["faults_injected"]
    assert sum(injected.values()) >= 5, injected
    assert report.ok, report
    assert dump(engine) == dump(clean)


async def _faulty_sync(url: str, market: Market, engine: Engine):  # type: ignore[no-untyped-def]
    creds = credentials_for(SEED).meta
    adapter = MetaAdapter(
        MetaConfig(base_url=url, access_token=creds.access_token, page_size=200),
        client=httpx.AsyncClient(timeout=0.2),
        sleep=_no_sleep,
        retry=RetryPolicy(attempts=10, initial_seconds=0.0, max_seconds=0.0),
    )
    syncer = Syncer(
        writer=WarehouseWriter(engine), adapters={"meta": adapter}, today=lambda _a: market.now().date
    )
    try:
        return await syncer.sync(SyncOptions(days=DAYS))
    finally:
        await adapter.aclose()


def test_an_expired_token_stops_the_platform_with_a_clear_message(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    httpx.put(f"{url}/_sandbox/faults/meta", json={"rate": 1.0, "kinds": ["expired_token"]})
    report = _sync(url, market, engine)
    assert (
        "meta" in report.stopped and "credential" in report.stopped["meta"].lower()
    ) or "token" in report.stopped["meta"].lower()


def test_a_sync_killed_half_way_and_run_again_ends_like_an_uninterrupted_one(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,  # type: ignore[no-untyped-def]
) -> None:
    url, market = world
    whole = engine_factory()
    _sync(url, market, whole)

    class Killed(BaseException):
        pass

    async def run_until_killed() -> None:
        adapter = _adapter(url)
        original = adapter.transport.call
        calls = 0

        async def dying(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 25:
                raise Killed
            return await original(*args, **kwargs)

        adapter.transport.call = dying  # type: ignore[method-assign]
        syncer = Syncer(
            writer=WarehouseWriter(engine), adapters={"meta": adapter}, today=lambda _a: market.now().date
        )
        try:
            await syncer.sync(SyncOptions(days=DAYS))
        finally:
            await adapter.aclose()

    with pytest.raises(Killed):
        asyncio.run(run_until_killed())
    assert dump(engine) != dump(whole)
    _sync(url, market, engine)
    assert dump(engine) == dump(whole)


def test_rebuild_from_the_lake_alone_reproduces_the_warehouse(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    url, market = world
    lake = RawLake(tmp_path / "lake")
    _sync(url, market, engine, lake)
    market.advance(days=2)
    _sync(url, market, engine, lake)
    fresh = engine_factory()
    report = rebuild(lake, WarehouseWriter(fresh))
    assert report.rows > 0 and not report.problems
    assert dump(fresh) == dump(engine)
