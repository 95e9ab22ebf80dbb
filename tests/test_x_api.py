"""The X Ads API over real HTTP: OAuth 1.0a, paging, stats against the ledger, async jobs, writes as
market changes, errors, rate limits and injected faults."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest
import requests

from sandbox.faults import FaultConfig, FaultKind
from sandbox.market.entities import Status
from sandbox.market.market import Market
from sandbox.market.segments import SEGMENT_INDEX, Platform
from sandbox.server.app import create_app
from sandbox.server.credentials import credentials_for
from sandbox.x.api import XOptions
from sandbox.x.limits import XLimits
from tests.conftest import small_config
from tests.helpers import account_of_platform
from tests.x_client import XClient, serving

SEED = 3
WEEK = ("2026-11-17", "2026-11-24")  # local dates, end exclusive
GROUPS = "ENGAGEMENT,BILLING,WEB_CONVERSION"


def _config() -> object:
    return small_config(seed=SEED, accounts=2, ads=30, days=30)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(_config())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def served(market: Market) -> Iterator[tuple[str, object]]:
    app = create_app(market)
    with serving(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def x(served: tuple[str, object]) -> XClient:
    return XClient(served[0], credentials_for(SEED).x)


@pytest.fixture(scope="module")
def usd(market: Market) -> str:
    return account_of_platform(market, "x", "USD")


@pytest.fixture(scope="module")
def jpy(market: Market) -> str:
    return account_of_platform(market, "x", "JPY")


def _stats(x: XClient, account: str, **params: object) -> requests.Response:
    base: dict[str, object] = {
        "entity": "PROMOTED_TWEET",
        "start_time": WEEK[0],
        "end_time": WEEK[1],
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": GROUPS,
    }
    base.update(params)
    return x.get(f"/stats/accounts/{account}", **base)


def _n(values: list[int] | None, i: int | None = None) -> int:
    if values is None:
        return 0
    return sum(values) if i is None else values[i]


# -- transport and reads ------------------------------------------------------------------------


def test_accounts_funding_and_ids_as_strings(x: XClient, market: Market, usd: str) -> None:
    response = x.get("/accounts")
    assert response.status_code == 200
    assert response.headers["x-current-api-version"]
    body = response.json()
    assert {a["id"] for a in body["data"]} == {
        a.id for a in market.world.accounts.values() if a.platform is Platform.X
    }
    assert body["next_cursor"] is None
    funding = x.get(f"/accounts/{usd}/funding_instruments").json()["data"]
    assert len(funding) == 1 and funding[0]["currency"] == "USD"
    v11 = XClient(x.base.rsplit("/", 1)[0], credentials_for(SEED).x, version="11")
    assert v11.get(f"/accounts/{usd}").json()["data"]["id"] == usd


def test_paging_walks_every_row_exactly_once_and_filters(x: XClient, market: Market, usd: str) -> None:
    rows = x.walk(f"/accounts/{usd}/promoted_tweets", count=7)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(a.id for a in market.world.ads_of(usd))
    assert all(isinstance(r["tweet_id"], str) and r["tweet_id"].isdigit() for r in rows)
    line_items = x.walk(f"/accounts/{usd}/line_items", count=1)
    assert {r["id"] for r in line_items} == {s.id for s in market.world.adsets_of(usd)}
    one = line_items[0]
    chosen = x.get(f"/accounts/{usd}/line_items", line_item_ids=one["id"]).json()["data"]
    assert [r["id"] for r in chosen] == [one["id"]]
    by_campaign = x.walk(f"/accounts/{usd}/promoted_tweets", line_item_ids=one["id"], count=3)
    assert {r["line_item_id"] for r in by_campaign} == {one["id"]}
    total = x.get(f"/accounts/{usd}/promoted_tweets", count=5, with_total_count="true").json()
    assert total["total_count"] == len(ids) and len(total["data"]) == 5
    cursor = total["next_cursor"]
    clash = x.get(f"/accounts/{usd}/promoted_tweets", with_total_count="true", cursor=cursor)
    assert clash.status_code == 400
    ordered = x.get(f"/accounts/{usd}/line_items", sort_by="name-desc").json()["data"]
    assert [r["name"] for r in ordered] == sorted((r["name"] for r in ordered), reverse=True)


def test_entities_carry_budgets_bids_targeting_and_creatives(x: XClient, market: Market, usd: str) -> None:
    hour = market.clock.now_hour
    campaigns = {c["id"]: c for c in x.walk(f"/accounts/{usd}/campaigns")}
    for camp in market.world.campaigns_of(usd):
        assert campaigns[camp.id]["daily_budget_amount_local_micro"] == camp.value_at(
            "daily_budget_micros", hour
        )
        assert campaigns[camp.id]["currency"] == "USD"
    for item in x.walk(f"/accounts/{usd}/line_items"):
        adset = market.world.adset(item["id"])
        assert item["bid_amount_local_micro"] == adset.value_at("bid_micros", hour)
        assert item["bid_strategy"] == ("AUTO" if item["bid_amount_local_micro"] is None else "MAX")
        assert item["daily_budget_amount_local_micro"] == adset.value_at("daily_budget_micros", hour)
    jpy_account = account_of_platform(market, "x", "JPY")
    narrowed = [s for s in market.world.adsets_of(jpy_account) if len(s.value_at("targeting", hour).ages) < 4]
    criteria = x.get(f"/accounts/{jpy_account}/targeting_criteria", line_item_ids=narrowed[0].id).json()[
        "data"
    ]
    assert sorted(c["targeting_value"] for c in criteria) == ["AGE_25_TO_34", "AGE_35_TO_44", "AGE_OVER_45"]
    assert x.get(f"/accounts/{usd}/targeting_criteria").status_code == 400  # line_item_ids is required
    tweets = x.walk(f"/accounts/{usd}/tweets", tweet_type="PUBLISHED", count=10)
    creative = next(c for c in market.world.creatives.values() if c.account_id == usd)
    tweet = next(t for t in tweets if t["name"] == creative.name)
    assert tweet["full_text"].startswith(creative.headline) and creative.body in tweet["full_text"]
    cards = x.walk(f"/accounts/{usd}/cards")
    assert tweet["card_uri"] in {c["card_uri"] for c in cards}
    assert len(x.walk(f"/accounts/{usd}/custom_audiences")) == len(
        [a for a in market.world.audiences.values() if a.account_id == usd]
    )


# -- stats --------------------------------------------------------------------------------------


def test_stats_reconcile_with_the_ledger_to_the_unit(x: XClient, market: Market, usd: str) -> None:
    ads = [a.id for a in market.world.ads_of(usd)][:20]
    both = defaultdict(lambda: defaultdict(int))
    for placement in ("ALL_ON_TWITTER", "PUBLISHER_NETWORK"):
        body = _stats(x, usd, entity_ids=",".join(ads), placement=placement).json()
        assert body["time_series_length"] == 7
        for row in body["data"]:
            m = row["id_data"][0]["metrics"]
            for i in range(7):
                key = (row["id"], i)
                both[key]["impressions"] += _n(m["impressions"], i)
                both[key]["clicks"] += _n(m["clicks"], i)
                both[key]["spend_micros"] += _n(m["billed_charge_local_micro"], i)
                both[key]["conversions"] += _n(m["conversion_purchases"]["metric"], i)
    frame = market.daily(usd, dt.date(2026, 11, 17), dt.date(2026, 11, 23))
    ledger = defaultdict(lambda: defaultdict(int))
    start = market.day_index(dt.date(2026, 11, 17))
    for row in frame.to_rows():
        if row["ad_id"] in ads:
            key = (row["ad_id"], market.day_index(dt.date.fromisoformat(str(row["date"]))) - start)
            for metric in ("impressions", "clicks", "spend_micros", "conversions"):
                ledger[key][metric] += int(row[metric])  # type: ignore[call-overload]
    assert {k: dict(v) for k, v in both.items() if any(v.values())} == {k: dict(v) for k, v in ledger.items()}
    # The account entity sums to the ledger's account totals over both placements.
    totals = frame.totals()
    got = 0
    for placement in ("ALL_ON_TWITTER", "PUBLISHER_NETWORK"):
        body = _stats(
            x, usd, entity="ACCOUNT", entity_ids=usd, placement=placement, granularity="TOTAL"
        ).json()
        got += _n(body["data"][0]["id_data"][0]["metrics"]["billed_charge_local_micro"])
    assert got == totals["spend_micros"]


def test_day_buckets_start_at_local_midnight(x: XClient, usd: str, jpy: str) -> None:
    bare = _stats(x, usd, entity="ACCOUNT", entity_ids=usd).json()["data"]
    # 2026-11-17 00:00 in Los Angeles (PST) is 08:00Z; the same bounds with an offset agree.
    stamped = _stats(
        x,
        usd,
        entity="ACCOUNT",
        entity_ids=usd,
        start_time="2026-11-17T08:00:00Z",
        end_time="2026-11-24T00:00:00-08:00",
    ).json()["data"]
    assert bare == stamped
    off = _stats(
        x,
        usd,
        entity="ACCOUNT",
        entity_ids=usd,
        start_time="2026-11-17T00:00:00Z",
        end_time="2026-11-24T00:00:00Z",
    )
    assert off.status_code == 400 and off.json()["errors"][0]["code"] == "INVALID_TIME_WINDOW"
    tokyo = _stats(
        x,
        jpy,
        entity="ACCOUNT",
        entity_ids=jpy,
        start_time="2026-11-16T15:00:00Z",
        end_time="2026-11-23T15:00:00Z",
    )
    assert (
        tokyo.status_code == 200 and tokyo.json()["request"]["params"]["start_time"] == "2026-11-16T15:00:00Z"
    )


def test_hourly_stats_split_placements_exactly(x: XClient, market: Market, usd: str) -> None:
    day = "2026-11-20"
    per_placement = {}
    for placement in ("ALL_ON_TWITTER", "PUBLISHER_NETWORK"):
        hourly = _stats(
            x,
            usd,
            entity="ACCOUNT",
            entity_ids=usd,
            placement=placement,
            granularity="HOUR",
            start_time="2026-11-20T08:00:00Z",
            end_time="2026-11-21T08:00:00Z",
        ).json()
        assert hourly["time_series_length"] == 24
        daily = _stats(
            x,
            usd,
            entity="ACCOUNT",
            entity_ids=usd,
            placement=placement,
            start_time=day,
            end_time="2026-11-21",
        ).json()
        hm, dm = hourly["data"][0]["id_data"][0]["metrics"], daily["data"][0]["id_data"][0]["metrics"]
        for metric in ("impressions", "clicks", "billed_charge_local_micro"):
            assert _n(hm[metric]) == _n(dm[metric])
        per_placement[placement] = hm
    ledger = market.hourly(usd, dt.date(2026, 11, 20))
    by_hour = defaultdict(int)
    for h, v in zip(ledger.columns["hour"].tolist(), ledger.columns["impressions"].tolist(), strict=True):
        by_hour[h] += v
    for h in range(24):
        assert sum(_n(m["impressions"], h) for m in per_placement.values()) == by_hour[h]


def test_stats_limits_are_refused(x: XClient, market: Market, usd: str) -> None:
    ads = [a.id for a in market.world.ads_of(usd)][:21]
    many = _stats(x, usd, entity_ids=",".join(ads))
    assert many.status_code == 400 and many.json()["errors"][0]["parameter"] == "entity_ids"
    long = _stats(x, usd, entity="ACCOUNT", entity_ids=usd, start_time="2026-11-10", end_time="2026-11-18")
    assert long.status_code == 400 and long.json()["errors"][0]["code"] == "INVALID_TIME_WINDOW"
    other = _stats(x, usd, entity="ACCOUNT", entity_ids=account_of_platform(market, "x", "JPY"))
    assert other.status_code == 400


def test_async_job_segments_sum_to_the_unsegmented_total(x: XClient, usd: str) -> None:
    params = {
        "entity": "ACCOUNT",
        "entity_ids": usd,
        "start_time": "2026-11-01",
        "end_time": "2026-11-24",
        "granularity": "DAY",
        "placement": "ALL_ON_TWITTER",
        "metric_groups": GROUPS,
    }
    results = {}
    for segmentation in (None, "AGE", "LOCATIONS", "PLATFORMS"):
        extra = {"segmentation_type": segmentation} if segmentation else {}
        created = x.post(f"/stats/jobs/accounts/{usd}", **params, **extra)
        assert created.status_code == 200, created.text
        job = created.json()["data"]
        assert job["status"] == "PROCESSING" and job["url"] is None and job["id_str"] == str(job["id"])
        for _ in range(5):
            polled = x.get(f"/stats/jobs/accounts/{usd}", job_ids=job["id_str"]).json()["data"][0]
            if polled["status"] == "SUCCESS":
                break
        assert polled["url"]
        download = requests.get(polled["url"], timeout=30)
        assert download.headers["content-type"] == "application/gzip"
        results[segmentation] = json.loads(gzip.decompress(download.content))
    whole = results[None]["data"][0]["id_data"][0]["metrics"]
    assert results[None]["time_series_length"] == 23
    for segmentation in ("AGE", "LOCATIONS", "PLATFORMS"):
        id_data = results[segmentation]["data"][0]["id_data"]
        assert all(d["segment"]["segment_name"] and d["segment"]["segment_value"] for d in id_data)
        for metric in ("impressions", "clicks", "billed_charge_local_micro"):
            assert sum(_n(d["metrics"][metric]) for d in id_data) == _n(whole[metric])
        purchases = sum(_n(d["metrics"]["conversion_purchases"]["metric"]) for d in id_data)
        assert purchases == _n(whole["conversion_purchases"]["metric"])
    platforms = {d["segment"]["segment_value"] for d in results["PLATFORMS"]["data"][0]["id_data"]}
    assert platforms == {"TWITTER_TIMELINE", "TWITTER_SEARCH"}
    too_long = x.post(
        f"/stats/jobs/accounts/{usd}", **{**params, "start_time": "2026-10-01", "segmentation_type": "AGE"}
    )
    assert too_long.status_code == 400


# -- auth, limits, faults -----------------------------------------------------------------------


def test_bad_credentials_are_refused(served: tuple[str, object], usd: str) -> None:
    creds = credentials_for(SEED).x
    cases = [
        XClient(served[0], creds, client_secret="wrong-secret"),
        XClient(served[0], creds, client_key="wrong-key"),
        XClient(served[0], creds, timestamp=str(int(time.time()) - 3600)),
        XClient(served[0], creds, resource_owner_secret="wrong-token-secret"),
    ]
    for client in cases:
        response = client.get(f"/accounts/{usd}/campaigns")
        assert response.status_code == 401, response.text
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED_ACCESS"
    assert requests.get(f"{served[0]}/12/accounts", timeout=10).status_code == 401


@pytest.fixture
def private() -> Iterator[tuple[str, object, Market]]:
    market = Market(_config())  # type: ignore[arg-type]
    app = create_app(market)
    with serving(app) as url:
        yield url, app, market


def test_the_over_limit_request_is_answered_429(private: tuple[str, object, Market]) -> None:
    url, app, market = private
    app.state.x.configure(XOptions(limits=XLimits(read=3, analytics=2)))  # type: ignore[attr-defined]
    x = XClient(url, credentials_for(SEED).x)
    usd = account_of_platform(market, "x", "USD")
    seen = [x.get(f"/accounts/{usd}/campaigns") for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert seen[0].headers["x-account-rate-limit-remaining"] == "2"
    assert seen[3].json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
    assert int(seen[3].headers["x-rate-limit-reset"]) > time.time()
    assert x.get(f"/accounts/{usd}/line_items").status_code == 200  # another endpoint, another window


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (FaultKind.RATE_LIMIT, 429),
        (FaultKind.SERVER_ERROR, 503),
        (FaultKind.EXPIRED_TOKEN, 401),
        (FaultKind.MALFORMED, 200),
        (FaultKind.TRUNCATED, 200),
        (FaultKind.SLOW, 200),
    ],
)
def test_faults_in_x_form(
    served: tuple[str, object], x: XClient, usd: str, kind: FaultKind, status: int
) -> None:
    faults = served[1].state.faults  # type: ignore[attr-defined]
    faults.configure(Platform.X, FaultConfig(rate=1.0, kinds=[kind], slow_seconds=0.2))
    try:
        started = time.monotonic()
        response = x.get(f"/accounts/{usd}/campaigns")
    finally:
        faults.configure(Platform.X, None)
    assert response.status_code == status
    match kind:
        case FaultKind.RATE_LIMIT:
            assert response.json()["errors"][0]["code"] == "TOO_MANY_REQUESTS"
            assert (
                response.headers["x-rate-limit-remaining"] == "0" and response.headers["x-rate-limit-reset"]
            )
        case FaultKind.SERVER_ERROR:
            assert (
                response.json()["errors"][0]["code"] == "SERVICE_UNAVAILABLE"
                and response.headers["retry-after"]
            )
        case FaultKind.EXPIRED_TOKEN:
            assert response.json()["errors"][0]["code"] == "UNAUTHORIZED_ACCESS"
        case FaultKind.MALFORMED:
            assert response.headers["content-type"].startswith("text/html")
        case FaultKind.TRUNCATED:
            with pytest.raises(ValueError):
                json.loads(response.text)
        case FaultKind.SLOW:
            assert time.monotonic() - started >= 0.2 and response.json()["data"]


# -- writes -------------------------------------------------------------------------------------


def test_budget_put_changes_the_ground_truth(private: tuple[str, object, Market]) -> None:
    url, _, market = private
    x = XClient(url, credentials_for(SEED).x)
    usd = account_of_platform(market, "x", "USD")
    adset = next(
        s for s in market.world.adsets_of(usd) if s.value_at("daily_budget_micros", market.clock.now_hour)
    )
    before = next(r for r in market.adset_truth(usd) if r["adset_id"] == adset.id)
    old = adset.value_at("daily_budget_micros", market.clock.now_hour)
    response = x.put(f"/accounts/{usd}/line_items/{adset.id}", daily_budget_amount_local_micro=old * 2)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["daily_budget_amount_local_micro"] == old * 2
    market.advance(days=1)
    after = next(r for r in market.adset_truth(usd) if r["adset_id"] == adset.id)
    assert after["budget"] == pytest.approx(2 * old / 1e6)
    assert after["expected_spend"] > before["expected_spend"]
    got = x.get(f"/accounts/{usd}/line_items/{adset.id}").json()["data"]
    assert got["daily_budget_amount_local_micro"] == old * 2
    cbo = next(c for c in market.world.campaigns_of(usd) if c.has_campaign_budget(market.clock.now_hour))
    camp = x.put(
        f"/accounts/{usd}/campaigns/{cbo.id}",
        daily_budget_amount_local_micro=123_450_000,
        entity_status="PAUSED",
    )
    assert camp.status_code == 200, camp.text
    assert camp.json()["data"]["entity_status"] == "PAUSED"
    assert cbo.value_at("daily_budget_micros", market.clock.now_hour) == 123_450_000


def test_pausing_a_promoted_tweet_stops_its_delivery(private: tuple[str, object, Market]) -> None:
    url, _, market = private
    x = XClient(url, credentials_for(SEED).x)
    usd = account_of_platform(market, "x", "USD")
    today = market.now().date
    yesterday = market.daily(usd, today - dt.timedelta(days=1), today - dt.timedelta(days=1))
    live = yesterday.ad_ids[int(yesterday.columns["ad"][0])]
    response = x.put(f"/accounts/{usd}/promoted_tweets/{live}", entity_status="PAUSED")
    assert response.status_code == 200 and response.json()["data"]["entity_status"] == "PAUSED"
    market.advance(days=2)
    day = market.now().date - dt.timedelta(days=1)
    frame = market.daily(usd, day, day)
    delivered = {frame.ad_ids[i] for i in frame.columns["ad"].tolist()}
    assert live not in delivered and delivered


def test_deleting_a_targeting_criterion_removes_that_segment(private: tuple[str, object, Market]) -> None:
    url, _, market = private
    x = XClient(url, credentials_for(SEED).x)
    jpy = account_of_platform(market, "x", "JPY")
    hour = market.clock.now_hour
    adset = next(s for s in market.world.adsets_of(jpy) if len(s.value_at("targeting", hour).ages) < 4)
    criteria = x.get(f"/accounts/{jpy}/targeting_criteria", line_item_ids=adset.id).json()["data"]
    target = next(c for c in criteria if c["targeting_value"] == "AGE_25_TO_34")
    deleted = x.delete(f"/accounts/{jpy}/targeting_criteria/{target['id']}")
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"] is True
    assert x.delete(f"/accounts/{jpy}/targeting_criteria/{target['id']}").status_code == 404
    market.advance(days=2)
    day = market.now().date - dt.timedelta(days=1)
    frame = market.daily(jpy, day, day, segments=True)
    ads = {a.id for a in market.world.ads_of_adset(adset.id)}
    ages = SEGMENT_INDEX["age"][frame.columns["segment"]]
    mine = [frame.ad_ids[i] in ads for i in frame.columns["ad"].tolist()]
    imps = [
        int(v)
        for v, m, age in zip(frame.columns["impressions"].tolist(), mine, ages.tolist(), strict=True)
        if m and age == 1
    ]
    assert sum(imps) == 0
    added = x.post(
        f"/accounts/{jpy}/targeting_criteria",
        line_item_id=adset.id,
        targeting_type="AGE",
        targeting_value="AGE_25_TO_34",
    )
    assert added.status_code == 200 and added.json()["data"]["id"] == target["id"]
    assert "25-34" in adset.value_at("targeting", market.clock.now_hour).ages


def test_rejected_writes_change_nothing(private: tuple[str, object, Market]) -> None:
    url, _, market = private
    x = XClient(url, credentials_for(SEED).x)
    usd, jpy = account_of_platform(market, "x", "USD"), account_of_platform(market, "x", "JPY")
    hour = market.clock.now_hour
    adset = next(s for s in market.world.adsets_of(usd) if s.value_at("daily_budget_micros", hour))
    other = next(s for s in market.world.adsets_of(jpy))
    path = f"/accounts/{usd}/line_items/{adset.id}"
    n = len(market.log)
    cases = [
        (x.put(path, daily_budget_amount_local_micro=500_000), 400, "daily_budget_amount_local_micro"),
        (x.put(path, daily_budget_amount_local_micro=5_005_000), 400, "daily_budget_amount_local_micro"),
        (x.put(path, daily_budget_amount_local_micro=50_000_000, colour="blue"), 400, "colour"),
        (x.put(path, entity_status="ARCHIVED", name="x"), 400, "entity_status"),
        (x.put(f"/accounts/{usd}/line_items/{other.id}", entity_status="PAUSED"), 404, None),
        (
            x.post(f"/accounts/{usd}/promoted_tweets", line_item_id=other.id, tweet_ids="1"),
            400,
            "line_item_id",
        ),
        (
            x.post(
                f"/accounts/{usd}/line_items",
                campaign_id=other.campaign_id,
                daily_budget_amount_local_micro=9_000_000,
            ),
            400,
            "campaign_id",
        ),
        (
            x.put(f"/accounts/{jpy}/line_items/{other.id}", daily_budget_amount_local_micro=1_500_000),
            400,
            "daily_budget_amount_local_micro",
        ),
    ]
    for response, status, parameter in cases:
        assert response.status_code == status, response.text
        if parameter:
            assert response.json()["errors"][0]["parameter"] == parameter
    assert len(market.log) == n
    # Read-only fields a client sends back are ignored; yen budgets are micros too (1000 JPY = 1e9).
    ok = x.put(
        path,
        daily_budget_amount_local_micro=50_000_000,
        id=adset.id,
        currency="USD",
        created_at="2020-01-01T00:00:00Z",
    )
    assert ok.status_code == 200, ok.text
    jpy_adset = next(s for s in market.world.adsets_of(jpy) if s.value_at("daily_budget_micros", hour))
    yen = x.put(f"/accounts/{jpy}/line_items/{jpy_adset.id}", daily_budget_amount_local_micro=1_000_000_000)
    assert yen.status_code == 200, yen.text
    assert jpy_adset.value_at("daily_budget_micros", market.clock.now_hour) == 1_000_000_000
    assert len(market.log) == n + 2


def test_creating_tweets_cards_promoted_tweets_and_deleting(private: tuple[str, object, Market]) -> None:
    url, _, market = private
    x = XClient(url, credentials_for(SEED).x)
    usd = account_of_platform(market, "x", "USD")
    adset = market.world.adsets_of(usd)[0]
    card = x.post(f"/accounts/{usd}/cards", name="Spring sale", website_url="https://shop.example.com/spring")
    assert card.status_code == 200, card.text
    tweet = x.post(
        f"/accounts/{usd}/tweet",
        text="Spring sale now on\nTwenty percent off mats",
        card_uri=card.json()["data"]["card_uri"],
    )
    assert tweet.status_code == 200, tweet.text
    tweet_id = tweet.json()["data"]["id_str"]
    promoted = x.post(f"/accounts/{usd}/promoted_tweets", line_item_id=adset.id, tweet_ids=tweet_id)
    assert promoted.status_code == 200, promoted.text
    ad_id = promoted.json()["data"][0]["id"]
    ad = market.world.ad(ad_id)
    assert market.world.creative(ad.creative_id).link == "https://shop.example.com/spring"
    line_item = x.post(
        f"/accounts/{usd}/line_items",
        campaign_id=adset.campaign_id,
        name="New",
        daily_budget_amount_local_micro=20_000_000,
        bid_strategy="AUTO",
        placements="ALL_ON_TWITTER",
    )
    campaign = market.world.campaign(adset.campaign_id)
    if campaign.has_campaign_budget(market.clock.now_hour):
        assert line_item.status_code == 400
    else:
        assert line_item.status_code == 200, line_item.text
    gone = x.delete(f"/accounts/{usd}/promoted_tweets/{ad_id}")
    assert gone.status_code == 200 and gone.json()["data"]["deleted"] is True
    assert ad.value_at("status", market.clock.now_hour) == Status.DELETED
    assert x.delete(f"/accounts/{usd}/promoted_tweets/{ad_id}").status_code == 404
    listed = {r["id"] for r in x.walk(f"/accounts/{usd}/promoted_tweets")}
    assert ad_id not in listed
    assert ad_id in {r["id"] for r in x.walk(f"/accounts/{usd}/promoted_tweets", with_deleted="true")}
