"""`adcluster audit`: what was proposed, who decided what, and what the platforms answered."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from app.console import cli_settings, make_console
from app.settings import Settings
from storage.audit import AuditLog
from storage.audit_types import AuditEntry, UnknownActionError
from tools.platforms.money import MoneyError, micros_to_decimal

audit_app = typer.Typer(
    help="The audit log: every proposal, decision (who, when, how) and execution attempt with the "
    "platform's before/after. Read-only.",
)
DEFAULT_DAYS = 7
STATUS_STYLE = {
    "proposed": "cyan",
    "approved": "green",
    "executing": "yellow",
    "executed": "bold green",
    "rejected": "magenta",
    "failed": "bold red",
    "stale": "red",
    "refused": "red",
}


def _audit(settings: Settings) -> AuditLog:
    from app import composition

    return AuditLog(composition.warehouse(settings))


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    since: dt.datetime = typer.Option(
        None,
        "--since",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help=f"UTC date (or date and time) from which to show [default: {DEFAULT_DAYS} days ago; "
        "with --entity, its whole history]",
    ),
    entity: str = typer.Option(
        None, "--entity", help="an entity key (platform|account|level|id) or a bare platform id"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Proposals with their decisions and execution attempts, oldest first."""
    if ctx.invoked_subcommand is not None:
        return
    start = since.replace(tzinfo=dt.UTC) if since is not None else None
    if start is None and entity is None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=DEFAULT_DAYS)
    entries = _audit(cli_settings()).between(start, None, entity=entity)
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    console = make_console()
    if not entries:
        console.print("nothing in the audit log" + (f" since {start:%Y-%m-%d %H:%M} UTC" if start else ""))
        return
    console.print(audit_table(entries, start))
    counts = Counter(e.proposal.status.value for e in entries)
    console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


@audit_app.command("show")
def show(action_id: str = typer.Argument(..., help="the action's id")) -> None:
    """One action in full: the action as proposed, every decision and every attempt, as JSON."""
    try:
        entry = _audit(cli_settings()).entry(action_id)
    except UnknownActionError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(entry.model_dump(mode="json"), indent=2))


def audit_table(entries: list[AuditEntry], since: dt.datetime | None) -> Table:
    title = "Audit log" + (f" since {since:%Y-%m-%d %H:%M} UTC" if since else "")
    table = Table(title=title)
    table.add_column("proposed (UTC)", no_wrap=True)
    table.add_column("id", no_wrap=True)
    for name in ("entity", "change", "status", "decision", "execution"):
        table.add_column(name, overflow="fold")
    for e in entries:
        p = e.proposal
        style = STATUS_STYLE.get(p.status.value, "")
        status = f"[{style}]{p.status.value}[/]" if style else p.status.value
        if p.note:
            status += f"\n[dim]{escape(p.note[:120])}[/]"
        table.add_row(
            f"{p.proposed_at:%m-%d %H:%M}",
            p.id,
            _entity(p.action.get("entity") or {}),
            describe_change(p.action),
            status,
            _decision(e),
            _execution(e),
        )
    return table


def _entity(ref: dict[str, Any]) -> str:
    where = f"{ref.get('platform')} {ref.get('account_id')} {ref.get('level')} {ref.get('platform_id')}"
    name = ref.get("name")
    return escape(where + (f"\n{name}" if name else ""))  # platform names are data, never markup


def _money(micros: Any, currency: str) -> str:
    if micros is None:
        return "automatic"
    try:
        return f"{micros_to_decimal(int(micros), currency):,}"
    except (MoneyError, TypeError, ValueError):
        return f"{micros} micros"


def describe_change(action: dict[str, Any]) -> str:
    """An action's change in a few words, money in the account's currency."""
    kind = action.get("kind")
    if kind in ("budget_change", "bid_change"):
        cur = str(action.get("currency", ""))
        what = "budget" if kind == "budget_change" else "bid"
        before, after = _money(action.get("before_micros"), cur), _money(action.get("after_micros"), cur)
        return f"{what} {before} → {after} {cur}"
    if kind == "status_change":
        return f"{action.get('before')} → {action.get('after')}"
    if kind == "create_adset":
        return escape(f"new ad set {(action.get('spec') or {}).get('name')}")
    if kind == "targeting_change":
        out = "; ".join(f"{k} {', '.join(v)}" for k, v in (action.get("excluded") or {}).items())
        return escape(f"targeting: exclude {out}" if out else "targeting changed")
    if kind == "create_ad":
        spec = action.get("spec") or {}
        text = f"new ad {spec.get('name')}"
        replaces = action.get("replaces")
        if replaces:
            text += f", pausing ad {replaces.get('platform_id')}"
        return escape(text)
    return escape(str(kind))


def _decision(e: AuditEntry) -> str:
    if not e.decisions:
        return "-"
    d = e.decisions[-1]
    text = f"{d.verdict.value} by {d.decided_by} via {d.how.value} {d.decided_at:%m-%d %H:%M}"
    if d.edited_action_id:
        text += f"\n→ {d.edited_action_id}"
    if d.note:
        text += f"\n{d.note[:80]}"
    return escape(text)


def _execution(e: AuditEntry) -> str:
    if not e.executions:
        return "-"
    x = e.executions[-1]
    when = x.finished_at or x.started_at
    text = f"{x.status.value} #{x.attempt} {when:%m-%d %H:%M}"
    if x.result_platform_id and e.proposal.kind == "create_ad":
        text += f"\nad {x.result_platform_id}"
    if x.error:
        text += f"\n{x.error[:120]}"
    return escape(text)
