"""DCO learners against known answers: value iteration on a small MDP, sample means at discount 0,
recovery of additive element effects, exact untried-combination ranking, and the report's edges."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import special

from tools.optimize.dco import ActionSpace, FactorisedQLearner, TabularQLearner
from tools.optimize.dco_report import ComboDay, dco_report

SPACE = ActionSpace(headlines=10, images=10, ctas=5)


def additive_truth(seed: int, space: ActionSpace = SPACE, base: float = 0.01) -> np.ndarray:
    """True CTR per action: logit = logit(base) + headline + image + cta effects."""
    rng = np.random.default_rng(seed)
    h, i, c = (rng.normal(0, sd, n) for sd, n in zip((0.4, 0.4, 0.15), space.shape, strict=True))
    logit = special.logit(base) + h[:, None, None] + i[None, :, None] + c[None, None, :]
    return special.expit(logit).ravel()


def test_action_space_numbers_combinations_headline_major_and_round_trips() -> None:
    assert SPACE.size == 500 and SPACE.shape == (10, 10, 5)
    assert SPACE.index(0, 0, 1) == 1 and SPACE.index(0, 1, 0) == 5 and SPACE.index(1, 0, 0) == 50
    combos = SPACE.combos()
    assert all(SPACE.index(*combos[a]) == a and SPACE.combo(a) == tuple(combos[a]) for a in range(500))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ActionSpace(headlines=0, images=2, ctas=2), "headlines must be a positive integer"),
        (lambda: ActionSpace(headlines=2, images=2.5, ctas=2), "images must be a positive integer"),
        (lambda: SPACE.index(10, 0, 0), "headline 10 is out of range 0..9"),
        (lambda: SPACE.index(0, -1, 0), "image -1 is out of range"),
        (lambda: SPACE.combo(500), "action 500 is out of range 0..499"),
    ],
)
def test_action_space_refuses_bad_arguments(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


def test_tabular_q_learning_converges_to_value_iteration_on_a_three_state_chain() -> None:
    # States 0-1-2 on a line; action 0 steps left, 1 steps right (walls keep you in place).
    # Bernoulli rewards: 0.2 for pushing the left wall, 0.9 for pushing the right one.
    reward = np.array([[0.2, 0.0], [0.0, 0.0], [0.0, 0.9]])
    nxt = np.array([[0, 1], [0, 2], [1, 2]])
    gamma = 0.5
    q_star = np.zeros((3, 2))
    for _ in range(200):
        q_star = reward + gamma * q_star.max(axis=1)[nxt]
    learner = TabularQLearner(n_states=3, n_actions=2, discount=gamma, epsilon=0.5, random_state=1)
    rng = np.random.default_rng(0)
    s = 0
    for _ in range(40_000):
        a = learner.select(s)
        learner.update(s, a, float(rng.random() < reward[s, a]), int(nxt[s, a]))
        s = int(nxt[s, a])
    assert np.abs(learner.q - q_star).max() < 0.03
    assert [learner.best(s) for s in range(3)] == np.argmax(q_star, axis=1).tolist() == [1, 1, 1]


def test_tabular_at_discount_zero_is_a_bandit_whose_q_is_the_sample_mean() -> None:
    learner = TabularQLearner(n_states=2, n_actions=3)
    learner.update_counts(1, 2, 3, 100)
    learner.update_counts(1, 2, 7, 100)
    learner.update(1, 2, 1.0, next_state=0)  # a next state changes nothing at discount 0
    assert learner.q_values(1)[2] == pytest.approx(11 / 201)
    assert learner.visits[1, 2] == 201 and learner.q_values(0).tolist() == [0.0, 0.0, 0.0]


def test_batched_update_equals_sequential_updates_for_a_constant_learning_rate() -> None:
    batched = TabularQLearner(n_states=2, n_actions=2, discount=0.9, learning_rate=0.1)
    sequential = TabularQLearner(n_states=2, n_actions=2, discount=0.9, learning_rate=0.1)
    for learner in (batched, sequential):
        learner.q[1] = [0.5, 2.0]
    batched.update_counts(0, 1, 3, 5, next_state=1)
    for _ in range(5):  # the same mean reward each time, bootstrapping on the unchanged state 1
        sequential.update(0, 1, 0.6, next_state=1)
    assert batched.q[0, 1] == pytest.approx(sequential.q[0, 1]) == pytest.approx((1 - 0.9**5) * (0.6 + 1.8))


def test_tabular_exploration_follows_its_policy() -> None:
    greedy = TabularQLearner(n_states=1, n_actions=4, epsilon=0.2, random_state=3)
    greedy.q[0] = [0.1, 0.3, 0.3, 0.0]
    assert greedy.policy(0).tolist() == pytest.approx([0.05, 0.45, 0.45, 0.05])
    freq = np.bincount(greedy.select_many(0, 40_000), minlength=4) / 40_000
    assert freq == pytest.approx(greedy.policy(0), abs=0.01)
    singles = np.bincount([greedy.select(0) for _ in range(20_000)], minlength=4) / 20_000
    assert singles == pytest.approx(greedy.policy(0), abs=0.015)
    soft = TabularQLearner(n_states=1, n_actions=2, exploration="boltzmann", temperature=0.01)
    soft.q[0] = [0.01, 0.02]
    assert soft.policy(0).tolist() == pytest.approx([1 / (1 + math.e), math.e / (1 + math.e)])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t, f: TabularQLearner(n_states=0, n_actions=2), "n_states must be a positive integer"),
        (lambda t, f: TabularQLearner(n_states=1, n_actions=2, discount=1.0), "discount must be in"),
        (lambda t, f: TabularQLearner(n_states=1, n_actions=2, learning_rate=0.0), "learning_rate"),
        (lambda t, f: TabularQLearner(n_states=1, n_actions=2, epsilon=1.5), "epsilon must be in"),
        (lambda t, f: TabularQLearner(n_states=1, n_actions=2, temperature=0.0), "temperature"),
        (lambda t, f: t.update(3, 0, 1.0), "state 3 is out of range 0..2"),
        (lambda t, f: t.update(0, 4, 1.0), "action 4 is out of range 0..3"),
        (lambda t, f: t.update(0, 0, 1.0, next_state=-1), "next_state -1 is out of range"),
        (lambda t, f: t.update(0, 0, float("nan")), "reward must be finite"),
        (lambda t, f: t.update_counts(0, 0, float("nan"), 10), "must be finite"),
        (lambda t, f: t.update_counts(0, 0, -1, 10), "need 0 <= successes <= trials"),
        (lambda t, f: t.update_counts(0, 0, 11, 10), "need 0 <= successes <= trials"),
        (lambda t, f: t.update_counts(True, 0, 1, 10), "state must be an integer"),
        (lambda t, f: FactorisedQLearner(n_states=1, space=SPACE, prior_ctr=0.0), "prior_ctr"),
        (lambda t, f: FactorisedQLearner(n_states=1, space=SPACE, element_sd=-1.0), "element_sd"),
        (lambda t, f: f.update(0, 0, 2.0), "reward must be a click rate"),
        (lambda t, f: f.update_counts(0, 500, 1, 10), "action 500 is out of range"),
        (lambda t, f: f.update_counts(0, 0, 1, 10, next_state=0), "no next_state"),
        (lambda t, f: f.update_counts(0, 0, 5, -1), "need 0 <= successes <= trials"),
        (lambda t, f: f.propose_untried(0, {(10, 0, 0)}), "headline 10 is out of range"),
        (lambda t, f: f.propose_untried(0, set(), 0), "k must be a positive integer"),
    ],
)
def test_learners_refuse_bad_arguments(call, message: str) -> None:  # type: ignore[no-untyped-def]
    tabular = TabularQLearner(n_states=3, n_actions=4)
    factorised = FactorisedQLearner(n_states=2, space=SPACE)
    with pytest.raises(ValueError, match=message):
        call(tabular, factorised)


def test_factorised_learner_has_one_parameter_per_element_and_recovers_additive_effects() -> None:
    space = ActionSpace(headlines=6, images=5, ctas=3)
    rng = np.random.default_rng(4)
    effects = {
        k: rng.normal(0, 0.4, n) for k, n in zip(("headline", "image", "cta"), space.shape, strict=True)
    }
    offsets = np.array([0.0, -0.5])  # the second state clicks less
    learner = FactorisedQLearner(n_states=2, space=space, random_state=0)
    assert learner.n_params == 1 + 2 + 6 + 5 + 3
    for s, (a, (h, i, c)) in itertools.product(range(2), enumerate(space.combos().tolist())):
        p = special.expit(special.logit(0.02) + offsets[s] + effects["headline"][h] + effects["image"][i])
        p = special.expit(special.logit(p) + effects["cta"][c])
        learner.update_counts(s, a, int(rng.binomial(20_000, p)), 20_000)
    for kind, true in effects.items():
        mean, sd = learner.element_effects(kind)
        centred = true - true.mean()
        assert np.all(np.abs(mean - centred) < 3.5 * sd), kind
        assert sd.max() < 0.05
    mean, _ = learner.posterior()
    assert mean[2] - mean[1] == pytest.approx(-0.5, abs=0.03)
    best = space.combo(learner.best(0))
    assert best == tuple(int(np.argmax(effects[k])) for k in ("headline", "image", "cta"))
    assert learner.q_values(1).max() < learner.q_values(0).max()


def test_propose_untried_ranks_unseen_combinations_of_strong_elements_exactly() -> None:
    truth = additive_truth(1)
    rng = np.random.default_rng(2)
    learner = FactorisedQLearner(n_states=1, space=SPACE, random_state=0)
    served = rng.choice(SPACE.size, size=60, replace=False)  # 60 of 500 combinations, 4,000 impressions each
    for a in served.tolist():
        learner.update_counts(0, a, int(rng.binomial(4_000, truth[a])), 4_000)
    tried = {SPACE.combo(a) for a in served.tolist()}
    proposals = learner.propose_untried(0, tried, k=8)
    # The shortcut over each kind's top elements gives exactly the brute-force ranking of all untried.
    q = learner.q_values(0)
    untried = np.array([a for a in range(SPACE.size) if a not in set(served.tolist())])
    brute = untried[np.argsort(-q[untried], kind="stable")][:8]
    assert [p.action for p in proposals] == brute.tolist()
    assert all((p.headline, p.image, p.cta) not in tried for p in proposals)
    ctrs = [p.predicted_ctr for p in proposals]
    assert ctrs == sorted(ctrs, reverse=True)
    assert all(p.interval[0] < p.predicted_ctr < p.interval[1] for p in proposals)
    assert all(0 <= p.prob_beats_best_tried <= 1 for p in proposals)  # type: ignore[operator]
    # The top proposal is truly better than 90% of the untried combinations and than the best tried.
    assert truth[proposals[0].action] > np.quantile(truth[untried], 0.9)
    assert truth[proposals[0].action] > truth[served].max() * 0.95
    assert learner.propose_untried(0, {SPACE.combo(a) for a in range(SPACE.size)}) == []


def _served_share(learner: FactorisedQLearner | TabularQLearner, truth: np.ndarray, seed: int) -> float:
    rng = np.random.default_rng(seed)
    got = 0.0
    for _day in range(10):
        actions = learner.select_many(0, 3_000)
        trials = np.bincount(actions, minlength=truth.size)
        clicks = rng.binomial(trials, truth)
        got += float(trials @ truth)
        for a in np.flatnonzero(trials).tolist():
            learner.update_counts(0, a, int(clicks[a]), int(trials[a]))
    return got / (30_000 * truth.max())


def test_factorised_beats_tabular_on_500_combinations_with_30000_impressions() -> None:
    shares = []
    for seed in range(3):  # about 300 clicks in all: under one per combination
        truth = additive_truth(seed)
        factorised = _served_share(
            FactorisedQLearner(n_states=1, space=SPACE, random_state=seed), truth, seed
        )
        tabular = _served_share(
            TabularQLearner(n_states=1, n_actions=SPACE.size, random_state=seed), truth, seed
        )
        assert factorised > tabular + 0.1, (seed, factorised, tabular)
        shares.append((factorised, tabular))
    mean_factorised, mean_tabular = np.mean(shares, axis=0)
    assert mean_factorised > 0.65 and mean_tabular < 0.5


def test_thompson_selection_is_reproducible_from_random_state() -> None:
    runs = [FactorisedQLearner(n_states=1, space=SPACE, random_state=5).select_many(0, 50) for _ in range(2)]
    assert runs[0].tolist() == runs[1].tolist() and len(set(runs[0].tolist())) > 1


def _rows(truth: np.ndarray, served: list[int], space: ActionSpace, seed: int) -> list[ComboDay]:
    rng = np.random.default_rng(seed)
    rows = []
    for state, lift in (("feed", 1.0), ("stories", 0.7)):
        for a in served:
            h, i, c = space.combo(a)
            for _day in range(2):
                n = 5_000
                rows.append(
                    ComboDay(
                        state=state,
                        headline=f"h{h}",
                        image=f"i{i}",
                        cta=f"c{c}",
                        impressions=n,
                        clicks=int(rng.binomial(n, truth[a] * lift)),
                    )
                )
    return rows


def test_dco_report_recommends_the_true_best_and_proposes_untried_with_evidence() -> None:
    space = ActionSpace(headlines=4, images=4, ctas=2)
    truth = additive_truth(3, space, base=0.02)
    # Every element is served, but not every combination (a Latin-square-like subset).
    served = sorted({space.index(h, (h + k) % 4, k % 2) for h in range(4) for k in range(4)})
    report = dco_report(_rows(truth, served, space, 0), top_k=3)
    assert not report.needs_more_data
    assert report.impressions == 2 * len(served) * 2 * 5_000
    for rec in report.recommended:  # the best (two images are within 1% of each other here) or a near tie
        pick = space.index(int(rec.headline[1:]), int(rec.image[1:]), int(rec.cta[1:]))
        assert truth[pick] > 0.97 * truth.max()
    assert [r.state for r in report.recommended] == ["feed", "stories"]
    assert report.recommended[0].predicted_ctr > report.recommended[1].predicted_ctr
    headlines = [e for e in report.elements if e.kind == "headline"]
    assert len(report.elements) == 4 + 4 + 2 and sum(e.impressions for e in headlines) == report.impressions
    assert sum(e.clicks for e in headlines) == report.clicks
    assert all(e.interval[0] < e.log_odds_effect < e.interval[1] for e in report.elements)
    assert len(report.untried) == 2 * 3
    served_names = {(f"h{h}", f"i{i}", f"c{c}") for h, i, c in map(space.combo, served)}
    for u in report.untried:
        assert not u.tried and u.impressions == 0 and (u.headline, u.image, u.cta) not in served_names
        assert 0 <= u.prob_beats_best_tried <= 1  # type: ignore[operator]
    assert all(
        math.isfinite(v) for r in report.recommended + report.untried for v in (r.predicted_ctr, *r.interval)
    )


@pytest.mark.parametrize(
    "rows",
    [[], [ComboDay(state="feed", headline="h", image="i", cta="c", impressions=0, clicks=0)]],
)
def test_dco_report_without_impressions_says_it_needs_more_data(rows: list[ComboDay]) -> None:
    report = dco_report(rows)
    assert report.needs_more_data and report.impressions == 0
    assert report.recommended == [] and report.untried == [] and report.elements == []
    assert "no impressions" in report.reason


def test_dco_report_on_few_clicks_still_estimates_but_flags_it() -> None:
    rows = [ComboDay(state="feed", headline="h1", image="i1", cta="c1", impressions=300, clicks=2)]
    report = dco_report(rows, min_clicks=30)
    assert report.needs_more_data and "only 2 clicks" in report.reason
    assert len(report.recommended) == 1 and report.untried == []
    assert 0 < report.recommended[0].predicted_ctr < 0.05


def test_combo_day_refuses_more_clicks_than_impressions() -> None:
    with pytest.raises(ValidationError, match="more clicks than impressions"):
        ComboDay(state="feed", headline="h", image="i", cta="c", impressions=10, clicks=11)
    with pytest.raises(ValidationError):
        ComboDay(state="feed", headline="h", image="i", cta="c", impressions=-1, clicks=0)
