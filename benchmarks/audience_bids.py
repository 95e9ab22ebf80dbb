"""Audience exclusions in a closed loop on the sandbox: 28 simulated days, a review every 7 days.

- untouched: the world as it is;
- audiences: each review syncs the platforms' APIs (segments included) into a warehouse, the analyst's
  audience report proposes exclusions (`agents/audience_proposals.py`), every one is approved and the
  executor applies it over the APIs;
- audiences_bids: the same, with the analyst's bid changes too (`agents/bid_proposals.py`: capped ad
  sets toward the account's CPA, caps for volatile ones);
- oracle: each review excludes, per live ad set and in one dimension, the segments whose true cost per
  conversion (the market's hidden parameters) is at least 1.2x the rest of the ad set's, within the
  same 30% share of spend, applied in-process.

Conversions and CPA come from the market's own ledger after late conversions arrived, in USD, as
ratios to the untouched world of the same seed. The oracle knows audiences only: it sets no bids.

    .venv/bin/python -m benchmarks.audience_bids [--seeds 3] [--days 28] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from agents.audience_proposals import AudienceConfig, audience_actions
from agents.bid_proposals import bid_actions
from agents.executor import execute
from app import composition
from app.demo import demo_settings
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from benchmarks.closed_loop import outcome, vs_untouched
from sandbox.market.changes import UpdateAdSet
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from sandbox.market.segments import DIMENSIONS, SEGMENT_INDEX, Targeting
from storage.audit import AuditLog
from tools.audience_inputs import load_segments
from tools.optimize.bids import BidConfig
from tools.rule_inputs import load_series

TODAY = dt.date(2026, 11, 25)
REVIEW_DAYS = 7
FX = Settings().fx_rates
FIELDS = {"age": "ages", "gender": "genders", "country": "countries", "placement": "placements"}


def world(seed: int) -> WorldConfig:
    return WorldConfig(seed=seed, today=TODAY, accounts=1, ads=30, days=35)


def untouched(seed: int, days: int) -> dict[str, Any]:
    market = Market(world(seed))
    start = market.now().date
    market.advance(days=days)
    return outcome(market, start, days)


def oracle_review(market: Market, share_cap: float = 0.3, lift: float = 1.2) -> int:
    """Exclude the truly dearer segments of one dimension per live ad set, as the analyst may."""
    hour = market.clock.now_hour
    changed = 0
    for adset in market.world.adsets.values():
        if adset.value_at("status", hour) != "ACTIVE":
            continue
        truth = market.truth.adset(adset.id)
        targeting: Targeting = adset.value_at("targeting", hour) or Targeting()
        mask = targeting.mask()
        cost = truth.volume * truth.cpm_factor * mask
        conv = truth.volume * np.exp(truth.log_ctr + truth.log_cvr) * mask
        best: tuple[float, str, list[str]] | None = None
        for dim, values in DIMENSIONS.items():
            allowed = getattr(targeting, FIELDS[dim])
            out: list[str] = []
            share = 0.0
            for k, value in enumerate(values):
                if value not in allowed:
                    continue
                cells = SEGMENT_INDEX[dim] == k
                rest = ~cells
                if conv[cells].sum() <= 0 or conv[rest].sum() <= 0:
                    continue
                cpa = cost[cells].sum() / conv[cells].sum()
                cpa_rest = cost[rest].sum() / conv[rest].sum()
                if cpa >= lift * cpa_rest:
                    out.append(value)
                    share += float(cost[cells].sum() / cost.sum())
            if out and share <= share_cap and len(out) < len(allowed) and (best is None or share > best[0]):
                best = (share, dim, out)
        if best is None:
            continue
        _, dim, out = best
        kept = [v for v in getattr(targeting, FIELDS[dim]) if v not in out]
        if dim == "age" and market.world.account(adset.account_id).platform == "meta":
            ages = list(DIMENSIONS["age"])
            idx = sorted(ages.index(v) for v in kept)
            if idx != list(range(idx[0], idx[-1] + 1)):
                continue  # Meta targets one contiguous age range
        market.apply(
            UpdateAdSet(id=adset.id, targeting=targeting.model_copy(update={FIELDS[dim]: tuple(kept)}))
        )
        changed += 1
    return changed


def oracle(seed: int, days: int) -> dict[str, Any]:
    market = Market(world(seed))
    start = market.now().date
    changes = 0
    for day in range(days):
        if day % REVIEW_DAYS == 0:
            changes += oracle_review(market)
        market.advance(days=1)
    return {**outcome(market, start, days), "changes": changes}


async def _review(settings: Settings, days: int, *, bids: bool) -> int:
    from tools.ingest.sync import Syncer, SyncOptions
    from tools.ingest.writer import WarehouseWriter

    sandbox = await composition.sandbox_world(settings)
    adapters = composition.build_adapters(settings, sandbox, platforms=list(settings.platforms), sink=None)
    engine = composition.warehouse(settings)
    try:
        syncer = Syncer(
            writer=WarehouseWriter(engine), adapters=adapters, today=composition.today_for(sandbox)
        )
        await syncer.sync(SyncOptions(days=days, segments=True, hourly=False))
        until = composition.today_for(sandbox)(None) - dt.timedelta(days=1)  # type: ignore[arg-type]
        notes: list[str] = []
        segments = load_segments(engine, until - dt.timedelta(days=27), until)
        actions = audience_actions([s for s in segments if s.status == "ACTIVE"], AudienceConfig(), notes)
        if bids:
            since = until - dt.timedelta(days=27)
            series = load_series(engine, "adset", since, until)
            actions += bid_actions(engine, series, since, until, BidConfig(), notes)
        if not actions:
            return 0
        audit = AuditLog(engine)
        audit.propose(actions, run_id="bench")
        for a in actions:
            audit.decide(a.id, verdict="approve", by="bench", how="cli")
        accounts = [acc for adapter in adapters.values() for acc in await adapter.accounts()]
        report = await execute(actions, adapters, audit, accounts=accounts)
        return sum(o.outcome == "executed" for o in report.outcomes)
    finally:
        for adapter in adapters.values():
            await adapter.aclose()
        engine.dispose()


def audiences(seed: int, days: int, *, bids: bool = False) -> dict[str, Any]:
    market = Market(world(seed))
    start = market.now().date
    applied = 0
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, Path(tmp), llm=False)
        with httpx.Client(base_url=base, timeout=60) as client:
            for day in range(days):
                if day % REVIEW_DAYS == 0:
                    applied += asyncio.run(_review(settings, 35 if day == 0 else REVIEW_DAYS + 1, bids=bids))
                client.post("/_sandbox/clock/advance", json={"days": 1}).raise_for_status()
    return {**outcome(market, start, days), "changes": applied}


def run_seed(job: tuple[int, int]) -> dict[str, Any]:
    seed, days = job
    started = time.perf_counter()
    out = {
        "seed": seed,
        "untouched": untouched(seed, days),
        "audiences": audiences(seed, days),
        "audiences_bids": audiences(seed, days, bids=True),
        "oracle": oracle(seed, days),
    }
    print(
        f"seed {seed}: {time.perf_counter() - started:.0f} s {json.dumps(out)}", file=sys.stderr, flush=True
    )
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": len(runs)}
    for arm in ("audiences", "audiences_bids", "oracle"):
        out |= vs_untouched(runs, arm, ("conversions", "cpa_usd"))
        out[f"{arm}_changes"] = sum(r[arm]["changes"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(s, args.days) for s in range(args.first_seed, args.first_seed + args.seeds)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(run_seed, jobs))
    print(json.dumps({**summarise(runs), "seconds": round(time.perf_counter() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
