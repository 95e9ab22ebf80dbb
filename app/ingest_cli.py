"""`adcluster sync`, `adcluster rebuild` and `adcluster report`."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from enum import StrEnum

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text

from app.console import cli_settings, make_console
from app.settings import PLATFORMS, SettingsError


class PlatformChoice(StrEnum):
    meta = "meta"
    x = "x"
    tiktok = "tiktok"
    all = "all"


class ReportBy(StrEnum):
    platform = "platform"
    account = "account"
    campaign = "campaign"
    adset = "adset"
    ad = "ad"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, object] = {}

    def platform_started(self, platform: str, streams: int) -> None:
        self.tasks[platform] = self.progress.add_task(f"{platform}", total=streams)

    def stream_done(self, platform: str, account: str, stream: str, rows: int) -> None:
        task = self.tasks.get(platform)
        if task is not None:
            self.progress.update(task, advance=1, description=f"{platform} {account} {stream}")  # type: ignore[arg-type]


def sync(
    platform: PlatformChoice = typer.Option(PlatformChoice.all, "--platform", help="which platform to sync"),
    days: int = typer.Option(
        None, "--days", min=1, max=1100, help="history to read [default: ADCLUSTER_SYNC_DAYS]"
    ),
    since: dt.datetime = typer.Option(None, "--since", formats=["%Y-%m-%d"], help="first day to read"),
    until: dt.datetime = typer.Option(None, "--until", formats=["%Y-%m-%d"], help="last day to read"),
    full: bool = typer.Option(False, "--full", help="ignore cursors and re-read the whole history"),
    segments: bool = typer.Option(
        True, "--segments/--no-segments", help="also read the age, gender, country and placement breakdowns"
    ),
) -> None:
    """Read every configured account into the warehouse: incremental, resumable, restated days re-read."""
    from app import composition
    from tools.ingest.goals import write_goals
    from tools.ingest.sync import Syncer, SyncOptions
    from tools.ingest.writer import WarehouseWriter

    settings = cli_settings()
    names = list(settings.platforms) if platform is PlatformChoice.all else [platform.value]
    console = make_console()

    async def run() -> object:
        sandbox = await composition.sandbox_world(settings)
        lake = composition.lake(settings)
        adapters = composition.build_adapters(settings, sandbox, platforms=names, sink=lake.write)
        engine = composition.warehouse(settings)
        options = SyncOptions(
            days=days or settings.sync_days,
            since=since.date() if since else None,
            until=until.date() if until else None,
            full=full,
            segments=segments,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            syncer = Syncer(
                writer=WarehouseWriter(engine),
                adapters=adapters,
                today=composition.today_for(sandbox),
                progress=_RichProgress(progress),
            )  # type: ignore[arg-type]
            try:
                result = await syncer.sync(options, names)
            finally:
                for adapter in adapters.values():
                    await adapter.aclose()
        goals = write_goals(engine, settings.goals)
        if goals.unknown_accounts:
            console.print(
                f"[yellow]goals for accounts not in the warehouse (not written): "
                f"{', '.join(goals.unknown_accounts)}[/yellow]"
            )
        return result

    try:
        report = asyncio.run(run())
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print_sync(report, console)
    if not report.ok:  # type: ignore[attr-defined]
        raise typer.Exit(code=1)


def _print_sync(report, console) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Sync")
    for col in ("platform", "account", "streams", "rows", "row problems", "errors", "requests"):
        table.add_column(col, justify="right" if col not in ("platform", "account", "errors") else "left")
    grouped: dict[tuple[str, str], list] = {}  # type: ignore[type-arg]
    for r in report.results:
        grouped.setdefault((r.platform, r.account), []).append(r)
    for (platform, account), results in sorted(grouped.items()):
        errors = "; ".join(r.error for r in results if r.error)[:80]
        table.add_row(
            platform,
            account,
            str(len(results)),
            f"{sum(r.rows for r in results):,}",
            str(sum(len(r.problems) for r in results)),
            errors or "-",
            str(report.requests.get(platform, 0)),
        )
    console.print(table)
    for platform, why in report.stopped.items():
        console.print(f"[red]{platform} stopped:[/] {why}")
    for r in report.results:
        for p in r.problems[:5]:
            console.print(f"[yellow]{p.platform} {p.account} {p.stream} row {p.row}:[/] {p.error}")


def rebuild(
    force: bool = typer.Option(False, "--force", help="empty a warehouse that already has data first"),
) -> None:
    """Rebuild the warehouse from the raw lake alone, with no network."""
    from app import composition
    from tools.ingest.rebuild import rebuild as run_rebuild
    from tools.ingest.writer import WarehouseWriter

    settings = cli_settings()
    engine = composition.warehouse(settings)
    tables = (
        "daily_segment_metric",
        "hourly_metric",
        "daily_metric",
        "ad",
        "creative",
        "custom_audience",
        "adset",
        "campaign",
        "sync_state",
        "account",
    )
    with engine.begin() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM account")).scalar_one()
        if count and not force:
            raise typer.BadParameter(
                "the warehouse has data; pass --force to empty it and rebuild from the lake"
            )
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
    report = run_rebuild(composition.lake(settings), WarehouseWriter(engine))
    make_console().print(
        f"rebuilt {report.rows:,} rows from {report.records:,} lake records "
        f"({report.skipped:,} skipped: errors, malformed or cut-short pages)"
    )


def report(
    days: int = typer.Option(7, "--days", min=1, max=1100, help="days up to the newest day in the warehouse"),
    by: ReportBy = typer.Option(ReportBy.platform, "--by", help="grouping"),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="output format"),
) -> None:
    """Spend, delivery, purchases and ratios from sums, native and in the reporting currency."""
    from app import composition
    from tools.reporting import MissingRateError, performance

    settings = cli_settings()
    engine = composition.warehouse(settings)
    try:
        first, last, rows = performance(
            engine,
            days=days,
            by=by.value,
            fx=settings.fx_rates,
            reporting_currency=settings.reporting_currency,
        )
    except MissingRateError as exc:
        raise typer.BadParameter(str(exc)) from None
    if fmt is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "since": first.isoformat(),
                    "until": last.isoformat(),
                    "rows": [r.model_dump(mode="json") for r in rows],
                },
                indent=2,
            )
        )
        return
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].model_dump()) if rows else ["platform"])
        writer.writeheader()
        for r in rows:
            writer.writerow(r.model_dump(mode="json"))
        typer.echo(buffer.getvalue().rstrip())
        return
    make_console().print(report_table(rows, first, last, by.value, settings.reporting_currency))


def report_table(rows: list, first: dt.date, last: dt.date, by: str, cur: str) -> Table:  # type: ignore[type-arg]
    """The cross-platform report as a rich table (shared with `adcluster demo`)."""
    grouped = by != "platform"
    table = Table(title=f"{first} .. {last} (ratios from sums; {cur} through ADCLUSTER_FX_RATES)")
    for col in (
        "platform",
        by if grouped else "",
        "spend (native)",
        f"spend {cur}",
        "impr.",
        "clicks",
        "CTR %",
        "CPC",
        "CPM",
        "purchases",
        "CPA",
        f"value {cur}",
        "ROAS",
    ):
        if col:
            table.add_column(col, justify="left" if col in ("platform", by) else "right")
    for r in rows:
        native = f"{r.spend:,.2f} {r.currency}" if r.spend is not None else "mixed"
        table.add_row(
            r.platform,
            *([r.key] if grouped else []),
            native,
            f"{r.spend_reporting:,.2f}",
            f"{r.impressions:,}",
            f"{r.clicks:,}",
            _fmt(r.ctr),
            _fmt(r.cpc),
            _fmt(r.cpm),
            f"{r.conversions:,}",
            _fmt(r.cpa),
            f"{r.value_reporting:,.2f}",
            _fmt(r.roas),
        )
    return table


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:,.2f}"


__all__ = ["PLATFORMS", "rebuild", "report", "sync"]
