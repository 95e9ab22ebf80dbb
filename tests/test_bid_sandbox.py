"""Bids against the sandbox: the analyst's bid change for a capped ad set reaches the platform only as an
approved action, and the market then delivers as its auction says a higher (or lower) cap should: more
(or fewer) impressions than the same world left alone, day by day with the same randomness."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from agents.actions import BidChange
from agents.analyst import AnalystConfig, analyse
from agents.executor import execute
from app import composition
from app.cli import app
from app.sandbox_runner import running_sandbox
from app.settings import load_settings
from sandbox.market.market import Market
from storage.audit import AuditLog
from storage.models import AdSetDay, DailyMetric
from tests.conftest import small_config

SEED = 7


def config() -> object:
    return small_config(seed=SEED, accounts=1, ads=30, days=28)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Market, Engine]]:
    from storage.db import make_engine

    market = Market(config())  # type: ignore[arg-type]
    with running_sandbox(market) as url:
        monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", url)
        monkeypatch.setenv("ADCLUSTER_PLATFORMS", '["meta", "x", "tiktok"]')
        monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
        db = f"sqlite:///{tmp_path / 'w.db'}"
        monkeypatch.setenv("ADCLUSTER_DATABASE_URL", db)
        assert CliRunner().invoke(app, ["sync", "--days", "28", "--no-segments"]).exit_code == 0
        engine = make_engine(db)
        yield market, engine
        engine.dispose()


def test_a_bid_change_moves_delivery_the_way_the_auction_says(world: tuple[Market, Engine]) -> None:
    market, engine = world
    with Session(engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one()
        assert session.exec(select(func.count()).select_from(AdSetDay)).one() > 0  # the sync kept settings
    analysis = analyse(engine, until=last - dt.timedelta(days=1), config=AnalystConfig(days=28))
    bids = [a for a in analysis.actions if isinstance(a, BidChange) and a.before_micros is not None]
    assert bids, analysis.notes
    change = bids[0]
    assert abs(change.after_micros - change.before_micros) <= 0.2 * change.before_micros + 10_000
    audit = AuditLog(engine)
    audit.propose([change], run_id="test")
    audit.decide(change.id, verdict="approve", by="tester", how="cli")

    async def apply() -> str:
        settings = load_settings()
        sandbox = await composition.sandbox_world(settings)
        adapters = composition.build_adapters(
            settings, sandbox, platforms=[change.entity.platform], sink=None
        )
        try:
            accounts = [a for adapter in adapters.values() for a in await adapter.accounts()]
            report = await execute([change], adapters, audit, accounts=accounts)
        finally:
            for adapter in adapters.values():
                await adapter.aclose()
        return report.outcomes[0].outcome

    assert asyncio.run(apply()) == "executed"
    alone = Market(config())  # type: ignore[arg-type]
    start = market.now().date
    for m in (market, alone):
        m.advance(days=3)
    adset = market.world.adset(change.entity.platform_id)

    def impressions(m: Market) -> int:
        rows = m.daily(adset.account_id, start, start + dt.timedelta(days=2)).to_rows()
        return sum(int(r["impressions"]) for r in rows if m.world.ads[str(r["ad_id"])].adset_id == adset.id)

    changed, untouched = impressions(market), impressions(alone)
    if change.after_micros > change.before_micros:
        assert changed > untouched
    else:
        assert changed < untouched
