"""The official TikTok Business SDK (`business_api_client`) against the sandbox: only its host is changed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from business_api_client import AdApi, AdgroupApi, ApiClient, CampaignCreationApi, Configuration, ReportingApi
from business_api_client.models import AdgroupStatusUpdateBody, AdgroupUpdateBody, FilteringAdgroupGet
from business_api_client.tiktok_business.tiktok_exceptions import TiktokSDKError

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config

SEED = 5
TOKEN = credentials_for(SEED).tiktok.access_token


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(small_config(seed=SEED, accounts=1, ads=40, days=21))


@pytest.fixture(scope="module")
def client(market: Market) -> Iterator[ApiClient]:
    with running_sandbox(market) as url:
        config = Configuration()
        config.host = url  # the one setting changed: the SDK appends /open_api/v1.3/<path>/
        yield ApiClient(config)


@pytest.fixture(scope="module")
def advertiser(market: Market) -> str:
    return next(a.id for a in market.world.accounts.values() if a.platform is Platform.TIKTOK)


def _walk(call: Callable[..., dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    rows, page = [], 1
    while True:
        data = call(page=page, page_size=3, **kwargs)["data"]
        rows.extend(data["list"])
        if page >= data["page_info"]["total_page"]:
            return rows
        page += 1


def test_sdk_lists_campaigns_adgroups_and_ads_with_paging(
    client: ApiClient, market: Market, advertiser: str
) -> None:
    campaigns = _walk(CampaignCreationApi(client).campaign_get, advertiser_id=advertiser, access_token=TOKEN)
    adgroups = _walk(
        AdgroupApi(client).adgroup_get,
        advertiser_id=advertiser,
        access_token=TOKEN,
        fields=["adgroup_id", "campaign_id", "budget"],
    )
    ads = _walk(AdApi(client).ad_get, advertiser_id=advertiser, access_token=TOKEN)
    assert sorted(c["campaign_id"] for c in campaigns) == sorted(
        c.id for c in market.world.campaigns_of(advertiser)
    )
    assert sorted(g["adgroup_id"] for g in adgroups) == sorted(
        s.id for s in market.world.adsets_of(advertiser)
    )
    assert sorted(a["ad_id"] for a in ads) == sorted(a.id for a in market.world.ads_of(advertiser))
    assert all(set(g) == {"adgroup_id", "campaign_id", "budget"} for g in adgroups)
    one = adgroups[0]["adgroup_id"]
    filtered = AdgroupApi(client).adgroup_get(
        advertiser_id=advertiser, access_token=TOKEN, filtering=FilteringAdgroupGet(adgroup_ids=[one])
    )
    assert [g["adgroup_id"] for g in filtered["data"]["list"]] == [one]


def test_sdk_reads_a_report(client: ApiClient, market: Market, advertiser: str) -> None:
    camp = market.world.campaigns_of(advertiser)[0].id
    # The SDK sends `filtering` as a JSON list of {field_name, filter_type, filter_value} objects.
    answer = ReportingApi(client).report_integrated_get(
        report_type="BASIC",
        access_token=TOKEN,
        advertiser_id=advertiser,
        service_type="AUCTION",
        data_level="AUCTION_CAMPAIGN",
        dimensions=["campaign_id", "stat_time_day"],
        metrics=["spend", "impressions", "clicks", "conversion"],
        start_date="2026-11-18",
        end_date="2026-11-24",
        page_size=1000,
        filtering=[{"field_name": "campaign_ids", "filter_type": "IN", "filter_value": json.dumps([camp])}],
    )
    rows = answer["data"]["list"]
    assert rows and {r["dimensions"]["campaign_id"] for r in rows} == {camp}
    frame = market.daily(advertiser, dt.date(2026, 11, 18), dt.date(2026, 11, 24))
    mine = {a.id for a in market.world.ads_of(advertiser) if a.campaign_id == camp}
    expected = sum(r["impressions"] for r in frame.to_rows() if r["ad_id"] in mine)
    assert sum(int(r["metrics"]["impressions"]) for r in rows) == expected
    assert all(isinstance(v, str) for r in rows for v in r["metrics"].values())


def test_sdk_updates_budget_and_status_and_reads_them_back(
    client: ApiClient, market: Market, advertiser: str
) -> None:
    hour = market.clock.now_hour
    group = next(
        s
        for s in market.world.adsets_of(advertiser)
        if s.value_at("daily_budget_micros", hour)
        and not market.world.campaign(s.campaign_id).has_campaign_budget(hour)
    )
    api = AdgroupApi(client)
    api.adgroup_update(
        access_token=TOKEN,
        body=AdgroupUpdateBody(advertiser_id=advertiser, adgroup_id=group.id, budget=123.45),
    )
    api.adgroup_status_update(
        access_token=TOKEN,
        body=AdgroupStatusUpdateBody(
            advertiser_id=advertiser, adgroup_ids=[group.id], operation_status="DISABLE"
        ),
    )
    row = api.adgroup_get(
        advertiser_id=advertiser, access_token=TOKEN, filtering=FilteringAdgroupGet(adgroup_ids=[group.id])
    )["data"]["list"][0]
    assert row["budget"] == 123.45 and row["operation_status"] == "DISABLE"
    assert market.world.adsets[group.id].value_at("daily_budget_micros", market.clock.now_hour) == 123_450_000


def test_sdk_surfaces_a_bad_token(client: ApiClient, advertiser: str) -> None:
    with pytest.raises(TiktokSDKError, match="40105"):
        CampaignCreationApi(client).campaign_get(advertiser_id=advertiser, access_token="0" * 40)
