"""The creative keep/pause/reactivate loop in closed loop on the sandbox market (in-process).

Every simulated day, for each running ad set with two or more ads, a policy reads the per-ad daily
figures reported so far (the market's ledger, as the warehouse sees it) and acts through the levers
the platforms really have: pause an ad, re-activate a paused one, add a new one. The platform splits
delivery between the live ads itself (the market's planner, by quality); no policy sets shares.

Policies:
  platform_only        do nothing: the platform's own split among the ads live in the account as built
                       (the world pauses some ads in its history, now and then the truly best one)
  platform_all_live    every ad switched on at day 1, then nothing: the platform's split among all ads
  seed_rule            a marketer's rule of thumb: pause a live ad whose CTR over the last 7 days is
                       below 70% of its ad set's, once it has 1,000 impressions in those 7 days
                       (weakest first, keeping at least one live ad); never re-activates
  creative_policy      tools.optimize.creatives.creative_report (default Thresholds) with one Beta
                       posterior per ad under the account's empirical-Bayes prior; pause and
                       re-activate verdicts (the analyst's fallback when creatives are unknown)
  creative_elements    the same report on the shared-element model, with the account's other ads as
                       history: what the analyst runs when the warehouse has every ad's creative
  creative_policy_add  the same, and a new ad (a fresh mix of the account's headlines, bodies, images
                       and calls to action) when the report says the ad set is settled on a winner,
                       at most one new ad per ad set every 7 days
  oracle_best_ad       from day 1 only the ad with the highest true CTR (ground truth) is live
  oracle_best_two      from day 1 only the two ads with the highest true CTRs are live (a reference:
                       the market's ads fatigue with frequency, so one ad alone is no ceiling)

Clicks over the period and purchases (after late ones have arrived) of the ad sets under test are
counted from the ledger, as a share of the oracle's. A "wrong pause" pauses the ad that was truly the
best (highest true creative CTR) of its ad set at that moment.

    .venv/bin/python benchmarks/keep_pause_loop.py [--seeds 20] [--days 28] [--quick] [--with-add]
        [--workers N]   (seeds run in N processes, default: all CPUs)
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sandbox.market.config import WorldConfig
from sandbox.market.entities import Status
from sandbox.market.market import Market
from tools.optimize.creatives import CreativeDay, CreativeState, PastCreative, Thresholds, creative_report
from tools.optimize.priors import empirical_bayes_prior

POLICIES = (
    "platform_only",
    "platform_all_live",
    "seed_rule",
    "creative_policy",
    "creative_elements",
    "oracle_best_two",
    "oracle_best_ad",
)
PASSIVE = ("platform_only", "platform_all_live", "oracle_best_two", "oracle_best_ad")
ADD = "creative_policy_add"  # opt-in (--with-add): it doubles the run time
ORACLE = "oracle_best_ad"
TODAY = dt.date(2026, 11, 25)
# Per seed: 3 platforms x 2 accounts x ad sets of 10 ads, 28 days of history: a day of the loop costs
# one creative_report (about 1 ms per ad) per ad set and policy.
WORLD = {"accounts": 2, "ads": 10, "days": 28}
SEED_RULE_WINDOW, SEED_RULE_MIN_IMPS, SEED_RULE_RATIO = 7, 1_000, 0.7
NEW_AD_EVERY_DAYS = 7
LATE_DAYS = 14  # purchases arrive up to two weeks after the click


def world_config(seed: int, **overrides: Any) -> WorldConfig:
    return WorldConfig(**{"seed": seed, "today": TODAY, **WORLD, **overrides})


@dataclass
class Tally:
    pauses: int = 0
    reactivations: int = 0
    added: int = 0
    wrong_pauses: int = 0
    paused_ads: list[tuple[str, int]] = field(default_factory=list)  # (ad id, impressions when paused)


# -- reading the market -------------------------------------------------------------------------------


def _eligible(market: Market, adset_id: str) -> list[str]:
    """Ads of an ad set a marketer can switch on or off: created, not deleted, not disapproved."""
    hour = market.clock.now_hour
    out = []
    for ad in market.world.ads_of_adset(adset_id):
        if ad.created_hour > hour or ad.disapproved or ad.value_at("disapproved_by_platform", hour):
            continue
        if ad.value_at("status", hour) in (Status.ACTIVE, Status.PAUSED):
            out.append(ad.id)
    return out


def _is_live(market: Market, ad_id: str) -> bool:
    return market.world.ad(ad_id).value_at("status", market.clock.now_hour) == Status.ACTIVE


def adsets_under_test(market: Market) -> list[str]:
    """Running ad sets with two or more ads to choose between."""
    hour = market.clock.now_hour
    return [
        s.id
        for s in market.world.adsets.values()
        if market.planner.plan(s.id, hour + 24).active[hour + 12] and len(_eligible(market, s.id)) >= 2
    ]


def _rows(market: Market, accounts: set[str], since: dt.date, until: dt.date) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if until < since:
        return rows
    for account in sorted(accounts):
        rows.extend(market.daily(account, since, until).to_rows())
    return rows


def true_ctrs(market: Market, adset_ids: list[str]) -> dict[str, float]:
    """Each ad's true CTR from its creative and the ad set's audience (no drift or fatigue)."""
    accounts = {market.world.adset(i).account_id for i in adset_ids}
    return {r["ad_id"]: r["creative_ctr"] for a in accounts for r in market.ad_truth(a)}


# -- acting ------------------------------------------------------------------------------------------


def _set_status(market: Market, ad_id: str, status: str) -> None:
    market.apply({"kind": "update_ad", "id": ad_id, "status": status})


def _pause(
    market: Market, ad_id: str, adset_id: str, truth: dict[str, float], tally: Tally, imps: int
) -> None:
    best = max(_eligible(market, adset_id), key=lambda a: truth[a])
    tally.pauses += 1
    tally.wrong_pauses += int(ad_id == best)
    tally.paused_ads.append((ad_id, imps))
    _set_status(market, ad_id, "PAUSED")


def _add_ad(market: Market, adset_id: str, rng: np.random.Generator) -> str:
    """A new ad with a fresh mix of the elements the account already uses (headline, body, image, CTA)."""
    adset = market.world.adset(adset_id)
    mine = [c for c in market.world.creatives.values() if c.account_id == adset.account_id]
    used = {
        (market.world.creative(a.creative_id).headline, market.world.creative(a.creative_id).image_name)
        for a in market.world.ads_of_adset(adset_id)
    }
    pairs = [(h, i) for h in sorted({c.headline for c in mine}) for i in sorted({c.image_name for c in mine})]
    fresh = [p for p in pairs if p not in used] or pairs
    headline, image = fresh[int(rng.integers(len(fresh)))]
    bodies, ctas = sorted({c.body for c in mine}), sorted({c.cta for c in mine})
    body, cta = bodies[int(rng.integers(len(bodies)))], ctas[int(rng.integers(len(ctas)))]
    creative = market.apply(
        {
            "kind": "create_creative",
            "account_id": adset.account_id,
            "name": f"test {len(market.log)}",
            "headline": headline,
            "body": body,
            "image_name": image,
            "cta": cta,
            "link": mine[0].link,
        }
    ).created_id
    name = f"test {len(market.log)}"
    ad = market.apply({"kind": "create_ad", "adset_id": adset_id, "creative_id": creative, "name": name})
    return str(ad.created_id)


def _seed_rule_day(market: Market, adsets: list[str], truth: dict[str, float], tally: Tally) -> None:
    today = market.now().date
    accounts = {market.world.adset(i).account_id for i in adsets}
    since = today - dt.timedelta(days=SEED_RULE_WINDOW)
    imps: dict[str, int] = defaultdict(int)
    clicks: dict[str, int] = defaultdict(int)
    for r in _rows(market, accounts, since, today - dt.timedelta(days=1)):
        imps[r["ad_id"]] += r["impressions"]
        clicks[r["ad_id"]] += r["clicks"]
    for adset_id in adsets:
        ads = _eligible(market, adset_id)
        total_imps = sum(imps[a] for a in ads)
        if not total_imps:
            continue
        adset_ctr = sum(clicks[a] for a in ads) / total_imps
        live = [a for a in ads if _is_live(market, a)]
        n_live = len(live)
        for a in sorted(live, key=lambda a: clicks[a] / imps[a] if imps[a] else 1.0):
            if n_live <= 1:
                break
            if imps[a] >= SEED_RULE_MIN_IMPS and clicks[a] / imps[a] < SEED_RULE_RATIO * adset_ctr:
                _pause(market, a, adset_id, truth, tally, imps[a])
                n_live -= 1


def _creative_day(
    market: Market,
    adsets: list[str],
    truth: dict[str, float],
    tally: Tally,
    *,
    add: bool,
    rng: np.random.Generator,
    added_on: dict[str, int],
    thresholds: Thresholds | None = None,
    elements: bool = False,
) -> None:
    """One day of the product's policy: the account's prior, a report per ad set, its verdicts applied;
    with `elements`, on the shared-element model with the account's other creatives as history."""
    today = market.now().date
    accounts = {market.world.adset(i).account_id for i in adsets}
    rows = _rows(market, accounts, market.config.start_date, today - dt.timedelta(days=1))
    by_ad: dict[str, list[CreativeDay]] = defaultdict(list)
    per_creative: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        day = dt.date.fromisoformat(r["date"])
        by_ad[r["ad_id"]].append(
            CreativeDay(ad_id=r["ad_id"], day=day, impressions=r["impressions"], clicks=r["clicks"])
        )
        totals = per_creative[market.world.ads[r["ad_id"]].creative_id]
        totals[0] += r["clicks"]
        totals[1] += r["impressions"]
    priors = {}
    for account in accounts:
        figures = [v for c, v in per_creative.items() if market.world.creative(c).account_id == account]
        s = np.array([f[0] for f in figures], dtype=float)
        n = np.array([f[1] for f in figures], dtype=float)
        priors[account] = empirical_bayes_prior(s, n)
    day_index = market.clock.today
    for adset_id in adsets:
        ads = _eligible(market, adset_id)
        states = [CreativeState(ad_id=a, active=_is_live(market, a)) for a in ads]
        days = [d for a in ads for d in by_ad.get(a, [])]
        contents = _contents(market, ads, per_creative) if elements else None
        report = creative_report(
            days,
            states,
            priors[market.world.adset(adset_id).account_id],
            today=today - dt.timedelta(days=1),
            thresholds=thresholds,
            elements=contents[0] if contents else None,
            history=contents[1] if contents else None,
        )
        for v in report.creatives:
            if v.verdict == "pause":
                _pause(market, v.ad_id, adset_id, truth, tally, v.impressions)
            elif v.verdict == "reactivate":
                tally.reactivations += 1
                _set_status(market, v.ad_id, "ACTIVE")
        if add and report.add_new_ad and day_index - added_on.get(adset_id, -99) >= NEW_AD_EVERY_DAYS:
            new = _add_ad(market, adset_id, rng)
            added_on[adset_id] = day_index
            tally.added += 1
            truth.update(true_ctrs(market, [adset_id]))  # ground truth of the new ad, for wrong pauses
            assert new in truth


