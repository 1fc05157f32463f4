"""Distance correlation of two 1-D samples in O(n log^2 n), in numpy.

Why not dcor in the product: its merge-sort kernel is numba code compiled in every process
(~8 s of a `datrig qat`, each run), and one of its closures misses numba's cache on every
run, so each process appends ~0.4 MB to the installed package's ``__pycache__`` without
bound. dcor stays the reference the tests compare this with.

The V-statistic (the one ``dcor.distance_correlation`` returns) from the three sums of
Székely & Rizzo, with ``a_ij = |x_i - x_j|`` and ``b_ij = |y_i - y_j|``::

    dCov^2 = S1 / n^2 - 2 S2 / n^3 + S3 / n^4
    S1 = sum_ij a_ij b_ij,  S2 = sum_i a_i. b_i.,  S3 = a.. b..

The row sums ``a_i.`` come from one sort. ``S1`` is the hard term: with the events in x
order, ``a_ij b_ij = s_ij (x_i - x_j)(y_i - y_j)`` for j before i, where ``s_ij`` is the sign
of ``y_i - y_j``; expanding the product leaves four sums of the form "over earlier events,
those below in y minus those above", i.e. dominance sums, which a bottom-up merge sort gives
level by level (Chaudhuri & Hu 2019 use the same decomposition). Ties are harmless: a pair
tied in x or y contributes zero whatever sign it is given.
"""

from __future__ import annotations

import numpy as np


def _row_sums(v: np.ndarray) -> np.ndarray:
    """``sum_j |v_i - v_j|`` for every i, from one sort."""
    n = v.size
    order = np.argsort(v, kind="stable")
    s = v[order]
    below = np.cumsum(s) - s  # sum of the values before each one in sorted order
    k = np.arange(n, dtype=np.float64)
    sums = np.empty(n)
    sums[order] = s * k - below + (s.sum() - below - s) - s * (n - 1 - k)
    return sums


def _dominance_sums(rank: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``L[:, i] = sum of weights[:, j] over j < i with rank[j] < rank[i]`` (rank: a
    permutation). Bottom-up merge sort on a power-of-two padding: at the level of half-width
    ``h`` every pair split between the two halves of a block of ``2h`` is counted once, by a
    cumulative sum along each block sorted by rank (exact segments: no long running sums)."""
    n = rank.size
    size = 1 << max(0, (n - 1).bit_length())
    r = np.arange(size, dtype=np.int64)  # padding ranks above every real one, weight 0
    r[:n] = rank
    w = np.zeros((weights.shape[0], size))
    w[:, :n] = weights
    out = np.zeros((weights.shape[0], size))
    order = np.arange(size, dtype=np.int64)  # positions, sorted by rank within each block
    h = 1
    while h < size:
        blocks = order.reshape(-1, 2 * h)
        # each row holds two runs sorted by rank (the halves of the level below): timsort
        # merges them in linear time
        blocks = np.take_along_axis(blocks, np.argsort(r[blocks], axis=1, kind="stable"), 1)
        order = blocks.reshape(-1)
        left = (order & h) == 0  # position in the left half of its block
        part = np.where(left, w[:, order], 0.0).reshape(w.shape[0], -1, 2 * h)
        below = np.cumsum(part, axis=2).reshape(w.shape[0], -1)
        right = order[~left]
        out[:, right] += below[:, ~left]
        h *= 2
    return out[:, :n]


def _cross_sum(x: np.ndarray, y: np.ndarray) -> float:
    """``S1 = sum_ij |x_i - x_j| |y_i - y_j|``."""
    n = x.size
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    y_rank = np.empty(n, dtype=np.int64)
    y_rank[np.argsort(ys, kind="stable")] = np.arange(n)  # ties broken by x order: harmless
    weights = np.stack([np.ones(n), ys, xs, xs * ys])
    earlier = np.cumsum(weights, axis=1) - weights
    signed = 2.0 * _dominance_sums(y_rank, weights) - earlier  # below minus above in y
    per_event = xs * ys * signed[0] - xs * signed[1] - ys * signed[2] + signed[3]
    return 2.0 * float(per_event.sum())


def _dcov_sq(s1: float, a: np.ndarray, b: np.ndarray) -> float:
    n = float(a.size)
    return s1 / n**2 - 2.0 * float(a @ b) / n**3 + float(a.sum()) * float(b.sum()) / n**4


def distance_correlation_1d(x: np.ndarray, y: np.ndarray) -> float:
    """dCor(x, y) (not squared, V-statistic) of two equal-length 1-D float64 samples; 0 when
    either is constant."""
    x = x - x.mean()  # shifts leave dCov unchanged and keep the expanded products small
    y = y - y.mean()
    n = float(x.size)
    a, b = _row_sums(x), _row_sums(y)
    xx = _dcov_sq(2.0 * n * float(x @ x), a, a)  # sum_ij (x_i - x_j)^2 with mean-zero x
    yy = _dcov_sq(2.0 * n * float(y @ y), b, b)
    if xx <= 0.0 or yy <= 0.0:
        return 0.0
    xy = _dcov_sq(_cross_sum(x, y), a, b)
    return float(np.sqrt(max(xy, 0.0) / np.sqrt(xx * yy)))
