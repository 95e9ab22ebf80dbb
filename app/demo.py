"""`adcluster demo` (what `make demo` runs with --yes): the whole product on the built-in sandbox.

1. The sandbox (Meta, X and TikTok over one simulated market) starts in the background.
2. Several cycles: sync over the platforms' APIs, the graph (perceive, analyse, plan under the
   guardrails), the approval question (answered yes with --yes, asked in a terminal, else left waiting),
   execute; then the market's clock moves on a day.
3. A report of what changed and how the market answered, and a PNG chart of spend and conversions per
   platform over the simulated days.
4. Two chat turns through the configured model (the embedded one by default, on its JSON tool path),
   each validated call printed; then new copy for the ad with the most clicks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.console import make_console
from app.run_cli import answer_all, print_waiting
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market

HISTORY_DAYS = 28  # what the first sync reads: the analyst's window
CHAT_TURNS = (
    "why did TikTok CPA rise this week?",
    "pause every X ad with CTR under 0.3% in the last 7 days",
)


def demo_settings(base: str, out: Path, *, llm: bool = True) -> Settings:
    """The embedded defaults, pointed at the sandbox and a demo folder. The sandbox's days pass in
    seconds of wall time, so the minimum interval between two changes to one entity (a wall-clock
    guard against the platforms' learning-phase resets) is lifted for the demo."""
    from app.settings import PLATFORMS

    return Settings(
        sandbox_url=base,
        data_dir=out,
        database_url=None,
        lake_dir=None,
        platforms=list(PLATFORMS),
        guardrail_min_interval_hours=0,
        new_ads_per_cycle=2 if llm else 0,
        dry_run=False,
        auto_approve={},
    )


async def sync_daily(settings: Settings, days: int, *, hourly: bool = False, segments: bool = False) -> str:
    """A sync of the daily figures (what the cycles read), and today's hours or the segment breakdowns
    when asked."""
    from app import composition
    from tools.ingest.sync import Syncer, SyncOptions
    from tools.ingest.writer import WarehouseWriter

    world = await composition.sandbox_world(settings)
    lake = composition.lake(settings)
    adapters = composition.build_adapters(
        settings, world, platforms=list(settings.platforms), sink=lake.write
    )
    engine = composition.warehouse(settings)
    try:
        syncer = Syncer(writer=WarehouseWriter(engine), adapters=adapters, today=composition.today_for(world))
        report = await syncer.sync(SyncOptions(days=days, segments=segments, hourly=hourly))
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
        engine.dispose()
    failed = [r for r in report.results if r.error]
    text = (
        f"synced {sum(r.rows for r in report.results):,} rows with {sum(report.requests.values())} requests"
    )
    return text + (f", {len(failed)} stream(s) failed" if failed else "")


async def _cycle(settings: Settings, thread: str, yes: bool, console: Console) -> dict[str, Any]:
    from langgraph.types import Command

    from app.cycle import open_cycle

    async with open_cycle(settings, thread_id=thread) as cycle:
        config = cycle.config(thread)
        result = await cycle.graph.ainvoke({"request": None}, config, context=cycle.context)
        interrupts = result.get("__interrupt__") or []
        if interrupts:
            print_waiting(result, thread, False)
            answer = answer_all(yes, console)
            if answer != "wait":
                proposals = interrupts[0].value["proposals"]
                decisions = [{"id": p["action"]["id"], "decision": answer, "by": "demo"} for p in proposals]
                result = await cycle.graph.ainvoke(
                    Command(resume={"decisions": decisions}), config, context=cycle.context
                )
        return result


async def _advance(base: str, days: int) -> dt.date:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        (await client.post("/_sandbox/clock/advance", json={"days": days})).raise_for_status()
        clock = (await client.get("/_sandbox/clock")).raise_for_status().json()
    return dt.date.fromisoformat(clock["date"])


def _changes_table(settings: Settings) -> tuple[Table, int]:
    from app import composition
    from storage.audit import AuditLog

    engine = composition.warehouse(settings)
    try:
        executed = AuditLog(engine).with_status("executed")
    finally:
        engine.dispose()
    table = Table(title="What the cycles changed on the platforms (from the audit log)")
    for col in ("platform", "level", "entity", "change", "why"):
        table.add_column(col)
    for record in executed:
        a = record.action
        e = a["entity"]
        if a["kind"] in ("budget_change", "bid_change"):
            change = f"{a['before_micros'] / 1e6:,.2f} -> {a['after_micros'] / 1e6:,.2f} {a['currency']}"
        elif a["kind"] == "status_change":
            change = f"{a['before']} -> {a['after']}"
        else:
            change = "new ad"
        table.add_row(
            e["platform"],
            e["level"],
            escape(str(e.get("name") or e["platform_id"])[:40]),
            change,
            escape(a["reason"][:60]),
        )
    return table, len(executed)


def _market_answer(settings: Settings, first_cycle: dt.date, last_day: dt.date, console: Console) -> Path:
    """Per platform, the days before the first change against the days after, and the chart."""
    from app import composition
    from tools.reporting import daily_by_platform

    engine = composition.warehouse(settings)
    try:
        rows = daily_by_platform(
            engine,
            since=first_cycle - dt.timedelta(days=14),
            until=last_day,
            fx=settings.fx_rates,
            reporting_currency=settings.reporting_currency,
        )
    finally:
        engine.dispose()
    cur = settings.reporting_currency
    table = Table(title=f"How the market answered (per day, {cur}; cycles from {first_cycle})")
    for col in (
        "platform",
        "spend/day before",
        "spend/day after",
        "conv/day before",
        "conv/day after",
        "CPA before",
        "CPA after",
    ):
        table.add_column(col, justify="left" if col == "platform" else "right")
    for platform in sorted({r.platform for r in rows}):
        parts = []
        for window in (
            [r for r in rows if r.platform == platform and r.day < first_cycle],
            [r for r in rows if r.platform == platform and r.day >= first_cycle],
        ):
            days = max(len({r.day for r in window}), 1)
            spend = sum((r.spend_reporting for r in window), Decimal(0))
            conv = sum(r.conversions for r in window)
            parts.append((spend / days, Decimal(conv) / days, spend / conv if conv else None))
        (sb, cb, pb), (sa, ca, pa) = parts
        table.add_row(
            platform,
            f"{sb:,.2f}",
            f"{sa:,.2f}",
            f"{cb:,.1f}",
            f"{ca:,.1f}",
            f"{pb:,.2f}" if pb is not None else "-",
            f"{pa:,.2f}" if pa is not None else "-",
        )
    console.print(table)
    console.print(
        "Conversions on the last days are still arriving (attribution windows): later syncs restate them."
    )
    return _chart(rows, first_cycle, cur, settings.data_dir / "demo.png")


def _chart(rows: list[Any], first_cycle: dt.date, currency: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for platform in sorted({r.platform for r in rows}):
        mine = [r for r in rows if r.platform == platform]
        days = [r.day for r in mine]
        top.plot(days, [float(r.spend_reporting) for r in mine], marker="o", label=platform)
        bottom.plot(days, [r.conversions for r in mine], marker="o", label=platform)
    for ax in (top, bottom):
        ax.axvline(first_cycle, color="k", linestyle="--", linewidth=1)
        ax.grid(alpha=0.3)
    top.set_ylabel(f"spend ({currency})")
    bottom.set_ylabel("conversions")
    top.set_title("Spend and conversions per platform; the graph's cycles start at the dashed line")
    top.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


async def _chat(settings: Settings, yes: bool, console: Console) -> None:
    from app import composition
    from app.chat_cli import chat_turn
    from app.cycle import open_cycle
    from tools.llm.errors import LLMError

    console.rule("Chat with the graph")
    try:
        async with (
            composition.llm_client(settings) as llm,
            open_cycle(settings, thread_id="demo-chat", llm=llm) as cycle,
        ):
            console.print(f"model: {llm.model} (tool calls: {llm.config.resolved_tool_mode} mode)")
            for request in CHAT_TURNS:
                console.print(f"[bold]you>[/bold] {escape(request)}")
                result = await chat_turn(
                    cycle,
                    "demo-chat",
                    request,
                    console=console,
                    approve=lambda _proposals: answer_all(yes, console),
                )
                console.print(escape(result.get("answer") or ""))
                for note in result.get("notes") or []:
                    console.print(f"  [yellow]note:[/yellow] {escape(note)}")
                if result.get("summary"):
                    console.print(escape(result["summary"]))
    except LLMError as exc:
        console.print(f"[yellow]the LLM is not available, skipping chat:[/] {exc}")


async def _copy(settings: Settings, console: Console) -> None:
    """New copy for the ad with the most clicks, written by the configured LLM (the embedded model)."""
    from sqlmodel import Session, func, select

    from app import composition
    from app.creative_cli import base_from_ad
    from storage.models import DailyMetric
    from tools.creative.text import Brief, write_variants
    from tools.llm.errors import LLMError

    engine = composition.warehouse(settings)
    try:
        with Session(engine) as session:
            top = session.exec(
                select(DailyMetric.ad_id)
                .group_by(DailyMetric.ad_id)
                .order_by(func.sum(DailyMetric.clicks).desc())
            ).first()
        if top is None:
            return
        ad, _, campaign, base = base_from_ad(engine, top)
    finally:
        engine.dispose()
    product = (campaign.name.split("|")[0] if campaign else base.headline).strip()[:80]
    console.rule("Creative")
    console.print(
        f"Writing 3 new variants of the {ad.platform} ad with the most clicks "
        f"({escape(repr(base.headline))})…"
    )
    try:
        async with composition.llm_client(settings) as llm:
            brief = Brief.model_validate({"product": product, "platform": ad.platform})
            batch = await write_variants(llm, brief, 3, base=base, max_calls=9)
    except LLMError as exc:
        console.print(f"[yellow]the LLM is not available, skipping copy:[/] {exc}")
        return
    table = Table(title=f"new copy from {llm.model} (checked against {ad.platform}'s limits and ad policy)")
    for col in ("headline", "text", "CTA", "tags"):
        table.add_column(col)
    for v in batch.variants:
        table.add_row(
            escape(v.headline),
            escape(v.primary_text),
            v.platform_cta,
            f"{v.tags.emotion}, {v.tags.theme}, {v.tags.offer}",
        )
    console.print(table)
    console.print(
        f"{batch.from_model} from the model, {len(batch.dropped)} dropped "
        f"({'; '.join(d.reason for d in batch.dropped[:3]) or 'none'})"
    )


async def _run(base: str, settings: Settings, *, cycles: int, yes: bool, llm: bool, console: Console) -> None:
    console.print(_sync_line(await sync_daily(settings, HISTORY_DAYS)))
    first_day: dt.date | None = None
    for n in range(1, cycles + 1):
        console.rule(f"Cycle {n} of {cycles}")
        result = await _cycle(settings, f"demo-cycle-{n}", yes, console)
        console.print(escape(result.get("summary") or "waiting for approval"))
        for r in result.get("results", []):
            if r.get("status") != "executed":
                console.print(f"  {r['id']}: {r['status']} {escape(str(r.get('note') or ''))}")
        today = await _advance(base, 1)
        first_day = first_day or today - dt.timedelta(days=1)
        console.print(f"the market moves on a day: it is now {today} on the sandbox")
        console.print(_sync_line(await sync_daily(settings, HISTORY_DAYS)))
    console.rule("What changed")
    table, executed = _changes_table(settings)
    console.print(table if executed else "no change was applied")
    assert first_day is not None
    chart = _market_answer(settings, first_day, today - dt.timedelta(days=1), console)
    console.print(f"chart: {chart}")
    if llm:
        await _chat(settings, yes, console)
        await _copy(settings, console)


def _sync_line(text: str) -> str:
    return f"[dim]{escape(text)}[/dim]"


def run_demo(*, cycles: int, seed: int, yes: bool, out: Path, llm: bool) -> None:
    console = make_console()
    console.print(
        "[bold]adcluster demo[/]: starting the sandbox (Meta, X and TikTok over a simulated market)…"
    )
    market = Market(WorldConfig(seed=seed, accounts=1, ads=40, days=45))
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("adcluster.db", "checkpoints.db", "demo.png", "rules_last_fired.json"):
        (out / stale).unlink(missing_ok=True)  # every demo starts from a fresh warehouse
    shutil.rmtree(out / "lake", ignore_errors=True)
    with running_sandbox(market) as base:
        console.print(f"sandbox listening on {base}; warehouse, checkpoints and chart in {out}")
        settings = demo_settings(base, out, llm=llm)
        asyncio.run(_run(base, settings, cycles=cycles, yes=yes, llm=llm, console=console))
    console.print("sandbox stopped cleanly.")
