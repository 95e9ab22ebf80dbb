"""The TikTok Business API v1.3 over real HTTP: reads, paging, reports against the ledger, writes, errors,
limits and faults."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image

from app.sandbox_runner import free_port, running_sandbox
from sandbox.faults import FaultConfig, FaultKind
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.app import create_app
from sandbox.server.credentials import credentials_for
from sandbox.tiktok.api import TikTokOptions
from sandbox.tiktok.limits import TikTokLimits
from tests.conftest import TODAY, small_config
from tests.tiktok_client import TikTok

SEED = 3
METRICS = ["spend", "impressions", "clicks", "conversion", "ctr", "cpc", "cpm", "total_complete_payment_rate"]
SINCE, UNTIL = "2026-11-10", "2026-11-24"
CREDS = credentials_for(SEED).tiktok


@pytest.fixture(scope="module")
def market() -> Market:
    m = Market(small_config(seed=SEED, accounts=2, ads=30, days=30))
    m.advance(hours=10)  # today has ten hours of delivery so far
    return m


@pytest.fixture(scope="module")
def base(market: Market) -> Iterator[str]:
    with running_sandbox(market) as url:
        yield url


@pytest.fixture(scope="module")
def tt(base: str) -> TikTok:
    return TikTok(base, CREDS.access_token)


def _advertiser(market: Market, currency: str) -> str:
    return next(
        a.id
        for a in market.world.accounts.values()
        if a.platform is Platform.TIKTOK and a.currency == currency
    )


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """Serve an app built by the test (non-default options, faults) on a free port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _report(tt: TikTok, advertiser: str, **params: Any) -> dict[str, Any]:
    query = {
        "advertiser_id": advertiser,
        "service_type": "AUCTION",
        "report_type": "BASIC",
        "page_size": 1000,
    }
    query.update(params)
    return tt.get("report/integrated/get", **query)


# -- reads ------------------------------------------------------------------------------------------


def test_advertisers_carry_currency_timezone_and_status(tt: TikTok, market: Market) -> None:
    listed = tt.ok("oauth2/advertiser/get", app_id=CREDS.app_id, secret=CREDS.secret)["list"]
    ids = [a["advertiser_id"] for a in listed]
    tiktok = {a.id for a in market.world.accounts.values() if a.platform is Platform.TIKTOK}
    assert set(ids) == tiktok and all(len(i) == 19 for i in ids)
    info = tt.ok(
        "advertiser/info", advertiser_ids=ids, fields=["advertiser_id", "currency", "timezone", "status"]
    )
    assert {r["currency"] for r in info["list"]} == {"USD", "JPY"}
    assert all(set(r) == {"advertiser_id", "currency", "timezone", "status"} for r in info["list"])
    assert all(r["status"] == "STATUS_ENABLE" for r in info["list"])
    assert tt.get("oauth2/advertiser/get", app_id=CREDS.app_id, secret="nope")["code"] == 40002


