"""The analyst's optimizers against the sandbox market's ground truth, over many seeds, ending with one
JSON line (and a plot):

1. Creative bandits: cumulative (pseudo-)regret of the default policy against UCB1, the seed's
   epsilon-greedy and flat- and account-prior Beta Thompson on the same traffic, in two regimes: a few
   creatives at 1-3% CTR over 40,000 impressions, and 50 creatives around 0.4% CTR over 100,000. The
   creatives and their true CTRs are the market's (`benchmarks/creative_truth.py`), built from the
   account's pools of headlines, bodies, images and CTAs; the account's 40 earlier creatives from the
   same pools are its history. The default (`ElementThompson`) learns per element and starts from that
   history; `elements_no_history` is the same model with no history, and `thompson_beta` is the Beta
   sampler with the account's prior (the fallback when creatives' elements are unknown). Decisions are
   made on batched aggregates, as the warehouse feeds them.
2. Budget allocation in a closed loop on the market over 28 simulated days
   (`benchmarks/allocation_loop.py`): equal split, the CPA rule and the curve allocator, as shares of the
   oracle's conversions, learning days included.
3. DCO (`benchmarks/dco.py`): the factorised and tabular learners' share of the best combination's clicks.
4. The daily keep / pause / re-activate loop against the market's own delivery split
   (`benchmarks/keep_pause_loop.py`).

    .venv/bin/python -m benchmarks.optimizers [--quick] [--seeds 20] [--plot benchmarks/out/optimizers.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import allocation_loop, dco, keep_pause_loop
from benchmarks.creative_truth import creative_ctrs
from tools.optimize.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from tools.optimize.element_bandit import ElementHistory, ElementThompson, encode_elements
from tools.optimize.priors import BetaPrior, empirical_bayes_prior

POLICIES = ("default", "elements_no_history", "thompson_beta", "thompson_flat", "ucb1", "epsilon_greedy")


@dataclass(frozen=True, kw_only=True)
class Regime:
    name: str
    arms: int
    impressions: int
    batch: int
    centre: float
    band: tuple[float, float] | None = None


@dataclass(frozen=True, kw_only=True)
class Account:
    """What the policies may know before the test: the account's prior and its earlier creatives."""

    prior: BetaPrior
    elements: np.ndarray
    sizes: tuple[int, ...]
    history: ElementHistory


def _policy(name: str, arms: int, account: Account, seed: int):  # type: ignore[no-untyped-def]
    if name in ("default", "elements_no_history"):
        return ElementThompson(
            elements=account.elements,
            sizes=account.sizes,
            prior_rate=account.prior.mean,
            history=account.history if name == "default" else None,
            random_state=seed,
        )
    if name == "thompson_beta":
        return ThompsonSampling.default(
            n_arms=arms, prior_alpha=account.prior.alpha, prior_beta=account.prior.beta, random_state=seed
        )
    if name == "thompson_flat":
        return ThompsonSampling(n_arms=arms, random_state=seed)
    if name == "ucb1":
        return UCB1(n_arms=arms, random_state=seed)
    return EpsilonGreedy(n_arms=arms, epsilon=0.1, random_state=seed)


