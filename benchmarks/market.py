"""Ledger throughput: rows per second for a 1,000-ad account over 90 days with segments, as a ratio
against a bare numpy generation of the same number of random draws, run in the same process.

    .venv/bin/python benchmarks/market.py [--ads 1000] [--days 90] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from sandbox.market.config import WorldConfig
from sandbox.market.ledger import METRICS
from sandbox.market.market import Market


def _best_of(repeat: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--accounts", type=int, default=67, help="accounts per platform for the many-accounts run"
    )
    args = parser.parse_args()

    config = WorldConfig(
        seed=7, today=dt.date(2026, 11, 25), accounts=1, ads=args.ads, days=args.days, platforms=("meta",)
    )
    market = Market(config)
    account = next(iter(market.world.accounts))
    since, until = config.start_date, config.today - dt.timedelta(days=1)

    def cold_segments():  # type: ignore[no-untyped-def]
        market.planner.invalidate()
        return market.daily(account, since, until, segments=True)

    seconds, frame = _best_of(args.repeat, cold_segments)
    rows = len(frame)  # type: ignore[arg-type]
    draws = rows * len(METRICS)
    rng = np.random.default_rng(7)
    lam = np.full(draws, 3.0)
    base_seconds, _ = _best_of(args.repeat, lambda: rng.poisson(lam))
    print(
        f"ledger: {args.ads} ads x {args.days} days with segments -> {rows:,} rows in {seconds:.2f} s "
        f"({rows / seconds:,.0f} rows/s)"
    )
    print(
        f"numpy baseline: {draws:,} Poisson draws (one per reported number) in {base_seconds:.3f} s "
        f"({rows / base_seconds:,.0f} rows/s)"
    )
    print(f"ratio ledger/baseline (rows per second): {base_seconds / seconds:.3f}")

    plain_seconds, plain = _best_of(
        args.repeat, lambda: (market.planner.invalidate(), market.daily(account, since, until))[1]
    )
    print(
        f"ledger without segments: {len(plain):,} ad-day rows in {plain_seconds:.2f} s "  # type: ignore[arg-type]
        f"({len(plain) / plain_seconds:,.0f} rows/s)"
    )  # type: ignore[arg-type]

    many = Market(WorldConfig(seed=7, today=dt.date(2026, 11, 25), accounts=args.accounts, ads=20, days=30))
    yesterday = many.now().date - dt.timedelta(days=1)
    t0 = time.perf_counter()
    served = sum(len(many.daily(a, yesterday, yesterday)) for a in many.world.accounts)
    print(
        f"{len(many.world.accounts)} accounts: yesterday's ad rows for all ({served:,}) in "
        f"{time.perf_counter() - t0:.2f} s, world built lazily (no cell precomputed)"
    )


if __name__ == "__main__":
    main()
