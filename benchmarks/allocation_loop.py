"""The budget allocators in a closed loop on the sandbox market (in-process): every simulated day each
policy reads the ledger as reported so far, proposes budgets for the USD ad sets with their own budgets,
and the market delivers; conversions over the 28 days are counted after late ones have arrived, as a
share of the oracle's (which re-allocates daily on the true curves). The learning days count."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np

from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from tools.optimize.allocation import AdSetHistory, CpaRule, CurveAllocator, EqualSplit, Guardrails

POLICIES = ("oracle", "equal", "cpa_rule", "curves_uncapped", "curves_guarded")


def _adsets(market: Market) -> list[str]:
    hour = market.clock.now_hour
    return [
        s.id
        for s in market.world.adsets.values()
        if market.world.account(s.account_id).currency == "USD"
        and s.value_at("daily_budget_micros", hour)
        and market.planner.plan(s.id, hour + 24).active[hour + 12]
    ]


def _history(
    market: Market, ids: list[str], days: int
) -> dict[str, tuple[list[int], list[float], list[int]]]:
    today = market.now().date
    since = today - dt.timedelta(days=days)
    spend: dict[str, dict[str, int]] = defaultdict(dict)
    conv: dict[str, dict[str, float]] = defaultdict(dict)
    imps: dict[str, dict[str, int]] = defaultdict(dict)
    wanted = set(ids)
    for account in {market.world.adset(i).account_id for i in ids}:
        for row in market.daily(account, since, today - dt.timedelta(days=1)).to_rows():
            adset = market.world.ads[row["ad_id"]].adset_id
            if adset in wanted:
                spend[adset][row["date"]] = spend[adset].get(row["date"], 0) + row["spend_micros"]
                conv[adset][row["date"]] = conv[adset].get(row["date"], 0.0) + row["conversions"]
                imps[adset][row["date"]] = imps[adset].get(row["date"], 0) + row["impressions"]
    out = {}
    for i in ids:
        dates = sorted(spend[i])
        out[i] = ([spend[i][d] for d in dates], [conv[i][d] for d in dates], [imps[i][d] for d in dates])
    return out


def run(seed: int, days: int = 28) -> dict[str, float]:
    config = WorldConfig(seed=seed, today=dt.date(2026, 11, 25))
    base = Market(config)
    ids = _adsets(base)
    hour = base.clock.now_hour
    total = sum(base.world.adset(i).value_at("daily_budget_micros", hour) for i in ids)
    history = _history(base, ids, 60)
    spend_all = sum(sum(h[0]) for h in history.values()) / 1e6
    conv_all = sum(sum(h[1]) for h in history.values())
    goal = spend_all / conv_all if conv_all else 50.0
    start = base.now().date
    results = {}
    for name in POLICIES:
        market = Market(config)
        for _day in range(days):
            if name == "oracle":
                plan = {
                    a["adset_id"]: a["budget_micros"]
                    for a in market.oracle("USD", total, adset_ids=ids)["allocation"]
                }
            else:
                hist = _history(market, ids, 60)
                adsets = [
                    AdSetHistory(
                        adset_id=i,
                        currency="USD",
                        current_budget_micros=market.world.adset(i).value_at(
                            "daily_budget_micros", market.clock.now_hour
                        ),
                        min_budget_micros=1_000_000,
                        spend_micros=hist[i][0],
                        conversions=hist[i][1],
                        impressions=hist[i][2],
                    )
                    for i in ids
                ]
                allocator = {
                    "equal": EqualSplit(),
                    "cpa_rule": CpaRule(goal_cost=goal),
                    "curves_uncapped": CurveAllocator(Guardrails(max_change=None), seed=seed),
                    "curves_guarded": CurveAllocator(Guardrails(), seed=seed),
                }[name]
                plan = {p.adset_id: p.proposed_budget_micros for p in allocator.allocate(adsets, total)}
            for adset_id, budget in plan.items():
                if budget >= 1_000_000:
                    market.apply(
                        {
                            "kind": "update_adset",
                            "id": adset_id,
                            "daily_budget_micros": budget,
                            "status": "ACTIVE",
                        }
                    )
                else:
                    market.apply({"kind": "update_adset", "id": adset_id, "status": "PAUSED"})
            market.advance(days=1)
        market.advance(days=14)  # late conversions arrive
        hist = {}
        for account in {market.world.adset(i).account_id for i in ids}:
            for row in market.daily(account, start, start + dt.timedelta(days=days - 1)).to_rows():
                adset = market.world.ads[row["ad_id"]].adset_id
                if adset in ids:
                    hist[adset] = hist.get(adset, 0) + row["conversions"]
        results[name] = float(sum(hist.values()))
    return {name: results[name] / results["oracle"] for name in POLICIES if name != "oracle"}


def main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    shares = defaultdict(list)
    for seed in range(args.seeds):
        for name, share in run(seed + 7).items():
            shares[name].append(share)
        print(f"seed {seed + 7}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in shares.items()), flush=True)
    summary = {
        k: {
            "mean": round(float(np.mean(v)), 3),
            "min": round(float(np.min(v)), 3),
            "max": round(float(np.max(v)), 3),
        }
        for k, v in shares.items()
    }
    print(json.dumps({"allocation_share_of_oracle": summary, "seeds": args.seeds}))


if __name__ == "__main__":
    main()
