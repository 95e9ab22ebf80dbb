"""`adcluster chat`: talk to the graph. Each request runs the router on one thread (kept on disk, so
`adcluster approvals` can answer it later from another process); the agents' steps are shown as they
happen, and proposals stop for approval like a scheduled cycle's."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import typer
from langgraph.types import Command
from rich.console import Console
from rich.markup import escape

from app.console import cli_settings, make_console
from app.run_cli import answer_all, print_waiting
from app.settings import Settings

Ask = Callable[[str], str]


def describe_step(node: str, update: dict[str, Any] | None) -> str | None:
    """One line per node as it finishes: what it did, in the marketer's words."""
    update = update or {}
    if node == "chat":
        outcome = update.get("chat") or {}
        if outcome.get("tool") in (None, "none"):
            return "router: no tool chosen"
        args = ", ".join(f"{k}={v}" for k, v in (outcome.get("arguments") or {}).items())
        return f"router: {outcome['tool']}({args}) - validated"
    if node == "perceive":
        snap = update.get("snapshot") or {}
        counts = ", ".join(
            f"{(snap.get(level) or {}).get('total', 0)} {level}" for level in ("campaigns", "adsets", "ads")
        )
        findings = len(snap.get("findings") or [])
        return f"perception: {snap.get('since')}..{snap.get('until')}: {counts}; {findings} finding(s)"
    if node == "analyse":
        return f"analyst: {len(update.get('proposals') or [])} proposal(s) from the optimizers"
    if node == "plan":
        plan = update.get("plan") or []
        refused = sum(p["verdict"] == "refused" for p in plan)
        return f"guardrails: {len(plan)} checked, {refused} refused"
    if node == "execute":
        results = update.get("results") or []
        done = sum(r.get("status") == "executed" for r in results)
        return f"executor: {done} applied, {len(results) - done} not applied"
    if node == "report":
        return None  # the summary is printed after the turn
    return None


async def _stream(
    graph: Any, payload: Any, config: dict[str, Any], ctx: Any, console: Console | None
) -> None:
    async for chunk in graph.astream(payload, config, context=ctx, stream_mode="updates"):
        for node, update in chunk.items():
            line = None if node == "__interrupt__" else describe_step(node, update)
            if console is not None and line:
                console.print(f"  [dim]> {escape(line)}[/dim]")


async def chat_turn(
    cycle: Any, thread: str, request: str, *, console: Console | None, approve: Callable[[list[dict]], str]
) -> dict[str, Any]:
    """One request to its answer, or to the approval question and, if `approve` answers it, to the end."""
    config = cycle.config(thread)
    await _stream(cycle.graph, {"request": request}, config, cycle.context, console)
    state = await cycle.graph.aget_state(config)
    interrupts = [i for task in state.tasks for i in task.interrupts]
    if interrupts:
        proposals = interrupts[0].value["proposals"]
        answer = approve(proposals)
        if answer in ("approve", "reject"):
            decisions = [{"id": p["action"]["id"], "decision": answer, "by": "chat"} for p in proposals]
            await _stream(
                cycle.graph, Command(resume={"decisions": decisions}), config, cycle.context, console
            )
            state = await cycle.graph.aget_state(config)
            interrupts = [i for task in state.tasks for i in task.interrupts]
    return {**state.values, "__interrupt__": interrupts}


def _asker(yes: bool, console: Console, thread: str, as_json: bool) -> Callable[[list[dict]], str]:
    def approve(proposals: list[dict]) -> str:
        if not as_json:
            print_waiting({"__interrupt__": [_Shown(proposals)]}, thread, False)
        return answer_all(yes, None if as_json else console)

    return approve


class _Shown:
    """The shape print_waiting reads (an interrupt's `value`)."""

    def __init__(self, proposals: list[dict]) -> None:
        self.value = {"proposals": proposals}


def _print_turn(console: Console, result: dict[str, Any], thread: str, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "thread": thread,
                    "chat": result.get("chat"),
                    "answer": result.get("answer"),
                    "waiting": [i.value for i in result.get("__interrupt__", [])],
                    "results": result.get("results", []),
                    "summary": result.get("summary"),
                },
                default=str,
            )
        )
        return
    if result.get("answer"):
        console.print(escape(result["answer"]))
    for note in result.get("notes") or []:
        console.print(f"  [yellow]note:[/yellow] {escape(note)}")
    if result.get("summary"):
        console.print(escape(result["summary"]))
    if result.get("__interrupt__"):
        console.print(
            f"waiting for approval: adcluster approvals approve --all --thread {thread}  (or reject)"
        )


async def run_chat(
    settings: Settings, *, thread: str, messages: list[str], yes: bool, as_json: bool, read: Ask | None
) -> list[dict[str, Any]]:
    from app import composition
    from app.cycle import open_cycle

    console = make_console()
    shown = None if as_json else console
    results = []
    async with (
        composition.llm_client(settings) as llm,
        open_cycle(settings, thread_id=thread, llm=llm) as cycle,
    ):
        approve = _asker(yes, console, thread, as_json)
        pending = list(messages)
        while True:
            if pending:
                request = pending.pop(0)
                if not as_json:
                    console.print(f"[bold]you>[/bold] {escape(request)}")
            elif read is not None:
                try:
                    request = read("you> ")
                except (EOFError, KeyboardInterrupt):
                    break
                if request.strip() in ("exit", "quit"):
                    break
                if not request.strip():
                    continue
            else:
                break
            result = await chat_turn(cycle, thread, request, console=shown, approve=approve)
            _print_turn(console, result, thread, as_json)
            results.append(result)
    return results


def chat(
    message: list[str] = typer.Option(
        None, "--message", "-m", help="a request to send (repeat for several); none: an interactive prompt"
    ),
    thread: str | None = typer.Option(None, "--thread", help="continue a conversation; default: a new one"),
    yes: bool = typer.Option(
        False, "--yes", help="approve every proposal of this chat (they still pass the guardrails)"
    ),
    no_sync: bool = typer.Option(False, "--no-sync", help="use the warehouse as it is"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per turn"),
) -> None:
    """Ask in plain words: "pause every X ad with CTR under 0.5% in the last 7 days", "why did TikTok
    CPA rise this week?", "how are we doing?", "what should I change?". The model only picks the tool and
    its arguments; figures come from the warehouse, and changes wait for approval."""
    settings = cli_settings()
    thread_id = thread or f"chat-{uuid.uuid4().hex[:8]}"
    if not no_sync:
        from app.run_cli import sync_all

        sync_all()
    read = None if message else (input if sys.stdin.isatty() else None)
    if not message and read is None:
        raise typer.BadParameter("give a request with --message, or run in a terminal for the prompt")
    asyncio.run(
        run_chat(
            settings, thread=thread_id, messages=list(message or []), yes=yes, as_json=as_json, read=read
        )
    )
