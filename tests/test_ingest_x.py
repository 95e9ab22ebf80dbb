"""X ingestion against the sandbox over HTTP: exact figures, idempotent re-syncs, restatements, faults,
revoked credentials, a rebuild from the lake, segment rows that add up, and writes with before/after."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from app.sandbox_runner import running_sandbox
from sandbox.market.entities import Status
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
from tools.platforms import registry
from tools.platforms.base import NewAd, NewAdSet
from tools.platforms.errors import AuthError, BadRequestError, MalformedResponseError, RateLimitedError
from tools.platforms.records import AccountRecord, TargetingSpec
from tools.platforms.transport import RetryPolicy
from tools.platforms.x import XAdapter, XConfig, XPacer, normalise, parse_x

SEED = 6
DAYS = 10


@pytest.fixture
def world() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=2, ads=20, days=14, platforms=("x",)))
    market.advance(hours=7)
    with running_sandbox(market) as url:
        yield url, market


def _adapter(
    url: str, lake: RawLake | None = None, client: httpx.AsyncClient | None = None, **kw: Any
) -> XAdapter:
    settings: dict[str, Any] = {"page_size": 200, **credentials_for(SEED).x.model_dump(), **kw}
    return XAdapter(
        XConfig(base_url=url, **settings),
        client=client,
        sink=lake.write if lake else None,
        sleep=_no_sleep,
        retry=RetryPolicy(attempts=10, initial_seconds=0.0, max_seconds=0.0),
    )


async def _run_sync(adapter: XAdapter, market: Market, engine: Engine):  # type: ignore[no-untyped-def]
    syncer = Syncer(
        writer=WarehouseWriter(engine), adapters={"x": adapter}, today=lambda _a: market.now().date
    )
    try:
        return await syncer.sync(SyncOptions(days=DAYS))
    finally:
        await adapter.aclose()


def _sync(url: str, market: Market, engine: Engine, lake: RawLake | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return asyncio.run(_run_sync(_adapter(url, lake, **kw), market, engine))


def _record(account_id: str, market: Market) -> AccountRecord:
    account = market.world.account(account_id)
    return AccountRecord(
        platform="x",
        platform_id=account.id,
        name=account.name,
        currency=account.currency,
        timezone=account.timezone,
        status="ACTIVE",
    )


def _x_accounts(market: Market) -> list[str]:
    return [a.id for a in market.world.accounts.values() if a.platform is Platform.X]


def test_a_full_sync_equals_the_ledger_and_segments_add_up_to_the_days(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    report = _sync(url, market, engine)
    assert report.ok, report
    today = market.now().date
    since = today - dt.timedelta(days=DAYS - 1)
    tables = dump(engine)
    stored = {(r[0], r[1]): r for r in tables["daily_metric"]}
    expected = 0
    for account_id in _x_accounts(market):
        record = _record(account_id, market)
        for row in market.daily(account_id, since, today).to_rows():
            expected += 1
            got = stored[(entity_key(record, "ad", str(row["ad_id"])), str(row["date"]))]
            # ad_id, day, account_id, adset_id, campaign_id, currency, impressions, clicks, spend_micros,
            # conversions, value_micros
            assert [int(x) for x in got[6:11]] == [
                row[m] for m in ("impressions", "clicks", "spend_micros", "conversions", "value_micros")
            ]
    assert expected == len(stored) > 200
    # Every breakdown's rows add up, ad by ad and day by day, to the daily rows.
    segments = tables["daily_segment_metric"]
    assert {r[2] for r in segments} == {"age", "gender", "country", "placement"}
    for breakdown in ("age", "gender", "country", "placement"):
        sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 5)
        for r in segments:
            if r[2] == breakdown:
                # ad_id, day, breakdown, age, gender, country, placement, account_id, adset_id, currency,
                # impressions, clicks, spend_micros, conversions, value_micros
                values = [int(x) for x in r[10:15]]
                sums[(r[0], r[1])] = [a + b for a, b in zip(sums[(r[0], r[1])], values, strict=True)]
        assert sums == {k: [int(x) for x in v[6:11]] for k, v in stored.items()}, breakdown
    placements = {r[6] for r in segments if r[2] == "placement"}
    assert placements == {"feed", "network"}  # X cannot split its timeline from search
    assert {r[5] for r in segments if r[2] == "country"} <= {"US", "GB", "JP"}
    # Today's hours add up to today's row.
    hourly: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in tables["hourly_metric"]:
        assert r[1] == today.isoformat()
        # ad_id, day, hour, account_id, currency, impressions, clicks, spend_micros
        hourly[r[0]] = [a + int(b) for a, b in zip(hourly[r[0]], r[5:8], strict=True)]
    todays = {k[0]: [int(x) for x in v[6:9]] for k, v in stored.items() if k[1] == today.isoformat()}
    assert hourly == todays and todays
    # Targeting from criteria and placements, in the warehouse's vocabulary.
    assert any(re.search(r"ages['\"]: \[['\"]25-34", "|".join(r)) for r in tables["adset"])


def test_resyncs_pick_up_new_and_restated_days_and_the_lake_alone_rebuilds_the_warehouse(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    url, market = world
    lake = RawLake(tmp_path / "lake")
    # Some bodies in the lake are errors, HTML or cut short: rebuild skips them as the sync retried them.
    kinds = ["server_error", "truncated", "malformed", "rate_limit"]
    httpx.put(f"{url}/_sandbox/faults/x", json={"rate": 0.05, "seed": 2, "kinds": kinds})
    _sync(url, market, engine, lake)
    first = dump(engine)
    _sync(url, market, engine, lake)
    assert dump(engine) == first
    market.advance(days=3)
    _sync(url, market, engine, lake)
    after = {(r[0], r[1]): r for r in dump(engine, ("daily_metric",))["daily_metric"]}
    before = {(r[0], r[1]): r for r in first["daily_metric"]}
    assert len({k[1] for k in after} - {k[1] for k in before}) == 3
    assert [k for k in before if after[k] != before[k]], "late purchases must overwrite past days"
    assert all(int(after[k][9]) >= int(before[k][9]) for k in before)
    assert registry.codec("x").streams >= {"insights", "adsets", "insights_age", "hourly"}
    fresh = engine_factory()
    report = rebuild(lake, WarehouseWriter(fresh))
    assert report.rows > 0 and report.skipped > 0 and not report.problems
    assert dump(fresh) == dump(engine)


def test_with_injected_faults_the_sync_ends_in_the_same_warehouse(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,  # type: ignore[no-untyped-def]
) -> None:
    url, market = world
    clean = engine_factory()
    _sync(url, market, clean)
    kinds = ["rate_limit", "server_error", "malformed", "truncated", "slow"]
    httpx.put(f"{url}/_sandbox/faults/x", json={"rate": 0.1, "seed": 5, "kinds": kinds, "slow_seconds": 0.3})
    adapter = _adapter(url, client=httpx.AsyncClient(timeout=0.2), page_size=7)  # many pages, too
    report = asyncio.run(_run_sync(adapter, market, engine))
    injected = httpx.get(f"{url}/_sandbox/faults").json()["x"]["faults_injected"]
    assert sum(injected.values()) >= 10 and len(injected) >= 4, injected
    assert report.ok, report
    assert adapter.transport.waited > 0  # the 429s' reset headers were honoured
    assert dump(engine) == dump(clean)


def test_an_expired_or_revoked_credential_stops_the_platform_with_a_clear_message(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    revoked = _sync(url, market, engine, access_token_secret="revoked")
    assert "credential rejected" in revoked.stopped["x"] and "renew" in revoked.stopped["x"]
    httpx.put(f"{url}/_sandbox/faults/x", json={"rate": 1.0, "kinds": ["expired_token"]})
    expired = _sync(url, market, engine)
    assert "Invalid or expired token" in expired.stopped["x"]
    assert not dump(engine)["daily_metric"]


# -- writes ----------------------------------------------------------------------------------------


@pytest.fixture
def private() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=2, ads=36, days=7, platforms=("x",)))
    with running_sandbox(market) as url:
        yield url, market


def test_writes_change_the_platform_and_report_before_and_after(private: tuple[str, Market]) -> None:
    url, market = private
    adapter = _adapter(url)
    hour = lambda: market.clock.now_hour  # noqa: E731

    async def run() -> None:
        accounts = {a.currency: a for a in await adapter.accounts()}
        usd = accounts["USD"]
        world = market.world
        adset = next(s for s in world.adsets_of(usd.platform_id) if s.value_at("daily_budget_micros", hour()))
        old = adset.value_at("daily_budget_micros", hour())

        budget = await adapter.set_budget(usd, level="adset", platform_id=adset.id, daily_micros=old * 2)
        assert budget.before and budget.before["daily_budget_micros"] == old
        assert budget.after["daily_budget_micros"] == old * 2 == adset.value_at("daily_budget_micros", hour())
        cbo = next(c for c in world.campaigns_of(usd.platform_id) if c.has_campaign_budget(hour()))
        camp = await adapter.set_budget(usd, level="campaign", platform_id=cbo.id, daily_micros=321_000_000)
        assert camp.after["daily_budget_micros"] == 321_000_000 == cbo.value_at("daily_budget_micros", hour())

        capped = await adapter.set_bid(usd, adset.id, 1_500_000)
        assert capped.after["bid_micros"] == 1_500_000 == adset.value_at("bid_micros", hour())
        freed = await adapter.set_bid(usd, adset.id, None)
        assert freed.before and freed.before["bid_micros"] == 1_500_000 and freed.after["bid_micros"] is None
        assert not adset.value_at("bid_micros", hour())

        wanted = TargetingSpec(
            ages=["25-34", "35-44"], countries=["US", "JP"], placements=["feed", "stories"]
        )
        narrowed = await adapter.set_targeting(usd, adset.id, wanted)
        assert narrowed.after["targeting"] == wanted.model_dump()
        truth = adset.value_at("targeting", hour())
        assert (truth.ages, truth.countries, truth.placements) == (
            ("25-34", "35-44"),
            ("US", "JP"),
            ("feed", "stories"),
        )
        moved = await adapter.set_targeting(usd, adset.id, TargetingSpec(ages=["18-24"], genders=["female"]))
        assert moved.before == narrowed.after
        assert moved.after["targeting"] == TargetingSpec(ages=["18-24"], genders=["female"]).model_dump()
        assert adset.value_at("targeting", hour()).ages == ("18-24",)
        fresh = {s.platform_id: s for s in (await adapter.adsets(usd)).items}[adset.id]
        assert fresh.targeting.model_dump() == moved.after["targeting"]

        ad = next(a for a in world.ads_of(usd.platform_id) if a.value_at("status", hour()) is Status.ACTIVE)
        paused = await adapter.set_status(usd, level="ad", platform_id=ad.id, status="PAUSED")
        assert (paused.before or {})["status"] == "ACTIVE" and paused.after["status"] == "PAUSED"
        assert ad.value_at("status", hour()) is Status.PAUSED
        line = await adapter.set_status(usd, level="adset", platform_id=adset.id, status="PAUSED")
        assert line.after["status"] == "PAUSED" == str(adset.value_at("status", hour()))

        plain = next(c for c in world.campaigns_of(usd.platform_id) if not c.has_campaign_budget(hour()))
        spec = NewAdSet(
            campaign_platform_id=plain.id,
            name="Spring test",
            daily_budget_micros=25_000_000,
            bid_micros=2_000_000,
            targeting=TargetingSpec(ages=["18-24", "25-34"], placements=["network"]),
        )
        created = await adapter.create_adset(usd, spec)
        assert created.before is None and created.after["daily_budget_micros"] == 25_000_000
        assert created.after["targeting"]["ages"] == ["18-24", "25-34"]
        assert created.after["targeting"]["placements"] == ["network"]
        new_set = world.adset(created.platform_id)
        assert new_set.value_at("targeting", hour()).ages == ("18-24", "25-34")
        assert new_set.value_at("bid_micros", hour()) == 2_000_000

        creative = (await adapter.creatives(usd)).items[0]
        reused = await adapter.create_ad(
            usd,
            NewAd(
                adset_platform_id=created.platform_id, name="reuse", creative_platform_id=creative.platform_id
            ),
        )
        assert reused.after["creative_platform_id"] == creative.platform_id
        assert reused.after["status"] == "PAUSED"  # NewAd's default, applied after creation
        assert world.ad(reused.platform_id).adset_id == created.platform_id
        written = await adapter.create_ad(
            usd,
            NewAd(
                adset_platform_id=created.platform_id,
                name="new words",
                headline="Mats that grip",
                body="Free returns for a year",
                image_hash=creative.image_hash,
                link="https://shop.example.com/grip",
                status="ACTIVE",
            ),
        )
        made = world.creative(world.ad(written.platform_id).creative_id)
        assert (made.headline, made.body, made.link) == (
            "Mats that grip",
            "Free returns for a year",
            "https://shop.example.com/grip",
        )
        assert written.after["status"] == "ACTIVE"
        with pytest.raises(BadRequestError, match="media upload"):
            await adapter.upload_image(usd, "mat.png", b"\x89PNG")
        await adapter.aclose()

    asyncio.run(run())


# -- wire details without a sandbox ----------------------------------------------------------------


def _response(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers=headers, request=httpx.Request("GET", "https://x"))


def test_errors_map_to_typed_errors() -> None:
    def envelope(code: str) -> bytes:
        return json.dumps({"errors": [{"code": code, "message": "m"}], "request": {"params": {}}}).encode()

    now = int(__import__("time").time())
    with pytest.raises(AuthError):
        parse_x(_response(401, envelope("UNAUTHORIZED_ACCESS")))
    with pytest.raises(RateLimitedError) as limited:
        parse_x(
            _response(
                429,
                envelope("TOO_MANY_REQUESTS"),
                **{"x-rate-limit-reset": str(now + 600), "x-account-rate-limit-reset": str(now + 60)},
            )
        )
    assert 55 < (limited.value.retry_after or 0) < 65  # the account-level reset wins
    with pytest.raises(RateLimitedError) as busy:
        parse_x(_response(503, envelope("SERVICE_UNAVAILABLE"), **{"retry-after": "7"}))
    assert busy.value.retry_after == 7
    for status in (500, 408, 423):
        with pytest.raises(Exception) as transient:
            parse_x(_response(status, envelope("INTERNAL_ERROR")))
        assert transient.value.retryable  # type: ignore[attr-defined]
    for bad in (b"<html>", b'{"data": [1, 2'):
        with pytest.raises(MalformedResponseError):
            parse_x(_response(200, bad))
    with pytest.raises(BadRequestError) as refused:
        parse_x(_response(400, envelope("INVALID_PARAMETER")))
    assert not refused.value.retryable
    with pytest.raises(BadRequestError):
        parse_x(_response(404, b"<html>not found</html>"))


def test_the_pacer_spaces_calls_out_and_waits_for_the_reset() -> None:
    pacer = XPacer(slow_at_pct=10, max_pace_seconds=30, max_wait_seconds=900, clock=lambda: 1000.0)
    pacer.observe(
        _response(
            200,
            b"{}",
            **{"x-rate-limit-limit": "250", "x-rate-limit-remaining": "200", "x-rate-limit-reset": "1900"},
        )
    )
    assert pacer.delay() == 0
    pacer.observe(
        _response(
            200,
            b"{}",
            **{"x-rate-limit-limit": "250", "x-rate-limit-remaining": "10", "x-rate-limit-reset": "1100"},
        )
    )
    assert pacer.delay() == pytest.approx(10.0)
    pacer.observe(
        _response(
            200,
            b"{}",
            **{
                "x-rate-limit-limit": "250",
                "x-rate-limit-remaining": "200",
                "x-rate-limit-reset": "1900",
                "x-account-rate-limit-limit": "100",
                "x-account-rate-limit-remaining": "0",
                "x-account-rate-limit-reset": "1200",
            },
        )
    )
    assert pacer.delay() == pytest.approx(201.0)
    assert pacer.delay() == 0  # waited once for that reset


def test_rows_that_do_not_fit_become_problems_not_a_failed_batch() -> None:
    account = AccountRecord(
        platform="x", platform_id="a1", name="", currency="USD", timezone="Asia/Tokyo", status="ACTIVE"
    )
    base = {"id": "ad1", "start_time": "2026-11-16T15:00:00Z", "granularity": "DAY", "placement": None}
    good = {
        **base,
        "bucket": 1,
        "impressions": 10,
        "clicks": 1,
        "spend_micros": 5,
        "conversions": 0,
        "value_micros": 0,
    }
    rows = [
        good,
        {**good, "impressions": "ten"},
        {**good, "clicks": None},
        {k: v for k, v in good.items() if k != "id"},
    ]
    batch = normalise("insights", account, rows)
    assert [r.day for r in batch.items] == [dt.date(2026, 11, 18)]  # Tokyo midnight + 1 day
    assert [p.row for p in batch.problems] == [1, 2, 3]
    campaigns = normalise(
        "campaigns",
        account,
        [
            {
                "id": "c1",
                "name": "n",
                "entity_status": "ACTIVE",
                "daily_budget_amount_local_micro": 5_000_000,
            },
            {"id": "c2", "name": "n", "entity_status": "ACTIVE", "daily_budget_amount_local_micro": "5.00"},
            {"id": "c3", "entity_status": "PAUSED"},
        ],
    )
    assert [c.platform_id for c in campaigns.items] == ["c1"] and len(campaigns.problems) == 2
