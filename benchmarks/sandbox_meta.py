"""Meta insights over HTTP: rows per second served by the sandbox for a 1,000-ad account, against
reading the same rows from the ledger in-process, as a ratio (both measured here, in one process).

    .venv/bin/python benchmarks/sandbox_meta.py [--ads 1000] [--days 28]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import httpx

from app.sandbox_runner import running_sandbox
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from sandbox.meta.api import MetaOptions
from sandbox.meta.throttle import RateLimitMode
from sandbox.server.credentials import credentials_for


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=28, help="days of insights read")
    args = parser.parse_args()

    today = dt.date(2026, 11, 25)
    config = WorldConfig(seed=7, today=today, accounts=1, ads=args.ads, days=60, platforms=("meta",))
    since, until = today - dt.timedelta(days=args.days), today - dt.timedelta(days=1)
    token = credentials_for(7).meta.access_token

    in_process = Market(config)
    account = next(iter(in_process.world.accounts))
    t0 = time.perf_counter()
    frame = in_process.daily(account, since, until)
    ledger_rows = frame.to_rows()
    ledger_seconds = time.perf_counter() - t0

    served = Market(config)
    options = MetaOptions(rate_limits=RateLimitMode.OFF, max_sync_cells=10_000_000)
    with running_sandbox(served, meta=options) as base, httpx.Client(timeout=300) as client:
        t0 = time.perf_counter()
        rows = []
        response = client.get(
            f"{base}/v25.0/act_{account}/insights",
            params={
                "access_token": token,
                "level": "ad",
                "time_increment": "1",
                "limit": "5000",
                "fields": "ad_id,impressions,clicks,spend,actions,action_values",
                "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            },
        )
        while True:
            body = response.raise_for_status().json()
            rows.extend(body["data"])
            nxt = body.get("paging", {}).get("next")
            if not nxt:
                break
            response = client.get(nxt)
        http_seconds = time.perf_counter() - t0
    assert len(rows) == len(ledger_rows), (len(rows), len(ledger_rows))
    print(
        f"in-process ledger: {len(ledger_rows):,} ad-day rows in {ledger_seconds:.2f} s "
        f"({len(ledger_rows) / ledger_seconds:,.0f} rows/s)"
    )
    print(
        f"over HTTP (Graph insights, level=ad, time_increment=1, pages of 5000): {len(rows):,} rows in "
        f"{http_seconds:.2f} s ({len(rows) / http_seconds:,.0f} rows/s)"
    )
    print(f"ratio HTTP/in-process (rows per second): {ledger_seconds / http_seconds:.3f}")


if __name__ == "__main__":
    main()
