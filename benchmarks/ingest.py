"""Ingestion benchmarks, measured in one run against the sandbox over HTTP:

1. API requests of a full sync (daily ad-level metrics) against the seed's per-ad loop (one
   insights request per ad and window), for every platform;
2. normalise + upsert rows per second into the warehouse against a bare `executemany` of the same
   rows into the same database, on SQLite and (when ADCLUSTER_TEST_PG_URL is set) PostgreSQL.

    .venv/bin/python benchmarks/ingest.py [--ads 1000] [--days 90] [--platforms meta,x,tiktok]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from app.sandbox_runner import running_sandbox
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from sandbox.meta.api import MetaOptions
from sandbox.meta.throttle import RateLimitMode
from sandbox.server.credentials import credentials_for
from storage.db import make_engine, migrate
from storage.models import DailyMetric
from tools.ingest.writer import WarehouseWriter
from tools.platforms import registry
from tools.platforms.records import AccountRecord
from tools.platforms.transport import RetryPolicy
from tools.platforms.x import _midnight as x_midnight
from tools.platforms.x import _windows as x_windows

SAMPLE = 20  # ads the per-ad loop really runs for; its count is scaled to every ad


async def _no_sleep(_: float) -> None:
    return None


def adapter_for(platform: str, url: str, seed: int) -> Any:
    creds = credentials_for(seed)
    module = registry.module(platform)
    retry = RetryPolicy(attempts=3, initial_seconds=0.0, max_seconds=0.0)
    if platform == "meta":
        return module.MetaAdapter(
            module.MetaConfig(
                base_url=url, access_token=creds.meta.access_token, page_size=5000, insights_window_days=30
            ),
            retry=retry,
        )
    if platform == "x":
        return module.XAdapter(
            module.XConfig(base_url=url, api_version="12", **creds.x.model_dump()),
            retry=retry,
            sleep=_no_sleep,
        )
    return module.TikTokAdapter(
        module.TikTokConfig(
            base_url=f"{url}/open_api/v1.3",
            page_size=1000,
            access_token=creds.tiktok.access_token,
            app_id=creds.tiktok.app_id,
            secret=creds.tiktok.secret,
        ),
        retry=retry,
        sleep=_no_sleep,
    )


async def per_ad_loop(
    platform: str, adapter: Any, account: AccountRecord, ad_ids: list[str], since: dt.date, until: dt.date
) -> int:
    """The seed's way: each ad's daily metrics asked for on its own, in each platform's longest window."""
    before = adapter.transport.requests
    acc = account.platform_id
    for ad in ad_ids:
        if platform == "meta":
            await adapter._pages(
                f"{ad}/insights",
                account=acc,
                stream="per_ad",
                time_increment=1,
                time_range={"since": since.isoformat(), "until": until.isoformat()},
                fields="impressions,spend",
            )
        elif platform == "tiktok":
            for first, last in adapter._windows(since, until):
                await adapter._pages(
                    "report/integrated/get",
                    account=acc,
                    stream="per_ad",
                    advertiser_id=acc,
                    service_type="AUCTION",
                    report_type="BASIC",
                    data_level="AUCTION_AD",
                    dimensions=["ad_id", "stat_time_day"],
                    metrics=["spend", "impressions"],
                    start_date=first.isoformat(),
                    end_date=last.isoformat(),
                    filtering=[
                        {"field_name": "ad_ids", "filter_type": "IN", "filter_value": json.dumps([ad])}
                    ],
                )
        else:
            for first, last in x_windows(since, until, 7):
                start = x_midnight(first, account.timezone)
                end = x_midnight(last + dt.timedelta(days=1), account.timezone)
                for placement in ("ALL_ON_TWITTER", "PUBLISHER_NETWORK"):
                    await adapter._call(
                        "GET",
                        f"stats/accounts/{acc}",
                        account=acc,
                        stream="per_ad",
                        **adapter._stats_params(account, [ad], start, end, "DAY", placement),
                    )
    return adapter.transport.requests - before


