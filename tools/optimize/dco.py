"""Dynamic creative optimisation: which headline x image x CTA to serve in each state (a segment or a
placement), learnt from clicks per impression. Two learners, one interface (`select`, `select_many`,
`update`, `update_counts`, `q_values`, `best`):

- `TabularQLearner`, the seed's design: a Q[state, action] table, one estimate per (state, combination).
- `FactorisedQLearner`, the default: logit CTR = bias + state offset + headline + image + CTA effects, a
  Bayesian logistic regression (Laplace approximation) explored by Thompson sampling. It has
  1 + S + H + I + C parameters instead of S x H x I x C estimates, so it learns a 10 x 10 x 5 space from
  modest traffic and ranks combinations never served (`propose_untried`).

Said plainly: an impression does not move a person to another state, so with discount 0 (the tabular
learner's default, the factorised learner's only setting) each is a contextual bandit, Q(s, a) being the
click rate of serving a in s. The tabular learner keeps the full Q-learning update (discount > 0, a next
state) for problems with real transitions.

`tools/optimize/dco_report.py` turns warehouse rows into a report with the factorised learner.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import special, stats

from tools.optimize.laplace import laplace_logistic

KINDS = ("headline", "image", "cta")


def _check_index(name: str, value: object, n: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 0 <= value < n:
        raise ValueError(f"{name} {value} is out of range 0..{n - 1}")
    return int(value)


def _check_counts(successes: float, trials: float) -> None:
    if not (np.isfinite(successes) and np.isfinite(trials)):
        raise ValueError(f"successes and trials must be finite, got {successes} of {trials}")
    if successes < 0 or trials < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")


def check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ActionSpace:
    """Actions are (headline, image, cta) combinations, numbered headline-major (C order)."""

    headlines: int
    images: int
    ctas: int

    def __post_init__(self) -> None:
        for name in KINDS:
            check_positive_int(f"{name}s", getattr(self, f"{name}s"))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.headlines, self.images, self.ctas)

    @property
    def size(self) -> int:
        return self.headlines * self.images * self.ctas

    def index(self, headline: int, image: int, cta: int) -> int:
        parts = [
            _check_index(k, v, n) for k, v, n in zip(KINDS, (headline, image, cta), self.shape, strict=True)
        ]
        return int(np.ravel_multi_index(tuple(parts), self.shape))

    def combo(self, action: int) -> tuple[int, int, int]:
        a = _check_index("action", action, self.size)
        h, i, c = np.unravel_index(a, self.shape)
        return int(h), int(i), int(c)

    def unravel(self, actions: np.ndarray) -> np.ndarray:
        """[n, 3] array of (headline, image, cta) for n action indices."""
        return np.stack(np.unravel_index(np.asarray(actions, dtype=np.int64), self.shape), axis=1)

    def combos(self) -> np.ndarray:
        """[size, 3] array of (headline, image, cta), row a being action a."""
        return self.unravel(np.arange(self.size))


@dataclass(kw_only=True)
class TabularQLearner:
    """Q-learning on a table: Q(s, a) += lr * (r + discount * max_a' Q(s', a') - Q(s, a)).

    With lr = 1/n(s, a) (the default) and discount 0, Q(s, a) is exactly the mean reward seen for a in s:
    a contextual bandit with one independent estimate per cell. Exploration is epsilon-greedy (ties broken
    at random) or Boltzmann, whose temperature is in reward units (about 0.002 for click rates near 1%).
    """

    n_states: int
    n_actions: int
    discount: float = 0.0
    learning_rate: float | Literal["1/n"] = "1/n"
    exploration: Literal["epsilon", "boltzmann"] = "epsilon"
    epsilon: float = 0.1
    temperature: float = 0.002
    initial_q: float = 0.0
    random_state: int = 0
    q: np.ndarray = field(init=False)
    visits: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        check_positive_int("n_states", self.n_states)
        check_positive_int("n_actions", self.n_actions)
        if not 0 <= self.discount < 1:
            raise ValueError(f"discount must be in [0, 1), got {self.discount}")
        if self.learning_rate != "1/n" and not (
            isinstance(self.learning_rate, float | int) and 0 < self.learning_rate <= 1
        ):
            raise ValueError(f"learning_rate must be '1/n' or in (0, 1], got {self.learning_rate!r}")
        if self.exploration not in ("epsilon", "boltzmann"):
            raise ValueError(f"exploration must be 'epsilon' or 'boltzmann', got {self.exploration!r}")
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not np.isfinite(self.initial_q):
            raise ValueError("initial_q must be finite")
        self.q = np.full((self.n_states, self.n_actions), float(self.initial_q))
        self.visits = np.zeros((self.n_states, self.n_actions))
        self._rng = np.random.default_rng(self.random_state)

    def policy(self, state: int) -> np.ndarray:
        """The probability of each action in this state under the exploration rule."""
        q = self.q[_check_index("state", state, self.n_states)]
        if self.exploration == "boltzmann":
            w = np.exp((q - q.max()) / self.temperature)
            return w / w.sum()
        ties = q == q.max()
        return self.epsilon / self.n_actions + (1 - self.epsilon) * ties / ties.sum()

    def select(self, state: int) -> int:
        if self.exploration == "epsilon":  # the same rule as `policy`, without building the vector
            q = self.q[_check_index("state", state, self.n_states)]
            if self._rng.random() < self.epsilon:
                return int(self._rng.integers(self.n_actions))
            ties = np.flatnonzero(q == q.max())
            return int(ties[0] if len(ties) == 1 else ties[self._rng.integers(len(ties))])
        return int(self._rng.choice(self.n_actions, p=self.policy(state)))

    def select_many(self, state: int, n: int) -> np.ndarray:
        """Actions for n impressions served before the next update (a day's traffic)."""
        return self._rng.choice(self.n_actions, size=n, p=self.policy(state))

    def update(self, state: int, action: int, reward: float, next_state: int | None = None) -> None:
        if not np.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward}")
        self._learn(state, action, float(reward), 1.0, next_state)

    def update_counts(
        self, state: int, action: int, successes: float, trials: float, next_state: int | None = None
    ) -> None:
        """`trials` updates with mean reward successes / trials against the same bootstrap (daily totals)."""
        _check_counts(successes, trials)
        self._learn(state, action, float(successes), float(trials), next_state)

    def _learn(self, state: int, action: int, total: float, trials: float, next_state: int | None) -> None:
        s = _check_index("state", state, self.n_states)
        a = _check_index("action", action, self.n_actions)
        # No next state means a terminal step (or, at discount 0, a bandit step): nothing to bootstrap.
        nxt = (
            0.0 if next_state is None else self.q[_check_index("next_state", next_state, self.n_states)].max()
        )
        if trials == 0:
            return
        target = total / trials + self.discount * nxt
        # k sequential updates towards the same target, in closed form.
        if self.learning_rate == "1/n":
            step = trials / (self.visits[s, a] + trials)
        else:
            step = 1.0 - (1.0 - self.learning_rate) ** trials
        self.q[s, a] += step * (target - self.q[s, a])
        self.visits[s, a] += trials

    def q_values(self, state: int) -> np.ndarray:
        return self.q[_check_index("state", state, self.n_states)].copy()

    def best(self, state: int) -> int:
        return int(np.argmax(self.q_values(state)))


class Proposal(BaseModel):
    """An untried combination and what the model expects of it."""

    headline: int
    image: int
    cta: int
    action: int
    predicted_ctr: float = Field(description="posterior median click rate")
    interval: tuple[float, float] = Field(description="credible interval of the click rate")
    prob_beats_best_tried: float | None = Field(
        default=None, description="P(its click rate exceeds the best tried combination's in this state)"
    )


@dataclass(kw_only=True)
class FactorisedQLearner:
    """logit Q(s, h, i, c) = bias + state[s] + headline[h] + image[i] + cta[c], fitted to click counts.

    Gaussian priors (sd `element_sd` on element effects, `state_sd` on state offsets, `bias_sd` around
    logit(prior_ctr)) and a Laplace approximation at the posterior mode (Newton's method on all the
    counts so far, warm-started, refitted lazily after new data). Thompson sampling draws coefficients
    and takes the best element of each kind. The model has no state x element terms, so it serves the
    same combination in every state and the state offsets only set each state's level; fit one learner
    per state when elements should differ by state. It models the immediate click only (discount 0).
    """

    n_states: int
    space: ActionSpace
    prior_ctr: float = 0.01
    bias_sd: float = 2.0
    state_sd: float = 1.0
    element_sd: float = 0.5
    random_state: int = 0

    def __post_init__(self) -> None:
        check_positive_int("n_states", self.n_states)
        if not 0 < self.prior_ctr < 1:
            raise ValueError(f"prior_ctr must be in (0, 1), got {self.prior_ctr}")
        for name in ("bias_sd", "state_sd", "element_sd"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive, got {value}")
        h, i, c = self.space.shape
        # Parameter layout: [bias | states | headlines | images | ctas].
        self._start = dict(zip(("state", *KINDS), np.cumsum([1, self.n_states, h, i]).tolist(), strict=True))
        sds = np.concatenate(
            [[self.bias_sd], np.full(self.n_states, self.state_sd), np.full(h + i + c, self.element_sd)]
        )
        self._prior_mean = np.zeros(self.n_params)
        self._prior_mean[0] = special.logit(self.prior_ctr)
        self._prior_prec = 1.0 / sds**2
        self._counts: dict[tuple[int, int], list[float]] = {}
        self._mean = self._prior_mean.copy()
        self._cov = np.diag(1.0 / self._prior_prec)
        self._dirty = False
        self._rng = np.random.default_rng(self.random_state)

    @property
    def n_params(self) -> int:
        return 1 + self.n_states + sum(self.space.shape)

    def _block(self, kind: str) -> slice:
        size = self.n_states if kind == "state" else self.space.shape[KINDS.index(kind)]
        return slice(self._start[kind], self._start[kind] + size)

    def _design(self, states: np.ndarray, combos: np.ndarray) -> np.ndarray:
        """One-hot rows: bias, state, headline, image, cta."""
        x = np.zeros((len(states), self.n_params))
        x[:, 0] = 1.0
        rows = np.arange(len(states))
        x[rows, self._start["state"] + states] = 1.0
        for k, kind in enumerate(KINDS):
            x[rows, self._start[kind] + combos[:, k]] = 1.0
        return x

    def update(self, state: int, action: int, reward: float, next_state: int | None = None) -> None:
        if not (np.isfinite(reward) and 0 <= reward <= 1):
            raise ValueError(f"reward must be a click rate in [0, 1], got {reward}")
        self.update_counts(state, action, reward, 1, next_state)

    def update_counts(
        self, state: int, action: int, successes: float, trials: float, next_state: int | None = None
    ) -> None:
        if next_state is not None:
            raise ValueError(
                "the factorised learner models the immediate click only (discount 0): no next_state"
            )
        s = _check_index("state", state, self.n_states)
        a = _check_index("action", action, self.space.size)
        _check_counts(successes, trials)
        if trials == 0:
            return
        cell = self._counts.setdefault((s, a), [0.0, 0.0])
        cell[0] += successes
        cell[1] += trials
        self._dirty = True

    def _fit(self) -> None:
        if not self._dirty:
            return
        keys = np.array(list(self._counts), dtype=np.int64)
        y, n = np.array(list(self._counts.values())).T
        x = self._design(keys[:, 0], self.space.unravel(keys[:, 1]))
        # Warm start from the last mode.
        self._mean, self._cov = laplace_logistic(x, y, n, self._prior_mean, self._prior_prec, self._mean)
        self._dirty = False

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the coefficients, in the layout bias, states, headlines, images, ctas."""
        self._fit()
        return self._mean.copy(), self._cov.copy()

    def _argmax_combo(self, beta: np.ndarray) -> np.ndarray:
        """Best (h, i, c) per row of coefficient draws: with no interactions, each kind's own argmax."""
        return np.stack([np.argmax(beta[..., self._block(kind)], axis=-1) for kind in KINDS], axis=-1)

    def select(self, state: int) -> int:
        return int(self.select_many(state, 1)[0])

    def select_many(self, state: int, n: int) -> np.ndarray:
        """Thompson sampling: one coefficient draw per impression, served before the next update."""
        _check_index("state", state, self.n_states)
        self._fit()
        draws = self._rng.multivariate_normal(self._mean, self._cov, size=n, method="cholesky")
        best = self._argmax_combo(draws)
        return np.ravel_multi_index(tuple(best.T), self.space.shape)

    def q_values(self, state: int) -> np.ndarray:
        """Predicted click rate of every action in this state, at the posterior mean."""
        s = _check_index("state", state, self.n_states)
        self._fit()
        m = self._mean
        eta = (
            m[0]
            + m[self._start["state"] + s]
            + m[self._block("headline")][:, None, None]
            + m[self._block("image")][None, :, None]
            + m[self._block("cta")][None, None, :]
        )
        return special.expit(eta).ravel()

    def best(self, state: int) -> int:
        _check_index("state", state, self.n_states)
        self._fit()
        return int(np.ravel_multi_index(tuple(self._argmax_combo(self._mean)), self.space.shape))

    def predict(self, state: int, combos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of logit CTR for (h, i, c) rows in this state."""
        s = _check_index("state", state, self.n_states)
        self._fit()
        x = self._design(np.full(len(combos), s), np.asarray(combos, dtype=np.int64).reshape(-1, 3))
        return x @ self._mean, np.sqrt(np.einsum("ij,jk,ik->i", x, self._cov, x))

    def element_effects(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd of each element's effect on logit CTR relative to the average element of its kind
        (the identifiable contrast: the bias absorbs the common level)."""
        self._fit()
        block = self._block(kind)
        k = block.stop - block.start
        centre = np.eye(k) - 1.0 / k
        cov = centre @ self._cov[block, block] @ centre.T
        return centre @ self._mean[block], np.sqrt(np.clip(np.diag(cov), 0.0, None))

    def propose_untried(
        self, state: int, tried: set[tuple[int, int, int]], k: int = 5, *, level: float = 0.95
    ) -> list[Proposal]:
        """The k untried combinations with the highest predicted click rate, best first."""
        _check_index("state", state, self.n_states)
        check_positive_int("k", k)
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        tried_idx = np.array(sorted({self.space.index(*combo) for combo in tried}), dtype=np.int64)
        self._fit()
        means = [self._mean[self._block(kind)] for kind in KINDS]
        # Exact shortcut: a combination outside the top k + |tried| of any kind is beaten by at least k
        # untried ones that differ from it only in that kind, so only those top elements need enumerating.
        top = [np.argsort(-m, kind="stable")[: k + len(tried_idx)] for m in means]
        grid = np.array(list(itertools.product(*top)), dtype=np.int64).reshape(-1, 3)
        grid = grid[~np.isin(np.ravel_multi_index(tuple(grid.T), self.space.shape), tried_idx)]
        score = sum(m[grid[:, j]] for j, m in enumerate(means))  # logit CTR up to the shared level
        chosen = grid[np.argsort(-score, kind="stable")[:k]]
        if len(chosen) == 0:
            return []
        mean, sd = self.predict(state, chosen)
        z = stats.norm.ppf(0.5 + level / 2)
        p_beat: list[float | None] = [None] * len(chosen)
        if len(tried_idx):
            tried_combos = self.space.unravel(tried_idx)
            best_tried = tried_combos[int(np.argmax(self.predict(state, tried_combos)[0]))]
            # P(logit difference > 0): the shared terms cancel, the rest keeps its posterior correlation.
            d = self._design(np.zeros(len(chosen), np.int64), chosen)
            d -= self._design(np.zeros(1, np.int64), best_tried[None, :])
            d_sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self._cov, d), 1e-300))
            p_beat = stats.norm.cdf((d @ self._mean) / d_sd).tolist()
        return [
            Proposal(
                headline=int(h),
                image=int(i),
                cta=int(c),
                action=self.space.index(int(h), int(i), int(c)),
                predicted_ctr=float(special.expit(mean[j])),
                interval=(
                    float(special.expit(mean[j] - z * sd[j])),
                    float(special.expit(mean[j] + z * sd[j])),
                ),
                prob_beats_best_tried=p_beat[j],
            )
            for j, (h, i, c) in enumerate(chosen.tolist())
        ]