def _choose(policy, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Arms for a batch of n impressions decided on the same (yesterday's) evidence."""
    if isinstance(policy, ThompsonSampling | ElementThompson):
        return policy.select_many(n)
    if isinstance(policy, EpsilonGreedy):
        greedy = policy.greedy()
        explore = rng.random(n) < policy.epsilon
        return np.where(explore, rng.integers(policy.n_arms, size=n), greedy)
    return np.full(n, policy.select())


def bandit_seed(regime: Regime, seed: int, reps: int = 1) -> dict[str, np.ndarray]:
    """Cumulative regret per batch of every policy on one market seed's creatives, averaged over `reps`
    independent runs of traffic (the market seed fixes the creatives; the traffic is what varies)."""
    truth = creative_ctrs(seed, regime.arms, centre=regime.centre, band=regime.band)
    rates = truth.rates
    best, steps = rates.max(), regime.impressions // regime.batch
    elements, history_elements, sizes = encode_elements(truth.elements, truth.history_elements)
    out = {name: np.zeros(steps) for name in POLICIES}
    for rep in range(reps):
        world = np.random.default_rng([1000 + seed, rep])
        # The account's history: its other creatives with real-sized counts, for the empirical-Bayes prior
        # and, with their elements, for the default's element model.
        history_trials = world.integers(5_000, 50_000, size=truth.history_rates.size)
        history_clicks = world.binomial(history_trials, truth.history_rates)
        account = Account(
            prior=empirical_bayes_prior(history_clicks, history_trials),
            elements=elements,
            sizes=sizes,
            history=ElementHistory(
                elements=history_elements, successes=history_clicks, trials=history_trials
            ),
        )
        for name in POLICIES:
            rng = np.random.default_rng([seed, rep])  # the same traffic draws for every policy
            policy = _policy(name, regime.arms, account, seed * 1000 + rep)
            regret = 0.0
            for step in range(steps):
                counts = np.bincount(_choose(policy, regime.batch, rng), minlength=regime.arms)
                clicks = rng.binomial(counts, rates)
                for arm in np.nonzero(counts)[0]:
                    policy.update_counts(int(arm), int(clicks[arm]), int(counts[arm]))
                regret += float(np.dot(counts, best - rates))
                out[name][step] += regret / reps
    return out


def _spread(values: list[float]) -> dict[str, float]:
    return {k: round(float(f(values)), 3) for k, f in (("mean", np.mean), ("min", np.min), ("max", np.max))}


def bandits(
    regimes: list[Regime], seeds: list[int], reps: int, pool: ProcessPoolExecutor
) -> tuple[dict, dict]:  # type: ignore[type-arg]
    summary, curves = {}, {}
    for regime in regimes:
        runs = list(pool.map(bandit_seed, [regime] * len(seeds), seeds, [reps] * len(seeds)))
        final = {p: [r[p][-1] for r in runs] for p in POLICIES}
        mean = {p: float(np.mean(v)) for p, v in final.items()}
        ratios = [d / e for d, e in zip(final["default"], final["epsilon_greedy"], strict=True) if e > 0]
        summary[regime.name] = {
            "arms": regime.arms,
            "impressions": regime.impressions,
            "traffic_runs_per_seed": reps,
            "regret": {p: round(v, 1) for p, v in mean.items()},
            "regret_spread": {p: _spread(v) for p, v in final.items()},
            "default_vs_epsilon_greedy": round(mean["default"] / mean["epsilon_greedy"], 3),
            "per_seed_ratio": _spread(ratios),
        }
        curves[regime.name] = (regime, {p: np.mean([r[p] for r in runs], axis=0) for p in POLICIES})
    return summary, curves


def allocation(seeds: list[int], results: list[dict[str, float]]) -> dict:  # type: ignore[type-arg]
    shares: dict[str, list[float]] = {}
    for seed, result in zip(seeds, results, strict=True):
        print(
            f"allocation seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()),
            file=sys.stderr,
        )
        for name, share in result.items():
            shares.setdefault(name, []).append(share)
    out: dict[str, object] = {name: _spread(v) for name, v in shares.items()}
    gaps = [
        (g - e) / (1 - e) for g, e in zip(shares["curves_guarded"], shares["equal"], strict=True) if e < 1
    ]
    out["guarded_closes_gap"] = _spread(gaps)
    return out


def plot(curves: dict, alloc: dict, path: Path) -> None:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves) + 1, figsize=(5.5 * (len(curves) + 1), 4))
    for ax, (regime, means) in zip(axes, curves.values(), strict=False):
        x = np.arange(1, len(means["default"]) + 1) * regime.batch
        for name, curve in means.items():
            ax.plot(x, curve, label=name, linewidth=2.5 if name == "default" else 1.2)
        ax.set_title(f"{regime.arms} creatives: cumulative regret")
        ax.set_xlabel("impressions")
        ax.set_ylabel("clicks lost to the best creative")
        ax.legend()
    ax = axes[-1]
    names = [n for n in alloc if n != "guarded_closes_gap"]
    means = [alloc[n]["mean"] for n in names]
    errs = np.array(
        [[alloc[n]["mean"] - alloc[n]["min"], alloc[n]["max"] - alloc[n]["mean"]] for n in names]
    ).T
    ax.bar(names, means, yerr=errs, capsize=4, color=["#999", "#c96", "#396", "#6a6"][: len(names)])
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1)
    ax.set_ylim(0.5, max(1.05, max(alloc[n]["max"] for n in names) + 0.02))
    ax.set_title("28 days of budgets: conversions / oracle")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer seeds everywhere (under a minute)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3, help="runs of traffic per market seed (bandits)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--plot", type=Path, default=Path("benchmarks/out/optimizers.png"))
    args = parser.parse_args()
    seeds = list(range(7, 7 + (min(args.seeds, 4) if args.quick else args.seeds)))
    regimes = [
        Regime(name="few", arms=4, impressions=40_000, batch=500, centre=0.02, band=(0.01, 0.03)),
        Regime(name="many", arms=50, impressions=100_000, batch=1_000, centre=0.004),
    ]
    started = time.perf_counter()
    few_seeds = seeds[:2] if args.quick else seeds
    keep_days = 14 if args.quick else 28
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        # The closed loops are the longest jobs: queued first, so the bandits run beside them.
        alloc_jobs = [pool.submit(allocation_loop.run, seed) for seed in few_seeds]
        keep_jobs = [
            pool.submit(keep_pause_loop.run_job, (seed, keep_days, keep_pause_loop.POLICIES))
            for seed in few_seeds
        ]
        bandit_summary, curves = bandits(regimes, seeds, 1 if args.quick else args.reps, pool)
        alloc = allocation(few_seeds, [job.result() for job in alloc_jobs])
        keep_runs = [job.result()[0] for job in keep_jobs]
    keep_pause = {
        "seeds": len(few_seeds),
        "days": keep_days,
        **keep_pause_loop.summarise(keep_runs, keep_pause_loop.POLICIES),
    }
    dco_summary = dco.run(len(few_seeds), 100_000)
    plot(curves, alloc, args.plot)
    summary = {
        "seeds": len(seeds),
        "bandits": bandit_summary,
        "allocation_share_of_oracle": alloc,
        "dco": dco_summary,
        "keep_pause": keep_pause,
        "plot": str(args.plot),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
