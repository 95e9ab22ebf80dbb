"""The official twitter-ads SDK (v11) against the sandbox: only its default domain is changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from twitter_ads.campaign import Campaign, LineItem
from twitter_ads.client import Client
from twitter_ads.enum import ENTITY, GRANULARITY, METRIC_GROUP, PLACEMENT
from twitter_ads.error import NotAuthorized
from twitter_ads.http import Request

from sandbox.market.market import Market
from sandbox.server.app import create_app
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config
from tests.helpers import account_of_platform
from tests.x_client import serving

SEED = 5


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(small_config(seed=SEED, accounts=1, ads=40, days=21))


@pytest.fixture(scope="module")
def base(market: Market) -> Iterator[str]:
    with serving(create_app(market)) as url:
        yield url


@pytest.fixture
def client(base: str) -> Iterator[Client]:
    original = Request._DEFAULT_DOMAIN
    Request._DEFAULT_DOMAIN = base  # the SDK's base URL, as FacebookSession.GRAPH is for Meta
    creds = credentials_for(SEED).x
    try:
        yield Client(creds.consumer_key, creds.consumer_secret, creds.access_token, creds.access_token_secret)
    finally:
        Request._DEFAULT_DOMAIN = original


def test_the_sdk_lists_campaigns_and_line_items_with_paging(client: Client, market: Market) -> None:
    account_id = account_of_platform(market, "x")
    account = client.accounts(account_id)
    assert account.id == account_id and account.timezone
    campaigns = list(account.campaigns(count=1))
    line_items = list(account.line_items(count=2))
    assert {c.id for c in campaigns} == {c.id for c in market.world.campaigns_of(account_id)}
    assert sorted(li.id for li in line_items) == sorted(s.id for s in market.world.adsets_of(account_id))
    assert all(li.currency == "USD" for li in line_items)
    ads = list(account.promoted_tweets(count=7))
    assert len(ads) == len(market.world.ads_of(account_id))


def test_the_sdk_reads_sync_stats(client: Client, market: Market) -> None:
    account = client.accounts(account_of_platform(market, "x"))
    ids = [s.id for s in market.world.adsets_of(account.id)]
    start, end = dt.datetime(2026, 11, 18), dt.datetime(2026, 11, 25)
    rows = LineItem.all_stats(
        account,
        ids,
        [METRIC_GROUP.ENGAGEMENT, METRIC_GROUP.BILLING],
        start_time=start,
        end_time=end,
        granularity=GRANULARITY.DAY,
        placement=PLACEMENT.ALL_ON_TWITTER,
    )
    network = LineItem.all_stats(
        account,
        ids,
        [METRIC_GROUP.BILLING],
        start_time=start,
        end_time=end,
        granularity=GRANULARITY.DAY,
        placement=PLACEMENT.PUBLISHER_NETWORK,
    )
    spend = sum(sum(r["id_data"][0]["metrics"]["billed_charge_local_micro"] or []) for r in [*rows, *network])
    assert spend == market.daily(account.id, start.date(), dt.date(2026, 11, 24)).totals()["spend_micros"]
    assert {r["id"] for r in rows} == set(ids)


def test_the_sdk_runs_an_async_stats_job_and_downloads_it(client: Client, market: Market) -> None:
    account = client.accounts(account_of_platform(market, "x"))
    ids = [s.id for s in market.world.adsets_of(account.id)]
    job = LineItem.queue_async_stats_job(
        account,
        ids,
        [METRIC_GROUP.ENGAGEMENT],
        start_time=dt.datetime(2026, 11, 5),
        end_time=dt.datetime(2026, 11, 25),
        granularity=GRANULARITY.DAY,  # the SDK sends bare dates for DAY
        entity=ENTITY.LINE_ITEM,
        segmentation_type="GENDER",
    )
    assert job.status == "PROCESSING"
    for _ in range(5):
        result = next(LineItem.async_stats_job_result(account, job_ids=[job.id]))
        if result.status == "SUCCESS":
            break
    assert result.url
    data = LineItem.async_stats_job_data(account, url=result.url)
    assert {row["id"] for row in data["data"]} == set(ids)
    assert {d["segment"]["segment_value"] for d in data["data"][0]["id_data"]} == {"1", "2"}


def test_the_sdk_updates_a_line_item_budget_and_a_campaign_status(client: Client, market: Market) -> None:
    account = client.accounts(account_of_platform(market, "x"))
    hour = market.clock.now_hour
    adset = next(s for s in market.world.adsets_of(account.id) if s.value_at("daily_budget_micros", hour))
    line_item = account.line_items(adset.id)
    # The v11 SDK has no daily budget property on LineItem: its lifetime budget goes through save()
    line_item.total_budget_amount_local_micro = 700_000_000
    line_item.end_time = dt.datetime(2026, 12, 20, 8)
    line_item.save()
    assert account.line_items(adset.id).total_budget_amount_local_micro == 700_000_000
    # ... and a daily budget through the SDK's own signed request.
    resource = LineItem.RESOURCE.format(account_id=account.id, id=adset.id)
    Request(client, "put", resource, params={"daily_budget_amount_local_micro": 42_000_000}).perform()
    assert adset.value_at("daily_budget_micros", market.clock.now_hour) == 42_000_000
    campaign = account.campaigns(market.world.campaigns_of(account.id)[0].id)
    campaign.entity_status = "PAUSED"
    campaign.save()
    assert Campaign.load(account, campaign.id).entity_status == "PAUSED"


def test_the_sdk_raises_its_own_error_for_a_bad_credential(base: str, market: Market) -> None:
    creds = credentials_for(SEED).x
    original = Request._DEFAULT_DOMAIN
    Request._DEFAULT_DOMAIN = base
    try:
        bad = Client(creds.consumer_key, "not-the-secret", creds.access_token, creds.access_token_secret)
        with pytest.raises(NotAuthorized) as caught:
            bad.accounts(account_of_platform(market, "x"))
        assert caught.value.details[0]["code"] == "UNAUTHORIZED_ACCESS"
    finally:
        Request._DEFAULT_DOMAIN = original
