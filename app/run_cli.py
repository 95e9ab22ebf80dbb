"""`adcluster run` (one cycle, stopping at approval) and `adcluster approvals list|approve|reject`
(answering it, from any process: the thread's checkpoint is on disk)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from app.console import cli_settings, make_console
from app.settings import Settings

approvals_app = typer.Typer(help="Answer the changes a cycle proposed: nothing spends money without this.")


def _money(micros: int | None, currency: str | None) -> str:
    return "auto" if micros is None else f"{micros / 1e6:,.2f} {currency or ''}".strip()


def _change(action: dict[str, Any]) -> str:
    kind = action["kind"]
    if kind in ("budget_change", "bid_change"):
        cur = action.get("currency")
        return f"{_money(action['before_micros'], cur)} -> {_money(action['after_micros'], cur)}"
    if kind == "status_change":
        return f"{action['before']} -> {action['after']}"
    if kind == "targeting_change":
        out = "; ".join(f"{k} {', '.join(v)}" for k, v in (action.get("excluded") or {}).items())
        return f"targeting: exclude {out}" if out else "targeting changed"
    if kind == "create_adset":
        budget = action["spec"].get("daily_budget_micros")
        return f"new ad set {action['spec']['name']!r}" + (
            f", {_money(budget, action.get('currency'))} a day" if budget else ""
        )
    return f"new ad {action['spec']['name']!r}"


def print_waiting(
    result: dict[str, Any], thread: str, as_json: bool, expires: dict[str, Any] | None = None
) -> None:
    """The approval question as a table (or JSON); `expires`: each waiting id's expiry, from the audit
    log (an id missing there has expired or been superseded since it was asked)."""
    interrupts = result.get("__interrupt__") or []
    if as_json:
        payload = {"thread": thread, "summary": result.get("summary")}
        payload["waiting"] = [i.value for i in interrupts]
        if expires is not None:
            payload["expires"] = {k: v.isoformat() if v else None for k, v in expires.items()}
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
    for r in result.get("results", []):
        console.print(f"  {r['id']}: {r['status']} {escape(str(r.get('note') or ''))}")
    if question.get("error"):
        console.print(f"[red]{escape(question['error'])}[/red]")
    table = Table(title=f"Waiting for approval (thread {thread})")
    columns = ["id", "change", "entity", "why", "guardrails"] + (
        ["expires (UTC)"] if expires is not None else []
    )
    for col in columns:
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
            *([_expiry(expires, a["id"])] if expires is not None else []),
        )
    console.print(table)
    console.print(
        f"answer with: adcluster approvals approve ID... --thread {thread}  (or reject, or --all; "
        f"approvals edit ID --value 42.50 --thread {thread} for another budget or bid); "
        "nothing has been changed on any platform"
    )


def answer_all(yes: bool, console: Any | None) -> str:
    """One answer for every waiting proposal: "approve" with --yes, else asked in a terminal, else
    "wait" (they stay waiting for `adcluster approvals`). `console`: where to say which (None: quiet)."""
    if yes:
        if console is not None:
            console.print("[green]--yes: every proposal approved (the guardrails still apply)[/green]")
        return "approve"
    if sys.stdin.isatty():
        choice = typer.prompt("approve all [a], reject all [r], or leave waiting [w]", default="w")
        return {"a": "approve", "r": "reject"}.get(choice.strip().lower()[:1], "wait")
    if console is not None:
        console.print("not a terminal and no --yes: the proposals stay waiting (adcluster approvals ...)")
    return "wait"


def _expiry(expires: dict[str, Any], action_id: str) -> str:
    if action_id not in expires:
        return "no longer waiting"
    when = expires[action_id]
    return "never" if when is None else f"{when:%Y-%m-%d %H:%M}"


def waiting_expiry(audit: Any, thread: str) -> dict[str, Any]:
    """Each proposal still waiting in the thread and when it expires (the audit log expires overdue ones
    first)."""
    return {p.id: p.expires_at for p in audit.pending(thread_id=thread)}


def run_cycle(settings: Settings, *, thread_id: str, sync: bool = True) -> dict[str, Any]:
    """One cycle to the approval interrupt (or to its end when nothing waits for a person)."""
    from app.cycle import open_cycle

    if sync:
        sync_all()

    async def go() -> dict[str, Any]:
        async with open_cycle(settings, thread_id=thread_id) as cycle:
            return await cycle.graph.ainvoke(
                {"request": None}, cycle.config(thread_id), context=cycle.context
            )

    return asyncio.run(go())


def run(
    thread: str | None = typer.Option(None, "--thread", help="the conversation/cycle id; default: a new one"),
    no_sync: bool = typer.Option(False, "--no-sync", help="use the warehouse as it is"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """One cycle: sync, perceive, analyse, plan under the guardrails, and stop for approval."""
    thread_id = thread or uuid.uuid4().hex[:12]
    print_waiting(run_cycle(cli_settings(), thread_id=thread_id, sync=not no_sync), thread_id, as_json)


def sync_all() -> None:
    """An incremental sync of every configured platform (what `adcluster sync` does)."""
    from app.ingest_cli import PlatformChoice
    from app.ingest_cli import sync as sync_command

    sync_command(platform=PlatformChoice.all, days=None, since=None, until=None, full=False, segments=True)


def _answer(
    thread: str,
    ids: list[str],
    every: bool,
    decision: str,
    by: str,
    as_json: bool,
    value: str | None = None,
) -> None:
    from app.cycle import open_cycle

    settings = cli_settings()

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
            decisions = [
                {"id": i, "decision": decision, "by": by, **({"value": value} if value is not None else {})}
                for i in chosen
            ]
            return await cycle.answer(thread, decisions)

    result = asyncio.run(go())
    if result is None:
        raise typer.BadParameter(f"thread {thread} is not waiting for approval")
    print_waiting(result, thread, as_json)
    refused = [i.value.get("error") for i in result.get("__interrupt__") or [] if i.value.get("error")]
    if refused:
        raise typer.Exit(1)  # the answer was not taken (the error is printed above); the thread still waits


@approvals_app.command("list")
def list_waiting(
    thread: str = typer.Option(..., "--thread", help="the cycle's thread id (printed by adcluster run)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """What a thread is waiting on."""
    from app.cycle import open_cycle

    settings = cli_settings()

    async def go() -> tuple[list[Any], dict[str, Any]]:
        async with open_cycle(settings, thread_id=thread) as cycle:
            state = await cycle.graph.aget_state(cycle.config(thread))
            interrupts = [i for task in state.tasks for i in task.interrupts]
            return interrupts, waiting_expiry(cycle.audit, thread)

    interrupts, expires = asyncio.run(go())
    print_waiting({"__interrupt__": interrupts, "summary": "nothing is waiting"}, thread, as_json, expires)


@approvals_app.command("show")
def show(
    action_id: str = typer.Argument(..., help="a proposal id (see approvals list)"),
    thread: str = typer.Option(..., "--thread"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One waiting proposal in full: the change, the guardrails' verdict, the expected effect and every
    piece of evidence with its figures."""
    from app.cycle import open_cycle

    settings = cli_settings()

    async def go() -> tuple[dict[str, Any] | None, dict[str, Any]]:
        async with open_cycle(settings, thread_id=thread) as cycle:
            state = await cycle.graph.aget_state(cycle.config(thread))
            waiting = [i.value for task in state.tasks for i in task.interrupts]
            items = [p for w in waiting for p in w["proposals"] if p["action"]["id"] == action_id]
            return (items[0] if items else None), waiting_expiry(cycle.audit, thread)

    item, expires = asyncio.run(go())
    if item is None:
        raise typer.BadParameter(f"{action_id} is not waiting in thread {thread} (see approvals list)")
    if as_json:
        typer.echo(
            json.dumps({**item, "expires": str(expires.get(action_id)) if action_id in expires else None})
        )
        return
    a = item["action"]
    e = a["entity"]
    console = make_console()
    console.print(f"[bold]{a['id']}[/bold]  {a['kind']}  {_change(a)}")
    console.print(
        escape(
            f"{e['platform']} {e['level']} {e.get('name') or ''} ({e['platform_id']}), "
            f"account {e['account_id']}"
        )
    )
    console.print(escape(f"why: {a['reason']}"))
    console.print(
        escape(
            f"guardrails: {item['verdict']}" + ("; ".join([""] + item["reasons"]) if item["reasons"] else "")
        )
    )
    if a.get("expected"):
        console.print(escape(f"expected: {a['expected']}"))
    console.print(f"expires: {_expiry(expires, a['id'])}")
    for ev in a.get("evidence", []):
        console.print(escape(f"evidence from {ev['source']}: {ev['summary']}"))
        for k, v in (ev.get("figures") or {}).items():
            console.print(escape(f"  {k}: {v}"))


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


