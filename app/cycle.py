"""A cycle's parts wired from settings: the warehouse, the adapters, the audit log, the guardrails and
policy, the executor and the checkpointer; `open_cycle` yields the compiled graph and its context."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import TypeAdapter

from agents.actions import Action
from agents.executor import execute as run_executor
from agents.planner import PlanItem, guard_context, make_guard
from app import composition
from app.settings import Settings
from graph.build import build
from graph.context import CycleContext
from storage.audit import AuditLog
from storage.audit_types import NotPendingError
from tools.alert_store import raise_and_deliver
from tools.creative.library import CreativeLibrary
from tools.llm.client import LLMClient

_ACTION = TypeAdapter(Action)


@dataclass
class Cycle:
    graph: CompiledStateGraph
    context: CycleContext
    audit: AuditLog

    def config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    async def answer(self, thread_id: str, decisions: list[dict[str, Any]]) -> dict[str, Any]:
        """Resume a waiting thread with answers to some of its proposals; the ones not answered are
        asked again on the same thread (through the guardrails again) instead of being left to expire.
        Returns the answered turn's result, with the new question (if any) as its `__interrupt__`."""
        from langgraph.types import Command

        from graph.nodes import given_input

        config = self.config(thread_id)
        state = await self.graph.aget_state(config)
        asked = [p for task in state.tasks for i in task.interrupts for p in i.value["proposals"]]
        result = await self.graph.ainvoke(
            Command(resume={"decisions": decisions}), config, context=self.context
        )
        if result.get("__interrupt__"):
            return result  # the answer was refused (the question carries why): nothing was applied
        answered = {d["id"] for d in decisions}
        rest = [p["action"] for p in asked if p["action"]["id"] not in answered]
        if not rest:
            return result
        again = await self.graph.ainvoke(given_input(rest), config, context=self.context)
        return {**result, "__interrupt__": again.get("__interrupt__") or []}


@asynccontextmanager
async def _checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver]:
    """PostgreSQL when the warehouse is there (the same database, langgraph's own tables), else a SQLite
    file beside the warehouse."""
    url = settings.warehouse_url
    if url.startswith("postgresql"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(
            re.sub(r"^postgresql\+\w+://", "postgresql://", url)
        ) as saver:
            await saver.setup()
            yield saver
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.data_dir / "checkpoints.db")) as saver:
        yield saver


@asynccontextmanager
async def open_cycle(
    settings: Settings, *, thread_id: str, llm: LLMClient | None = None
) -> AsyncIterator[Cycle]:
    """The graph and its context for one thread; `llm` serves chat requests (a cycle needs none)."""
    engine = composition.warehouse(settings)
    audit = AuditLog(engine)
    world = await composition.sandbox_world(settings)
    adapters = composition.build_adapters(settings, world, platforms=list(settings.platforms), sink=None)
    guardrails, policy = composition.guardrails_and_policy(settings)
    try:
        accounts = [a for adapter in adapters.values() for a in await adapter.accounts()]
        today = composition.today_for(world)
        until = min((today(a) for a in accounts), default=dt.date.today()) - dt.timedelta(days=1)
        guard = make_guard(engine, guardrails, policy, last_change=audit.last_change)

        def executor_guard(action: Action, _audit: AuditLog) -> str | None:
            context = guard_context(
                engine, [action], now=dt.datetime.now(dt.UTC), last_change=audit.last_change
            )
            (verdict,) = guardrails.check_all([action], context)
            if verdict.outcome == "allowed" and verdict.executable:
                return None
            return verdict.summary()

        async def execute(actions: Sequence[Action]) -> list[dict[str, Any]]:
            report = await run_executor(
                actions, adapters, audit, accounts=accounts, dry_run=guardrails.dry_run, guard=executor_guard
            )
            done = {"executed", "found"}
            return [
                {"id": o.action_id, "status": "executed" if o.outcome in done else o.outcome, "note": o.note}
                for o in report.outcomes
            ]

        def record(kind: str, rows: Sequence[dict[str, Any]]) -> dict[str, str] | None:
            if kind == "proposed":
                items = [PlanItem.model_validate(r) for r in rows]
                records = audit.propose(
                    [i.action for i in items if i.verdict != "refused"],
                    thread_id=thread_id,
                    expires_in=policy.proposal_ttl,
                )
                return {r.id: str(r.status) for r in records}
            refused: dict[str, str] = {}
            for row in rows:
                edited = row.get("edited_action")
                try:
                    audit.decide(
                        row["id"],
                        verdict=row["decision"],
                        by=row.get("by") or "cli",
                        how=row.get("how") or "cli",
                        note=row.get("note"),
                        edited=_ACTION.validate_python(edited) if edited else None,
                    )
                except NotPendingError as exc:
                    # Expired, superseded by a later cycle, or answered otherwise meanwhile: not applied.
                    refused[row["id"]] = str(exc)
            return refused

        async def watch(judged: dt.date) -> list[dict[str, Any]]:
            webhook = str(settings.alert_webhook_url) if settings.alert_webhook_url else None
            records, report = await raise_and_deliver(
                engine,
                judged=judged,
                now=dt.datetime.now(dt.UTC),
                health=composition.health_config(settings),
                webhook=webhook,
                console_url=str(settings.web_base_url) if settings.web_base_url else None,
            )
            rows = [
                {"kind": r.kind, "severity": r.severity, "message": r.message, "status": r.status}
                for r in records
            ]
            if report is not None and report.error:
                rows.append(
                    {"kind": "webhook", "severity": "warning", "message": report.error, "status": "new"}
                )
            return rows

        async def announce(waiting: list[dict[str, Any]], thread: str) -> str | None:
            """The approval webhook: the proposals that wait, with signed approve/reject links."""
            from app.web.links import approval_message
            from tools.webhook import post_json

            assert settings.approval_webhook_url and settings.web_secret and settings.web_base_url
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=settings.approval_link_hours)
            message = approval_message(
                waiting,
                thread=thread,
                base_url=str(settings.web_base_url),
                secret=settings.web_secret,
                user=settings.approval_link_user or "",
                expires=expires,
            )
            try:
                await post_json(str(settings.approval_webhook_url), message)
            except httpx.HTTPError as exc:
                return f"the approval webhook failed ({type(exc).__name__}: {exc}); the proposals still wait"
            return None

        context = CycleContext(
            announce=announce if settings.approval_webhook_url else None,
            thread_id=thread_id,
            engine=engine,
            until=until,
            guard=guard,
            execute=execute,
            record=record,
            fx=settings.fx_rates,
            reporting_currency=settings.reporting_currency,
            llm=llm,
            open_llm=(lambda: composition.llm_client(settings)) if settings.new_ads_per_cycle else None,
            new_ads_per_cycle=settings.new_ads_per_cycle,
            new_ad_wait=dt.timedelta(days=settings.new_ad_wait_days),
            alerts=watch,
            library=lambda: CreativeLibrary(
                composition.asset_store(settings, engine), composition.creative_index(settings)
            ),
            platforms=list(settings.platforms),
        )
        async with _checkpointer(settings) as saver:
            yield Cycle(graph=build(saver), context=context, audit=audit)
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
        engine.dispose()
