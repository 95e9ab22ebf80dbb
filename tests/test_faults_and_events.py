"""Faults at the configured rate in the platform's own form; market events in the next hours' figures."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from app.sandbox_runner import running_sandbox
from sandbox.faults import FaultConfig, FaultInjector, FaultKind
from sandbox.market.market import Market
from sandbox.market.segments import Platform
from sandbox.server.credentials import credentials_for
from tests.conftest import small_config
from tests.meta_client import Graph

SEED = 4


def _running_adset(market: Market) -> str:
    hour = market.clock.now_hour
    return next(
        s.id
        for s in market.world.adsets.values()
        if market.world.account(s.account_id).platform is Platform.META
        and s.value_at("daily_budget_micros", hour)
        and market.planner.plan(s.id, hour + 24).active[hour]
    )


@pytest.fixture
def sandbox() -> Iterator[tuple[str, Market]]:
    market = Market(small_config(seed=SEED, accounts=1, ads=60, days=14))
    with running_sandbox(market) as url:
        yield url, market


def _meta(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{url}/v25.0", params={"access_token": credentials_for(SEED).meta.access_token}, timeout=30
    )


def test_faults_are_drawn_at_the_configured_rate_and_reproducibly() -> None:
    a, b = FaultInjector(), FaultInjector()
    for injector in (a, b):
        injector.configure(Platform.META, FaultConfig(rate=0.25, seed=9))
    draws = [a.next_fault(Platform.META) for _ in range(2000)]
    assert draws == [b.next_fault(Platform.META) for _ in range(2000)]
    hits = sum(d is not None for d in draws)
    assert 400 <= hits <= 600
    assert {d for d in draws if d is not None} == set(FaultKind)
    assert all(a.next_fault(Platform.X) is None for _ in range(100))  # other platforms untouched
    assert a.traffic()["meta"]["total"] == 2000 and a.traffic()["x"]["total"] == 100


@pytest.mark.parametrize(
    ("kind", "status", "check"),
    [
        (
            FaultKind.RATE_LIMIT,
            400,
            lambda r: r.json()["error"]["code"] == 17 and r.json()["error"]["is_transient"],
        ),
        (FaultKind.SERVER_ERROR, 500, lambda r: r.json()["error"]["code"] == 2),
        (FaultKind.EXPIRED_TOKEN, 400, lambda r: r.json()["error"]["error_subcode"] == 463),
        (FaultKind.MALFORMED, 200, lambda r: r.headers["content-type"].startswith("text/html")),
        (FaultKind.TRUNCATED, 200, lambda r: _not_json(r.text)),
        (FaultKind.SLOW, 200, lambda r: r.elapsed.total_seconds() >= 0.3 and r.json()["data"]),
    ],
)
def test_each_fault_reaches_a_meta_client_in_metas_own_form(
    sandbox: tuple[str, Market], kind: FaultKind, status: int, check
) -> None:  # type: ignore[no-untyped-def]
    url, _ = sandbox
    admin = httpx.put(
        f"{url}/_sandbox/faults/meta", json={"rate": 1.0, "kinds": [kind.value], "slow_seconds": 0.3}
    )
    assert admin.status_code == 200, admin.text
    with _meta(url) as meta:
        response = meta.get("/me/adaccounts")
    assert response.status_code == status, response.text
    assert check(response)
    assert httpx.get(f"{url}/_sandbox/faults").json()["meta"]["faults_injected"] == {kind.value: 1}


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def test_with_faults_switched_off_nothing_differs_from_a_clean_run() -> None:
    bodies = []
    for toggle in (False, True):
        market = Market(small_config(seed=SEED, accounts=1, ads=20, days=14))
        with running_sandbox(market) as url:
            meta = Graph(url, credentials_for(SEED).meta.access_token)
            if toggle:
                httpx.put(f"{url}/_sandbox/faults/meta", json={"rate": 0.5})
                httpx.delete(f"{url}/_sandbox/faults/meta")
            account = meta.get("/me/adaccounts").json()["data"][0]["id"]
            got = [
                meta.get(f"/{account}/ads", fields="id,name,effective_status", limit=100).json(),
                meta.get(
                    f"/{account}/insights",
                    level="ad",
                    time_increment=1,
                    limit=500,
                    time_range=json.dumps({"since": "2026-11-18", "until": "2026-11-24"}),
                ).json(),
            ]
            bodies.append(got)
    assert bodies[0] == bodies[1]


def test_traffic_counts_requests_per_platform(sandbox: tuple[str, Market]) -> None:
    url, _ = sandbox
    with _meta(url) as meta:
        for _ in range(5):
            meta.get("/me")
    traffic = httpx.get(f"{url}/_sandbox/traffic").json()
    assert traffic["meta"]["total"] == 5 and traffic["meta"]["last_second"] >= 1
    assert traffic["tiktok"]["total"] == 0


def test_a_spend_spike_shows_in_the_next_hours_figures(sandbox: tuple[str, Market]) -> None:
    url, market = sandbox
    control = Market(small_config(seed=SEED, accounts=1, ads=60, days=14))
    adset = _running_adset(market)
    account = market.world.adset(adset).account_id
    assert (
        httpx.post(
            f"{url}/_sandbox/events", json={"event": "spend_spike", "id": adset, "factor": 4, "hours": 12}
        ).status_code
        == 200
    )
    for m in (market, control):
        m.advance(hours=12)
    ads = {a.id for a in market.world.ads_of_adset(adset)}

    def spend(m: Market) -> int:
        rows = m.hourly(account, m.now().date).to_rows()
        return sum(r["spend_micros"] for r in rows if r["ad_id"] in ads)

    assert spend(market) > 2.5 * spend(control)
    market.advance(hours=12)
    control.advance(hours=12)
    day = market.now().date
    after = sum(r["spend_micros"] for r in market.hourly(account, day).to_rows() if r["ad_id"] in ads)
    before = sum(r["spend_micros"] for r in control.hourly(account, day).to_rows() if r["ad_id"] in ads)
    assert after == before  # the spike ended after 12 hours


def test_delivery_drop_disapproval_and_a_stopped_campaign_show_in_figures_and_statuses(
    sandbox: tuple[str, Market],
) -> None:
    url, market = sandbox
    adset = market.world.adset(_running_adset(market))
    account = adset.account_id
    live_ad = next(
        a
        for a in market.world.ads_of(account)
        if a.adset_id != adset.id
        and market.planner.plan(a.adset_id, market.clock.now_hour + 24).active[market.clock.now_hour]
        and a.value_at("status", market.clock.now_hour) == "ACTIVE"
    )
    other_campaign = next(
        c for c in market.world.campaigns_of(account) if c.id not in (adset.campaign_id, live_ad.campaign_id)
    )
    for event in (
        {"event": "delivery_drop", "id": adset.id},
        {"event": "disapprove_ad", "id": live_ad.id},
        {"event": "stop_campaign", "id": other_campaign.id},
    ):
        assert httpx.post(f"{url}/_sandbox/events", json=event).status_code == 200
    market.advance(days=1)
    day = market.now().date - dt.timedelta(days=1)
    rows = market.daily(account, day, day).to_rows()
    delivered = {r["ad_id"] for r in rows}
    assert not delivered & {a.id for a in market.world.ads_of_adset(adset.id)}
    assert live_ad.id not in delivered
    assert not delivered & {a.id for a in market.world.ads_of(account) if a.campaign_id == other_campaign.id}
    assert delivered  # the rest of the account still delivers
    with _meta(url) as meta:
        fields = {"fields": "effective_status"}
        assert meta.get(f"/{live_ad.id}", params=fields).json()["effective_status"] == "DISAPPROVED"
        assert meta.get(f"/{other_campaign.id}", params=fields).json()["effective_status"] == "WITH_ISSUES"


def test_bad_fault_and_event_requests_are_refused(sandbox: tuple[str, Market]) -> None:
    url, market = sandbox
    assert httpx.put(f"{url}/_sandbox/faults/myspace", json={"rate": 0.1}).status_code == 400
    assert httpx.put(f"{url}/_sandbox/faults/meta", json={"rate": 1.5}).status_code == 400
    assert (
        httpx.put(f"{url}/_sandbox/faults/meta", json={"rate": 0.1, "kinds": ["gremlins"]}).status_code == 400
    )
    assert httpx.post(f"{url}/_sandbox/events", json={"event": "meteor", "id": "1"}).status_code == 400
    assert (
        httpx.post(f"{url}/_sandbox/events", json={"event": "disapprove_ad", "id": "nope"}).status_code == 404
    )
    assert market.log == []
