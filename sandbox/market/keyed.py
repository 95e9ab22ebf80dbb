"""Counter-based randomness keyed on (seed, entity, day, hour, ...), vectorised over numpy arrays.

Every random figure in the market is a pure function of its key, so the same seed and the same
changes give byte-identical figures whatever order cells are computed or requested in. The mixer is
SplitMix64's finaliser applied over a running combination of the key parts.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import special

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = float(2**53)


def stable_key(*parts: object) -> int:
    """A 63-bit key from arbitrary text parts (entity ids, content strings), stable across runs."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFFFFFFFFFF


def _mix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))


def hash_keys(*parts: np.ndarray | int) -> np.ndarray:
    """Mix key parts (broadcast together) into uniformly distributed uint64 values."""
    arrays = np.broadcast_arrays(*[np.asarray(p).astype(np.uint64, copy=False) for p in parts])
    state = np.zeros(arrays[0].shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in arrays:
            state = _mix(state + _GOLDEN + part)
    return state


def uniform(*parts: np.ndarray | int) -> np.ndarray:
    """Uniform floats in the open interval (0, 1), one per broadcast key."""
    bits = hash_keys(*parts) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) / _TWO_POW_53


def normal(*parts: np.ndarray | int) -> np.ndarray:
    """Standard normal draws, one per broadcast key."""
    return special.ndtri(uniform(*parts))


def binomial(n: np.ndarray, p: np.ndarray, u: np.ndarray, *, exact_below: float = 40.0) -> np.ndarray:
    """Binomial(n, p) by inverting the CDF at the given uniforms.

    Cells whose mean is below `exact_below` are inverted exactly (pmf recursion); larger cells use
    the normal approximation with continuity correction, clipped to [0, n].
    """
    n = np.asarray(n, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    n, p, u = np.broadcast_arrays(n, p, u)
    out = np.zeros(n.shape, dtype=np.int64)
    mean = n * p
    big = mean >= exact_below
    if big.any():
        nb, pb, ub = n[big], p[big], u[big]
        sd = np.sqrt(nb * pb * (1.0 - pb))
        draw = np.floor(nb * pb + sd * special.ndtri(ub) + 0.5)
        out[big] = np.clip(draw, 0, nb).astype(np.int64)
    small = ~big & (n > 0) & (p > 0)
    if small.any():
        out[small] = _binomial_inverse(n[small], p[small], u[small])
    return out


def _binomial_inverse(n: np.ndarray, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    p_one = p >= 1.0
    q = np.where(p_one, 0.5, p)
    pmf = np.exp(n * np.log1p(-q))
    cdf = pmf.copy()
    k = np.zeros(n.shape, dtype=np.int64)
    ratio = q / (1.0 - q)
    active = (u > cdf) & (k < n)
    # Sequential search from 0; every cell here has a mean under `exact_below`, so few steps.
    while active.any():
        idx = np.nonzero(active)[0]
        ki = k[idx]
        pmf[idx] = pmf[idx] * (n[idx] - ki) / (ki + 1) * ratio[idx]
        k[idx] = ki + 1
        cdf[idx] += pmf[idx]
        active[idx] = (u[idx] > cdf[idx]) & (k[idx] < n[idx]) & (pmf[idx] > 0)
    return np.where(p_one, n, k)


def poisson(lam: np.ndarray, u: np.ndarray, *, exact_below: float = 40.0) -> np.ndarray:
    """Poisson(lam) by CDF inversion (normal approximation for large means)."""
    lam = np.asarray(lam, dtype=np.float64)
    lam, u = np.broadcast_arrays(lam, u)
    out = np.zeros(lam.shape, dtype=np.int64)
    big = lam >= exact_below
    if big.any():
        draw = np.floor(lam[big] + np.sqrt(lam[big]) * special.ndtri(u[big]) + 0.5)
        out[big] = np.maximum(draw, 0).astype(np.int64)
    small = ~big & (lam > 0)
    if small.any():
        ls, us = lam[small], u[small]
        pmf = np.exp(-ls)
        cdf = pmf.copy()
        k = np.zeros(ls.shape, dtype=np.int64)
        active = us > cdf
        while active.any():
            idx = np.nonzero(active)[0]
            k[idx] += 1
            pmf[idx] = pmf[idx] * ls[idx] / k[idx]
            cdf[idx] += pmf[idx]
            active[idx] = (us[idx] > cdf[idx]) & (pmf[idx] > 0)
        out[small] = k
    return out


def largest_remainder(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split integer totals (shape [R]) over columns in proportion to weights ([R, K]), exactly.

    Rows with zero total weight put everything in column 0 (callers avoid that case).
    """
    totals = np.asarray(totals, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    wsum = weights.sum(axis=1, keepdims=True)
    safe = np.where(wsum > 0, weights / np.where(wsum > 0, wsum, 1.0), 0.0)
    safe[(wsum[:, 0] <= 0), 0] = 1.0
    exact = safe * totals[:, None]
    base = np.floor(exact).astype(np.int64)
    short = totals - base.sum(axis=1)
    if short.any():
        frac = exact - base
        order = np.argsort(-frac, axis=1, kind="stable")
        ranks = np.empty_like(order)
        rows = np.arange(order.shape[0])[:, None]
        ranks[rows, order] = np.arange(order.shape[1])[None, :]
        base += (ranks < short[:, None]).astype(np.int64)
    return base


def categorical(weights: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each unit (row index into `weights` [R, K], uniform u), the column it falls in."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1:]
    cum = cum / np.where(total > 0, total, 1.0)
    target = u
    picked = (cum[rows] < target[:, None]).sum(axis=1)
    return np.minimum(picked, weights.shape[1] - 1)
