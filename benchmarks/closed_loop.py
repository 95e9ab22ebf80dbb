"""The whole graph in a closed loop on the sandbox: every simulated day a cycle syncs over the platforms'
APIs, perceives, analyses, plans under the default guardrails, and every proposal it asks about is
approved; the executor applies them over the APIs; the market moves on a day. After the days, the
market's own ledger (late conversions included) gives conversions and CPA, against the same world

- left untouched, and
- under the seed's rules (its CPA rule on every budget: cut 20% above 1.2x the account's CPA before the
  run, raise 20% below 0.8x), applied in-process each day,

over several seeds. Money is summed in USD at the settings' default rates. New ads are off (no model),
and the minimum interval between changes is lifted: simulated days pass in seconds of wall time.

    .venv/bin/python -m benchmarks.closed_loop [--seeds 3] [--days 28] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from langgraph.types import Command

from app.cycle import open_cycle
from app.demo import demo_settings, sync_daily
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from sandbox.market.config import WorldConfig
from sandbox.market.errors import InvalidChangeError
from sandbox.market.market import Market
from tools.optimize.allocation import AdSetHistory, CpaRule

TODAY = dt.date(2026, 11, 25)
LATE_DAYS = 14
FX = Settings().fx_rates


def world(seed: int) -> WorldConfig:
    return WorldConfig(seed=seed, today=TODAY, accounts=1, ads=30, days=45)


def outcome(market: Market, start: dt.date, days: int) -> dict[str, float]:
    """Conversions and USD spend over the days from `start`, from the ledger, after late conversions."""
    market.advance(days=LATE_DAYS)
    spend, conv = Decimal(0), 0
    for account in market.world.accounts.values():
        for row in market.daily(account.id, start, start + dt.timedelta(days=days - 1)).to_rows():
            spend += Decimal(row["spend_micros"]) / Decimal(10**6) / FX[account.currency]
            conv += row["conversions"]
    return {
        "conversions": conv,
        "spend_usd": float(spend),
        "cpa_usd": float(spend / conv) if conv else float("nan"),
    }


def untouched(seed: int, days: int) -> dict[str, float]:
    market = Market(world(seed))
    start = market.now().date
    market.advance(days=days)
    return outcome(market, start, days)


def _budget_history(market: Market, adset_id: str, window: int) -> tuple[list[int], list[float]]:
    today = market.now().date
    adset = market.world.adset(adset_id)
    by_day: dict[str, list[float]] = {}
    for row in market.daily(
        adset.account_id, today - dt.timedelta(days=window), today - dt.timedelta(days=1)
    ).to_rows():
        if market.world.ads[row["ad_id"]].adset_id == adset_id:
            day = by_day.setdefault(row["date"], [0, 0])
            day[0] += row["spend_micros"]
            day[1] += row["conversions"]
    dates = sorted(by_day)
    return [int(by_day[d][0]) for d in dates], [by_day[d][1] for d in dates]


def seed_rules(seed: int, days: int) -> dict[str, float]:
    market = Market(world(seed))
    start = market.now().date
    goals = {}
    for account in market.world.accounts.values():
        rows = market.daily(account.id, start - dt.timedelta(days=28), start - dt.timedelta(days=1)).to_rows()
        spend = sum(r["spend_micros"] for r in rows) / 1e6
        conv = sum(r["conversions"] for r in rows)
        goals[account.id] = spend / conv if conv else spend
    for _ in range(days):
        hour = market.clock.now_hour
        for adset in market.world.adsets.values():
            budget = adset.value_at("daily_budget_micros", hour)
            if not budget:
                continue  # under a campaign budget: the seed's rule works on ad set budgets
            spend, conv = _budget_history(market, adset.id, 7)
            history = AdSetHistory(
                adset_id=adset.id,
                currency=market.world.account(adset.account_id).currency,
                current_budget_micros=budget,
                spend_micros=spend or [0],
                conversions=conv or [0.0],
                minor_unit_micros=10**6
                if market.world.account(adset.account_id).currency == "JPY"
                else 10_000,
            )
            (proposal,) = CpaRule(goal_cost=goals[adset.account_id]).allocate([history], budget)
            if proposal.proposed_budget_micros != budget:
                # Below the platform's minimum the platform refuses it and the budget stays.
                with contextlib.suppress(InvalidChangeError):
                    market.apply(
                        {
                            "kind": "update_adset",
                            "id": adset.id,
                            "daily_budget_micros": proposal.proposed_budget_micros,
                        }
                    )
        market.advance(days=1)
    return outcome(market, start, days)


async def _graph_days(settings: Settings, base: str, days: int) -> dict[str, int]:
    counts = {"proposed": 0, "applied": 0}
    await sync_daily(settings, 28)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for day in range(days):
            async with open_cycle(settings, thread_id=f"loop-{day}") as cycle:
                config = cycle.config(f"loop-{day}")
                result = await cycle.graph.ainvoke({"request": None}, config, context=cycle.context)
                waiting = result.get("__interrupt__") or []
                if waiting:
                    proposals = waiting[0].value["proposals"]
                    counts["proposed"] += len(proposals)
                    decisions = [
                        {"id": p["action"]["id"], "decision": "approve", "by": "bench"} for p in proposals
                    ]
                    result = await cycle.graph.ainvoke(
                        Command(resume={"decisions": decisions}), config, context=cycle.context
                    )
                counts["applied"] += sum(r.get("status") == "executed" for r in result.get("results", []))
            (await client.post("/_sandbox/clock/advance", json={"days": 1})).raise_for_status()
            await sync_daily(settings, 28)
    return counts


def graph(seed: int, days: int) -> dict[str, float]:
    market = Market(world(seed))
    start = market.now().date
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, Path(tmp), llm=False)
        counts = asyncio.run(_graph_days(settings, base, days))
    # The served market is this object: its ledger is the truth of what the graph's changes did.
    return {**outcome(market, start, days), **counts}


def run_seed(job: tuple[int, int]) -> dict[str, Any]:
    seed, days = job
    started = time.perf_counter()
    out = {
        "seed": seed,
        "untouched": untouched(seed, days),
        "seed_rules": seed_rules(seed, days),
        "graph": graph(seed, days),
    }
    print(
        f"seed {seed}: {time.perf_counter() - started:.0f} s {json.dumps(out)}", file=sys.stderr, flush=True
    )
    return out


MEASURES = {"conversions": "conversions", "cpa_usd": "cpa", "spend_usd": "spend"}


def vs_untouched(
    runs: list[dict[str, Any]], arm: str, measures: tuple[str, ...] = tuple(MEASURES)
) -> dict[str, Any]:
    """Each measure of `arm` as a ratio to the untouched world of the same seed: mean, min and max."""
    out: dict[str, Any] = {}
    for m in measures:
        values = [r[arm][m] / r["untouched"][m] for r in runs]
        out[f"{arm}_{MEASURES[m]}_vs_untouched"] = {
            k: round(float(f(values)), 3) for k, f in (("mean", np.mean), ("min", np.min), ("max", np.max))
        }
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": len(runs)}
    for policy in ("seed_rules", "graph"):
        out |= vs_untouched(runs, policy)
    out["graph_applied_per_day"] = round(
        float(np.mean([r["graph"]["applied"] for r in runs])) / runs[0]["days"], 1
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [(7 + i, args.days) for i in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = [r | {"days": args.days} for r in pool.map(run_seed, jobs)]
    print(json.dumps(summarise(runs) | {"days": args.days, "seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
