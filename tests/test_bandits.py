"""Bandit policies, priors and the creative report against closed forms and Monte-Carlo checks."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from tools.optimize.bandits import UCB1, EpsilonGreedy, ThompsonSampling, beta_expected_loss, beta_prob_best
from tools.optimize.creatives import CreativeDay, CreativeState, Thresholds, creative_report
from tools.optimize.priors import BetaPrior, empirical_bayes_prior

DAY = dt.date(2026, 11, 20)


def test_thompson_posteriors_follow_the_conjugate_update_and_fade_with_discount() -> None:
    ts = ThompsonSampling(n_arms=2, prior_alpha=2.0, prior_beta=8.0, discount=0.5)
    ts.update_counts(0, 3, 10)
    ts.update(1, 1)
    assert ts.alpha.tolist() == [5.0, 3.0] and ts.beta.tolist() == [15.0, 8.0]
    ts.step()
    assert ts.alpha.tolist() == [3.5, 2.5] and ts.beta.tolist() == [11.5, 8.0]


def test_prob_best_and_expected_loss_match_monte_carlo() -> None:
    alpha, beta = np.array([12.0, 30.0, 5.0, 40.0]), np.array([988.0, 1970.0, 495.0, 3960.0])
    rng = np.random.default_rng(1)
    draws = rng.beta(alpha, beta, size=(400_000, 4))
    mc_best = np.bincount(np.argmax(draws, axis=1), minlength=4) / len(draws)
    mc_loss = (draws.max(axis=1)[:, None] - draws).mean(axis=0)
    assert np.allclose(beta_prob_best(alpha, beta), mc_best, atol=0.004)
    assert np.allclose(beta_expected_loss(alpha, beta), mc_loss, rtol=0.02, atol=1e-6)


def test_prob_best_of_identical_arms_is_uniform_and_of_one_arm_is_one() -> None:
    assert np.allclose(beta_prob_best(np.full(5, 3.0), np.full(5, 300.0)), 0.2, atol=1e-6)
    assert beta_prob_best(np.array([2.0]), np.array([5.0])).tolist() == [1.0]


def test_ucb1_values_follow_the_formula_and_try_every_arm_first() -> None:
    ucb = UCB1(n_arms=3)
    assert ucb.select() == 0
    ucb.update_counts(0, 1, 2)
    ucb.update_counts(1, 3, 4)
    total = 6
    expected = [0.5 + math.sqrt(2 * math.log(total) / 2), 0.75 + math.sqrt(2 * math.log(total) / 4), math.inf]
    assert ucb.values().tolist() == pytest.approx(expected)
    assert ucb.select() == 2 and ucb.prob_best().tolist() == [0.0, 0.0, 1.0]


def test_epsilon_greedy_prob_best_mixes_greedy_and_uniform() -> None:
    eg = EpsilonGreedy(n_arms=4, epsilon=0.2)
    for arm, (s, n) in enumerate([(1, 10), (5, 10), (2, 10), (0, 10)]):
        eg.update_counts(arm, s, n)
    assert eg.prob_best().tolist() == pytest.approx([0.05, 0.85, 0.05, 0.05])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ThompsonSampling(n_arms=0), "n_arms"),
        (lambda: ThompsonSampling(n_arms=2, prior_alpha=0), "prior"),
        (lambda: ThompsonSampling(n_arms=2, discount=0), "discount"),
        (lambda: EpsilonGreedy(n_arms=2, epsilon=1.5), "epsilon"),
        (lambda: UCB1(n_arms=2).update_counts(0, 3, 2), "successes <= trials"),
        (lambda: UCB1(n_arms=2).update_counts(0, -1, 2), "successes <= trials"),
        (lambda: ThompsonSampling(n_arms=2).update_counts(0, float("nan"), 2), "finite"),
        (lambda: ThompsonSampling(n_arms=2).update_counts(5, 1, 2), "out of range"),
    ],
)
def test_bad_arguments_are_refused_clearly(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        build()


def test_empirical_bayes_recovers_the_prior_of_simulated_creatives() -> None:
    rng = np.random.default_rng(3)
    rates = rng.beta(4.0, 396.0, size=300)  # mean 1%, a realistic spread between creatives
    trials = rng.integers(5_000, 50_000, size=300)
    successes = rng.binomial(trials, rates)
    prior = empirical_bayes_prior(successes, trials)
    assert prior.basis == "moments"
    assert prior.mean == pytest.approx(0.01, rel=0.05)
    assert prior.alpha + prior.beta == pytest.approx(400, rel=0.3)


@pytest.mark.parametrize(
    ("successes", "trials", "basis"),
    [
        ([], [], "default"),
        ([0, 0], [0, 0], "default"),
        ([0, 0], [100, 50], "default"),
        ([7], [1000], "pooled mean (no spread estimate)"),
    ],
)
def test_thin_histories_give_a_weak_prior_not_a_crash(
    successes: list[int], trials: list[int], basis: str
) -> None:
    prior = empirical_bayes_prior(np.array(successes), np.array(trials))
    assert prior.basis == basis and prior.alpha > 0 and prior.beta > 0 and math.isfinite(prior.mean)


def test_empirical_bayes_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        empirical_bayes_prior(np.array([5.0, 1.0]), np.array([4.0, 10.0]))
    with pytest.raises(ValueError, match="finite"):
        empirical_bayes_prior(np.array([np.nan]), np.array([10.0]))


PRIOR = BetaPrior(alpha=2.0, beta=198.0, creatives=10, basis="moments")


def _days(figures: dict[str, tuple[int, int]]) -> list[CreativeDay]:
    return [CreativeDay(ad_id=a, day=DAY, impressions=n, clicks=c) for a, (n, c) in figures.items()]


def test_a_clear_loser_with_enough_impressions_is_paused_and_a_winner_kept() -> None:
    days = _days({"a": (20_000, 400), "b": (20_000, 180), "c": (20_000, 60)})
    states = [CreativeState(ad_id=a, active=True) for a in "abc"]
    report = creative_report(days, states, PRIOR, today=DAY)
    verdicts = {c.ad_id: c.verdict for c in report.creatives}
    assert verdicts == {"a": "keep", "b": "keep", "c": "pause"}  # b stays: two live ads is the floor
    single = creative_report(days, states, PRIOR, today=DAY, thresholds=Thresholds(min_live_ads=1))
    assert {c.ad_id: c.verdict for c in single.creatives} == {"a": "keep", "b": "pause", "c": "pause"}
    a = next(c for c in report.creatives if c.ad_id == "a")
    alpha, beta = PRIOR.alpha + 400, PRIOR.beta + 19_600
    assert a.posterior_mean == pytest.approx(alpha / (alpha + beta))
    assert a.interval == pytest.approx(
        (stats.beta.ppf(0.025, alpha, beta), stats.beta.ppf(0.975, alpha, beta))
    )
    assert a.prob_best > 0.99 and report.add_new_ad


def test_it_never_pauses_on_too_few_impressions_nor_below_the_live_floor() -> None:
    days = _days({"a": (900, 20), "b": (900, 1)})
    states = [CreativeState(ad_id="a", active=True), CreativeState(ad_id="b", active=True)]
    report = creative_report(days, states, PRIOR, today=DAY)
    assert all(c.verdict == "keep" for c in report.creatives)
    assert "only 900" in next(c for c in report.creatives if c.ad_id == "b").reason
    floor = creative_report(
        _days({"a": (50_000, 1000), "b": (50_000, 100)}),
        states,
        PRIOR,
        today=DAY,
        thresholds=Thresholds(min_live_ads=2),
    )
    assert all(c.verdict == "keep" for c in floor.creatives)


def test_a_strong_paused_creative_is_reactivated() -> None:
    days = _days({"a": (10_000, 100), "b": (10_000, 300)})
    states = [CreativeState(ad_id="a", active=True), CreativeState(ad_id="b", active=False)]
    report = creative_report(days, states, PRIOR, today=DAY)
    assert next(c for c in report.creatives if c.ad_id == "b").verdict == "reactivate"


def test_empty_history_and_single_arm_give_clear_answers() -> None:
    empty = creative_report([], [CreativeState(ad_id="a", active=True)], PRIOR, today=DAY)
    assert empty.needs_more_data and empty.creatives[0].prob_best == 1.0
    assert empty.creatives[0].posterior_mean == pytest.approx(PRIOR.mean)
    with pytest.raises(ValueError, match="no creatives"):
        creative_report([], [], PRIOR)
    with pytest.raises(ValueError, match="not one of"):
        creative_report(_days({"z": (10, 1)}), [CreativeState(ad_id="a", active=True)], PRIOR)
    with pytest.raises(ValueError, match="more clicks"):
        CreativeDay(ad_id="a", day=DAY, impressions=1, clicks=2)


def test_tempered_exploration_sends_more_traffic_to_the_leader_but_reports_the_true_posterior() -> None:
    plain = ThompsonSampling(n_arms=2, random_state=3)
    tempered = ThompsonSampling(n_arms=2, exploration=0.3, random_state=3)
    for policy in (plain, tempered):
        policy.update_counts(0, 110, 10_000)
        policy.update_counts(1, 95, 10_000)
    share_plain = float(np.mean(plain.select_many(20_000) == 0))
    share_tempered = float(np.mean(tempered.select_many(20_000) == 0))
    # Plain Thompson serves the leader with P(best) (about 0.85 here); tempered draws are 0.3x as spread.
    assert share_plain == pytest.approx(plain.prob_best()[0], abs=0.02)
    assert share_tempered > share_plain + 0.08
    assert np.allclose(plain.prob_best(), tempered.prob_best())
    with pytest.raises(ValueError, match="exploration"):
        ThompsonSampling(n_arms=2, exploration=0)
    default = ThompsonSampling.default(n_arms=3, prior_alpha=2, prior_beta=200)
    assert default.exploration < 1 and default.prior_alpha == 2