def _elements(market: Market, creative_id: str) -> tuple[str, ...]:
    c = market.world.creative(creative_id)
    return (c.headline, c.body, c.image_hash, c.cta)


def _contents(
    market: Market, ads: list[str], per_creative: dict[str, list[int]]
) -> tuple[dict[str, tuple[str, ...]], list[PastCreative]]:
    """The ad set's ads' elements, and the account's other creatives with their totals (at most 200, the
    most seen first, as the analyst reads them)."""
    own = {market.world.ads[a].creative_id for a in ads}
    adset_of = {ad.creative_id: ad.adset_id for ad in market.world.ads.values()}
    account = market.world.creative(next(iter(own))).account_id
    past = [
        PastCreative(elements=_elements(market, c), successes=v[0], trials=v[1], context=adset_of.get(c))
        for c, v in per_creative.items()
        if c not in own and v[1] > 0 and market.world.creative(c).account_id == account
    ]
    past.sort(key=lambda p: -p.trials)
    return {a: _elements(market, market.world.ads[a].creative_id) for a in ads}, past[:200]


def _all_live(market: Market, adsets: list[str]) -> None:
    for adset_id in adsets:
        for a in _eligible(market, adset_id):
            if not _is_live(market, a):
                _set_status(market, a, "ACTIVE")


