"""`adcluster run` (one cycle, stopping at approval) and `adcluster approvals list|approve|reject`
(answering it, from any process: the thread's checkpoint is on disk)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import typer
from langgraph.types import Command
from rich.markup import escape
from rich.table import Table

from app.console import make_console
from app.settings import Settings, SettingsError, load_settings

approvals_app = typer.Typer(help="Answer the changes a cycle proposed: nothing spends money without this.")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None


def _money(micros: int | None, currency: str | None) -> str:
    return "auto" if micros is None else f"{micros / 1e6:,.2f} {currency or ''}".strip()


def _change(action: dict[str, Any]) -> str:
    kind = action["kind"]
    if kind in ("budget_change", "bid_change"):
        cur = action.get("currency")
        return f"{_money(action['before_micros'], cur)} -> {_money(action['after_micros'], cur)}"
    if kind == "status_change":
        return f"{action['before']} -> {action['after']}"
    return f"new ad {action['spec']['name']!r}"


def print_waiting(result: dict[str, Any], thread: str, as_json: bool) -> None:
    interrupts = result.get("__interrupt__") or []
    if as_json:
        payload = {"thread": thread, "summary": result.get("summary")}
        payload["waiting"] = [i.value for i in interrupts]
        payload["results"] = result.get("results", [])
        typer.echo(json.dumps(payload, default=str))
        return
    console = make_console()
    if not interrupts:
        console.print(result.get("summary", "nothing to do"))
        for r in result.get("results", []):
            console.print(f"  {r['id']}: {r['status']} {escape(str(r.get('note') or ''))}")
        return
    question = interrupts[0].value
    if question.get("error"):
        console.print(f"[red]{escape(question['error'])}[/red]")
    table = Table(title=f"Waiting for approval (thread {thread})")
    for col in ("id", "change", "entity", "why", "guardrails"):
        table.add_column(col)
    for item in question["proposals"]:
        a = item["action"]
        entity = a["entity"]
        table.add_row(
            a["id"],
            _change(a),
            escape(f"{entity['platform']} {entity['level']} {entity.get('name') or entity['platform_id']}"),
            escape(a["reason"][:90]),
            escape(item["verdict"] + ("" if not item["reasons"] else ": " + "; ".join(item["reasons"])[:80])),
        )
    console.print(table)
    console.print(
        f"answer with: adcluster approvals approve ID... --thread {thread}  (or reject, or --all); "
        "nothing has been changed on any platform"
    )


def run(
    thread: str | None = typer.Option(None, "--thread", help="the conversation/cycle id; default: a new one"),
    no_sync: bool = typer.Option(False, "--no-sync", help="use the warehouse as it is"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """One cycle: sync, perceive, analyse, plan under the guardrails, and stop for approval."""
    from app.cycle import open_cycle

    settings = _settings()
    if not no_sync:
        from app.ingest_cli import sync as sync_command

        sync_command(platform=_all(), days=None, since=None, until=None, full=False)  # type: ignore[arg-type]
    thread_id = thread or uuid.uuid4().hex[:12]

    async def go() -> dict[str, Any]:
        async with open_cycle(settings, thread_id=thread_id) as cycle:
            return await cycle.graph.ainvoke(
                {"request": None}, cycle.config(thread_id), context=cycle.context
            )

    print_waiting(asyncio.run(go()), thread_id, as_json)


def _all():  # type: ignore[no-untyped-def]
    from app.ingest_cli import PlatformChoice

    return PlatformChoice.all


def _answer(thread: str, ids: list[str], every: bool, decision: str, by: str, as_json: bool) -> None:
    from app.cycle import open_cycle

    settings = _settings()

    async def go() -> dict[str, Any] | None:
        async with open_cycle(settings, thread_id=thread) as cycle:
            state = await cycle.graph.aget_state(cycle.config(thread))
            waiting = [i.value for task in state.tasks for i in task.interrupts]
            if not waiting:
                return None
            known = [p["action"]["id"] for p in waiting[0]["proposals"]]
            chosen = known if every else ids
            unknown = [i for i in chosen if i not in known]
            if unknown:
                raise typer.BadParameter(f"not waiting in thread {thread}: {', '.join(unknown)}")
            if not chosen:
                raise typer.BadParameter("name the proposals to answer, or --all")
            decisions = [{"id": i, "decision": decision, "by": by} for i in chosen]
            return await cycle.graph.ainvoke(
                Command(resume={"decisions": decisions}), cycle.config(thread), context=cycle.context
            )

    result = asyncio.run(go())
    if result is None:
        raise typer.BadParameter(f"thread {thread} is not waiting for approval")
    print_waiting(result, thread, as_json)


@approvals_app.command("list")
def list_waiting(
    thread: str = typer.Option(..., "--thread", help="the cycle's thread id (printed by adcluster run)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What a thread is waiting on."""
    from app.cycle import open_cycle

    settings = _settings()

    async def go() -> list[Any]:
        async with open_cycle(settings, thread_id=thread) as cycle:
            state = await cycle.graph.aget_state(cycle.config(thread))
            return [i for task in state.tasks for i in task.interrupts]

    interrupts = asyncio.run(go())
    print_waiting({"__interrupt__": interrupts, "summary": "nothing is waiting"}, thread, as_json)


@approvals_app.command("approve")
def approve(
    ids: list[str] = typer.Argument(None, help="proposal ids"),
    thread: str = typer.Option(..., "--thread"),
    every: bool = typer.Option(False, "--all", help="every proposal waiting in the thread"),
    by: str = typer.Option("cli", "--by", help="who approves (kept in the audit log)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve proposals: they are checked by the guardrails again and applied, each at most once."""
    _answer(thread, ids or [], every, "approve", by, as_json)


@approvals_app.command("reject")
def reject(
    ids: list[str] = typer.Argument(None, help="proposal ids"),
    thread: str = typer.Option(..., "--thread"),
    every: bool = typer.Option(False, "--all", help="every proposal waiting in the thread"),
    by: str = typer.Option("cli", "--by", help="who rejects (kept in the audit log)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Reject proposals: nothing is sent to any platform."""
    _answer(thread, ids or [], every, "reject", by, as_json)
