"""Audience exclusions against the sandbox: the segment the analyst calls dearer is dearer in the
market's ground truth, the exclusion reaches the platform only as an approved TargetingChange, and the
market then delivers nothing to that segment while the rest of the ad set keeps delivering."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from agents.actions import TargetingChange
from agents.analyst import AnalystConfig, analyse
from agents.executor import execute
from app.cli import app
from app.sandbox_runner import running_sandbox
from sandbox.market.ledger import segment_values
from sandbox.market.market import Market
from sandbox.market.segments import DIMENSIONS, SEGMENT_INDEX
from sandbox.server.credentials import credentials_for
from storage.audit import AuditLog
from storage.models import DailyMetric
from tests.conftest import small_config
from tools.platforms.meta import MetaAdapter, MetaConfig

SEED = 9
FIELD_DIMENSION = {"ages": "age", "genders": "gender", "countries": "country", "placements": "placement"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Market, Engine]]:
    from storage.db import make_engine

    market = Market(small_config(seed=SEED, accounts=1, ads=30, days=28, platforms=("meta",)))
    with running_sandbox(market) as url:
        monkeypatch.setenv("ADCLUSTER_SANDBOX_URL", url)
        monkeypatch.setenv("ADCLUSTER_PLATFORMS", '["meta"]')
        monkeypatch.setenv("ADCLUSTER_DATA_DIR", str(tmp_path / "data"))
        db = f"sqlite:///{tmp_path / 'warehouse.db'}"
        monkeypatch.setenv("ADCLUSTER_DATABASE_URL", db)
        result = CliRunner().invoke(app, ["sync", "--days", "28"])
        assert result.exit_code == 0, result.output
        engine = make_engine(db)
        yield url, market, engine
        engine.dispose()


def _true_cpa(market: Market, adset_id: str, dimension: str, values: set[str]) -> float:
    """The market's relative cost per conversion over the ad set's cells with those values."""
    truth = market.truth.adset(adset_id)
    names = DIMENSIONS[dimension]
    cells = np.isin(SEGMENT_INDEX[dimension], [names.index(v) for v in values])
    cost = (truth.volume * truth.cpm_factor)[cells].sum()
    conversions = (truth.volume * np.exp(truth.log_ctr + truth.log_cvr))[cells].sum()
    return float(cost / conversions)


def test_an_exclusion_is_right_by_the_ground_truth_and_stops_delivery_to_the_segment(
    world: tuple[str, Market, Engine],
) -> None:
    url, market, engine = world
    with Session(engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one()
    analysis = analyse(engine, until=last, config=AnalystConfig(days=28))
    changes = [a for a in analysis.actions if isinstance(a, TargetingChange)]
    assert changes, analysis.notes
    for change in changes:
        ((field, excluded),) = change.excluded.items()
        dimension = FIELD_DIMENSION[field]
        rest = set(DIMENSIONS[dimension]) - set(excluded)
        adset = change.entity.platform_id
        assert _true_cpa(market, adset, dimension, set(excluded)) > _true_cpa(market, adset, dimension, rest)
        assert change.excluded_spend_share <= 0.3 and not change.spends_more
        assert change.evidence and all(e.sample_size is not None for e in change.evidence)

    change = changes[0]
    ((field, excluded),) = change.excluded.items()
    dimension = FIELD_DIMENSION[field]
    audit = AuditLog(engine)
    audit.propose([change], run_id="test")
    audit.decide(change.id, verdict="approve", by="tester", how="cli")

    async def apply() -> str:
        adapter = MetaAdapter(MetaConfig(base_url=url, access_token=credentials_for(SEED).meta.access_token))
        try:
            report = await execute([change], {"meta": adapter}, audit, accounts=await adapter.accounts())
        finally:
            await adapter.aclose()
        return report.outcomes[0].outcome

    assert asyncio.run(apply()) == "executed"
    start = market.now().date
    market.advance(days=2)
    frame = market.daily(
        change.entity.account_id, start + dt.timedelta(days=1), start + dt.timedelta(days=1), segments=True
    )
    adset_ads = {a.id for a in market.world.ads.values() if a.adset_id == change.entity.platform_id}
    mine = np.isin(np.array(frame.ad_ids)[frame.columns["ad"]], list(adset_ads))
    values = segment_values(frame, dimension)
    out = np.isin(values, [DIMENSIONS[dimension].index(v) for v in excluded])
    assert frame.columns["impressions"][mine & out].sum() == 0
    assert frame.columns["impressions"][mine & ~out].sum() > 0
    # The audit log holds the executed change with what the platform showed before and after.
    assert audit.get(change.id).status == "executed"


def test_chat_asks_which_audiences_waste_money_and_gets_the_analysts_exclusions(
    world: tuple[str, Market, Engine],
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from graph.build import build
    from tests.test_graph import Fakes
    from tools.llm.fake import FakeChatServer, Reply

    _, _, engine = world
    with Session(engine) as session:
        last = session.exec(select(func.max(DailyMetric.day))).one()
    expected = {
        a.id
        for a in analyse(engine, until=last, config=AnalystConfig(days=28)).actions
        if isinstance(a, TargetingChange)
    }
    fakes = Fakes()

    async def go() -> dict:  # type: ignore[type-arg]
        fake = FakeChatServer([Reply.tool("audience_waste", {"platform": "meta", "days": 28})])
        async with fake.client() as llm:
            ctx = fakes.context(engine)
            ctx.until, ctx.llm = last, llm
            graph = build(InMemorySaver())
            return await graph.ainvoke(
                {"request": "which audiences waste money on Facebook over 28 days?"},
                {"configurable": {"thread_id": "aud"}},
                context=ctx,
            )

    first = asyncio.run(go())
    proposed = {p["action"]["id"] for p in first["__interrupt__"][0].value["proposals"]}
    assert proposed == expected and fakes.executed == []
    assert "each exclusion waits for your approval" in first["answer"]
