from __future__ import annotations

import numpy as np
import pytest

from sandbox.market import keyed


def test_uniform_is_a_pure_function_of_its_key_whatever_the_batch() -> None:
    keys = np.arange(1000)
    together = keyed.uniform(7, keys, 3)
    one_by_one = np.array([keyed.uniform(7, int(k), 3) for k in keys[::-1]])[::-1]
    assert np.array_equal(together, one_by_one)
    assert not np.array_equal(together, keyed.uniform(8, keys, 3))
    assert together.min() > 0.0 and together.max() < 1.0


@pytest.mark.parametrize(("n", "p"), [(30, 0.05), (1000, 0.01), (20000, 0.02)])
def test_binomial_matches_its_mean_and_variance(n: int, p: float) -> None:
    u = keyed.uniform(1, np.arange(100_000))
    draws = keyed.binomial(np.full(u.size, n), np.full(u.size, p), u)
    assert draws.min() >= 0 and draws.max() <= n
    assert draws.mean() == pytest.approx(n * p, rel=0.02)
    assert draws.var() == pytest.approx(n * p * (1 - p), rel=0.05)


def test_poisson_small_and_large_means() -> None:
    u = keyed.uniform(2, np.arange(100_000))
    for lam in (0.3, 4.0, 250.0):
        draws = keyed.poisson(np.full(u.size, lam), u)
        assert draws.mean() == pytest.approx(lam, rel=0.03)
        assert draws.var() == pytest.approx(lam, rel=0.06)


def test_largest_remainder_splits_exactly_in_proportion() -> None:
    totals = np.array([10, 7, 0, 1001])
    weights = np.array([[1.0, 1.0, 1.0], [0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.9, 0.1]])
    parts = keyed.largest_remainder(totals, weights)
    assert parts.sum(axis=1).tolist() == totals.tolist()
    assert parts[3, 0] == 0
    assert abs(parts[3, 1] - 900.9) < 1


def test_categorical_never_picks_a_zero_weight_column() -> None:
    weights = np.array([[0.0, 1.0, 0.0, 3.0]])
    picks = keyed.categorical(weights, np.zeros(10_000, dtype=np.int64), keyed.uniform(5, np.arange(10_000)))
    assert set(np.unique(picks).tolist()) == {1, 3}
    assert (picks == 3).mean() == pytest.approx(0.75, abs=0.02)