async def measure_requests(platforms: list[str], ads: int, days: int) -> dict[str, tuple[int, int, int]]:
    today = dt.date(2026, 11, 25)
    market = Market(
        WorldConfig(seed=7, today=today, accounts=1, ads=ads, days=days + 1, platforms=tuple(platforms))
    )
    since, until = today - dt.timedelta(days=days), today - dt.timedelta(days=1)
    out: dict[str, tuple[int, int, int]] = {}
    with running_sandbox(
        market, meta=MetaOptions(rate_limits=RateLimitMode.OFF, max_sync_cells=10**9)
    ) as url:
        for platform in platforms:
            adapter = adapter_for(platform, url, 7)
            account = (await adapter.accounts())[0]
            ad_ids = [a.platform_id for a in (await adapter.ads(account)).items]
            start = adapter.transport.requests
            rows = len((await adapter.daily_metrics(account, since, until)).items)
            sync_requests = adapter.transport.requests - start
            sample = ad_ids[:SAMPLE]
            baseline = await per_ad_loop(platform, adapter, account, sample, since, until)
            baseline = round(baseline * len(ad_ids) / max(1, len(sample)))
            await adapter.aclose()
            out[platform] = (rows, sync_requests, baseline)
    return out


def measure_upserts(url: str, rows: int) -> tuple[float, float]:
    """Seconds for the writer's normalise+upsert of `rows` ad-day rows, and for a bare executemany."""
    from tools.platforms.records import AdRecord, AdSetRecord, CampaignRecord, MetricRow

    engine = make_engine(url)
    migrate(engine)
    account = AccountRecord(
        platform="meta", platform_id="1", name="bench", currency="USD", timezone="UTC", status="ACTIVE"
    )
    writer = WarehouseWriter(engine)
    writer.accounts([account])
    writer.entities(
        account,
        "campaigns",
        [CampaignRecord(platform_id="c", name="c", status="ACTIVE", effective_status="ACTIVE")],
    )
    writer.entities(
        account,
        "adsets",
        [
            AdSetRecord(
                platform_id="s",
                campaign_platform_id="c",
                name="s",
                status="ACTIVE",
                effective_status="ACTIVE",
            )
        ],
    )
    n_ads = max(1, rows // 90)
    writer.entities(
        account,
        "ads",
        [
            AdRecord(
                platform_id=str(i),
                adset_platform_id="s",
                campaign_platform_id="c",
                name=str(i),
                status="ACTIVE",
                effective_status="ACTIVE",
            )
            for i in range(n_ads)
        ],
    )
    start = dt.date(2026, 1, 1)
    metrics = [
        MetricRow(
            ad_platform_id=str(i % n_ads),
            day=start + dt.timedelta(days=i // n_ads),
            impressions=1000 + i,
            clicks=i % 50,
            spend_micros=1_230_000 + i,
            conversions=i % 3,
            value_micros=5_000_000 * (i % 3),
        )
        for i in range(rows)
    ]
    t0 = time.perf_counter()
    writer.metrics(account, "insights", metrics)
    ours = time.perf_counter() - t0
    raw = [
        {
            "ad_id": f"raw{m.ad_platform_id}",
            "day": m.day,
            "account_id": "a",
            "adset_id": "s",
            "campaign_id": "c",
            "currency": "USD",
            "impressions": m.impressions,
            "clicks": m.clicks,
            "spend_micros": m.spend_micros,
            "conversions": m.conversions,
            "value_micros": m.value_micros,
        }
        for m in metrics
    ]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(DailyMetric.__table__), raw)  # type: ignore[attr-defined]
    bare = time.perf_counter() - t0
    engine.dispose()
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--platforms", default="meta,x,tiktok")
    parser.add_argument("--rows", type=int, default=90_000, help="rows for the upsert measurement")
    args = parser.parse_args()
    platforms = [p for p in args.platforms.split(",") if p]

    results = asyncio.run(measure_requests(platforms, args.ads, args.days))
    print(
        f"requests for {args.ads} ads x {args.days} days of daily ad metrics (one account per platform; the "
        f"per-ad loop is run on {SAMPLE} ads and scaled to all):"
    )
    for platform, (rows, ours, baseline) in results.items():
        print(
            f"  {platform:7s} {rows:,} rows: full sync {ours:,} requests, per-ad loop {baseline:,} requests, "
            f"ratio {ours / baseline:.4f}"
        )

    backends = [("sqlite", f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")]
    pg = os.environ.get("ADCLUSTER_TEST_PG_URL")
    schema = None
    if pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        backends.append(("postgresql", f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"))
    try:
        for name, url in backends:
            ours, bare = measure_upserts(url, args.rows)
            print(
                f"{name}: normalise+upsert {args.rows / ours:,.0f} rows/s, bare executemany "
                f"{args.rows / bare:,.0f} rows/s, ratio {bare / ours:.3f}"
            )
    finally:
        if pg and schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
