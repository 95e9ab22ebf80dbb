"""The Laplace approximation of a Bayesian logistic regression on binomial counts, shared by the
factorised DCO learner and the shared-element bandit."""

from __future__ import annotations

import numpy as np
from scipy import special


def laplace_logistic(
    x: np.ndarray,
    successes: np.ndarray,
    trials: np.ndarray,
    prior_mean: np.ndarray,
    prior_prec: np.ndarray,
    start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(posterior mode, covariance) of the coefficients: Newton's method from `start` (a warm start),
    damped so that no first step is wild, then the inverse Hessian at the mode (symmetrised)."""
    beta = start.copy()
    for _ in range(100):
        p = special.expit(x @ beta)
        grad = x.T @ (successes - trials * p) - prior_prec * (beta - prior_mean)
        hess = (x.T * (trials * p * (1 - p))) @ x + np.diag(prior_prec)
        step = np.linalg.solve(hess, grad)
        step *= min(1.0, 2.0 / max(np.abs(step).max(), 1e-300))
        beta += step
        if np.abs(step).max() < 1e-9:
            break
    p = special.expit(x @ beta)
    cov = np.linalg.inv((x.T * (trials * p * (1 - p))) @ x + np.diag(prior_prec))
    return beta, (cov + cov.T) / 2
