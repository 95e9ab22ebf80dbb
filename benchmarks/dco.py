"""Dynamic creative optimisation on the sandbox market's ground truth, over many seeds.

Per seed: one ad set of the world's first account (Meta, USD); its account's pools of headlines, images
and CTAs (up to 10 x 10 x 5; the world has 8 image styles, so 10 x 8 x 5 = 400 combinations) with the
ad set's first body; states are the three placements. The true click rate of every (placement,
combination) is the market's own: `TrueModel.ad_from_content` for a hypothetical ad (element effects,
headline x image interaction, per-ad placement effect, ad set's segment effects), averaged over the ad
set's targeted cells of that placement by their volume. Fatigue and drift are left out: rates are
stationary. Impressions arrive in daily batches split across placements by volume; each learner chooses
a day's impressions on yesterday's evidence, clicks are Bernoulli on the true rates, and the score is
the expected clicks of what it served as a share of always serving each placement's best combination,
over all days and over the last quarter. A small regime (3 x 3 x 2) shows where the table suffices.

    .venv/bin/python benchmarks/dco.py [--seeds 20] [--impressions 100000] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import dataclass

import numpy as np

from sandbox.market.config import WorldConfig
from sandbox.market.entities import Ad, Creative
from sandbox.market.market import Market
from sandbox.market.segments import PLACEMENTS, SEGMENT_INDEX, Platform
from tools.optimize.dco import ActionSpace, FactorisedQLearner, TabularQLearner

LEARNERS = ("factorised", "tabular", "uniform")
DEFAULT = "factorised"
DAYS = 14
LAST_DAYS = DAYS // 4
REGIMES = {"large": (10, 10, 5), "small": (3, 3, 2)}


def true_ctr(seed: int, caps: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, ActionSpace]:
    """[placements, combinations] true click rates from the market's truth, each placement's share of
    the ad set's impressions, and the action space (the pools may be smaller than the caps)."""
    market = Market(WorldConfig(seed=seed, today=dt.date(2026, 11, 25), platforms=(Platform.META,)))
    world, truth = market.world, market.truth
    account = next(iter(world.accounts.values()))
    adset = world.adsets_of(account.id)[0]
    creatives = [c for c in world.creatives.values() if c.account_id == account.id]
    body = world.creative(world.ads_of_adset(adset.id)[0].creative_id).body
    headlines = sorted({c.headline for c in creatives})[: caps[0]]
    images = sorted({(c.image_name, c.image_hash) for c in creatives})[: caps[1]]
    ctas = sorted({c.cta for c in creatives})[: caps[2]]
    space = ActionSpace(headlines=len(headlines), images=len(images), ctas=len(ctas))
    weights = truth.adset(adset.id).volume * adset.value_at("targeting", 0).mask()
    placement = SEGMENT_INDEX["placement"]
    share = np.array([weights[placement == p].sum() for p in range(len(PLACEMENTS))])
    ctr = np.zeros((len(PLACEMENTS), space.size))
    for a, (h, i, c) in enumerate(space.combos().tolist()):
        key = f"dco-{adset.id}-{h}-{i}-{c}"
        creative = Creative(
            id=key,
            account_id=account.id,
            name=key,
            headline=headlines[h],
            body=body,
            image_name=images[i][0],
            image_hash=images[i][1],
            cta=ctas[c],
            link="https://shop.example.com/",
        )
        ad = Ad(
            id=key,
            adset_id=adset.id,
            campaign_id=adset.campaign_id,
            account_id=account.id,
            name=key,
            creative_id=key,
        )
        cell_ctr = np.exp(truth.ad_from_content(ad, creative).log_ctr)
        for p in range(len(PLACEMENTS)):
            w = weights * (placement == p)
            ctr[p, a] = (cell_ctr * w).sum() / w.sum() if w.sum() > 0 else 0.0
    return ctr, share / share.sum(), space


