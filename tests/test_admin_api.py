"""The admin API over real HTTP (uvicorn on a free loopback port)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from app.sandbox_runner import running_sandbox
from sandbox.market.market import Market
from tests.conftest import small_config


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox(Market(small_config(accounts=1, ads=20))) as url:
        yield url


@pytest.fixture
def client(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=30) as c:
        yield c


def test_world_lists_tokens_accounts_currencies_and_the_simulated_date(client: httpx.Client) -> None:
    world = client.get("/_sandbox/world").json()
    assert {a["platform"] for a in world["accounts"]} == {"meta", "x", "tiktok"}
    assert all(a["currency"] and a["timezone"] for a in world["accounts"])
    assert world["credentials"]["meta"]["access_token"].startswith("EAA")
    assert set(world["credentials"]["x"]) == {
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
    }
    assert world["today"] == "2026-11-25"
    assert world["base_urls"]["tiktok"].endswith("/open_api/v1.3")


def test_advancing_the_clock_produces_ledger_rows_and_truth(client: httpx.Client) -> None:
    before = client.get("/_sandbox/clock").json()
    after = client.post("/_sandbox/clock/advance", json={"days": 1, "hours": 6}).json()
    assert after["hour_index"] == before["hour_index"] + 30
    assert after["hours_done"] == (before["hours_done"] + 6) % 24
    account = client.get("/_sandbox/world").json()["accounts"][0]["id"]
    day = dt.date.fromisoformat(after["date"])
    ledger = client.get(
        "/_sandbox/ledger",
        params={"account_id": account, "since": str(day - dt.timedelta(days=1)), "until": str(day)},
    ).json()
    assert ledger["rows"] and ledger["totals"]["impressions"] == sum(r["impressions"] for r in ledger["rows"])
    hourly = client.get(
        "/_sandbox/ledger",
        params={"account_id": account, "since": str(day), "until": str(day), "breakdown": "hour"},
    ).json()
    assert {r["hour"] for r in hourly["rows"]} <= set(range(after["hours_done"]))
    paged = client.get(
        "/_sandbox/ledger",
        params={
            "account_id": account,
            "since": str(day - dt.timedelta(days=3)),
            "until": str(day),
            "breakdown": "segment",
            "limit": 50,
        },
    ).json()
    assert len(paged["rows"]) == 50 and paged["next_offset"] == 50
    ads = client.get("/_sandbox/truth/ads", params={"account_id": account, "segments": "true"}).json()
    assert len(ads[0]["segments"]) == 72 and 0 < ads[0]["ctr"] < 0.2
    adsets = client.get("/_sandbox/truth/adsets", params={"account_id": account}).json()
    assert adsets[0]["response"]["scale"] > 0 and "win_rate" in adsets[0]["auction"]
    elements = client.get("/_sandbox/truth/elements", params={"account_id": account}).json()
    assert {e["kind"] for e in elements} == {"headline", "body", "image", "cta"}
    currency = ledger["currency"]
    oracle = client.get(
        "/_sandbox/truth/oracle", params={"currency": currency, "total_budget_micros": 200 * 10**6}
    ).json()
    assert oracle["expected_conversions"] >= oracle["equal_split_expected_conversions"]


def test_changes_over_http_are_applied_and_logged(client: httpx.Client) -> None:
    account = client.get("/_sandbox/world").json()["accounts"][0]["id"]
    adset = client.get("/_sandbox/truth/adsets", params={"account_id": account}).json()[0]["adset_id"]
    entry = client.post("/_sandbox/changes", json={"kind": "update_adset", "id": adset, "status": "PAUSED"})
    assert entry.status_code == 200, entry.text
    assert client.get("/_sandbox/changes").json()[-1]["change"]["id"] == adset


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "needle"),
    [
        ("POST", "/_sandbox/clock/advance", {"days": -1}, 400, "forward"),
        ("POST", "/_sandbox/clock/advance", {"days": "soon"}, 400, "days"),
        ("GET", "/_sandbox/nowhere", None, 404, "no route"),
        ("DELETE", "/_sandbox/world", None, 405, "not allowed"),
        (
            "GET",
            "/_sandbox/ledger?account_id=123&since=2026-01-01&until=2026-01-02",
            None,
            404,
            "unknown account",
        ),
        ("GET", "/_sandbox/ledger?account_id=x&since=2026-02-30&until=2026-03-01", None, 400, "since"),
        ("GET", "/_sandbox/truth/oracle?currency=XXX&total_budget_micros=5", None, 400, "unknown currency"),
        ("POST", "/_sandbox/changes", {"kind": "teleport"}, 400, "kind"),
        ("POST", "/_sandbox/changes", {"kind": "update_adset", "id": "nope"}, 404, "unknown adset"),
    ],
)
def test_bad_admin_requests_get_clear_errors_and_change_nothing(
    client: httpx.Client, method: str, path: str, payload: object, status: int, needle: str
) -> None:
    clock = client.get("/_sandbox/clock").json()
    changes = len(client.get("/_sandbox/changes").json())
    response = client.request(method, path, json=payload)
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]["message"]
    assert client.get("/_sandbox/clock").json() == clock
    assert len(client.get("/_sandbox/changes").json()) == changes


def test_ledger_with_reversed_dates_is_refused(client: httpx.Client) -> None:
    account = client.get("/_sandbox/world").json()["accounts"][0]["id"]
    response = client.get(
        "/_sandbox/ledger", params={"account_id": account, "since": "2026-11-20", "until": "2026-11-10"}
    )
    assert response.status_code == 400
    assert "after" in response.json()["error"]["message"]
