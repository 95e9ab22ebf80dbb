"""Bandit policies over the ads of one ad set, one interface for all (after Open Bandit Pipeline):
`select() -> int`, `update(arm, reward)`, `update_counts(arm, successes, trials)`, `prob_best()`.

Rewards are Bernoulli (a click per impression, or a purchase per click). Thompson sampling keeps Beta
posteriors whose prior should come from the account's own history (`tools.optimize.priors`); with a
`discount` below 1 old evidence fades, so a creative that wears out loses traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

DEFAULT_EXPLORATION = 0.3  # measured in benchmarks/optimizers.py: see the README's bandit figures


def check_arms(n_arms: int) -> None:
    if not isinstance(n_arms, int | np.integer) or n_arms < 1:
        raise ValueError(f"n_arms must be a positive integer, got {n_arms!r}")


def check_counts(n_arms: int, arm: int, successes: float, trials: float) -> None:
    if not 0 <= arm < n_arms:
        raise ValueError(f"arm {arm} is out of range 0..{n_arms - 1}")
    if not (np.isfinite(successes) and np.isfinite(trials)):
        raise ValueError("successes and trials must be finite")
    if successes < 0 or trials < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")


@dataclass(kw_only=True)
class ThompsonSampling:
    """Bernoulli Thompson sampling with Beta(prior_alpha, prior_beta) priors and optional discounting."""

    n_arms: int
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    discount: float = 1.0  # per `step()`: evidence is multiplied by this (1 = never forget)
    # 1 is plain Thompson sampling. Below 1, draws come from Beta(alpha / e, beta / e): the posterior's
    # mean with e times its variance, so less exploration. Used for selection only: prob_best() and the
    # reports use the true posterior.
    exploration: float = 1.0
    random_state: int = 0
    successes: np.ndarray = field(init=False)
    failures: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        check_arms(self.n_arms)
        if not (self.prior_alpha > 0 and self.prior_beta > 0):
            raise ValueError("prior_alpha and prior_beta must be positive")
        if not 0 < self.discount <= 1:
            raise ValueError("discount must be in (0, 1]")
        if not 0 < self.exploration <= 1:
            raise ValueError("exploration must be in (0, 1]")
        self.successes = np.zeros(self.n_arms)
        self.failures = np.zeros(self.n_arms)
        self._rng = np.random.default_rng(self.random_state)

    @property
    def alpha(self) -> np.ndarray:
        return self.prior_alpha + self.successes

    @property
    def beta(self) -> np.ndarray:
        return self.prior_beta + self.failures

    @classmethod
    def default(
        cls, *, n_arms: int, prior_alpha: float, prior_beta: float, random_state: int = 0
    ) -> ThompsonSampling:
        """The product's default: the account's empirical-Bayes prior and tempered exploration."""
        return cls(
            n_arms=n_arms,
            prior_alpha=prior_alpha,
            prior_beta=prior_beta,
            exploration=DEFAULT_EXPLORATION,
            random_state=random_state,
        )

    def select(self) -> int:
        return int(self.select_many(1)[0])

    def select_many(self, n: int) -> np.ndarray:
        """Arms for `n` impressions served before the next update (a day's traffic, a batch)."""
        a, b = self.alpha / self.exploration, self.beta / self.exploration
        draws = self._rng.beta(a[None, :], b[None, :], size=(n, self.n_arms))
        return np.argmax(draws, axis=1)

    def update(self, arm: int, reward: float) -> None:
        self.update_counts(arm, reward, 1)

    def update_counts(self, arm: int, successes: float, trials: float) -> None:
        check_counts(self.n_arms, arm, successes, trials)
        self.successes[arm] += successes
        self.failures[arm] += trials - successes

    def step(self) -> None:
        """End of a period: old evidence fades by `discount`."""
        if self.discount < 1:
            self.successes *= self.discount
            self.failures *= self.discount

    def prob_best(self) -> np.ndarray:
        return beta_prob_best(self.alpha, self.beta)


@dataclass(kw_only=True)
class UCB1:
    """UCB1 (Auer et al. 2002): mean + sqrt(2 ln N / n); untried arms first."""

    n_arms: int
    random_state: int = 0
    successes: np.ndarray = field(init=False)
    trials: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        check_arms(self.n_arms)
        self.successes = np.zeros(self.n_arms)
        self.trials = np.zeros(self.n_arms)

    def values(self) -> np.ndarray:
        total = self.trials.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = np.sqrt(2.0 * np.log(max(total, 1.0)) / self.trials)
            means = self.successes / self.trials
        return np.where(self.trials > 0, means + bonus, np.inf)

    def select(self) -> int:
        return int(np.argmax(self.values()))

    def update(self, arm: int, reward: float) -> None:
        self.update_counts(arm, reward, 1)

    def update_counts(self, arm: int, successes: float, trials: float) -> None:
        check_counts(self.n_arms, arm, successes, trials)
        self.successes[arm] += successes
        self.trials[arm] += trials

    def step(self) -> None:
        return None

    def prob_best(self) -> np.ndarray:
        """UCB1 is deterministic: all the mass on the arm it would select."""
        out = np.zeros(self.n_arms)
        out[self.select()] = 1.0
        return out


@dataclass(kw_only=True)
class EpsilonGreedy:
    """The seed's baseline: the best mean so far, or a uniformly random arm with probability epsilon."""

    n_arms: int
    epsilon: float = 0.1
    random_state: int = 0
    successes: np.ndarray = field(init=False)
    trials: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        check_arms(self.n_arms)
        if not 0 <= self.epsilon <= 1:
            raise ValueError("epsilon must be in [0, 1]")
        self.successes = np.zeros(self.n_arms)
        self.trials = np.zeros(self.n_arms)
        self._rng = np.random.default_rng(self.random_state)

    def greedy(self) -> int:
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(self.trials > 0, self.successes / self.trials, np.inf)
        return int(np.argmax(means))

    def select(self) -> int:
        if self._rng.random() < self.epsilon:
            return int(self._rng.integers(self.n_arms))
        return self.greedy()

    def update(self, arm: int, reward: float) -> None:
        self.update_counts(arm, reward, 1)

    def update_counts(self, arm: int, successes: float, trials: float) -> None:
        check_counts(self.n_arms, arm, successes, trials)
        self.successes[arm] += successes
        self.trials[arm] += trials

    def step(self) -> None:
        return None

    def prob_best(self) -> np.ndarray:
        out = np.full(self.n_arms, self.epsilon / self.n_arms)
        out[self.greedy()] += 1.0 - self.epsilon
        return out


def _grid(alpha: np.ndarray, beta: np.ndarray, points: int) -> np.ndarray:
    lo = float(np.min(stats.beta.ppf(1e-7, alpha, beta)))
    hi = float(np.max(stats.beta.ppf(1 - 1e-7, alpha, beta)))
    return np.linspace(max(lo, 0.0), min(hi, 1.0), points)


def _beta_logcdf(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log F_i(x) on the grid, floored so that "zero times the others" stays zero instead of -inf - -inf.
    scipy.special directly: the distribution objects cost ten times as much on a 4,001-point grid."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(special.betainc(alpha[:, None], beta[:, None], x[None, :])), -1e6)


def _beta_pdf(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    log_pdf = (
        special.xlogy(alpha[:, None] - 1, x[None, :])
        + special.xlog1py(beta[:, None] - 1, -x[None, :])
        - special.betaln(alpha, beta)[:, None]
    )
    return np.exp(log_pdf)


def beta_prob_best(alpha: np.ndarray, beta: np.ndarray, *, points: int = 4001) -> np.ndarray:
    """P(arm i has the highest rate) for independent Beta posteriors, by numerical integration:
    P_i = integral of f_i(x) * prod_{j != i} F_j(x) dx (deterministic, no sampling noise)."""
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    if alpha.size == 1:
        return np.ones(1)
    x = _grid(alpha, beta, points)
    logcdf = _beta_logcdf(alpha, beta, x)
    others = np.exp(logcdf.sum(axis=0)[None, :] - logcdf)
    p = np.clip(np.trapezoid(_beta_pdf(alpha, beta, x) * others, x, axis=1), 0.0, None)
    return p / p.sum() if p.sum() > 0 else np.full(alpha.size, 1.0 / alpha.size)


def beta_expected_loss(alpha: np.ndarray, beta: np.ndarray, *, points: int = 4001) -> np.ndarray:
    """E[max_j theta_j - theta_i]: the rate given up, in expectation, by keeping arm i instead of the best."""
    alpha, beta = np.asarray(alpha, float), np.asarray(beta, float)
    means = alpha / (alpha + beta)
    x = _grid(alpha, beta, points)
    cdf_max = np.exp(_beta_logcdf(alpha, beta, x).sum(axis=0))
    expected_max = x[0] + np.trapezoid(1.0 - cdf_max, x)  # E[M] = lo + integral of P(M > x) over the grid
    return np.maximum(expected_max - means, 0.0)