@dataclass(kw_only=True)
class UniformRandom:
    """The baseline: every combination equally often, whatever the evidence."""

    n_actions: int
    random_state: int = 0

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.random_state)

    def select_many(self, state: int, n: int) -> np.ndarray:
        return self._rng.integers(self.n_actions, size=n)

    def update_counts(self, state: int, action: int, successes: float, trials: float) -> None:
        return None


Learner = FactorisedQLearner | TabularQLearner | UniformRandom


def make_learner(name: str, n_states: int, space: ActionSpace, seed: int) -> Learner:
    if name == "factorised":
        return FactorisedQLearner(n_states=n_states, space=space, random_state=seed)
    if name == "tabular":  # the seed's design: epsilon-greedy 0.1, learning rate 1/n, discount 0
        return TabularQLearner(n_states=n_states, n_actions=space.size, random_state=seed)
    return UniformRandom(n_actions=space.size, random_state=seed)


def simulate(
    learner: Learner, ctr: np.ndarray, share: np.ndarray, impressions: int, seed: int
) -> tuple[float, float, float]:
    """Shares of the best combinations' expected clicks: overall, over the last quarter, and of the
    learner's final pick per state (served alone from then on)."""
    n_states, n_actions = ctr.shape
    arrivals = np.random.default_rng(seed)  # the same daily impressions per state for every learner
    click_rng = np.random.default_rng(seed + 1)
    got, best = np.zeros(DAYS), np.zeros(DAYS)
    for day in range(DAYS):
        for s, n in enumerate(arrivals.multinomial(impressions // DAYS, share).tolist()):
            if n == 0:
                continue
            trials = np.bincount(learner.select_many(s, n), minlength=n_actions)
            clicks = click_rng.binomial(trials, ctr[s])
            got[day] += float(trials @ ctr[s])
            best[day] += n * ctr[s].max()
            for a in np.flatnonzero(trials).tolist():
                learner.update_counts(s, a, int(clicks[a]), int(trials[a]))
    if isinstance(learner, UniformRandom):
        picks = ctr.mean(axis=1)  # it never settles: its "pick" is the average combination
    else:
        picks = np.array([ctr[s, learner.best(s)] for s in range(n_states)])
    final = float(share @ picks / (share @ ctr.max(axis=1)))
    return float(got.sum() / best.sum()), float(got[-LAST_DAYS:].sum() / best[-LAST_DAYS:].sum()), final


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(values)), 3),
        "min": round(float(np.min(values)), 3),
        "max": round(float(np.max(values)), 3),
    }


def run(seeds: int, impressions: int) -> dict[str, object]:
    """Per regime and learner: mean / min / max over seeds of each share."""
    out: dict[str, object] = {}
    for regime, caps in REGIMES.items():
        scores: dict[str, dict[str, list[float]]] = {
            n: {"overall": [], "last_quarter": [], "final_pick": []} for n in LEARNERS
        }
        shape = (0, 0, 0)
        for seed in range(seeds):
            ctr, share, space = true_ctr(seed + 7, caps)
            shape = space.shape
            for name in LEARNERS:
                learner = make_learner(name, len(share), space, seed)
                overall, last, final = simulate(learner, ctr, share, impressions, seed)
                scores[name]["overall"].append(overall)
                scores[name]["last_quarter"].append(last)
                scores[name]["final_pick"].append(final)
        out[regime] = {
            "combinations": "x".join(map(str, shape)),
            "states": len(PLACEMENTS),
            **{n: {k: _spread(v) for k, v in s.items()} for n, s in scores.items()},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--impressions", type=int, default=100_000, help="per seed, over 14 daily batches")
    parser.add_argument("--quick", action="store_true", help="at most 5 seeds")
    args = parser.parse_args()
    seeds = min(args.seeds, 5) if args.quick else args.seeds
    started = time.perf_counter()
    result = run(seeds, args.impressions)
    summary = {
        "seeds": seeds,
        "impressions": args.impressions,
        "days": DAYS,
        "default": DEFAULT,
        **result,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps({"dco": summary}))


if __name__ == "__main__":
    main()
