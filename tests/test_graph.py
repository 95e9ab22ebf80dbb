"""The cycle graph on a warehouse synced from the sandbox: it stops at the approval interrupt with the
analyst's proposals, survives a restart through its SQLite checkpoint, and executes only what a person
approved (an edit goes through the guardrails again)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from agents.actions import Action, BudgetChange
from agents.analyst import AnalystConfig
from agents.planner import PlanItem
from app.cli import app
from graph.build import build
from graph.context import CycleContext
from sandbox.market.market import Market
from storage.models import DailyMetric

UNTIL = dt.date(2026, 11, 24)


class Fakes:
    def __init__(self, *, refuse_over: int | None = None) -> None:
        self.executed: list[Action] = []
        self.records: list[tuple[str, int]] = []
        self.refuse_over = refuse_over

    def guard(self, actions: Sequence[Action]) -> list[PlanItem]:
        out = []
        for a in actions:
            too_big = (
                isinstance(a, BudgetChange)
                and self.refuse_over is not None
                and a.after_micros > self.refuse_over
            )
            out.append(
                PlanItem(
                    action=a,
                    verdict="refused" if too_big else "allowed",
                    reasons=["over the cap"] if too_big else [],
                )
            )
        return out

    async def execute(self, actions: Sequence[Action]) -> list[dict[str, Any]]:
        self.executed.extend(actions)
        return [{"id": a.id, "status": "executed"} for a in actions]

    def record(self, kind: str, rows: Sequence[dict[str, Any]]) -> None:
        self.records.append((kind, len(rows)))

    def context(self, engine: Engine) -> CycleContext:
        return CycleContext(
            engine=engine,
            until=UNTIL,
            guard=self.guard,
            execute=self.execute,
            record=self.record,
            analyst=AnalystConfig(days=14),
        )


@pytest.fixture
def synced(configured: Market, engine: Engine) -> Engine:
    assert CliRunner().invoke(app, ["sync", "--days", "14"]).exit_code == 0
    return engine


async def _start(path: Path, ctx: CycleContext, thread: str) -> dict[str, Any]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = build(saver)
        return await graph.ainvoke({"request": None}, {"configurable": {"thread_id": thread}}, context=ctx)


async def _resume(
    path: Path, ctx: CycleContext, thread: str, decisions: list[dict[str, Any]]
) -> dict[str, Any]:
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = build(saver)  # a new graph and connection: as another process would
        return await graph.ainvoke(
            Command(resume={"decisions": decisions}), {"configurable": {"thread_id": thread}}, context=ctx
        )


def test_the_cycle_waits_for_a_person_and_applies_only_what_was_approved(
    synced: Engine, tmp_path: Path
) -> None:
    fakes = Fakes()
    ctx = fakes.context(synced)
    first = asyncio.run(_start(tmp_path / "ckpt.db", ctx, "t1"))
    (question,) = first["__interrupt__"]
    waiting = question.value["proposals"]
    assert waiting and fakes.executed == [] and ("proposed", len(waiting)) in fakes.records
    budget = next(p for p in waiting if p["action"]["kind"] == "budget_change")
    others = [p for p in waiting if p is not budget]
    decisions = [{"id": budget["action"]["id"], "decision": "approve", "by": "ana"}] + [
        {"id": p["action"]["id"], "decision": "reject"} for p in others
    ]
    done = asyncio.run(_resume(tmp_path / "ckpt.db", ctx, "t1", decisions))
    assert [a.id for a in fakes.executed] == [budget["action"]["id"]]
    assert "1 approved" in done["summary"] and "1 applied" in done["summary"]
    snap = first["snapshot"]
    with Session(synced) as session:
        ads_with_figures = session.exec(select(func.count(func.distinct(DailyMetric.ad_id)))).one()
    assert snap["ads"]["total"] == ads_with_figures > 0 and snap["freshness"][0]["errors"] == []
    assert all(f"seen: {f}" in done["summary"] for f in snap["findings"][:5])


def test_an_edit_is_checked_by_the_guardrails_again(synced: Engine, tmp_path: Path) -> None:
    fakes = Fakes(refuse_over=500_000_000)
    ctx = fakes.context(synced)
    first = asyncio.run(_start(tmp_path / "ckpt.db", ctx, "t2"))
    budget = next(
        p for p in first["__interrupt__"][0].value["proposals"] if p["action"]["kind"] == "budget_change"
    )
    done = asyncio.run(
        _resume(
            tmp_path / "ckpt.db",
            ctx,
            "t2",
            [{"id": budget["action"]["id"], "decision": "edit", "value": 1000}],
        )
    )
    assert fakes.executed == []  # 1,000 a day is over the guardrail: refused, not applied
    assert done["results"][0]["status"] == "refused"
    fine = asyncio.run(_start(tmp_path / "ckpt2.db", ctx, "t3"))
    budget = next(
        p for p in fine["__interrupt__"][0].value["proposals"] if p["action"]["kind"] == "budget_change"
    )
    asyncio.run(
        _resume(
            tmp_path / "ckpt2.db",
            ctx,
            "t3",
            [{"id": budget["action"]["id"], "decision": "edit", "value": 31.5}],
        )
    )
    (edited,) = fakes.executed
    assert (
        isinstance(edited, BudgetChange)
        and edited.after_micros == 31_500_000
        and edited.proposed_by == f"cli (edit of {budget['action']['id']})"
    )


def test_unknown_or_doubled_answers_are_refused_and_the_thread_still_waits(
    synced: Engine, tmp_path: Path
) -> None:
    fakes = Fakes()
    ctx = fakes.context(synced)
    first = asyncio.run(_start(tmp_path / "ckpt.db", ctx, "t4"))
    some = first["__interrupt__"][0].value["proposals"][0]["action"]["id"]
    unknown = asyncio.run(_resume(tmp_path / "ckpt.db", ctx, "t4", [{"id": "nope", "decision": "approve"}]))
    assert "decision 1: no waiting proposal has id 'nope'" in unknown["__interrupt__"][0].value["error"]
    twice = [{"id": some, "decision": "approve"}, {"id": some, "decision": "reject"}]
    doubled = asyncio.run(_resume(tmp_path / "ckpt.db", ctx, "t4", twice))
    assert f"{some} is decided twice (decisions 1 and 2)" in doubled["__interrupt__"][0].value["error"]
    proposals = first["__interrupt__"][0].value["proposals"]
    budget = next(p["action"]["id"] for p in proposals if p["action"]["kind"] == "budget_change")
    status = next(p["action"]["id"] for p in proposals if p["action"]["kind"] == "status_change")
    for answer, error in (
        ({"id": budget, "decision": "edit", "value": 31.555}, "not a whole number of USD minor units"),
        ({"id": budget, "decision": "edit", "value": -5}, "must be positive"),
        ({"id": budget, "decision": "edit"}, "an edit needs a value"),
        ({"id": status, "decision": "edit", "value": 10}, "is a status change: approve or reject it"),
        ({"id": budget, "decision": "maybe"}, "decisions.0.decision: Input should be 'approve'"),
    ):
        refused = asyncio.run(_resume(tmp_path / "ckpt.db", ctx, "t4", [answer]))
        assert error in refused["__interrupt__"][0].value["error"], (answer, refused["__interrupt__"])
    assert fakes.executed == []
    asyncio.run(_resume(tmp_path / "ckpt.db", ctx, "t4", [{"id": some, "decision": "approve"}]))
    assert [a.id for a in fakes.executed] == [some]


def test_the_wiring_reads_as_the_diagram() -> None:
    mermaid = build().get_graph().draw_mermaid()
    for edge in (
        "__start__ -.-> perceive",
        "__start__ -.-> chat",
        "__start__ -.-> plan",
        "chat -.-> plan",
        "chat -.-> perceive",
        "chat -.-> __end__",
        "perceive --> analyse",
        "analyse --> create",
        "create --> plan",
        "approve --> execute",
        "execute --> report",
        "report --> __end__",
    ):
        assert edge in mermaid
    assert "plan -.-> approve" in mermaid and "plan -.-> execute" in mermaid


def test_langgraph_json_names_a_factory_that_builds_the_graph() -> None:
    import importlib
    import json

    spec = json.loads(Path("langgraph.json").read_text())["graphs"]["adcluster_cycle"]
    path, name = spec.split(":")
    module = importlib.import_module(path.removeprefix("./").removesuffix(".py").replace("/", "."))
    assert set(getattr(module, name)().get_graph().nodes) >= {
        "perceive",
        "analyse",
        "plan",
        "approve",
        "execute",
        "report",
    }
