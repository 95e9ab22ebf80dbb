"""One full graph cycle on a 3 x 1,000-ad sandbox world (one account of 1,000 ads per platform, 28 days
synced): wall time per node, as ratios of the perceive node's bare warehouse query (`performance` over
the last 7 days, run alone in this process), with the LLM replaced by a zero-latency scripted stub; then
the same cycle's create node with the embedded model: its tokens and seconds.

    .venv/bin/python -m benchmarks.cycle [--ads 1000] [--no-embedded]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.types import Command

from app import composition
from app.cycle import open_cycle
from app.demo import demo_settings, sync_daily
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from tools.llm.client import LLMClient
from tools.llm.fake import FakeChatServer, Reply
from tools.reporting import performance

DRAFT = {
    "headline": "Made for the long run",
    "primary_text": "Light, grippy and built to last. Free returns.",
    "cta_type": "shop_now",
    "emotion": "joy",
    "theme": "quality",
    "offer": "none",
    "language": "en",
}


async def timed_cycle(
    settings: Settings, thread: str, llm: LLMClient
) -> tuple[dict[str, float], dict[str, Any]]:
    """Seconds per node of one cycle (approve: the time to resume with every proposal approved)."""
    seconds: dict[str, float] = {}
    async with open_cycle(settings, thread_id=thread, llm=llm) as cycle:
        config = cycle.config(thread)
        last = time.perf_counter()
        async for chunk in cycle.graph.astream(
            {"request": None}, config, context=cycle.context, stream_mode="updates"
        ):
            now = time.perf_counter()
            for node in chunk:
                if node != "__interrupt__":
                    seconds[node] = seconds.get(node, 0.0) + now - last
            last = now
        state = await cycle.graph.aget_state(config)
        waiting = [i.value for task in state.tasks for i in task.interrupts]
        counts = {"proposals": len(waiting[0]["proposals"]) if waiting else 0}
        if waiting:
            decisions = [
                {"id": p["action"]["id"], "decision": "approve", "by": "bench"}
                for p in waiting[0]["proposals"]
            ]
            last = time.perf_counter()
            async for chunk in cycle.graph.astream(
                Command(resume={"decisions": decisions}), config, context=cycle.context, stream_mode="updates"
            ):
                now = time.perf_counter()
                for node in chunk:
                    seconds[node] = seconds.get(node, 0.0) + now - last
                last = now
            final = await cycle.graph.aget_state(config)
            counts["applied"] = sum(r.get("status") == "executed" for r in final.values.get("results", []))
    return seconds, counts


def bare_query(settings: Settings, until: dt.date, reps: int = 5) -> float:
    engine = composition.warehouse(settings)
    try:
        best = float("inf")
        for _ in range(reps):
            started = time.perf_counter()
            performance(engine, days=7, until=until, fx=settings.fx_rates, reporting_currency="USD")
            best = min(best, time.perf_counter() - started)
        return best
    finally:
        engine.dispose()


async def run(ads: int, embedded: bool) -> dict[str, Any]:
    market = Market(WorldConfig(seed=7, today=dt.date(2026, 11, 25), accounts=1, ads=ads, days=35))
    out: dict[str, Any] = {"ads_per_platform": ads}
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, Path(tmp))
        started = time.perf_counter()
        out["sync"] = await sync_daily(settings, 28)
        out["sync_seconds"] = round(time.perf_counter() - started, 1)
        until = market.now().date - dt.timedelta(days=1)
        base_s = bare_query(settings, until)
        stub = FakeChatServer(then=Reply.json(DRAFT))
        async with stub.client() as llm:
            seconds, counts = await timed_cycle(settings, "bench-stub", llm)
        total = sum(seconds.values())
        out |= {
            "bare_query_seconds": round(base_s, 4),
            "node_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "node_vs_bare_query": {k: round(v / base_s, 1) for k, v in seconds.items()},
            "cycle_seconds": round(total, 2),
            "cycle_vs_bare_query": round(total / base_s, 1),
            **counts,
        }
        if embedded:
            async with composition.llm_client(settings) as llm:
                seconds, _ = await timed_cycle(settings, "bench-embedded", llm)
                usage = llm.usage
                out["embedded"] = {
                    "model": llm.model,
                    "create_seconds": round(seconds.get("create", 0.0), 2),
                    "llm_calls": usage.calls,
                    "llm_tokens": usage.total_tokens,
                    "llm_seconds": round(usage.latency_s, 2),
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ads", type=int, default=1000, help="ads per platform (one account each)")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded model's cycle")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.ads, not args.no_embedded))))


if __name__ == "__main__":
    main()
