"""The official facebook-business SDK against the sandbox: only its base-URL constant is changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.user import User
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config

SEED = 5
RANGE = {"since": "2026-11-18", "until": "2026-11-24"}


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(small_config(seed=SEED, accounts=1, ads=40, days=21))


@pytest.fixture(scope="module")
def base(market: Market) -> Iterator[str]:
    with running_sandbox(market) as url:  # default options: some report runs fail or stall
        yield url


@pytest.fixture
def api(base: str) -> Iterator[FacebookAdsApi]:
    original = FacebookSession.GRAPH
    FacebookSession.GRAPH = base
    creds = credentials_for(SEED).meta
    try:
        yield FacebookAdsApi.init(
            app_secret=creds.app_secret, access_token=creds.access_token, crash_log=False, api_version="v25.0"
        )
    finally:
        FacebookSession.GRAPH = original
        FacebookAdsApi.set_default_api(None)


@pytest.fixture
def account(api: FacebookAdsApi) -> AdAccount:
    fields = [AdAccount.Field.account_id, AdAccount.Field.currency, AdAccount.Field.name]
    accounts = list(User(fbid="me").get_ad_accounts(fields=fields))
    assert len(accounts) == 1 and accounts[0][AdAccount.Field.currency] == "USD"
    return accounts[0]


def test_the_sdk_lists_every_entity_with_paging(account: AdAccount, market: Market) -> None:
    world = market.world
    acc = account["account_id"]
    campaigns = list(account.get_campaigns(fields=["name", "status"], params={"limit": 2}))
    adsets = list(account.get_ad_sets(fields=["name", "daily_budget", "targeting"], params={"limit": 2}))
    ads = list(account.get_ads(fields=["name", "adset_id", "creative"], params={"limit": 7}))
    creatives = list(account.get_ad_creatives(fields=["title", "image_hash"], params={"limit": 5}))
    images = list(account.get_ad_images(fields=["hash", "width"], params={"limit": 3}))
    audiences = list(account.get_custom_audiences(fields=["name", "approximate_count_lower_bound"]))
    assert {c["id"] for c in campaigns} == {c.id for c in world.campaigns_of(acc)}
    assert {s["id"] for s in adsets} == {s.id for s in world.adsets_of(acc)}
    assert sorted(a["id"] for a in ads) == sorted(a.id for a in world.ads_of(acc))
    assert {c["id"] for c in creatives} == {c.id for c in world.creatives.values() if c.account_id == acc}
    assert {i["hash"] for i in images} == {i.hash for i in world.images.values() if i.account_id == acc}
    assert len(audiences) == 3


def test_the_sdk_reads_insights_synchronously_and_through_an_async_run(account: AdAccount) -> None:
    fields = ["ad_id", "impressions", "spend", "actions"]
    params = {"level": "ad", "time_range": RANGE, "time_increment": 1}
    sync_rows = [dict(r) for r in account.get_insights(fields=fields, params={**params, "limit": 50})]
    assert sync_rows and all(isinstance(r["impressions"], str) for r in sync_rows)
    async_rows = None
    for _attempt in range(6):  # as real clients do: a failed or stalled run is started again
        job = account.get_insights(fields=fields, params=params, is_async=True)
        for _poll in range(8):
            job = job.api_get()
            status = job[AdReportRun.Field.async_status]
            if status in ("Job Completed", "Job Failed"):
                break
        if status == "Job Completed":
            async_rows = [dict(r) for r in job.get_result(params={"limit": 100})]
            break
    assert async_rows is not None
    assert sorted(async_rows, key=lambda r: (r["date_start"], r["ad_id"])) == sorted(
        sync_rows, key=lambda r: (r["date_start"], r["ad_id"])
    )


def test_the_sdk_updates_a_budget_and_a_status_and_reads_them_back(
    account: AdAccount, market: Market
) -> None:
    hour = market.clock.now_hour
    adset_id = next(
        s.id for s in market.world.adsets_of(account["account_id"]) if s.value_at("daily_budget_micros", hour)
    )
    adset = AdSet(adset_id).api_get(fields=[AdSet.Field.daily_budget])
    budget = int(adset[AdSet.Field.daily_budget]) + 700
    AdSet(adset_id).api_update(params={AdSet.Field.daily_budget: budget})
    assert AdSet(adset_id).api_get(fields=[AdSet.Field.daily_budget])[AdSet.Field.daily_budget] == str(budget)
    ad_id = market.world.ads_of_adset(adset_id)[0].id
    Ad(ad_id).api_update(params={Ad.Field.status: Ad.Status.paused})
    assert Ad(ad_id).api_get(fields=[Ad.Field.status])[Ad.Field.status] == "PAUSED"
    assert market.world.ad(ad_id).value_at("status", market.clock.now_hour) == "PAUSED"


def test_the_sdk_creates_an_ad(account: AdAccount, market: Market) -> None:
    acc = account["account_id"]
    adset = market.world.adsets_of(acc)[0]
    creative = next(c for c in market.world.creatives.values() if c.account_id == acc)
    ad = account.create_ad(
        params={
            Ad.Field.name: "SDK ad",
            Ad.Field.adset_id: adset.id,
            Ad.Field.creative: {"creative_id": creative.id},
            Ad.Field.status: "PAUSED",
        }
    )
    assert ad["id"] in market.world.ads
    read = Ad(ad["id"]).api_get(fields=[Ad.Field.name, Ad.Field.adset_id, Ad.Field.effective_status])
    assert read[Ad.Field.adset_id] == adset.id and read[Ad.Field.effective_status] == "PAUSED"


def test_the_sdk_raises_its_own_error_with_code_190_for_a_bad_token(base: str) -> None:
    original = FacebookSession.GRAPH
    FacebookSession.GRAPH = base
    try:
        FacebookAdsApi.init(access_token="EAAwrong", crash_log=False, api_version="v25.0")
        with pytest.raises(FacebookRequestError) as err:
            list(User(fbid="me").get_ad_accounts())
    finally:
        FacebookSession.GRAPH = original
        FacebookAdsApi.set_default_api(None)
    assert err.value.api_error_code() == 190
    assert err.value.api_error_type() == "OAuthException"
    assert dt.date.today()  # the SDK needs no network: everything above went to the loopback sandbox
