"""`adcluster alerts`: the day's performance and data-health alerts, kept in the warehouse and sent to
the configured webhook (ADCLUSTER_ALERT_WEBHOOK_URL); `--history N` lists what was raised before."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.console import cli_settings, make_console
from app.settings import Settings
from storage.models import Account, AlertRecord


async def last_complete_day(settings: Settings, engine: Engine) -> dt.date:
    """Yesterday in the accounts' own calendars (on the sandbox: its simulated clock), as a cycle judges."""
    from app import composition

    with Session(engine) as session:
        accounts = list(session.exec(select(Account)))
    if not accounts:
        raise typer.BadParameter("the warehouse has no accounts yet: run adcluster sync first")
    today = composition.today_for(await composition.sandbox_world(settings))
    return min(today(a) for a in accounts) - dt.timedelta(days=1)


def _row(r: AlertRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "kind": r.kind,
        "severity": r.severity,
        "platform": r.platform,
        "account_id": r.account_id,
        "level": r.level,
        "platform_id": r.platform_id,
        "name": r.name,
        "day": r.day.isoformat(),
        "message": r.message,
        "figures": r.figures,
        "status": r.status,
        "delivery_error": r.delivery_error,
    }


def alerts(
    day: dt.datetime | None = typer.Option(
        None, "--day", formats=["%Y-%m-%d"], help="the day judged (default: the last complete synced day)"
    ),
    history: int | None = typer.Option(
        None, "--history", min=1, max=365, help="list the alerts raised over the last N days instead"
    ),
    send: bool = typer.Option(
        True, "--send/--no-send", help="post new alerts to ADCLUSTER_ALERT_WEBHOOK_URL"
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Alerts on spend spikes (intraday too), CPA jumps, CTR drops, delivery dropping to zero, ads the
    platforms disapproved and campaigns they stopped, each against the ad set's own recent days; and on
    the data flow (a stale or failing sync, a token near expiry, a growing approval queue)."""
    from app import composition
    from tools.alert_store import raise_and_deliver, recent

    settings = cli_settings()
    engine = composition.warehouse(settings)
    report = None
    if history is not None:
        last = asyncio.run(last_complete_day(settings, engine))
        records = recent(engine, since=last - dt.timedelta(days=history - 1))
    else:
        judged = day.date() if day else asyncio.run(last_complete_day(settings, engine))
        webhook = str(settings.alert_webhook_url) if settings.alert_webhook_url and send else None
        records, report = asyncio.run(
            raise_and_deliver(
                engine,
                judged=judged,
                now=dt.datetime.now(dt.UTC),
                health=composition.health_config(settings),
                webhook=webhook,
                console_url=str(settings.web_base_url) if settings.web_base_url else None,
            )
        )
    if as_json:
        payload = {"alerts": [_row(r) for r in records], "delivery": report.model_dump() if report else None}
        typer.echo(json.dumps(payload, default=str))
        return
    console = make_console()
    if not records:
        console.print("no alerts")
    else:
        table = Table(title="Alerts")
        for col in ("day", "severity", "kind", "platform", "what", "status"):
            table.add_column(col)
        for r in records:
            table.add_row(str(r.day), r.severity, r.kind, r.platform, escape(r.message[:140]), r.status)
        console.print(table)
    if report is not None:
        if report.error:
            console.print(f"[red]{escape(report.error)}[/red]: kept, sent with the next delivery")
        else:
            console.print(f"sent {report.sent} alert(s) to the webhook")