@approvals_app.command("edit")
def edit(
    action_id: str = typer.Argument(..., help="a budget or bid proposal's id"),
    value: str = typer.Option(
        ..., "--value", help="the new daily budget or bid in major units of the account currency, e.g. 42.50"
    ),
    thread: str = typer.Option(..., "--thread"),
    by: str = typer.Option("cli", "--by", help="who edits (kept in the audit log)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Approve a budget or bid change at another amount. The amount must be positive and a whole number
    of the currency's minor units; it passes the guardrails again before anything is applied."""
    try:
        Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"--value {value!r} is not a number (e.g. 42.50)") from None
    _answer(thread, [action_id], False, "edit", by, as_json, value=value)


def undo(
    action_id: str = typer.Argument(..., help="an executed action's id (see adcluster audit)"),
    by: str = typer.Option("cli", "--by", help="who undoes it (kept in the audit log)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Apply the inverse of an executed action (the old budget, bid or status back; a created ad paused).
    Asking for it is the approval, recorded in the audit log under your name; the executor's checks still
    apply (the entity must still show the executed value, no zero budgets, allowed accounts only), the
    minimum interval between changes does not, so that a change can be undone at once."""
    from agents.actions import inverse
    from agents.executor import execute
    from app import composition
    from storage.audit import AuditLog
    from storage.audit_types import AuditError

    settings = cli_settings()

    async def go() -> dict[str, Any]:
        engine = composition.warehouse(settings)
        audit = AuditLog(engine)
        try:
            entry = audit.entry(action_id)
        except AuditError as exc:
            raise typer.BadParameter(str(exc)) from None
        if str(entry.proposal.status) != "executed":
            raise typer.BadParameter(f"{action_id} is {entry.proposal.status}, not executed: nothing to undo")
        from pydantic import TypeAdapter

        from agents.actions import Action

        action = TypeAdapter(Action).validate_python(entry.proposal.action)
        done = [e for e in entry.executions if e.result_platform_id or e.after]
        after = {"id": done[-1].result_platform_id} if done and done[-1].result_platform_id else None
        try:
            back = inverse(action, after, reason=f"undo {action_id} (asked by {by})")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        audit.propose([back], thread_id=f"undo-{action_id}")
        audit.decide(back.id, verdict="approve", by=by, how="cli", note=f"undo of {action_id}")
        world = await composition.sandbox_world(settings)
        adapters = composition.build_adapters(settings, world, platforms=[action.entity.platform], sink=None)
        try:
            accounts = [a for adapter in adapters.values() for a in await adapter.accounts()]
            report = await execute([back], adapters, audit, accounts=accounts)
        finally:
            for adapter in adapters.values():
                await adapter.aclose()
            engine.dispose()
        return {"undo_of": action_id, "action": back.model_dump(mode="json"), "report": report.to_dict()}

    result = asyncio.run(go())
    if as_json:
        typer.echo(json.dumps(result, default=str))
    else:
        outcome = result["report"]["outcomes"][0]
        make_console().print(
            f"undo of {action_id}: {result['action']['id']} {outcome['outcome']} {outcome.get('note') or ''}"
        )
