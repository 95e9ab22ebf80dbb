"""The Meta Graph API over real HTTP: reads, paging, insights against the ledger, writes, errors, limits."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
from collections.abc import Iterator
from decimal import Decimal

import pytest
from PIL import Image

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from sandbox.meta.api import MetaOptions
from sandbox.meta.throttle import MetaLimits
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config
from tests.meta_client import Graph

SEED = 3
RANGE = {"since": "2026-11-10", "until": "2026-11-24"}


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(small_config(seed=SEED, accounts=2, ads=30, days=30))


@pytest.fixture(scope="module")
def base(market: Market) -> Iterator[str]:
    with running_sandbox(market, meta=MetaOptions(report_failure_rate=0, report_stall_rate=0)) as url:
        yield url


@pytest.fixture(scope="module")
def graph(base: str) -> Graph:
    return Graph(base, credentials_for(SEED).meta.access_token)


@pytest.fixture(scope="module")
def account(graph: Graph) -> str:
    return graph.get("/me/adaccounts").json()["data"][0]["id"]


def _meta_ads(market: Market, account: str) -> set[str]:
    return {a.id for a in market.world.ads_of(account.removeprefix("act_"))}


def test_accounts_carry_currency_timezone_and_status(graph: Graph) -> None:
    rows = graph.walk("/me/adaccounts", fields="id,account_id,currency,timezone_name,account_status", limit=1)
    assert len(rows) == 2
    assert {r["currency"] for r in rows} == {"USD", "JPY"}
    assert all(r["id"] == f"act_{r['account_id']}" and r["account_status"] == 1 for r in rows)


def test_paging_walks_every_row_exactly_once(graph: Graph, market: Market, account: str) -> None:
    ads = graph.walk(f"/{account}/ads", fields="id,name,adset_id", limit=7)
    ids = [a["id"] for a in ads]
    assert len(ids) == len(set(ids)) == len(_meta_ads(market, account))
    first = graph.get(f"/{account}/ads", limit=1000, summary="true").json()
    assert "next" not in first["paging"] and "after" in first["paging"]["cursors"]
    assert first["summary"]["total_count"] == len(ids)


def test_fields_filters_and_effective_status_select_what_was_asked(
    graph: Graph, market: Market, account: str
) -> None:
    adsets = graph.walk(f"/{account}/adsets", fields="id,name,daily_budget,targeting,effective_status")
    assert all(set(a) <= {"id", "name", "daily_budget", "targeting", "effective_status"} for a in adsets)
    assert all("age_min" in a["targeting"] and "geo_locations" in a["targeting"] for a in adsets)
    one = adsets[0]["id"]
    filtered = graph.walk(
        f"/{account}/ads",
        fields="id,adset_id",
        filtering=[{"field": "adset.id", "operator": "IN", "value": [one]}],
    )
    assert filtered and {a["adset_id"] for a in filtered} == {one}
    paused = graph.walk(f"/{account}/ads", fields="id,effective_status", effective_status=["PAUSED"])
    assert all(a["effective_status"] == "PAUSED" for a in paused)
    expected = {
        a.id
        for a in market.world.ads_of(account[4:])
        if a.value_at("status", market.clock.now_hour) == "PAUSED"
    }
    assert {a["id"] for a in paused} == expected
    children = graph.walk(f"/{one}/ads", fields="id")
    assert {a["id"] for a in children} == {a["id"] for a in filtered}
    node = graph.get(f"/{one}/", fields="id,name,bid_strategy").json()
    assert node["id"] == one and "bid_strategy" in node


def test_budgets_and_bids_are_in_minor_units(graph: Graph, market: Market) -> None:
    accounts = graph.walk("/me/adaccounts", fields="id,currency")
    for acc in accounts:
        step = 10**6 if acc["currency"] == "JPY" else 10**4
        for adset in graph.walk(f"/{acc['id']}/adsets", fields="id,daily_budget"):
            if "daily_budget" in adset:
                micros = market.world.adset(adset["id"]).value_at(
                    "daily_budget_micros", market.clock.now_hour
                )
                assert int(adset["daily_budget"]) * step == micros


def test_insight_rows_reconcile_with_the_ledger_and_add_up_to_the_account(
    graph: Graph, market: Market, account: str
) -> None:
    rows = graph.walk(
        f"/{account}/insights",
        level="ad",
        time_increment=1,
        time_range=RANGE,
        limit=100,
        fields="ad_id,adset_id,impressions,clicks,spend,actions,action_values",
    )
    frame = market.daily(account[4:], dt.date(2026, 11, 10), dt.date(2026, 11, 24))
    ledger = {(r["ad_id"], r["date"]): r for r in frame.to_rows()}
    assert len(rows) == len(ledger)
    for row in rows:
        truth = ledger[(row["ad_id"], row["date_start"])]
        assert int(row["impressions"]) == truth["impressions"]
        assert int(row["clicks"]) == truth["clicks"]
        assert Decimal(row["spend"]) * 10**6 == truth["spend_micros"]
        purchases = {a["action_type"]: int(a["value"]) for a in row.get("actions", [])}
        assert purchases.get("offsite_conversion.fb_pixel_purchase", 0) == truth["conversions"]
    total = graph.get(f"/{account}/insights", time_range=RANGE, fields="impressions,spend,actions").json()[
        "data"
    ][0]
    assert (
        int(total["impressions"]) == sum(int(r["impressions"]) for r in rows) == frame.totals()["impressions"]
    )
    assert Decimal(total["spend"]) == sum(Decimal(r["spend"]) for r in rows)


@pytest.mark.parametrize("breakdowns", ["age", "gender,country", "publisher_platform,platform_position"])
def test_breakdowns_sum_to_the_unbroken_report(graph: Graph, account: str, breakdowns: str) -> None:
    plain = graph.get(
        f"/{account}/insights", level="account", time_range=RANGE, fields="impressions,clicks,spend"
    ).json()["data"][0]
    broken = graph.walk(
        f"/{account}/insights",
        level="account",
        time_range=RANGE,
        breakdowns=breakdowns,
        fields="impressions,clicks,spend",
    )
    assert len(broken) > 1
    for key in breakdowns.split(","):
        assert all(key in r for r in broken)
    for metric in ("impressions", "clicks"):
        assert sum(int(r[metric]) for r in broken) == int(plain[metric])
    assert sum(Decimal(r["spend"]) for r in broken) == Decimal(plain["spend"])


def test_hourly_breakdown_shows_today_so_far(graph: Graph, market: Market, account: str) -> None:
    market.advance(hours=9)
    today = market.now().date.isoformat()
    rows = graph.walk(
        f"/{account}/insights",
        level="ad",
        time_range={"since": today, "until": today},
        breakdowns="hourly_stats_aggregated_by_advertiser_time_zone",
        fields="ad_id,impressions",
    )
    hours = {r["hourly_stats_aggregated_by_advertiser_time_zone"] for r in rows}
    assert hours and max(hours) <= "08:00:00 - 08:59:59"
    assert (
        sum(int(r["impressions"]) for r in rows)
        == market.hourly(account[4:], market.now().date).totals()["impressions"]
    )


def test_a_too_large_synchronous_request_asks_to_reduce_the_data(base: str, market: Market) -> None:
    with running_sandbox(market, meta=MetaOptions(max_sync_cells=100)) as url:
        graph = Graph(url, credentials_for(SEED).meta.access_token)
        account = graph.get("/me/adaccounts").json()["data"][0]["id"]
        response = graph.get(f"/{account}/insights", level="ad", time_increment=1, time_range=RANGE)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 1 and "reduce the amount of data" in error["message"]


def test_async_report_runs_poll_to_completion_and_serve_the_same_rows(graph: Graph, account: str) -> None:
    params = {"level": "ad", "time_increment": 1, "time_range": RANGE, "fields": "ad_id,impressions,spend"}
    run = graph.post(f"/{account}/insights", **params).json()["report_run_id"]
    seen = []
    for _ in range(10):
        status = graph.get(f"/{run}").json()
        seen.append(status["async_status"])
        if status["async_status"] == "Job Completed":
            break
    assert (
        seen[0] == "Job Not Started"
        and seen[-1] == "Job Completed"
        and status["async_percent_completion"] == 100
    )
    rows = graph.walk(f"/{run}/insights", limit=500)
    assert rows == graph.walk(f"/{account}/insights", limit=500, **params)


def test_some_report_runs_fail_as_real_ones_do(market: Market) -> None:
    with running_sandbox(market, meta=MetaOptions(report_failure_rate=1.0)) as url:
        graph = Graph(url, credentials_for(SEED).meta.access_token)
        account = graph.get("/me/adaccounts").json()["data"][0]["id"]
        run = graph.post(f"/{account}/insights", level="ad", time_range=RANGE).json()["report_run_id"]
        states = [graph.get(f"/{run}").json()["async_status"] for _ in range(5)]
        assert states[-1] == "Job Failed"
        not_ready = graph.get(f"/{run}/insights")
        assert not_ready.status_code == 400 and not_ready.json()["error"]["code"] == 100


def test_budget_and_status_writes_change_later_delivery_as_the_truth_says(
    graph: Graph, market: Market, account: str
) -> None:
    hour = market.clock.now_hour
    adset = next(
        s
        for s in market.world.adsets_of(account[4:])
        if s.value_at("daily_budget_micros", hour) and market.planner.plan(s.id, hour + 24).active[hour]
    )
    before = next(t for t in market.adset_truth(account[4:]) if t["adset_id"] == adset.id)
    new_budget = int(int(graph.get(f"/{adset.id}", fields="daily_budget").json()["daily_budget"]) * 2)
    assert graph.post(f"/{adset.id}", daily_budget=new_budget).json() == {"success": True}
    assert graph.get(f"/{adset.id}", fields="daily_budget").json()["daily_budget"] == str(new_budget)
    market.advance(days=1)
    after = next(t for t in market.adset_truth(account[4:]) if t["adset_id"] == adset.id)
    assert after["budget"] == pytest.approx(2 * before["budget"], rel=0.01)
    assert after["expected_spend"] > before["expected_spend"]
    ad = market.world.ads_of_adset(adset.id)[0]
    assert graph.post(f"/{ad.id}", status="PAUSED").json() == {"success": True}
    assert graph.get(f"/{ad.id}", fields="status,effective_status").json()["effective_status"] == "PAUSED"
    market.advance(days=2)  # yesterday is then a whole day after the pause
    day = market.now().date - dt.timedelta(days=1)
    delivered = {r["ad_id"] for r in market.daily(account[4:], day, day).to_rows()}
    assert ad.id not in delivered


def test_targeting_write_excludes_a_segment_from_delivery(graph: Graph, market: Market, account: str) -> None:
    hour = market.clock.now_hour
    adset = next(
        s for s in market.world.adsets_of(account[4:]) if market.planner.plan(s.id, hour + 24).active[hour]
    )
    spec = graph.get(f"/{adset.id}", fields="targeting").json()["targeting"]
    spec.update(age_min=25)
    assert graph.post(f"/{adset.id}", targeting=spec).json() == {"success": True}
    market.advance(days=1)
    day = market.now().date - dt.timedelta(days=1)
    rows = graph.walk(
        f"/{adset.id}/insights",
        time_range={"since": str(day), "until": str(day)},
        breakdowns="age",
        fields="impressions",
    )
    assert rows and "18-24" not in {r["age"] for r in rows}


def test_creating_an_image_creative_and_ad_that_then_delivers(
    graph: Graph, market: Market, account: str
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 314), (200, 40, 40)).save(buffer, format="PNG")
    files = {"summer.png": buffer.getvalue()}
    upload = graph.client.post(f"/{account}/adimages", files=files).json()
    image_hash = upload["images"]["summer.png"]["hash"]
    assert image_hash == hashlib.md5(files["summer.png"]).hexdigest()
    creative = graph.post(
        f"/{account}/adcreatives",
        name="Summer",
        object_story_spec={
            "page_id": "1",
            "link_data": {
                "image_hash": image_hash,
                "link": "https://shop.example.com/summer",
                "message": "Light and fast.",
                "name": "Summer run sale",
                "call_to_action": {"type": "SHOP_NOW"},
            },
        },
    ).json()["id"]
    hour = market.clock.now_hour
    adset = next(
        s for s in market.world.adsets_of(account[4:]) if market.planner.plan(s.id, hour + 24).active[hour]
    )
    ad = graph.post(
        f"/{account}/ads",
        name="Summer ad",
        adset_id=adset.id,
        creative={"creative_id": creative},
        status="ACTIVE",
    ).json()["id"]
    assert graph.get(f"/{ad}", fields="effective_status").json()["effective_status"] == "PENDING_REVIEW"
    market.advance(days=2)
    status = graph.get(f"/{ad}", fields="effective_status").json()["effective_status"]
    if status == "ACTIVE":
        day = market.now().date - dt.timedelta(days=1)
        assert ad in {r["ad_id"] for r in market.daily(account[4:], day, day).to_rows()}
    else:
        assert status == "DISAPPROVED"


@pytest.mark.parametrize(
    ("call", "status", "code", "subcode", "needle"),
    [
        (lambda g, a: g.get(f"/{a}/campaigns", access_token="EAAnotreal"), 400, 190, None, "access token"),
        (lambda g, a: g.get(f"/{a}/campaigns", fields="id,colour"), 400, 100, None, "colour"),
        (lambda g, a: g.get(f"/{a}/campaigns", limit="ten"), 400, 100, None, "limit"),
        (lambda g, a: g.get("/999999999"), 400, 100, 33, "does not exist"),
        (lambda g, a: g.get(f"/{a}/widgets"), 400, 100, None, "Unknown path"),
        (lambda g, a: g.post(f"/{a}/campaigns", name="x", colour="red"), 400, 100, None, "colour"),
        (
            lambda g, a: g.post(f"/{a}/campaigns", name="x", daily_budget="lots"),
            400,
            100,
            None,
            "daily_budget",
        ),
        (
            lambda g, a: g.get(f"/{a}/insights", time_range={"since": "2026-11-02"}),
            400,
            100,
            None,
            "time_range",
        ),
        (lambda g, a: g.get(f"/{a}/insights", fields="reach"), 400, 100, None, "reach"),
        (
            lambda g, a: g.client.post(
                f"/{a}/campaigns", content=b'{"name": "x"}', headers={"content-type": "application/json"}
            ),
            400,
            100,
            None,
            "form-encoded",
        ),
        (
            lambda g, a: g.post(f"/{a}/adsets", name="x", campaign_id="1", targeting="{not json"),
            400,
            100,
            None,
            "campaign_id",
        ),
    ],
)
def test_bad_requests_get_metas_own_errors_and_change_nothing(
    graph: Graph, market: Market, account: str, call, status: int, code: int, subcode: int | None, needle: str
) -> None:  # type: ignore[no-untyped-def]
    changes = len(market.log)
    response = call(graph, account)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error.get("error_subcode") == subcode
    assert needle in error["message"] and error["fbtrace_id"] and error["type"]
    assert len(market.log) == changes


def test_ids_of_another_account_or_platform_are_refused(graph: Graph, market: Market) -> None:
    accounts = [a["id"] for a in graph.get("/me/adaccounts").json()["data"]]
    other_adset = market.world.adsets_of(accounts[1][4:])[0].id
    response = graph.post(
        f"/{accounts[0]}/ads", name="x", adset_id=other_adset, creative={"creative_id": "1"}
    )
    assert response.status_code == 400 and "adset_id" in response.json()["error"]["message"]
    x_account = next(a for a in market.world.accounts.values() if a.platform.value == "x")
    assert graph.get(f"/act_{x_account.id}").json()["error"]["error_subcode"] == 33


def test_a_bearer_token_and_a_correct_appsecret_proof_are_accepted(base: str) -> None:
    creds = credentials_for(SEED).meta
    import httpx

    ok = httpx.get(f"{base}/v21.0/me", headers={"Authorization": f"Bearer {creds.access_token}"})
    assert ok.status_code == 200 and ok.json()["id"]
    proof = hmac.new(creds.app_secret.encode(), creds.access_token.encode(), hashlib.sha256).hexdigest()
    good = httpx.get(
        f"{base}/v25.0/me", params={"access_token": creds.access_token, "appsecret_proof": proof}
    )
    bad = httpx.get(f"{base}/v25.0/me", params={"access_token": creds.access_token, "appsecret_proof": "00"})
    assert good.status_code == 200
    assert bad.status_code == 400 and "appsecret_proof" in bad.json()["error"]["message"]


def test_the_fifth_budget_change_in_an_hour_is_refused_and_changes_nothing(
    graph: Graph, market: Market, account: str
) -> None:
    hour = market.clock.now_hour
    adset = next(s for s in market.world.adsets_of(account[4:]) if s.value_at("daily_budget_micros", hour))
    budget = int(graph.get(f"/{adset.id}", fields="daily_budget").json()["daily_budget"])
    for i in range(4):
        assert graph.post(f"/{adset.id}", daily_budget=budget + 100 * (i + 1)).status_code == 200
    refused = graph.post(f"/{adset.id}", daily_budget=budget + 1000)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 17
    assert graph.get(f"/{adset.id}", fields="daily_budget").json()["daily_budget"] == str(budget + 400)
    assert graph.post(f"/{adset.id}", name="renamed is fine").status_code == 200
    market.advance(hours=1)
    assert graph.post(f"/{adset.id}", daily_budget=budget).status_code == 200


def test_a_budget_below_the_minimum_is_refused(graph: Graph, market: Market, account: str) -> None:
    hour = market.clock.now_hour
    adset = next(s for s in market.world.adsets_of(account[4:]) if s.value_at("daily_budget_micros", hour))
    response = graph.post(f"/{adset.id}", daily_budget=1)
    assert response.status_code == 400
    assert response.json()["error"]["error_subcode"] == 1885272


def test_usage_headers_rise_before_the_first_throttle(market: Market) -> None:
    limits = MetaLimits(
        app_calls_per_hour=10_000,
        account_points=40,
        buc_management_per_hour=10_000,
        buc_insights_per_hour=10_000,
        max_async_runs=5,
    )
    with running_sandbox(market, meta=MetaOptions(limits=limits)) as url:
        graph = Graph(url, credentials_for(SEED).meta.access_token)
        account = graph.get("/me/adaccounts").json()["data"][0]["id"]
        usage = []
        for _ in range(60):
            response = graph.get(f"/{account}/campaigns")
            if response.status_code != 200:
                break
            import json

            usage.append(json.loads(response.headers["x-ad-account-usage"])["acc_id_util_pct"])
        error = response.json()["error"]
        assert error["code"] == 17 and error["error_subcode"] == 2446079 and error["is_transient"]
        assert usage == sorted(usage) and usage[0] < 10 and usage[-1] >= 90
        assert json.loads(response.headers["x-ad-account-usage"])["acc_id_util_pct"] == 100


def test_creating_campaigns_and_ad_sets_with_budgets_where_meta_puts_them(
    graph: Graph, market: Market, account: str
) -> None:
    cbo = graph.post(
        f"/{account}/campaigns",
        name="CBO test",
        objective="OUTCOME_SALES",
        status="ACTIVE",
        special_ad_categories=[],
        daily_budget=15000,
    ).json()["id"]
    plain = graph.post(
        f"/{account}/campaigns", name="Ad set budgets", objective="OUTCOME_SALES", special_ad_categories=[]
    ).json()["id"]
    targeting = {
        "age_min": 25,
        "age_max": 65,
        "geo_locations": {"countries": ["US", "GB"]},
        "publisher_platforms": ["facebook", "instagram"],
    }
    under_cbo = graph.post(
        f"/{account}/adsets",
        name="under CBO",
        campaign_id=cbo,
        targeting=targeting,
        billing_event="IMPRESSIONS",
        optimization_goal="OFFSITE_CONVERSIONS",
    ).json()["id"]
    refused = graph.post(
        f"/{account}/adsets", name="double budget", campaign_id=cbo, targeting=targeting, daily_budget=5000
    )
    assert refused.status_code == 400 and "campaign budget" in refused.json()["error"]["message"]
    own = graph.post(
        f"/{account}/adsets",
        name="own budget",
        campaign_id=plain,
        targeting=targeting,
        daily_budget=4200,
        bid_amount=150,
        bid_strategy="LOWEST_COST_WITH_BID_CAP",
    ).json()["id"]
    read = graph.get(f"/{own}", fields="daily_budget,bid_amount,bid_strategy,targeting,campaign_id").json()
    assert read["daily_budget"] == "4200" and read["bid_amount"] == 150 and read["campaign_id"] == plain
    assert read["targeting"]["age_min"] == 25 and read["targeting"]["geo_locations"]["countries"] == [
        "US",
        "GB",
    ]
    assert "daily_budget" not in graph.get(f"/{under_cbo}", fields="daily_budget").json()
    assert graph.get(f"/{cbo}", fields="daily_budget").json()["daily_budget"] == "15000"
    adset = market.world.adset(own)
    assert adset.value_at("targeting", market.clock.now_hour).placements == ("feed", "stories")
