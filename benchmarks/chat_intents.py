"""How well a model routes marketers' requests: 43 requests, each with the tool call it should become,
sent through the chat router (`agents.chat.route`: schema validation, numbers from the request,
platform/metric/level/direction consistent with it, one re-ask). A request counts as right when the
validated call has the expected tool and the expected arguments (those listed; others may be anything
valid). Printed: the share right, the share with the right tool, seconds and tokens per request, and
the tool share as a ratio to the baseline in this process (a router that always answers the most common
tool: with its most common arguments it gets no request fully right).

    .venv/bin/python -m benchmarks.chat_intents [--limit N]     # the embedded model, offline
    ADCLUSTER_LLM_BASE_URL=http://localhost:11434/v1 ADCLUSTER_LLM_MODEL=qwen2.5:7b \\
        .venv/bin/python -m benchmarks.chat_intents             # any OpenAI-compatible server
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
from collections import Counter
from typing import Any

from agents.chat import ChatError, route
from app.composition import llm_client
from app.settings import load_settings

TODAY = dt.date(2026, 11, 24)
P = "pause_where"
E = "explain_change"
S = "show_performance"
O = "optimise"  # noqa: E741
A = "audience_waste"
W = "show_alerts"
X = "experiment_progress"
B = "cap_bid"
T = "start_experiment"
CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "pause every X ad with CTR under 0.5% in the last 7 days",
        P,
        {"platform": "x", "metric": "ctr", "op": "<", "value": 0.5, "days": 7},
    ),
    (
        "pause all TikTok ads with a CTR below 0.3%",
        P,
        {"platform": "tiktok", "metric": "ctr", "op": "<", "value": 0.3},
    ),
    (
        "pause Facebook ads whose CPA is over 40 in the last 14 days",
        P,
        {"platform": "meta", "metric": "cpa", "op": ">", "value": 40, "days": 14},
    ),
    (
        "turn off Twitter ads with CPC above 2.5",
        P,
        {"platform": "x", "metric": "cpc", "op": ">", "value": 2.5},
    ),
    (
        "pause every Meta ad set with ROAS under 1.2 over the last 10 days",
        P,
        {"platform": "meta", "level": "adset", "metric": "roas", "op": "<", "value": 1.2, "days": 10},
    ),
    (
        "pause TikTok campaigns that spent more than 500 this week",
        P,
        {"platform": "tiktok", "level": "campaign", "metric": "spend", "op": ">", "value": 500},
    ),
    (
        "stop all Instagram ads with CTR less than 0.4%",
        P,
        {"platform": "meta", "metric": "ctr", "op": "<", "value": 0.4},
    ),
    (
        "pause X ad groups with CPA higher than 60 in the last 30 days",
        P,
        {"platform": "x", "level": "adset", "metric": "cpa", "op": ">", "value": 60, "days": 30},
    ),
    (
        "pause every TikTok ad with CPM above 15",
        P,
        {"platform": "tiktok", "metric": "cpm", "op": ">", "value": 15},
    ),
    (
        "pause ads on every platform with CTR under 0.2%",
        P,
        {"platform": "all", "metric": "ctr", "op": "<", "value": 0.2},
    ),
    (
        "pause the Facebook ads with fewer than 1 conversions in the last 7 days",
        P,
        {"platform": "meta", "metric": "conversions", "op": "<", "value": 1, "days": 7},
    ),
    (
        "pause twitter ads whose conversion rate is below 1%",
        P,
        {"platform": "x", "metric": "cvr", "op": "<", "value": 1},
    ),
    ("why did TikTok CPA rise this week?", E, {"platform": "tiktok", "metric": "cpa"}),
    ("why did our Facebook CPC go up?", E, {"platform": "meta", "metric": "cpc"}),
    ("what happened to X CTR over the last 14 days?", E, {"platform": "x", "metric": "ctr", "days": 14}),
    ("explain the drop in TikTok ROAS", E, {"platform": "tiktok", "metric": "roas"}),
    ("why is Meta spend down this week?", E, {"platform": "meta", "metric": "spend"}),
    ("why did Twitter CPM jump?", E, {"platform": "x", "metric": "cpm"}),
    ("why are TikTok conversions falling?", E, {"platform": "tiktok", "metric": "conversions"}),
    ("why did Instagram CPA rise in the last 3 days?", E, {"platform": "meta", "metric": "cpa", "days": 3}),
    ("what's behind the X conversion rate change this week?", E, {"platform": "x", "metric": "cvr"}),
    ("why did the TikTok CPC fall?", E, {"platform": "tiktok", "metric": "cpc"}),
    ("how are we doing?", S, {}),
    ("show me performance for the last 30 days", S, {"days": 30}),
    ("give me spend and CPA per platform", S, {}),
    ("how did the accounts do this week?", S, {}),
    ("summary of the last 14 days please", S, {"days": 14}),
    ("which audiences waste money on TikTok?", A, {"platform": "tiktok"}),
    ("which age groups or placements cost too much on Facebook?", A, {"platform": "meta"}),
    ("where are we wasting money across audiences?", A, {}),
    ("anything wrong today?", W, {}),
    ("any alerts I should look at?", W, {}),
    ("how is the headline test going?", X, {}),
    ("did the A/B test find a winner?", X, {}),
    ("cap the bid on ad set Yoga Mats | AdSet 2 at the CPA goal", B, {"adset": "Yoga Mats | AdSet 2"}),
    ("set a bid cap of 0.75 on Smart Water Bottles | AdSet 1", B, {"bid": 0.75}),
    (
        "start a test of the headlines 'Run farther' and 'Built to last'",
        T,
        {"arms": ["Run farther", "Built to last"]},
    ),
    ("A/B test the ads Summer A and Summer B on conversion rate", T, {"metric": "cvr"}),
    ("what should I change?", O, {}),
    ("optimise my budgets", O, {}),
    ("find what to improve across all accounts", O, {}),
    ("run the optimizers and propose changes", O, {}),
    ("rebalance spend where it works best", O, {}),
]


def right(name: str, args: dict[str, Any], tool: str, expected: dict[str, Any]) -> bool:
    if name != tool:
        return False
    for key, want in expected.items():
        got = args.get(key)
        if isinstance(want, int | float) and not isinstance(want, bool):
            if not isinstance(got, int | float) or abs(float(got) - float(want)) > 1e-9:
                return False
        elif got != want:
            return False
    return True


def baseline(cases: list[tuple[str, str, dict[str, Any]]]) -> tuple[float, float]:
    """(share fully right, share with the right tool) of always the most common tool with its most
    common arguments."""
    tool = Counter(t for _, t, _ in cases).most_common(1)[0][0]
    args: dict[str, Any] = {}
    for key in {k for _, t, e in cases if t == tool for k in e}:
        values = Counter(json.dumps(e[key]) for _, t, e in cases if t == tool and key in e)
        args[key] = json.loads(values.most_common(1)[0][0])
    full = sum(right(tool, args, t, e) for _, t, e in cases) / len(cases)
    return full, sum(t == tool for _, t, _ in cases) / len(cases)


async def run(limit: int | None) -> dict[str, Any]:
    settings = load_settings()
    cases = CASES[:limit] if limit else CASES
    outcomes = []
    tools_right = []
    async with llm_client(settings) as llm:
        started = time.perf_counter()
        for request, tool, expected in cases:
            t0 = time.perf_counter()
            try:
                choice = await route(llm, request, today=TODAY, platforms=["meta", "x", "tiktok"])
                name, args, error = choice.name, choice.arguments.model_dump(mode="json"), None
            except ChatError as exc:
                name, args, error = "refused", {}, str(exc)
            ok = right(name, args, tool, expected)
            outcomes.append(ok)
            tools_right.append(name == tool)
            print(
                f"{'ok ' if ok else 'BAD'} {time.perf_counter() - t0:5.1f}s {request!r} -> {name} {args}"
                + (f" ({error[:100]})" if error else ""),
                flush=True,
            )
        seconds = time.perf_counter() - started
        usage = llm.usage
        model = llm.model
    share = sum(outcomes) / len(outcomes)
    tool_share = sum(tools_right) / len(tools_right)
    base_full, base_tool = baseline(cases)
    return {
        "model": model,
        "requests": len(outcomes),
        "right_share": round(share, 3),
        "tool_right_share": round(tool_share, 3),
        "baseline_right_share": round(base_full, 3),
        "baseline_tool_right_share": round(base_tool, 3),
        "tool_share_vs_baseline": round(tool_share / base_tool, 3),
        "seconds_per_request": round(seconds / len(outcomes), 2),
        "tokens_per_request": round((usage.prompt_tokens + usage.completion_tokens) / len(outcomes)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.limit))))


if __name__ == "__main__":
    main()
