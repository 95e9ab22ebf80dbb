"""Alerts against the sandbox: a spend spike, a delivery drop and a disapproval injected into the market
are alerted on the next cycle over the platforms' APIs (Meta, X, TikTok); a webhook that is down keeps
them for the next delivery; the graph's report leads with them. (benchmarks/alerts.py runs 20 seeds.)"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.sandbox_runner import running_sandbox
from sandbox.market.changes import MarketEvent
from sandbox.market.market import Market
from tests.conftest import small_config

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def market(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Market]:
    world = Market(small_config(seed=5, accounts=1, ads=30, days=36))
    with running_sandbox(world) as url:
        monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", url)
        monkeypatch.setenv("ADCLUSTER_PLATFORMS", '["meta", "x", "tiktok"]')
        monkeypatch.setenv("ADCLUSTER_NEW_ADS_PER_CYCLE", "0")
        monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("ADCLUSTER_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
        monkeypatch.setenv("ADCLUSTER_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{_closed_port()}/hook")
        yield world


def _alerts(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["alerts", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_injected_market_events_are_alerted_on_the_next_cycle(market: Market) -> None:
    assert runner.invoke(app, ["sync", "--days", "36", "--no-segments"]).exit_code == 0
    quiet = _alerts()
    hour = market.clock.now_hour
    delivering = [
        s
        for s in sorted(market.world.adsets.values(), key=lambda s: s.id)
        if s.value_at("status", hour) == "ACTIVE"
        and market.world.campaign(s.campaign_id).value_at("status", hour) == "ACTIVE"
    ]
    spiked, dropped = delivering[0], delivering[-1]
    ad = next(
        a
        for a in sorted(market.world.ads.values(), key=lambda a: a.id)
        if a.value_at("status", hour) == "ACTIVE"
        and not a.disapproved
        and a.adset_id not in (spiked.id, dropped.id)
    )
    for event in (
        MarketEvent(event="spend_spike", id=spiked.id, factor=3.0),
        MarketEvent(event="delivery_drop", id=dropped.id),
        MarketEvent(event="disapprove_ad", id=ad.id),
    ):
        market.apply(event)
    market.advance(days=1)
    assert runner.invoke(app, ["sync", "--days", "3", "--no-segments"]).exit_code == 0
    raised = _alerts()
    on = {(a["kind"], a["platform_id"]) for a in raised["alerts"]}
    assert ("delivery_drop", dropped.id) in on
    assert ("ad_disapproved", ad.id) in on
    assert ("spend_spike", spiked.id) in on or ("intraday_overspend", spiked.id) in on
    assert len(raised["alerts"]) <= len(quiet["alerts"]) + 4  # the events, and little else
    # The webhook is down: the delivery failed, every alert is kept for the next one.
    assert raised["delivery"]["failed"] >= 3 and "webhook failed" in raised["delivery"]["error"]
    assert {a["status"] for a in raised["alerts"]} <= {"failed", "repeat"}
    history = _alerts("--history", "2")
    assert {a["id"] for a in raised["alerts"]} <= {a["id"] for a in history["alerts"]}
    # The cycle's report leads with the alerts (the cycle's proposals rejected to reach the report).
    cycle = runner.invoke(app, ["run", "--no-sync", "--json"])
    assert cycle.exit_code == 0, cycle.output
    first = json.loads(cycle.stdout.strip().splitlines()[-1])
    done = first
    if first["waiting"]:
        answered = runner.invoke(app, ["approvals", "reject", "--all", "--thread", first["thread"], "--json"])
        assert answered.exit_code == 0, answered.output
        done = json.loads(answered.stdout.strip().splitlines()[-1])
    assert "alert (critical)" in done["summary"]
