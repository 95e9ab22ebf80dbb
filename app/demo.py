"""`make demo` until the agent graph exists: the sandbox's world and a few days of its market."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from app.console import make_console
from app.sandbox_cli import print_world
from app.sandbox_runner import running_sandbox
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market

EXPONENT = {"JPY": 0}


def money(micros: int, currency: str) -> str:
    exp = EXPONENT.get(currency, 2)
    value = (Decimal(micros) / Decimal(10**6)).quantize(Decimal(1).scaleb(-exp))
    return f"{value:,}"


def spark(values: list[int]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    top = max(values) or 1
    return "".join(bars[min(len(bars) - 1, int(len(bars) * v / (top + 1)))] for v in values)


async def _demo(base: str, days: int, console: Console) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        world = (await client.get("/_sandbox/world")).raise_for_status().json()
        print_world(world, console)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"advancing the market {days} day(s)", total=days)
            for _ in range(days):
                (await client.post("/_sandbox/clock/advance", json={"days": 1})).raise_for_status()
                progress.advance(task)
        clock = (await client.get("/_sandbox/clock")).raise_for_status().json()
        today = dt.date.fromisoformat(clock["date"])
        since, until = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
        table = Table(title=f"What the market delivered {since} .. {until} (as reported on {today})")
        for col in (
            "platform",
            "currency",
            "spend",
            "impressions",
            "clicks",
            "CTR",
            "purchases",
            "CPA",
            "ROAS",
            "by day",
        ):
            table.add_column(
                col, justify="right" if col not in ("platform", "currency") else "left", no_wrap=True
            )
        for acc in world["accounts"]:
            rep = (
                (
                    await client.get(
                        "/_sandbox/ledger",
                        params={
                            "account_id": acc["id"],
                            "since": since.isoformat(),
                            "until": until.isoformat(),
                            "limit": 100_000,
                        },
                    )
                )
                .raise_for_status()
                .json()
            )
            t: dict[str, Any] = rep["totals"]
            cur = rep["currency"]
            by_day = [
                sum(
                    r["spend_micros"]
                    for r in rep["rows"]
                    if r["date"] == (since + dt.timedelta(d)).isoformat()
                )
                for d in range(days)
            ]
            ctr = f"{100 * t['clicks'] / t['impressions']:.2f}%" if t["impressions"] else "-"
            cpa = money(t["spend_micros"] // t["conversions"], cur) if t["conversions"] else "-"
            roas = f"{t['value_micros'] / t['spend_micros']:.2f}" if t["spend_micros"] else "-"
            table.add_row(
                acc["platform"],
                cur,
                money(t["spend_micros"], cur),
                f"{t['impressions']:,}",
                f"{t['clicks']:,}",
                ctr,
                str(t["conversions"]),
                cpa,
                roas,
                spark(by_day),
            )
        console.print(table)
        console.print(
            "Purchases on the last days are still arriving: later reports restate them, "
            "as real platforms do within their attribution windows."
        )


async def _warehouse(base: str, days: int, console: Console, data_dir: Path) -> None:
    """Sync the three platforms over their real wire protocols into a fresh warehouse and report."""
    from app import composition
    from app.ingest_cli import report_table
    from app.settings import PLATFORMS, Settings
    from tools.ingest.sync import Syncer, SyncOptions
    from tools.ingest.writer import WarehouseWriter
    from tools.reporting import performance

    settings = Settings(sandbox_url=base, data_dir=data_dir)
    world = await composition.sandbox_world(settings)
    lake = composition.lake(settings)
    adapters = composition.build_adapters(settings, world, platforms=list(PLATFORMS), sink=lake.write)
    engine = composition.warehouse(settings)
    console.print("Syncing Meta, X and TikTok over their APIs into one warehouse…")
    try:
        syncer = Syncer(writer=WarehouseWriter(engine), adapters=adapters, today=composition.today_for(world))
        report = await syncer.sync(SyncOptions(days=days + 1, segments=False, hourly=False))
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
    requests = sum(report.requests.values())
    console.print(f"synced {sum(r.rows for r in report.results):,} rows with {requests} API requests")
    first, last, rows = performance(
        engine, days=days, fx=settings.fx_rates, reporting_currency=settings.reporting_currency
    )
    console.print(report_table(rows, first, last, "platform", settings.reporting_currency))
    await _creative(engine, settings, console)
    engine.dispose()


async def _creative(engine, settings, console: Console) -> None:  # type: ignore[no-untyped-def]
    """New copy for the ad with the most clicks, written by the configured LLM (the embedded model)."""
    from sqlmodel import Session, func, select

    from app import composition
    from app.creative_cli import base_from_ad
    from storage.models import DailyMetric
    from tools.creative.text import Brief, write_variants
    from tools.llm.errors import LLMError

    with Session(engine) as session:
        top = session.exec(
            select(DailyMetric.ad_id)
            .group_by(DailyMetric.ad_id)
            .order_by(func.sum(DailyMetric.clicks).desc())
        ).first()
    if top is None:
        return
    ad, _, campaign, base = base_from_ad(engine, top)
    product = (campaign.name.split("|")[0] if campaign else base.headline).strip()[:80]
    console.print(f"Writing 3 new variants of the {ad.platform} ad with the most clicks ({base.headline!r})…")
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
            v.headline, v.primary_text, v.platform_cta, f"{v.tags.emotion}, {v.tags.theme}, {v.tags.offer}"
        )
    console.print(table)
    console.print(
        f"{batch.from_model} from the model, {len(batch.dropped)} dropped "
        f"({'; '.join(d.reason for d in batch.dropped[:3]) or 'none'})"
    )


def run_demo(*, days: int, seed: int) -> None:
    console = make_console()
    console.print(
        "[bold]adcluster demo[/]: starting the sandbox (Meta, X and TikTok over a simulated market)…"
    )
    market = Market(WorldConfig(seed=seed))
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        console.print(f"sandbox listening on {base}")
        asyncio.run(_demo(base, days, console))
        asyncio.run(_warehouse(base, days, console, Path(tmp)))
    console.print("sandbox stopped cleanly.")
