"""The Meta adapter's writes against the sandbox: each changes the platform and reports before/after."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config
from tools.platforms.base import NewAd, NewAdSet
from tools.platforms.errors import BadRequestError
from tools.platforms.meta import MetaAdapter, MetaConfig
from tools.platforms.records import TargetingSpec

SEED = 8


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=1, ads=40, days=14, platforms=("meta",)))
    with running_sandbox(market) as url:
        yield url, market


def _run(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        creds = credentials_for(SEED).meta
        adapter = MetaAdapter(MetaConfig(base_url=url, access_token=creds.access_token))
        try:
            account = (await adapter.accounts())[0]
            return await work(adapter, account)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def _budgeted_adset(market: Market) -> str:
    hour = market.clock.now_hour
    return next(
        s.id
        for s in market.world.adsets.values()
        if s.value_at("daily_budget_micros", hour) and s.value_at("status", hour) == "ACTIVE"
    )


def test_budget_bid_status_and_targeting_writes_report_before_and_after(world: tuple[str, Market]) -> None:
    url, market = world
    adset = _budgeted_adset(market)
    current = market.world.adset(adset).value_at("daily_budget_micros", market.clock.now_hour)

    async def work(adapter, account):  # type: ignore[no-untyped-def]
        budget = await adapter.set_budget(
            account, level="adset", platform_id=adset, daily_micros=current + 5_000_000
        )
        bid = await adapter.set_bid(account, adset, 750_000)
        uncapped = await adapter.set_bid(account, adset, None)
        narrowed = await adapter.set_targeting(
            account, adset, TargetingSpec(ages=["25-34", "35-44", "45+"], placements=["feed", "stories"])
        )
        paused = await adapter.set_status(account, level="adset", platform_id=adset, status="PAUSED")
        return budget, bid, uncapped, narrowed, paused

    budget, bid, uncapped, narrowed, paused = _run(url, work)
    step = 10**4  # USD minor unit in micros
    assert int(budget.before["daily_budget"]) * step == current
    assert int(budget.after["daily_budget"]) * step == current + 5_000_000
    assert bid.after["bid_amount"] == 75 and bid.after["bid_strategy"] == "LOWEST_COST_WITH_BID_CAP"
    assert "bid_amount" not in uncapped.after
    assert narrowed.after["targeting"]["age_min"] == 25
    assert narrowed.after["targeting"]["publisher_platforms"] == ["facebook", "instagram"]
    assert paused.before["status"] == "ACTIVE" and paused.after["status"] == "PAUSED"
    hour = market.clock.now_hour
    targeting = market.world.adset(adset).value_at("targeting", hour)
    assert targeting.ages == ("25-34", "35-44", "45+") and targeting.placements == ("feed", "stories")
    assert market.world.adset(adset).value_at("status", hour) == "PAUSED"


def test_a_non_contiguous_age_range_is_refused_before_any_call(world: tuple[str, Market]) -> None:
    url, market = world
    adset = next(iter(market.world.adsets))
    changes = len(market.log)

    async def work(adapter, account):  # type: ignore[no-untyped-def]
        await adapter.set_targeting(account, adset, TargetingSpec(ages=["18-24", "45+"]))

    with pytest.raises(BadRequestError, match="contiguous"):
        _run(url, work)
    assert len(market.log) == changes


def test_creating_an_ad_set_uploading_an_image_and_creating_an_ad(world: tuple[str, Market]) -> None:
    url, market = world
    campaign = next(
        c.id for c in market.world.campaigns.values() if not c.has_campaign_budget(market.clock.now_hour)
    )
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), (10, 120, 200)).save(buffer, format="PNG")

    async def work(adapter, account):  # type: ignore[no-untyped-def]
        adset = await adapter.create_adset(
            account,
            NewAdSet(
                campaign_platform_id=campaign,
                name="New",
                daily_budget_micros=30_000_000,
                targeting=TargetingSpec(countries=["US"]),
            ),
        )
        image = await adapter.upload_image(account, "blue.png", buffer.getvalue())
        ad = await adapter.create_ad(
            account,
            NewAd(
                adset_platform_id=adset.platform_id,
                name="Blue",
                headline="Blue is back",
                body="Now in stock.",
                image_hash=image.platform_id,
                link="https://shop.example.com",
            ),
        )
        return adset, image, ad

    adset, image, ad = _run(url, work)
    assert adset.before is None and adset.after["daily_budget"] == "3000"
    assert market.world.adset(adset.platform_id).value_at("targeting", market.clock.now_hour).countries == (
        "US",
    )
    assert f"{market.world.adset(adset.platform_id).account_id}:{image.platform_id}" in market.world.images
    assert ad.after["status"] == "PAUSED"
    creative = market.world.creative(market.world.ad(ad.platform_id).creative_id)
    assert creative.headline == "Blue is back" and creative.image_hash == image.platform_id