def _oracle_setup(market: Market, adsets: list[str], truth: dict[str, float], keep: int) -> None:
    """Only the `keep` ads with the highest true CTRs of each ad set live."""
    for adset_id in adsets:
        ads = _eligible(market, adset_id)
        best = set(sorted(ads, key=lambda a: truth[a], reverse=True)[:keep])
        for a in ads:
            live = _is_live(market, a)
            if a in best and not live:
                _set_status(market, a, "ACTIVE")
            elif a not in best and live:
                _set_status(market, a, "PAUSED")


def _outcome(market: Market, adsets: list[str], start: dt.date, days: int) -> tuple[int, float]:
    """Clicks and purchases (as now reported) of the ad sets under test over the period."""
    wanted = set(adsets)
    accounts = {market.world.adset(i).account_id for i in adsets}
    clicks, purchases = 0, 0.0
    for r in _rows(market, accounts, start, start + dt.timedelta(days=days - 1)):
        if market.world.ads[r["ad_id"]].adset_id in wanted:
            clicks += r["clicks"]
            purchases += r["conversions"]
    return clicks, purchases


# -- one seed ----------------------------------------------------------------------------------------


def run(
    seed: int,
    days: int = 28,
    *,
    policies: tuple[str, ...] = POLICIES,
    config: WorldConfig | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Every policy on the same world (WORLD with this seed, or `config`) for `days` days; the product's
    policy with `thresholds` (default: the product's defaults).

    Per policy: clicks, purchases, their shares of the oracle's (when it ran), pauses, wrong pauses,
    reactivations, ads added, the impressions each paused ad had, and the live ads per ad set at the end.
    """
    config = config or world_config(seed)
    base = Market(config)
    adsets = adsets_under_test(base)
    start = base.now().date
    truth = true_ctrs(base, adsets)
    out: dict[str, Any] = {
        "seed": seed,
        "adsets": len(adsets),
        "ads": sum(len(_eligible(base, i)) for i in adsets),
        "best_ad_paused_at_start": sum(
            not _is_live(base, max(_eligible(base, i), key=lambda a: truth[a])) for i in adsets
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    for name in policies:
        market = Market(config)
        truth = true_ctrs(market, adsets)
        tally = Tally()
        rng = np.random.default_rng([seed, 1])
        added_on: dict[str, int] = {}
        if name == ORACLE:
            _oracle_setup(market, adsets, truth, keep=1)
        elif name == "oracle_best_two":
            _oracle_setup(market, adsets, truth, keep=2)
        elif name == "platform_all_live":
            _all_live(market, adsets)
        for _day in range(days):
            if name == "seed_rule":
                _seed_rule_day(market, adsets, truth, tally)
            elif name in ("creative_policy", "creative_elements", ADD):
                _creative_day(
                    market,
                    adsets,
                    truth,
                    tally,
                    add=name == ADD,
                    rng=rng,
                    added_on=added_on,
                    thresholds=thresholds,
                    elements=name == "creative_elements",
                )
            elif name not in PASSIVE:
                raise ValueError(f"unknown policy {name!r}")
            market.advance(days=1)
        clicks_then, _ = _outcome(market, adsets, start, days)
        market.advance(days=LATE_DAYS)
        clicks, purchases = _outcome(market, adsets, start, days)
        assert clicks == clicks_then, "clicks of past days must not be restated"
        results[name] = {
            "clicks": clicks,
            "purchases": purchases,
            "pauses": tally.pauses,
            "wrong_pauses": tally.wrong_pauses,
            "reactivations": tally.reactivations,
            "added": tally.added,
            "paused_ads": tally.paused_ads,
            "live_per_adset": {i: sum(_is_live(market, a) for a in _eligible(market, i)) for i in adsets},
        }
    oracle = results.get(ORACLE)
    if oracle:
        for r in results.values():
            r["clicks_share"] = r["clicks"] / oracle["clicks"] if oracle["clicks"] else float("nan")
            r["purchases_share"] = (
                r["purchases"] / oracle["purchases"] if oracle["purchases"] else float("nan")
            )
    out["policies"] = results
    return out


# -- many seeds --------------------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(values)), 3),
        "median": round(float(np.median(values)), 3),
        "min": round(float(np.min(values)), 3),
        "max": round(float(np.max(values)), 3),
    }


def summarise(per_seed: list[dict[str, Any]], policies: tuple[str, ...]) -> dict[str, Any]:
    acting = [p for p in policies if p not in PASSIVE]
    summary: dict[str, Any] = {}
    for key in ("clicks_share", "purchases_share"):
        summary[f"{key}_of_oracle"] = {
            p: _stats([s["policies"][p][key] for s in per_seed]) for p in policies if p != ORACLE
        }
    summary["clicks_vs_platform_only"] = {
        p: _stats([s["policies"][p]["clicks"] / s["policies"]["platform_only"]["clicks"] for s in per_seed])
        for p in policies
        if p != "platform_only"
    }
    summary["seeds_with_more_clicks_than"] = {
        p: {
            other: sum(s["policies"][p]["clicks"] > s["policies"][other]["clicks"] for s in per_seed)
            for other in policies
            if other != p
        }
        for p in acting
    }
    actions = {}
    for p in acting:
        paused_imps = [i for s in per_seed for _, i in s["policies"][p]["paused_ads"]]
        actions[p] = {
            "pauses": sum(s["policies"][p]["pauses"] for s in per_seed),
            "wrong_pauses": sum(s["policies"][p]["wrong_pauses"] for s in per_seed),
            "reactivations": sum(s["policies"][p]["reactivations"] for s in per_seed),
            "added": sum(s["policies"][p]["added"] for s in per_seed),
            "min_impressions_at_pause": int(min(paused_imps)) if paused_imps else None,
        }
    summary["actions_total"] = actions
    summary["adsets_total"] = sum(s["adsets"] for s in per_seed)
    summary["ads_total"] = sum(s["ads"] for s in per_seed)
    summary["adsets_with_best_ad_paused_at_start"] = sum(s["best_ad_paused_at_start"] for s in per_seed)
    return summary


def run_job(job: tuple[int, int, tuple[str, ...]]) -> tuple[dict[str, Any], float]:
    seed, days, policies = job
    started = time.perf_counter()
    return run(seed, days, policies=policies), time.perf_counter() - started


def _progress(result: dict[str, Any], seconds: float, policies: tuple[str, ...]) -> str:
    pol = result["policies"]
    acting = [p for p in policies if p not in PASSIVE]
    return (
        f"seed {result['seed']}: {result['adsets']} ad sets, {result['ads']} ads; clicks / oracle: "
        + ", ".join(f"{p} {pol[p]['clicks_share']:.3f}" for p in policies if p != ORACLE)
        + "; pauses (wrong): "
        + ", ".join(f"{p} {pol[p]['pauses']} ({pol[p]['wrong_pauses']})" for p in acting)
        + f"; {seconds:.1f}s"
    )


def main() -> None:
    import argparse
    import json
    import os
    from concurrent.futures import ProcessPoolExecutor

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--quick", action="store_true", help="3 seeds x 7 days (seconds)")
    parser.add_argument("--with-add", action="store_true", help=f"also run {ADD} (twice the time)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes over seeds")
    args = parser.parse_args()
    seeds, days = (3, 7) if args.quick else (args.seeds, args.days)
    policies = (*POLICIES[:4], ADD, *POLICIES[4:]) if args.with_add else POLICIES
    started = time.perf_counter()
    jobs = [(seed, days, policies) for seed in range(7, 7 + seeds)]
    per_seed = []
    workers = max(1, min(args.workers, seeds))
    if workers == 1:
        results = map(run_job, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(run_job, jobs)
    for result, seconds in results:
        per_seed.append(result)
        print(_progress(result, seconds, policies), file=sys.stderr, flush=True)
    if workers > 1:
        pool.shutdown()
    summary = {
        "seeds": seeds,
        "first_seed": 7,
        "days": days,
        "world": WORLD,
        **summarise(per_seed, policies),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({"keep_pause": summary}))


if __name__ == "__main__":
    main()
