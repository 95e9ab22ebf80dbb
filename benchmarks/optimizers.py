"""Optimizer quality against known truth, over many seeds, ending with one JSON line.

Creative bandits: cumulative (pseudo-)regret of Thompson sampling with the account's empirical-Bayes
prior (the product's default) against UCB1, the seed's epsilon-greedy and a flat-prior Thompson, on
the same traffic, in two regimes: a few creatives at 1-3% CTR, and 50 creatives around 0.4% CTR over
100,000 impressions. Decisions are made on batched (daily-style) aggregates, as the warehouse feeds them.

    .venv/bin/python benchmarks/optimizers.py [--quick] [--seeds 20] [--plot benchmarks/out/optimizers.png]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.optimize.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from tools.optimize.priors import empirical_bayes_prior

POLICIES = ("thompson_eb", "thompson_flat", "ucb1", "epsilon_greedy")
DEFAULT = "thompson_eb"


@dataclass(frozen=True, kw_only=True)
class Regime:
    name: str
    arms: int
    impressions: int
    batch: int

    def rates(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.name == "few":
            return rng.uniform(0.01, 0.03, size=size)
        return np.clip(0.004 * np.exp(0.35 * rng.standard_normal(size)), 1e-4, 0.05)


def _policy(name: str, arms: int, prior: tuple[float, float], seed: int):  # type: ignore[no-untyped-def]
    if name == "thompson_eb":
        return ThompsonSampling(n_arms=arms, prior_alpha=prior[0], prior_beta=prior[1], random_state=seed)
    if name == "thompson_flat":
        return ThompsonSampling(n_arms=arms, random_state=seed)
    if name == "ucb1":
        return UCB1(n_arms=arms, random_state=seed)
    return EpsilonGreedy(n_arms=arms, epsilon=0.1, random_state=seed)


def _choose(policy, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Arms for a batch of n impressions decided on the same (yesterday's) evidence."""
    if isinstance(policy, ThompsonSampling):
        return policy.select_many(n)
    if isinstance(policy, EpsilonGreedy):
        greedy = policy._greedy()
        explore = rng.random(n) < policy.epsilon
        return np.where(explore, rng.integers(policy.n_arms, size=n), greedy)
    return np.full(n, policy.select())


def run_regime(regime: Regime, seeds: int) -> dict[str, np.ndarray]:
    """Mean cumulative regret per batch, per policy, over `seeds` independent markets."""
    steps = regime.impressions // regime.batch
    curves = {p: np.zeros((seeds, steps)) for p in POLICIES}
    for seed in range(seeds):
        world = np.random.default_rng(1000 + seed)
        rates = regime.rates(world, regime.arms)
        # The account's history: its other creatives, from the same distribution, with real-sized counts.
        history_rates = regime.rates(world, 40)
        history_trials = world.integers(5_000, 50_000, size=40)
        prior = empirical_bayes_prior(world.binomial(history_trials, history_rates), history_trials)
        best = rates.max()
        for name in POLICIES:
            rng = np.random.default_rng(seed)  # the same traffic draws for every policy
            policy = _policy(name, regime.arms, (prior.alpha, prior.beta), seed)
            regret = 0.0
            for step in range(steps):
                arms = _choose(policy, regime.batch, rng)
                counts = np.bincount(arms, minlength=regime.arms)
                clicks = rng.binomial(counts, rates)
                for arm in np.nonzero(counts)[0]:
                    policy.update_counts(int(arm), int(clicks[arm]), int(counts[arm]))
                regret += float(np.dot(counts, best - rates))
                curves[name][seed, step] = regret
    return {name: curve.mean(axis=0) for name, curve in curves.items()}


def plot(results: dict[str, tuple[Regime, dict[str, np.ndarray]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4))
    for ax, (_, (regime, curves)) in zip(np.atleast_1d(axes), results.items(), strict=True):
        x = np.arange(1, len(next(iter(curves.values()))) + 1) * regime.batch
        for name, curve in curves.items():
            ax.plot(x, curve, label=name, linewidth=2.5 if name == DEFAULT else 1.2)
        ax.set_title(f"{regime.arms} creatives, {regime.impressions:,} impressions")
        ax.set_xlabel("impressions")
        ax.set_ylabel("cumulative regret (clicks lost)")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer impressions per regime (under a minute)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--plot", type=Path, default=Path("benchmarks/out/optimizers.png"))
    args = parser.parse_args()
    scale = 0.5 if args.quick else 1.0
    regimes = [
        Regime(name="few", arms=4, impressions=int(40_000 * scale), batch=500),
        Regime(name="many", arms=50, impressions=int(100_000 * scale), batch=1_000),
    ]
    started = time.perf_counter()
    results = {r.name: (r, run_regime(r, args.seeds)) for r in regimes}
    summary: dict[str, object] = {"seeds": args.seeds, "default": DEFAULT}
    for name, (regime, curves) in results.items():
        final = {p: round(float(c[-1]), 1) for p, c in curves.items()}
        ratio = final[DEFAULT] / final["epsilon_greedy"] if final["epsilon_greedy"] else float("nan")
        print(
            f"{name}: {regime.arms} creatives, {regime.impressions:,} impressions, mean regret over "
            f"{args.seeds} seeds: "
            + ", ".join(f"{p} {v:,.1f}" for p, v in final.items())
            + f"; default / epsilon-greedy = {ratio:.3f}"
        )
        summary[name] = {"regret": final, "default_vs_epsilon_greedy": round(ratio, 3)}
    plot(results, args.plot)
    summary["plot"] = str(args.plot)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"bandits": summary}))


if __name__ == "__main__":
    main()
