"""`adcluster sandbox ...`: serve the emulated platforms and describe their world."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from app.console import make_console

sandbox_app = typer.Typer(
    help="The offline sandbox of Meta, X and TikTok over a simulated market.", no_args_is_help=True
)

SEED = typer.Option(None, "--seed", help="market seed [default: ADCLUSTER_SANDBOX_SEED or 7]")
TODAY = typer.Option(None, "--today", help="simulated start date YYYY-MM-DD [default: the real date]")
ACCOUNTS = typer.Option(2, "--accounts", help="ad accounts per platform (1-500)")
ADS = typer.Option(60, "--ads", help="ads per account (1-5000)")
DAYS = typer.Option(60, "--days", help="days of history before today (7-400)")
STATE_DIR = typer.Option(None, "--state-dir", help="persist the world and its changes here across restarts")


def build_config(seed: int | None, today: str | None, accounts: int, ads: int, days: int):  # type: ignore[no-untyped-def]
    """The WorldConfig for CLI options, or a clear exit on bad values."""
    from app.settings import Settings
    from sandbox.market.config import WorldConfig

    settings = Settings()
    values: dict[str, object] = {
        "seed": settings.sandbox_seed if seed is None else seed,
        "accounts": accounts,
        "ads": ads,
        "days": days,
    }
    start = today or settings.sandbox_today
    if start is not None:
        values["today"] = start
    try:
        return WorldConfig(**values)
    except ValidationError as exc:
        problems = "; ".join(f"--{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise typer.BadParameter(problems) from None


def open_market(
    seed: int | None, today: str | None, accounts: int, ads: int, days: int, state_dir: Path | None
):  # type: ignore[no-untyped-def]
    """The market for CLI options (saved in the state dir when there is one), or a clear exit."""
    from app.settings import Settings
    from sandbox.market.errors import MarketError
    from sandbox.market.market import Market

    config = build_config(seed, today, accounts, ads, days)
    try:
        return Market.open(config, state_dir or Settings().sandbox_state_dir)
    except MarketError as exc:
        raise typer.BadParameter(str(exc)) from None


@sandbox_app.command()
def serve(
    host: str = typer.Option(None, help="interface to listen on [default: 127.0.0.1]"),
    port: int = typer.Option(None, help="port [default: 8700]"),
    seed: int = SEED,
    today: str = TODAY,
    accounts: int = ACCOUNTS,
    ads: int = ADS,
    days: int = DAYS,
    state_dir: Path = STATE_DIR,
    rate_limits: str = typer.Option(
        "relaxed", "--rate-limits", help="platform rate limits: real, relaxed (10x) or off"
    ),
) -> None:
    """Serve the sandbox until interrupted: Meta's Graph API at /v{N}.0/, the admin API at /_sandbox/."""
    import uvicorn

    from app.settings import Settings
    from sandbox.server.app import create_app

    settings = Settings()
    from sandbox.meta.api import MetaOptions
    from sandbox.meta.throttle import RateLimitMode
    from sandbox.tiktok.api import TikTokOptions
    from sandbox.tiktok.limits import RateLimitMode as TikTokMode
    from sandbox.x.api import XOptions
    from sandbox.x.limits import RateLimitMode as XMode

    if rate_limits not in {m.value for m in RateLimitMode}:
        raise typer.BadParameter("--rate-limits must be real, relaxed or off")
    market = open_market(seed, today, accounts, ads, days, state_dir)
    uvicorn.run(
        create_app(
            market,
            meta=MetaOptions(rate_limits=RateLimitMode(rate_limits)),
            x=XOptions(rate_limits=XMode(rate_limits)),
            tiktok=TikTokOptions(rate_limits=TikTokMode(rate_limits)),
        ),
        host=host or settings.sandbox_host,
        port=port or settings.sandbox_port,
        log_level="info",
    )


@sandbox_app.command()
def world(
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    url: str = typer.Option(
        None, "--url", help="ask a running sandbox instead of building the world locally"
    ),
    seed: int = SEED,
    today: str = TODAY,
    accounts: int = ACCOUNTS,
    ads: int = ADS,
    days: int = DAYS,
    state_dir: Path = STATE_DIR,
) -> None:
    """Print what a client needs: tokens, accounts, currencies, time zones and the simulated date."""
    if url:
        import asyncio

        import httpx

        async def fetch() -> dict[str, object]:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.get(url.rstrip("/") + "/_sandbox/world")
                response.raise_for_status()
                return response.json()  # type: ignore[no-any-return]

        try:
            info = asyncio.run(fetch())
        except httpx.HTTPError as exc:
            raise typer.BadParameter(f"cannot reach the sandbox at {url}: {exc}") from None
    else:
        from sandbox.server.credentials import credentials_for

        market = open_market(seed, today, accounts, ads, days, state_dir)
        info = {**market.describe(), "credentials": credentials_for(market.config.seed).model_dump()}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    print_world(info, make_console())


def print_world(info: dict, console: Console) -> None:  # type: ignore[type-arg]
    console.print(
        f"[bold]Sandbox world[/] seed {info['seed']} · today {info['today']} "
        f"({info['hours_done']}h done) · history from {info['start_date']}"
    )
    table = Table(show_lines=False)
    for col in ("platform", "account id", "currency", "time zone", "campaigns", "ad sets", "ads"):
        table.add_column(col, no_wrap=True)
    for a in info["accounts"]:
        table.add_row(
            a["platform"],
            a["id"],
            a["currency"],
            a["timezone"],
            str(a["campaigns"]),
            str(a["adsets"]),
            str(a["ads"]),
        )
    console.print(table)
    creds = info.get("credentials") or {}
    if creds:
        console.print(
            f"meta access_token: {creds['meta']['access_token'][:16]}…  "
            f"x consumer_key: {creds['x']['consumer_key']}  "
            f"tiktok Access-Token: {creds['tiktok']['access_token'][:16]}…  (--json for all)"
        )
