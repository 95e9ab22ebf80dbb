"""Alerts against the sandbox's injected market events, over seeds: each seed's world (Meta, X and
TikTok, one account of 30 ads each, 45 days) is synced over the APIs; every ad set is judged on each of
the last 7 quiet days (false alerts per 100 quiet ad-set-weeks); then a spend spike (3x), a delivery drop
and a disapproval of a live ad are injected on random entities, a simulated day passes, the warehouse
is synced again and the next cycle's alerts are checked for each event (the detection rate). A quiet
week's alert is checked against the market's own expected values (`backed_by_truth`): one that a real
drift backs (fatigue, pacing, the market) is counted apart from those nothing backs. As a
baseline in the same process, a fixed-threshold rule (spend over 1.5x the daily budget, zero
impressions) runs on the same days.

    .venv/bin/python -m benchmarks.alerts [--seeds 20] [--workers 2]
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

import numpy as np

from app import composition
from app.demo import demo_settings, sync_daily
from app.sandbox_runner import running_sandbox
from app.settings import Settings
from sandbox.market.changes import MarketEvent
from sandbox.market.config import WorldConfig
from sandbox.market.market import Market
from tools.alert_inputs import adset_watches, detect_all
from tools.optimize.alerts import AdSetWatch, Alert, AlertConfig, adset_alerts

TODAY = dt.date(2026, 11, 25)
QUIET_DAYS = 7
HISTORY_DAYS = 45  # the quiet week's days each need their CPA windows (6 + 28 days) and the lag


async def sync(settings: Settings, days: int) -> None:
    text = await sync_daily(settings, days, hourly=True)
    if "failed" in text:
        raise RuntimeError(f"sync: {text}")


def fixed_rule(watch: AdSetWatch, judged: dt.date) -> bool:
    """The baseline: spend over 1.5x the daily budget, or no impressions on a live ad set."""
    day = next((d for d in watch.days if d.day == judged), None)
    if day is None:
        return False
    over = watch.daily_budget_micros is not None and day.spend_micros > 1.5 * watch.daily_budget_micros
    return over or (watch.live and day.impressions == 0)


def backed_by_truth(market: Market, alert: Alert, judged: dt.date, cfg: AlertConfig) -> bool:
    """Whether the market's own expected values moved as the alert says, between the alert's windows:
    natural drift (fatigue, pacing, the market) the alert rightly reports, not noise. CPA and spend from
    the ad set's expected spend and conversions, CTR from its ads' true CTRs weighted by their shares;
    a move of at least 1.25x (CPA), 0.8x (CTR) or 1.5x (spend) backs the alert."""
    adset = market.world.adset(alert.entity.platform_id)
    first = market.config.today - dt.timedelta(days=market.config.days)

    def rows(day: dt.date) -> dict[str, Any] | None:
        if day < first:
            return None
        return next(r for r in market.adset_truth(adset.account_id, day) if r["adset_id"] == adset.id)

    def ratio(end: dt.date, recent: range, before: range, value: Any) -> float:
        def mean(days: range) -> float:
            got = [value(end - dt.timedelta(days=k)) for k in days]
            got = [g for g in got if g is not None]
            return float(np.mean(got)) if got else float("nan")

        return mean(recent) / mean(before)

    if alert.kind == "cpa_jump":
        end = judged - dt.timedelta(days=cfg.conversion_lag_days)

        def cpa(day: dt.date) -> float | None:
            r = rows(day)
            return (
                r["expected_spend"] / r["expected_conversions"] if r and r["expected_conversions"] else None
            )

        return (
            ratio(
                end, range(cfg.recent_days), range(cfg.recent_days, cfg.recent_days + cfg.baseline_days), cpa
            )
            >= 1.25
        )
    if alert.kind == "spend_spike":

        def spend(day: dt.date) -> float | None:
            r = rows(day)
            return r["expected_spend"] if r else None

        return ratio(judged, range(1), range(1, 8), spend) >= 1.5
    if alert.kind == "ctr_drop":

        def ctr(day: dt.date) -> float | None:
            if day < first:
                return None
            ads = [
                r for r in market.ad_truth(adset.account_id, day) if r["adset_id"] == adset.id and r["live"]
            ]
            share = sum(r["impression_share"] for r in ads)
            return sum(r["ctr"] * r["impression_share"] for r in ads) / share if share else None

        return (
            ratio(
                judged,
                range(cfg.recent_days),
                range(cfg.recent_days, cfg.recent_days + cfg.baseline_days),
                ctr,
            )
            <= 0.8
        )
    return False


def run_seed(seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    cfg = AlertConfig()
    market = Market(WorldConfig(seed=seed, today=TODAY, accounts=1, ads=30, days=HISTORY_DAYS))
    rng = np.random.default_rng(seed)
    with running_sandbox(market) as base, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(base, Path(tmp), llm=False)
        asyncio.run(sync(settings, HISTORY_DAYS))
        engine = composition.warehouse(settings)
        last = market.now().date - dt.timedelta(days=1)
        quiet: dict[str, Any] = {"adset_weeks": 0, "alerts": 0, "backed": 0, "fixed_rule": 0, "kinds": {}}
        seen: set[tuple[str, str]] = set()  # an alert repeated on later days of the week is one alert
        for k in range(QUIET_DAYS):
            judged = last - dt.timedelta(days=k)
            for watch in adset_watches(engine, judged, cfg):
                past = watch.model_copy(update={"hours_today": []})  # hours exist for today only
                for a in adset_alerts(past, judged, cfg):
                    if (a.kind, a.entity.platform_id) not in seen:
                        seen.add((a.kind, a.entity.platform_id))
                        quiet["alerts"] += 1
                        quiet["backed"] += backed_by_truth(market, a, judged, cfg)
                        quiet["kinds"][a.kind] = quiet["kinds"].get(a.kind, 0) + 1
                        quiet.setdefault("examples", []).append(
                            [
                                a.message,
                                [round(d.spend_micros / 1e6) for d in past.days[-10:]],
                                past.daily_budget_micros,
                            ]
                        )
                quiet["fixed_rule"] += fixed_rule(past, judged)
        quiet["adset_weeks"] = len(adset_watches(engine, last, cfg))
        hour = market.clock.now_hour
        delivering = {
            w.entity.platform_id
            for w in adset_watches(engine, last, cfg)
            if w.live and any(d.day == last and d.impressions > 0 for d in w.days)
        }
        live_sets = sorted(
            (s for s in market.world.adsets.values() if s.id in delivering), key=lambda s: s.id
        )
        spike, drop = rng.choice(len(live_sets), size=2, replace=False)
        spiked, dropped = live_sets[int(spike)], live_sets[int(drop)]
        ads = [
            a
            for a in market.world.ads.values()
            if a.value_at("status", hour) == "ACTIVE"
            and not a.disapproved
            and a.adset_id not in (spiked.id, dropped.id)
            and market.world.adset(a.adset_id).value_at("status", hour) == "ACTIVE"
        ]
        ad = ads[int(rng.integers(len(ads)))]
        for event in (
            MarketEvent(event="spend_spike", id=spiked.id, factor=3.0),
            MarketEvent(event="delivery_drop", id=dropped.id),
            MarketEvent(event="disapprove_ad", id=ad.id),
        ):
            market.apply(event)
        market.advance(days=1)
        asyncio.run(sync(settings, 3))
        judged = market.now().date - dt.timedelta(days=1)
        alerts = detect_all(engine, judged=judged, now=dt.datetime.now(dt.UTC))
        watches = {w.entity.platform_id: w for w in adset_watches(engine, judged, cfg)}
        engine.dispose()
    on = {(a.kind, a.entity.platform_id) for a in alerts}
    found = {
        "spend_spike": ("spend_spike", spiked.id) in on or ("intraday_overspend", spiked.id) in on,
        "delivery_drop": ("delivery_drop", dropped.id) in on,
        "disapproval": ("ad_disapproved", ad.id) in on,
    }
    fixed = {
        "spend_spike": spiked.id in watches and fixed_rule(watches[spiked.id], judged),
        "delivery_drop": dropped.id in watches and fixed_rule(watches[dropped.id], judged),
    }
    event_sets = {spiked.id, dropped.id, ad.adset_id}
    others = [
        a
        for a in alerts
        if a.entity.level == "adset"
        and a.entity.platform_id not in event_sets
        and a.kind != "intraday_overspend"
    ]
    spiked_watch = watches.get(spiked.id)
    spiked_day = next((d for d in spiked_watch.days if d.day == judged), None) if spiked_watch else None
    out = {
        "seed": seed,
        "spike_day": {
            "spend": spiked_day.spend_micros / 1e6 if spiked_day else None,
            "budget": (spiked_watch.daily_budget_micros or 0) / 1e6 if spiked_watch else None,
            "recent": [d.spend_micros / 1e6 for d in spiked_watch.days[-8:-1]] if spiked_watch else None,
        },
        "found": found,
        "fixed_rule_found": fixed,
        "quiet": quiet,
        "false_on_event_day": len(others),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(out), file=sys.stderr, flush=True)
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    events = [v for r in runs for v in r["found"].values()]
    per_kind = {k: float(np.mean([r["found"][k] for r in runs])) for k in runs[0]["found"]}
    weeks = sum(r["quiet"]["adset_weeks"] for r in runs)
    false = sum(r["quiet"]["alerts"] for r in runs)
    fixed_false = sum(r["quiet"]["fixed_rule"] for r in runs)
    fixed_found = [v for r in runs for v in r["fixed_rule_found"].values()]
    return {
        "seeds": len(runs),
        "events": len(events),
        "detected_share": round(float(np.mean(events)), 3),
        "detected_by_kind": per_kind,
        "quiet_adset_weeks": weeks,
        "false_alerts": false,
        "false_per_100_adset_weeks": round(100 * false / weeks, 2) if weeks else None,
        "quiet_alerts_backed_by_market_truth": sum(r["quiet"]["backed"] for r in runs),
        "unbacked_per_100_adset_weeks": round(
            100 * (false - sum(r["quiet"]["backed"] for r in runs)) / weeks, 2
        )
        if weeks
        else None,
        "false_on_event_days": sum(r["false_on_event_day"] for r in runs),
        "fixed_rule_detected_share (spike, drop)": round(float(np.mean(fixed_found)), 3),
        "fixed_rule_false_per_100_adset_weeks": round(100 * fixed_false / weeks, 2) if weeks else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(run_seed, seeds))
    print(json.dumps({**summarise(runs), "seconds": round(time.perf_counter() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
