"""TikTok ingestion against the sandbox over HTTP: exact figures, idempotent re-syncs, restatements,
faults, revoked tokens, a rebuild from the lake, request counts, segment totals and every write."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import Engine, text

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
from tools.platforms.errors import (
    AuthError,
    BadRequestError,
    MalformedResponseError,
    RateLimitedError,
    TransientError,
)
from tools.platforms.records import AccountRecord, TargetingSpec
from tools.platforms.tiktok import (
    CODEC,
    TikTokAdapter,
    TikTokConfig,
    TikTokPacer,
    normalise,
    parse_envelope,
)
from tools.platforms.transport import RetryPolicy

SEED = 6
DAYS = 14
CREDS = credentials_for(SEED).tiktok


@pytest.fixture
def world() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=2, ads=16, days=16, platforms=("tiktok",)))
    market.advance(hours=7)
    with running_sandbox(market) as url:
        yield url, market


def _adapter(
    url: str, lake: RawLake | None = None, client: httpx.AsyncClient | None = None, **config: Any
) -> TikTokAdapter:
    settings: dict[str, Any] = {
        "base_url": f"{url}/open_api/v1.3",
        "access_token": CREDS.access_token,
        "app_id": CREDS.app_id,
        "secret": CREDS.secret,
        "page_size": 1000,
        "max_qps": 1000,
        **config,
    }
    return TikTokAdapter(
        TikTokConfig(**settings),
        client=client,
        sink=lake.write if lake else None,
        sleep=_no_sleep,
        retry=RetryPolicy(attempts=10, initial_seconds=0.0, max_seconds=0.0),
    )


def _sync(url: str, market: Market, engine: Engine, lake: RawLake | None = None, **config: Any):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        adapter = _adapter(url, lake, **config)
        try:
            syncer = Syncer(
                writer=WarehouseWriter(engine),
                adapters={"tiktok": adapter},
                today=lambda _account: market.now().date,
            )
            return await syncer.sync(SyncOptions(days=DAYS))
        finally:
            await adapter.aclose()

    return asyncio.run(run())


def _record(market: Market, account_id: str) -> AccountRecord:
    account = market.world.accounts[account_id]
    return AccountRecord(
        platform="tiktok",
        platform_id=account.id,
        name=account.name,
        currency=account.currency,
        timezone=account.timezone,
        status="ACTIVE",
    )


def _tiktok_accounts(market: Market) -> list[str]:
    return [a.id for a in market.world.accounts.values() if a.platform is Platform.TIKTOK]


# -- ingestion ----------------------------------------------------------------------------------------


def test_a_full_sync_equals_the_sandbox_ledger_exactly(world: tuple[str, Market], engine: Engine) -> None:
    url, market = world
    report = _sync(url, market, engine)
    assert report.ok, report
    today = market.now().date
    since = today - dt.timedelta(days=DAYS - 1)
    stored = {(r[0], r[1]): r for r in dump(engine, ("daily_metric",))["daily_metric"]}
    expected = 0
    for account_id in _tiktok_accounts(market):
        record = _record(market, account_id)
        for row in market.daily(account_id, since, today).to_rows():
            figures = [
                row[m] for m in ("impressions", "clicks", "spend_micros", "conversions", "value_micros")
            ]
            if not any(figures):
                continue  # TikTok leaves rows without delivery out of its reports
            expected += 1
            got = stored[(entity_key(record, "ad", str(row["ad_id"])), row["date"])]
            # columns: ad_id, day, account_id, adset_id, campaign_id, currency, impressions, clicks,
            # spend_micros, conversions, value_micros
            assert [int(x) for x in got[6:11]] == figures
    assert expected == len(stored) > 200
    tables = dump(engine)
    assert {r[2] for r in tables["daily_segment_metric"]} == {"age", "gender", "country", "placement"}
    assert tables["hourly_metric"] and tables["creative"] and tables["custom_audience"]
    assert {r[4] for r in tables["account"]} == {"USD", "JPY"}  # id, platform, platform_id, name, currency
    assert report.requests["tiktok"] < 60


def test_a_second_sync_changes_nothing_and_a_later_one_picks_up_new_and_restated_days(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    _sync(url, market, engine)
    first = dump(engine)
    _sync(url, market, engine)
    assert dump(engine) == first
    market.advance(days=3)
    report = _sync(url, market, engine)
    assert report.ok, report
    after = {(r[0], r[1]): r for r in dump(engine, ("daily_metric",))["daily_metric"]}
    before = {(r[0], r[1]): r for r in first["daily_metric"]}
    new_days = {k[1] for k in after} - {k[1] for k in before}
    assert len(new_days) == 3
    restated = [k for k in before if after[k] != before[k]]
    assert restated, "late purchases must overwrite past days"
    assert all(int(after[k][9]) >= int(before[k][9]) for k in before)


def test_segment_rows_of_one_breakdown_add_up_to_the_daily_rows(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    assert _sync(url, market, engine).ok
    figures = "sum(impressions), sum(clicks), sum(spend_micros), sum(conversions), sum(value_micros)"
    with engine.connect() as conn:
        daily = {
            (r[0], str(r[1])): tuple(r[2:])
            for r in conn.execute(text(f"SELECT ad_id, day, {figures} FROM daily_metric GROUP BY ad_id, day"))
        }
        for breakdown in ("age", "gender", "country", "placement"):
            rows = conn.execute(
                text(
                    f"SELECT ad_id, day, {figures} FROM daily_segment_metric "
                    "WHERE breakdown = :b GROUP BY ad_id, day"
                ),
                {"b": breakdown},
            )
            segments = {(r[0], str(r[1])): tuple(r[2:]) for r in rows}
            assert segments == daily, breakdown
        values = {
            b: {
                r[0]
                for r in conn.execute(
                    text(f"SELECT DISTINCT {b} FROM daily_segment_metric WHERE breakdown = '{b}'")
                )
            }
            for b in ("age", "gender", "country", "placement")
        }
    assert values == {
        "age": {"18-24", "25-34", "35-44", "45+"},
        "gender": {"female", "male"},
        "country": {"US", "GB", "JP"},
        "placement": {"feed", "stories", "network"},
    }


def test_requests_grow_with_pages_not_with_ads() -> None:
    market = Market(small_config(seed=SEED, accounts=1, ads=1000, days=7, platforms=("tiktok",)))
    with running_sandbox(market) as url:
        adapter = _adapter(url, page_size=1000)

        async def run() -> tuple[int, int]:
            account = (await adapter.accounts())[0]
            before = adapter.transport.requests
            today = market.now().date
            batch = await adapter.daily_metrics(
                account, today - dt.timedelta(days=3), today - dt.timedelta(days=1)
            )
            await adapter.aclose()
            assert not batch.problems
            return len(batch.items), adapter.transport.requests - before

        rows, requests = asyncio.run(run())
    assert rows > 2000
    assert requests == -(-rows // 1000)  # one request per page of 1000 rows; a per-ad loop would need 1000


def test_with_injected_faults_the_sync_ends_in_the_same_warehouse(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,  # type: ignore[no-untyped-def]
) -> None:
    url, market = world
    clean = engine_factory()
    assert _sync(url, market, clean).ok
    kinds = ["rate_limit", "server_error", "malformed", "truncated", "slow"]
    httpx.put(
        f"{url}/_sandbox/faults/tiktok", json={"rate": 0.1, "seed": 3, "kinds": kinds, "slow_seconds": 0.3}
    )

    async def faulty():  # type: ignore[no-untyped-def]
        adapter = _adapter(url, client=httpx.AsyncClient(timeout=0.2))
        syncer = Syncer(
            writer=WarehouseWriter(engine), adapters={"tiktok": adapter}, today=lambda _a: market.now().date
        )
        try:
            return await syncer.sync(SyncOptions(days=DAYS)), adapter.pacer.throttles
        finally:
            await adapter.aclose()

    report, throttles = asyncio.run(faulty())
    injected = httpx.get(f"{url}/_sandbox/faults").json()["tiktok"]["faults_injected"]
    assert sum(injected.values()) >= 5, injected
    assert throttles == injected.get("rate_limit", 0)
    assert report.ok, report
    assert dump(engine) == dump(clean)


def test_an_expired_or_revoked_token_stops_the_platform_with_a_clear_message(
    world: tuple[str, Market], engine: Engine
) -> None:
    url, market = world
    revoked = _sync(url, market, engine, access_token="0" * 40)
    assert "tiktok" in revoked.stopped and "access token rejected" in revoked.stopped["tiktok"]
    assert "40105" in revoked.stopped["tiktok"]
    # Revoked half-way: the accounts are listed, then every call is refused.

    async def expiring():  # type: ignore[no-untyped-def]
        adapter = _adapter(url)
        listed = await adapter.accounts()
        httpx.put(f"{url}/_sandbox/faults/tiktok", json={"rate": 1.0, "kinds": ["expired_token"]})

        async def accounts() -> list[AccountRecord]:
            return listed

        adapter.accounts = accounts  # type: ignore[method-assign]
        syncer = Syncer(
            writer=WarehouseWriter(engine), adapters={"tiktok": adapter}, today=lambda _a: market.now().date
        )
        try:
            return await syncer.sync(SyncOptions(days=DAYS))
        finally:
            await adapter.aclose()

    expired = asyncio.run(expiring())
    assert "credential rejected" in expired.stopped["tiktok"] and "renew it" in expired.stopped["tiktok"]
    assert not dump(engine, ("daily_metric",))["daily_metric"]


def test_rebuild_from_the_lake_alone_reproduces_the_warehouse(
    world: tuple[str, Market],
    engine: Engine,
    engine_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    url, market = world
    lake = RawLake(tmp_path / "lake")
    httpx.put(
        f"{url}/_sandbox/faults/tiktok", json={"rate": 0.05, "seed": 5, "kinds": ["rate_limit", "truncated"]}
    )
    assert _sync(url, market, engine, lake).ok
    market.advance(days=2)
    assert _sync(url, market, engine, lake).ok
    assert registry.codec("tiktok") is CODEC
    fresh = engine_factory()
    report = rebuild(lake, WarehouseWriter(fresh))
    assert report.rows > 0 and not report.problems and report.skipped > 0
    assert dump(fresh) == dump(engine)
    lake_text = "".join(r.model_dump_json() for r in lake.records())
    assert CREDS.secret not in lake_text and CREDS.access_token not in lake_text


# -- writes -------------------------------------------------------------------------------------------


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def bigger_world() -> Iterator[tuple[str, Market]]:
    """Enough ads for a campaign with a campaign budget next to one without."""
    market = Market(small_config(seed=SEED, accounts=1, ads=30, days=8, platforms=("tiktok",)))
    with running_sandbox(market) as url:
        yield url, market


def test_each_write_changes_the_platform_and_returns_before_and_after(
    bigger_world: tuple[str, Market],
) -> None:
    url, market = bigger_world
    usd = next(a for a in _tiktok_accounts(market) if market.world.accounts[a].currency == "USD")
    account = _record(market, usd)
    next_hour = market.clock.now_hour + 1
    adsets = market.world.adsets_of(usd)
    own = next(
        s
        for s in adsets
        if s.value_at("daily_budget_micros", next_hour)
        and not market.world.campaign(s.campaign_id).has_campaign_budget(next_hour)
    )
    cbo = next(c for c in market.world.campaigns_of(usd) if c.has_campaign_budget(next_hour))
    plain = next(c for c in market.world.campaigns_of(usd) if not c.has_campaign_budget(next_hour))
    ad = next(
        a for a in market.world.ads_of_adset(own.id) if a.value_at("status", next_hour) is Status.ACTIVE
    )

    async def run() -> None:
        adapter = _adapter(url)
        try:
            # Budgets: the ad group's own daily budget, the campaign's; modes TikTok cannot switch.
            old = own.value_at("daily_budget_micros", next_hour)
            new = old + 5_250_000
            result = await adapter.set_budget(account, level="adset", platform_id=own.id, daily_micros=new)
            assert result.entity == "adset" and result.platform_id == own.id
            assert Decimal(str(result.before["budget"])) * 10**6 == old
            assert Decimal(str(result.after["budget"])) * 10**6 == new
            assert own.value_at("daily_budget_micros", next_hour) == new
            fresh = {s.platform_id: s for s in (await adapter.adsets(account)).items}
            assert fresh[own.id].daily_budget_micros == new
            camp_budget = cbo.value_at("daily_budget_micros", next_hour) + 10_000_000
            result = await adapter.set_budget(
                account, level="campaign", platform_id=cbo.id, daily_micros=camp_budget
            )
            assert result.entity == "campaign" and result.after["budget_mode"] == "BUDGET_MODE_DAY"
            assert cbo.value_at("daily_budget_micros", next_hour) == camp_budget
            log = len(market.log)
            with pytest.raises(BadRequestError, match="budget_mode BUDGET_MODE_INFINITE"):
                await adapter.set_budget(
                    account, level="campaign", platform_id=plain.id, daily_micros=60_000_000
                )
            with pytest.raises(BadRequestError, match="lifetime"):
                await adapter.set_budget(
                    account, level="adset", platform_id=own.id, lifetime_micros=500_000_000
                )
            with pytest.raises(BadRequestError, match="minor units"):
                await adapter.set_budget(account, level="adset", platform_id=own.id, daily_micros=25_125_000)
            with pytest.raises(BadRequestError, match="40002") as refused:
                await adapter.set_budget(account, level="adset", platform_id=own.id, daily_micros=1_000_000)
            assert refused.value.code == 40002 and refused.value.request_id
            assert len(market.log) == log

            # Bids: a cap, then no cap.
            result = await adapter.set_bid(account, own.id, 1_370_000)
            assert result.after["bid_type"] == "BID_TYPE_CUSTOM" and Decimal(
                str(result.after["bid_price"])
            ) == Decimal("1.37")
            assert own.value_at("bid_micros", next_hour) == 1_370_000
            result = await adapter.set_bid(account, own.id, None)
            assert (
                result.before["bid_type"] == "BID_TYPE_CUSTOM"
                and result.after["bid_type"] == "BID_TYPE_NO_BID"
            )
            assert not own.value_at("bid_micros", next_hour)

            # Targeting: ages, gender and countries change; placements are fixed once created.
            wanted = TargetingSpec(ages=["25-34", "35-44"], genders=["female"], countries=["US", "GB"])
            result = await adapter.set_targeting(account, own.id, wanted)
            assert result.after["age_groups"] == ["AGE_25_34", "AGE_35_44"]
            assert result.after["gender"] == "GENDER_FEMALE" and result.after["location_ids"] == [
                "6252001",
                "2635167",
            ]
            targeting = own.value_at("targeting", next_hour)
            assert (targeting.ages, targeting.genders, targeting.countries) == (
                ("25-34", "35-44"),
                ("female",),
                ("US", "GB"),
            )
            fresh = {s.platform_id: s for s in (await adapter.adsets(account)).items}
            assert fresh[own.id].targeting.model_dump(exclude={"audience_ids"}) == wanted.model_dump(
                exclude={"audience_ids"}
            )
            result = await adapter.set_targeting(account, own.id, TargetingSpec(countries=["US", "GB", "JP"]))
            assert result.after["gender"] == "GENDER_UNLIMITED" and len(result.after["age_groups"]) == 4
            with pytest.raises(BadRequestError, match="placements"):
                await adapter.set_targeting(account, own.id, TargetingSpec(placements=["feed"]))

            # Status at every level.
            for level, platform_id, entity in (
                ("ad", ad.id, ad),
                ("adset", own.id, own),
                ("campaign", plain.id, market.world.campaign(plain.id)),
            ):
                result = await adapter.set_status(
                    account, level=level, platform_id=platform_id, status="PAUSED"
                )  # type: ignore[arg-type]
                assert result.before["operation_status"] == "ENABLE", level
                assert result.after["operation_status"] == "DISABLE", level
                assert entity.value_at("status", next_hour) is Status.PAUSED
            result = await adapter.set_status(account, level="ad", platform_id=ad.id, status="ACTIVE")
            assert result.after["operation_status"] == "ENABLE"

            result = await adapter.set_status(
                account, level="campaign", platform_id=plain.id, status="ACTIVE"
            )
            assert result.after["operation_status"] == "ENABLE"

            # A new ad group, an image and two ads (from text and from an existing ad's content).
            made = await adapter.create_adset(
                account,
                NewAdSet(
                    campaign_platform_id=plain.id,
                    name="Launch | US women",
                    daily_budget_micros=25_500_000,
                    bid_micros=800_000,
                    targeting=TargetingSpec(genders=["female"], countries=["US"], placements=["feed"]),
                    status="ACTIVE",
                ),
            )
            assert made.before is None and made.after["budget"] == Decimal("25.5")
            assert made.after["placements"] == ["PLACEMENT_TIKTOK"] and made.after["location_ids"] == [
                "6252001"
            ]
            group = market.world.adsets[made.platform_id]
            assert group.value_at("daily_budget_micros", next_hour) == 25_500_000
            with pytest.raises(BadRequestError, match="location_ids"):
                await adapter.create_adset(account, NewAdSet(campaign_platform_id=plain.id, name="nowhere"))

            data = _png("teal")
            image = await adapter.upload_image(account, "teal.png", data)
            assert image.entity == "image" and image.platform_id == hashlib.md5(data).hexdigest()
            assert image.after["width"] == 96
            new_ad = await adapter.create_ad(
                account,
                NewAd(
                    adset_platform_id=made.platform_id,
                    name="Teal",
                    headline="Cool teal bottles",
                    image_hash=image.platform_id,
                    link="https://shop.example.com/teal",
                    call_to_action="SHOP_NOW",
                    status="ACTIVE",
                ),
            )
            assert new_ad.after["secondary_status"] == "AD_STATUS_REVIEWING"
            assert market.world.ads[new_ad.platform_id].adset_id == made.platform_id
            copy = await adapter.create_ad(
                account,
                NewAd(adset_platform_id=made.platform_id, name="Copy", creative_platform_id=ad.id),
            )
            creatives = {c.platform_id: c for c in (await adapter.creatives(account)).items}
            assert creatives[new_ad.platform_id].headline == "Cool teal bottles"
            assert creatives[new_ad.platform_id].image_hash == image.platform_id
            original = creatives[ad.id]
            assert (creatives[copy.platform_id].headline, creatives[copy.platform_id].link) == (
                original.headline,
                original.link,
            )
            assert copy.after["operation_status"] == "DISABLE"  # NewAd defaults to PAUSED
        finally:
            await adapter.aclose()

    asyncio.run(run())


# -- the wire, without a server -------------------------------------------------------------------------


def _response(body: Any, status: int = 200) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, request=httpx.Request("GET", "https://x.test/"))


def _envelope(code: int, message: str = "m") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "2026112500000001ABC", "data": {}}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (_envelope(40105), 200, AuthError),
        (_envelope(40104), 200, AuthError),
        (_envelope(40102), 200, AuthError),
        (_envelope(40100), 200, RateLimitedError),
        (_envelope(50000), 200, TransientError),
        (_envelope(51004), 200, TransientError),
        (_envelope(40001), 200, BadRequestError),
        (_envelope(40002, "budget: too low"), 200, BadRequestError),
        (_envelope(40400), 404, BadRequestError),
        (b"<html>bad gateway</html>", 200, MalformedResponseError),
        (b'{"code": 0, "message": "OK", "data": {"list": [', 200, MalformedResponseError),
        (b"<html>oops</html>", 502, TransientError),
        ({"message": "no code"}, 200, MalformedResponseError),
    ],
)
def test_envelope_codes_become_typed_errors(body: Any, status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        parse_envelope(_response(body, status))
    assert type(raised.value) is error
    if isinstance(body, dict) and "code" in body:
        assert raised.value.request_id == "2026112500000001ABC"  # type: ignore[attr-defined]
        assert raised.value.code == body["code"]  # type: ignore[attr-defined]
    if isinstance(body, dict) and body.get("code") == 40002:
        assert "budget: too low" in str(raised.value)


def test_money_is_parsed_exactly() -> None:
    data = parse_envelope(_response(b'{"code":0,"message":"OK","data":{"budget":20.10,"bid_price":0.1}}'))
    assert data["budget"] == Decimal("20.10") and isinstance(data["bid_price"], Decimal)


def test_rows_that_do_not_fit_are_problems_and_the_rest_go_on() -> None:
    account = AccountRecord(
        platform="tiktok", platform_id="1", name="a", currency="USD", timezone="UTC", status="ACTIVE"
    )
    good = {
        "dimensions": {"ad_id": "11", "stat_time_day": "2026-11-20 00:00:00"},
        "metrics": {
            "spend": "12.34",
            "impressions": "1000",
            "clicks": "9",
            "complete_payment": "-",
            "total_complete_payment_rate": "-",
        },
    }
    rows = [
        good,
        {"dimensions": {"ad_id": "12"}, "metrics": good["metrics"]},
        {**good, "metrics": {**good["metrics"], "clicks": "many"}},
        {**good, "metrics": {**good["metrics"], "spend": "1.0000001"}},
        "not a row",
    ]
    batch = normalise("insights", account, rows)  # type: ignore[arg-type]
    assert [r.spend_micros for r in batch.items] == [12_340_000]
    assert batch.items[0].conversions == 0 and batch.items[0].value_micros == 0
    assert [p.row for p in batch.problems] == [1, 2, 3, 4]
    groups = normalise(
        "adsets",
        account,
        [
            {
                "adgroup_id": "5",
                "campaign_id": "4",
                "adgroup_name": "g",
                "operation_status": "ENABLE",
                "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
                "budget": Decimal("20.5"),
                "budget_mode": "BUDGET_MODE_DAY",
                "bid_type": "BID_TYPE_CUSTOM",
                "bid_price": 0.8,
                "placement_type": "PLACEMENT_TYPE_NORMAL",
                "placements": ["PLACEMENT_TIKTOK", "PLACEMENT_PANGLE"],
                "age_groups": ["AGE_45_54", "AGE_55_100"],
                "gender": "GENDER_MALE",
                "location_ids": ["1861060", "5332921"],
            },
            {
                "adgroup_id": "6",
                "campaign_id": "4",
                "adgroup_name": "g",
                "operation_status": "ARCHIVED",
                "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
            },
        ],
    )
    assert [p.row for p in groups.problems] == [1]
    (group,) = groups.items
    assert (group.daily_budget_micros, group.bid_micros) == (20_500_000, 800_000)
    assert group.targeting == TargetingSpec(
        ages=["45+"], genders=["male"], countries=["JP", "geo:5332921"], placements=["feed", "network"]
    )
    segments = normalise(
        "insights_age",
        account,
        [
            {"dimensions": {**good["dimensions"], "age": age}, "metrics": good["metrics"]}
            for age in ("AGE_45_54", "AGE_55_100", "AGE_18_24")
        ],
    )
    assert sorted((s.age, s.spend_micros) for s in segments.items) == [
        ("18-24", 12_340_000),
        ("45+", 24_680_000),
    ]


def test_the_pacer_spaces_calls_and_slows_down_after_a_40100() -> None:
    now = [100.0]
    pacer = TikTokPacer(max_qps=10, throttled_share=0.25, throttled_seconds=30, clock=lambda: now[0])
    assert [round(pacer.delay(), 3) for _ in range(3)] == [0.0, 0.1, 0.2]
    now[0] += 10
    assert pacer.delay() == 0.0
    pacer.throttled()
    assert round(pacer.delay(), 3) == 0.1 and round(pacer.delay(), 3) == 0.5  # 4 QPS for a while
    now[0] += 40
    assert pacer.delay() == 0.0 and round(pacer.delay(), 3) == 0.1


def test_the_config_needs_a_way_to_find_advertisers() -> None:
    with pytest.raises(ValueError, match="advertiser_ids"):
        TikTokConfig(access_token="t")
    assert TikTokConfig(access_token="t", advertiser_ids=["1"]).base_url.endswith("/open_api/v1.3")
    with pytest.raises(ValueError):
        TikTokConfig(access_token="t", advertiser_ids=["1"], report_window_days=31)