def test_paging_walks_every_row_exactly_once(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    for path, id_field, entities in (
        ("campaign/get", "campaign_id", market.world.campaigns_of(adv)),
        ("adgroup/get", "adgroup_id", market.world.adsets_of(adv)),
        ("ad/get", "ad_id", market.world.ads_of(adv)),
    ):
        rows = tt.walk(path, advertiser_id=adv, page_size=2 if path != "ad/get" else 7)
        ids = [r[id_field] for r in rows]
        assert len(ids) == len(set(ids)) == len(entities), path
        assert set(ids) == {e.id for e in entities} and all(isinstance(i, str) for i in ids)
    last = tt.ok("ad/get", advertiser_id=adv, page_size=7, page=1000)
    assert last["list"] == [] and last["page_info"]["total_number"] == len(market.world.ads_of(adv))
    for bad in (0, 1001):
        assert tt.get("ad/get", advertiser_id=adv, page_size=bad)["code"] == 40002


def test_filters_and_fields_select_what_was_asked(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    adgroups = tt.walk("adgroup/get", advertiser_id=adv, page_size=100)
    one = adgroups[0]
    ads = tt.walk(
        "ad/get",
        advertiser_id=adv,
        filtering={"adgroup_ids": [one["adgroup_id"]]},
        fields=["ad_id", "adgroup_id", "secondary_status"],
    )
    assert ads and {a["adgroup_id"] for a in ads} == {one["adgroup_id"]}
    assert all(set(a) == {"ad_id", "adgroup_id", "secondary_status"} for a in ads)
    assert len(ads) == len(market.world.ads_of_adset(one["adgroup_id"]))
    camp = tt.walk("adgroup/get", advertiser_id=adv, filtering={"campaign_ids": [one["campaign_id"]]})
    assert {g["campaign_id"] for g in camp} == {one["campaign_id"]}
    assert all(isinstance(g["budget"], float) and g["gender"].startswith("GENDER_") for g in adgroups)
    bad = tt.get("ad/get", advertiser_id=adv, fields=["ad_id", "reach"])
    assert bad["code"] == 40002 and "fields" in bad["message"]
    paused = tt.walk("ad/get", advertiser_id=adv, filtering={"primary_status": "STATUS_DISABLE"})
    assert all(a["secondary_status"] != "AD_STATUS_DELIVERY_OK" for a in paused)


def test_jpy_money_has_no_decimals(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "JPY")
    groups = tt.walk("adgroup/get", advertiser_id=adv, page_size=100)
    assert all(isinstance(g["budget"], int) for g in groups)
    spend = _report(
        tt,
        adv,
        data_level="AUCTION_ADVERTISER",
        dimensions=["advertiser_id"],
        metrics=["spend"],
        start_date=SINCE,
        end_date=UNTIL,
    )["data"]["list"][0]["metrics"]["spend"]
    assert spend.isdigit()


def test_other_advertisers_and_audiences(tt: TikTok, market: Market) -> None:
    assert tt.get("campaign/get", advertiser_id="1234567890123456789")["code"] == 40001
    adv = _advertiser(market, "USD")
    audiences = tt.ok("dmp/custom_audience/list", advertiser_id=adv, page_size=100)
    mine = [a for a in market.world.audiences.values() if a.account_id == adv]
    assert {a["audience_id"] for a in audiences["list"]} == {a.id for a in mine}
    got = tt.ok("dmp/custom_audience/get", advertiser_id=adv, custom_audience_ids=[mine[0].id])
    assert got["list"][0]["audience_details"]["name"] == mine[0].name
    image = market.world.creatives[market.world.ads_of(adv)[0].creative_id].image_hash
    info = tt.ok("file/image/ad/info", advertiser_id=adv, image_ids=[image])["list"]
    assert info[0]["image_id"] == image and info[0]["width"] > 0


# -- reports ----------------------------------------------------------------------------------------


def test_basic_report_rows_reconcile_with_the_ledger(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    body = _report(
        tt,
        adv,
        data_level="AUCTION_AD",
        dimensions=["ad_id", "stat_time_day"],
        metrics=METRICS,
        start_date=SINCE,
        end_date=UNTIL,
    )
    assert body["code"] == 0, body
    rows = body["data"]["list"]
    frame = market.daily(adv, dt.date.fromisoformat(SINCE), dt.date.fromisoformat(UNTIL))
    ledger = {}
    for r in frame.to_rows():
        if any(r[m] for m in ("impressions", "clicks", "spend_micros", "conversions", "value_micros")):
            ledger[(r["ad_id"], f"{r['date']} 00:00:00")] = r
    assert len(rows) == len(ledger) and body["data"]["page_info"]["total_number"] == len(rows)
    for row in rows:
        m, want = row["metrics"], ledger[(row["dimensions"]["ad_id"], row["dimensions"]["stat_time_day"])]
        assert all(isinstance(v, str) for v in m.values())
        assert int(m["impressions"]) == want["impressions"] and int(m["clicks"]) == want["clicks"]
        assert Decimal(m["spend"]) * 10**6 == want["spend_micros"]
        assert int(m["conversion"]) == want["conversions"]
        assert Decimal(m["total_complete_payment_rate"]) * 10**6 == want["value_micros"]
        assert m["cpc"] == "-" if want["clicks"] == 0 else Decimal(m["cpc"]) > 0
    total = _report(
        tt,
        adv,
        data_level="AUCTION_ADVERTISER",
        dimensions=["advertiser_id"],
        metrics=METRICS,
        start_date=SINCE,
        end_date=UNTIL,
    )["data"]["list"]
    assert len(total) == 1
    for metric, column in (
        ("impressions", "impressions"),
        ("clicks", "clicks"),
        ("conversion", "conversions"),
    ):
        assert (
            int(total[0]["metrics"][metric])
            == frame.totals()[column]
            == sum(int(r["metrics"][metric]) for r in rows)
        )
    assert Decimal(total[0]["metrics"]["spend"]) * 10**6 == frame.totals()["spend_micros"]


def test_audience_rows_sum_to_the_basic_total(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "JPY")
    args = {
        "start_date": SINCE,
        "end_date": UNTIL,
        "metrics": ["spend", "impressions", "clicks", "conversion"],
    }
    basic = _report(tt, adv, data_level="AUCTION_CAMPAIGN", dimensions=["campaign_id"], **args)["data"][
        "list"
    ]
    expected = {m: sum(Decimal(r["metrics"][m]) for r in basic) for m in args["metrics"]}
    for dim, values in (
        ("age", {"AGE_18_24", "AGE_25_34", "AGE_35_44", "AGE_45_54"}),
        ("gender", {"MALE", "FEMALE"}),
        ("country_code", {"US", "GB", "JP"}),
        ("placement", {"PLACEMENT_TIKTOK", "PLACEMENT_GLOBAL_APP_BUNDLE", "PLACEMENT_PANGLE"}),
    ):
        rows = _report(
            tt,
            adv,
            report_type="AUDIENCE",
            data_level="AUCTION_CAMPAIGN",
            dimensions=["campaign_id", dim],
            **args,
        )["data"]["list"]
        assert {r["dimensions"][dim] for r in rows} <= values
        for m in args["metrics"]:
            assert sum(Decimal(r["metrics"][m]) for r in rows) == expected[m], (dim, m)


def test_hourly_rows_cover_today_so_far(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    body = _report(
        tt,
        adv,
        data_level="AUCTION_ADVERTISER",
        dimensions=["advertiser_id", "stat_time_hour"],
        metrics=["impressions", "spend"],
        start_date=str(TODAY),
        end_date=str(TODAY),
    )
    rows = body["data"]["list"]
    hours = sorted(int(r["dimensions"]["stat_time_hour"][11:13]) for r in rows)
    assert (
        hours
        and max(hours) < 10
        and all(r["dimensions"]["stat_time_hour"].startswith(str(TODAY)) for r in rows)
    )
    frame = market.hourly(adv, TODAY)
    assert sum(int(r["metrics"]["impressions"]) for r in rows) == frame.totals()["impressions"]


def test_report_ranges_and_dimensions_are_checked(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    daily = ["advertiser_id", "stat_time_day"]
    too_long = _report(tt, adv, dimensions=daily, start_date="2026-10-25", end_date="2026-11-24")
    assert too_long["code"] == 40002 and "end_date" in too_long["message"]
    assert _report(tt, adv, dimensions=daily, start_date="2026-10-26", end_date="2026-11-24")["code"] == 0
    hourly = _report(
        tt, adv, dimensions=["advertiser_id", "stat_time_hour"], start_date=SINCE, end_date="2026-11-11"
    )
    assert hourly["code"] == 40002
    assert (
        _report(tt, adv, dimensions=["advertiser_id", "age"], start_date=SINCE, end_date=UNTIL)["code"]
        == 40002
    )
    assert (
        _report(tt, adv, dimensions=["advertiser_id"], metrics=["reach"], start_date=SINCE, end_date=UNTIL)[
            "code"
        ]
        == 40002
    )


def test_report_filtering_and_paging(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    camp = market.world.campaigns_of(adv)[0].id
    args = {
        "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"],
        "metrics": ["impressions"],
        "start_date": SINCE,
        "end_date": UNTIL,
    }
    filtering = [{"field_name": "campaign_ids", "filter_type": "IN", "filter_value": json.dumps([camp])}]
    full = _report(tt, adv, filtering=filtering, **args)["data"]
    seen, page = [], 1
    while True:
        data = _report(tt, adv, filtering=filtering, page=page, page_size=9, **args)["data"]
        seen += data["list"]
        if page >= data["page_info"]["total_page"]:
            break
        page += 1
    assert seen == full["list"] and len(seen) == full["page_info"]["total_number"]
    assert {market.world.ads[r["dimensions"]["ad_id"]].campaign_id for r in seen} == {camp}


def test_async_report_task_succeeds_after_polls(tt: TikTok, market: Market) -> None:
    adv = _advertiser(market, "USD")
    args = {
        "advertiser_id": adv,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": ["campaign_id", "stat_time_day"],
        "metrics": ["spend", "impressions"],
        "start_date": SINCE,
        "end_date": UNTIL,
    }
    created = tt.post("report/task/create", args)
    assert created["code"] == 0, created
    task = created["data"]["task_id"]
    statuses = []
    while not statuses or statuses[-1] != "SUCCESS":
        statuses.append(tt.ok("report/task/check", advertiser_id=adv, task_id=task)["status"])
        assert len(statuses) < 5
    assert statuses == ["QUEUING", "PROCESSING", "SUCCESS"]
    url = tt.ok("report/task/check", advertiser_id=adv, task_id=task)["download_url"]
    csv_text = httpx.get(url, headers={"Access-Token": CREDS.access_token}).text.splitlines()
    sync = tt.ok("report/integrated/get", page_size=1000, **args)["list"]
    assert csv_text[0] == "campaign_id,stat_time_day,spend,impressions" and len(csv_text) == len(sync) + 1


# -- errors, limits, faults -------------------------------------------------------------------------


def test_missing_and_bad_tokens(base: str, market: Market) -> None:
    adv = _advertiser(market, "USD")
    assert TikTok(base, None).get("campaign/get", advertiser_id=adv)["code"] == 40104
    assert TikTok(base, "0" * 40).get("campaign/get", advertiser_id=adv)["code"] == 40105


def test_unknown_paths_and_methods(base: str, tt: TikTok) -> None:
    response = httpx.get(
        f"{base}/open_api/v1.3/campaign/nothing/", headers={"Access-Token": CREDS.access_token}
    )
    assert response.status_code == 404 and response.json()["code"] == 40400
    assert tt.post("campaign/get", {})["code"] == 40002


def test_qps_limit_refuses_with_40100(market: Market) -> None:
    app = create_app(market)
    app.state.tiktok.options = TikTokOptions(limits=TikTokLimits(report_qps=1, management_qps=3))
    adv = _advertiser(market, "USD")
    with _served(app) as url:
        client = TikTok(url, CREDS.access_token)
        codes = [client.get("campaign/get", advertiser_id=adv)["code"] for _ in range(4)]
        assert codes[:3] == [0, 0, 0] and codes[3] == 40100


@pytest.mark.parametrize("kind", list(FaultKind))
def test_faults_in_tiktoks_form(market: Market, kind: FaultKind) -> None:
    app = create_app(market)
    app.state.faults.configure(Platform.TIKTOK, FaultConfig(rate=1.0, kinds=[kind], slow_seconds=0.2))
    adv = _advertiser(market, "USD")
    with _served(app) as url:
        started = time.monotonic()
        response = httpx.get(
            f"{url}/open_api/v1.3/campaign/get/",
            params={"advertiser_id": adv},
            headers={"Access-Token": CREDS.access_token},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    if kind is FaultKind.MALFORMED:
        assert response.headers["content-type"].startswith("text/html")
        return
    if kind is FaultKind.TRUNCATED:
        with pytest.raises(ValueError):
            json.loads(response.content)
        return
    expected = {
        FaultKind.RATE_LIMIT: 40100,
        FaultKind.SERVER_ERROR: 50000,
        FaultKind.EXPIRED_TOKEN: 40105,
        FaultKind.SLOW: 0,
    }[kind]
    assert response.json()["code"] == expected
    if kind is FaultKind.SLOW:
        assert elapsed >= 0.2


# -- writes -----------------------------------------------------------------------------------------


@pytest.fixture
def fresh() -> Iterator[tuple[Market, TikTok]]:
    m = Market(small_config(seed=SEED, accounts=2, ads=30, days=30))
    with running_sandbox(m) as url:
        yield m, TikTok(url, CREDS.access_token)


def _own_budget_adgroup(market: Market, adv: str) -> str:
    hour = market.clock.now_hour
    return next(
        s.id
        for s in market.world.adsets_of(adv)
        if s.value_at("daily_budget_micros", hour)
        and s.value_at("status", hour).value == "ACTIVE"
        and not market.world.campaign(s.campaign_id).has_campaign_budget(hour)
    )


def test_adgroup_budget_update_changes_ground_truth(fresh: tuple[Market, TikTok]) -> None:
    market, tt = fresh
    adv = _advertiser(market, "USD")
    group = _own_budget_adgroup(market, adv)
    before = next(r for r in market.adset_truth(adv) if r["adset_id"] == group)
    new_budget = round(before["budget"] * 3 + 20.25, 2)
    body = tt.post("adgroup/update", {"advertiser_id": adv, "adgroup_id": group, "budget": new_budget})
    assert body["code"] == 0, body
    read = tt.ok("adgroup/get", advertiser_id=adv, filtering={"adgroup_ids": [group]})["list"][0]
    assert read["budget"] == new_budget and read["budget_mode"] == "BUDGET_MODE_DAY"
    market.advance(days=1)
    after = next(r for r in market.adset_truth(adv) if r["adset_id"] == group)
    assert after["budget"] == pytest.approx(new_budget)
    assert after["expected_spend"] > before["expected_spend"]


def test_disabling_an_ad_stops_its_delivery(fresh: tuple[Market, TikTok]) -> None:
    market, tt = fresh
    adv = _advertiser(market, "USD")
    live = tt.walk(
        "ad/get", advertiser_id=adv, filtering={"primary_status": "STATUS_DELIVERY_OK"}, page_size=100
    )
    ad = live[0]["ad_id"]
    body = tt.post("ad/status/update", {"advertiser_id": adv, "ad_ids": [ad], "operation_status": "DISABLE"})
    assert body["code"] == 0 and body["data"]["ad_ids"] == [ad]
    got = tt.ok("ad/get", advertiser_id=adv, filtering={"ad_ids": [ad]})["list"][0]
    assert got["operation_status"] == "DISABLE" and got["secondary_status"] == "AD_STATUS_DISABLE"
    market.advance(days=2)
    day = market.now().date - dt.timedelta(days=1)
    frame = market.daily(adv, day, day)
    rows = [r for r in frame.to_rows() if r["ad_id"] == ad]
    assert sum(r["impressions"] for r in rows) == 0
    assert sum(r["impressions"] for r in frame.to_rows()) > 0


def test_narrowing_age_groups_removes_the_segment(fresh: tuple[Market, TikTok]) -> None:
    market, tt = fresh
    adv = _advertiser(market, "USD")
    group = _own_budget_adgroup(market, adv)
    body = tt.post(
        "adgroup/update",
        {"advertiser_id": adv, "adgroup_id": group, "age_groups": ["AGE_25_34"], "gender": "GENDER_FEMALE"},
    )
    assert body["code"] == 0, body
    read = tt.ok("adgroup/get", advertiser_id=adv, filtering={"adgroup_ids": [group]})["list"][0]
    assert read["age_groups"] == ["AGE_25_34"] and read["gender"] == "GENDER_FEMALE"
    market.advance(days=2)
    day = str(market.now().date - dt.timedelta(days=1))
    for dim, only in (("age", "AGE_25_34"), ("gender", "FEMALE")):
        rows = _report(
            tt,
            adv,
            report_type="AUDIENCE",
            data_level="AUCTION_ADGROUP",
            dimensions=["adgroup_id", dim],
            metrics=["impressions"],
            start_date=day,
            end_date=day,
            filtering={"adgroup_ids": [group]},
        )["data"]["list"]
        assert rows and {r["dimensions"][dim] for r in rows} == {only}


def test_rejected_writes_change_nothing(fresh: tuple[Market, TikTok]) -> None:
    market, tt = fresh
    usd, jpy = _advertiser(market, "USD"), _advertiser(market, "JPY")
    group, jpy_group = _own_budget_adgroup(market, usd), _own_budget_adgroup(market, jpy)
    before = len(market.log)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"advertiser_id": usd, "adgroup_id": group, "budget": 19.99}, 40002, "budget"),
        ({"advertiser_id": usd, "adgroup_id": group, "budget": 25.125}, 40002, "budget"),
        ({"advertiser_id": usd, "adgroup_id": group, "budget": "50.00"}, 40002, "budget"),
        ({"advertiser_id": jpy, "adgroup_id": jpy_group, "budget": 5000.5}, 40002, "budget"),
        ({"advertiser_id": jpy, "adgroup_id": jpy_group, "budget": 2999}, 40002, "budget"),
        ({"advertiser_id": usd, "adgroup_id": group, "budget": 50, "colour": "red"}, 40002, "colour"),
        ({"advertiser_id": usd, "adgroup_id": group, "age_groups": ["AGE_99"]}, 40002, "age_groups"),
        ({"advertiser_id": usd, "adgroup_id": jpy_group, "budget": 50}, 40001, ""),
        ({"advertiser_id": usd, "adgroup_id": group, "budget": 50, "bid_price": -1}, 40002, "bid_price"),
    ]
    for body, code, field in cases:
        answer = tt.post("adgroup/update", body)
        assert answer["code"] == code and answer["message"].startswith(field), (body, answer)
    status = tt.post(
        "ad/status/update",
        {
            "advertiser_id": usd,
            "ad_ids": [market.world.ads_of(usd)[0].id, market.world.ads_of(jpy)[0].id],
            "operation_status": "DISABLE",
        },
    )
    assert status["code"] == 40001
    assert (
        tt.post(
            "campaign/create",
            {
                "advertiser_id": usd,
                "campaign_name": "x",
                "objective_type": "WEB_CONVERSIONS",
                "budget_mode": "BUDGET_MODE_DAY",
                "budget": 49.99,
            },
        )["code"]
        == 40002
    )
    assert len(market.log) == before
    ok = tt.post("adgroup/update", {"advertiser_id": jpy, "adgroup_id": jpy_group, "budget": 3000})
    assert ok["code"] == 0 and ok["data"]["budget"] == 3000 and len(market.log) == before + 1


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_create_campaign_adgroup_image_and_ad(fresh: tuple[Market, TikTok]) -> None:
    market, tt = fresh
    adv, other = _advertiser(market, "USD"), _advertiser(market, "JPY")
    camp = tt.post(
        "campaign/create",
        {
            "advertiser_id": adv,
            "campaign_name": "Launch",
            "objective_type": "WEB_CONVERSIONS",
            "budget_mode": "BUDGET_MODE_INFINITE",
        },
    )
    assert camp["code"] == 0, camp
    group = tt.post(
        "adgroup/create",
        {
            "advertiser_id": adv,
            "campaign_id": camp["data"]["campaign_id"],
            "adgroup_name": "Launch | US women",
            "budget_mode": "BUDGET_MODE_DAY",
            "budget": 25.5,
            "location_ids": ["6252001"],
            "gender": "GENDER_FEMALE",
            "placement_type": "PLACEMENT_TYPE_NORMAL",
            "placements": ["PLACEMENT_TIKTOK"],
            "bid_type": "BID_TYPE_CUSTOM",
            "bid_price": 0.8,
            "billing_event": "CPC",
            "optimization_goal": "CLICK",
        },
    )
    assert group["code"] == 0, group
    group_id = group["data"]["adgroup_id"]
    row = tt.ok("adgroup/get", advertiser_id=adv, filtering={"adgroup_ids": [group_id]})["list"][0]
    assert (row["budget"], row["bid_type"], row["bid_price"]) == (25.5, "BID_TYPE_CUSTOM", 0.8)
    assert row["location_ids"] == ["6252001"] and row["placements"] == ["PLACEMENT_TIKTOK"]

    data = _png("teal")
    files = {"image_file": ("teal.png", data, "image/png")}
    url = "file/image/ad/upload/"
    wrong = tt.client.post(url, data={"advertiser_id": adv, "image_signature": "0" * 32}, files=files).json()
    assert wrong["code"] == 40900
    by_url = tt.client.post(
        url,
        data={"advertiser_id": adv, "upload_type": "UPLOAD_BY_URL", "image_url": "https://example.com/a.png"},
    ).json()
    assert by_url["code"] == 40002 and "reachable" in by_url["message"]
    digest = hashlib.md5(data).hexdigest()
    up = tt.client.post(url, data={"advertiser_id": adv, "image_signature": digest}, files=files).json()
    assert up["code"] == 0 and up["data"]["image_id"] == digest and up["data"]["width"] == 120

    creative = {
        "ad_name": "Teal",
        "ad_text": "Cool teal bottles",
        "image_ids": [digest],
        "call_to_action": "SHOP_NOW",
        "landing_page_url": "https://shop.example.com/teal",
    }
    before = len(market.log)
    foreign = tt.post("ad/create", {"advertiser_id": other, "adgroup_id": group_id, "creatives": [creative]})
    assert foreign["code"] == 40001
    other_image = dict(creative, image_ids=["f" * 32])
    assert (
        tt.post(
            "ad/create", {"advertiser_id": adv, "adgroup_id": group_id, "creatives": [creative, other_image]}
        )["code"]
        == 40002
    )
    assert len(market.log) == before
    made = tt.post("ad/create", {"advertiser_id": adv, "adgroup_id": group_id, "creatives": [creative]})
    assert made["code"] == 0, made
    ad = tt.ok("ad/get", advertiser_id=adv, filtering={"ad_ids": made["data"]["ad_ids"]})["list"][0]
    assert ad["ad_text"] == "Cool teal bottles" and ad["image_ids"] == [digest]
    assert ad["secondary_status"] == "AD_STATUS_REVIEWING"
    deleted = tt.post(
        "campaign/status/update",
        {"advertiser_id": adv, "campaign_ids": [camp["data"]["campaign_id"]], "operation_status": "DELETE"},
    )
    assert deleted["code"] == 0
    assert camp["data"]["campaign_id"] not in {
        c["campaign_id"] for c in tt.walk("campaign/get", advertiser_id=adv)
    }
    everything = tt.walk(
        "campaign/get", advertiser_id=adv, filtering={"secondary_status": "CAMPAIGN_STATUS_ALL"}
    )
    assert camp["data"]["campaign_id"] in {c["campaign_id"] for c in everything}


def test_unexpected_errors_answer_50000(market: Market) -> None:
    app = create_app(market)
    app.state.tiktok.market = None  # every handler now fails inside
    with _served(app) as url:
        body = TikTok(url, CREDS.access_token).get("campaign/get", advertiser_id=_advertiser(market, "USD"))
    assert body["code"] == 50000 and body["data"] == {}
