"""Elastic distance between two multivariate series: DTW in a Sakoe-Chiba band.

dtw() / dtw_many() use dtaidistance's C implementation (`dtw_ndim.distance_fast`): squared
Euclidean local cost, the square root of the summed cost along the best path. We return the mean
local cost along the path scale, `d^2 / (n + m)`, so long and short signatures are on one scale.
Verification uses group_costs(): the same DTW for every feature group and reference of one
comparison in one compiled (numba) call, bit-identical to dtw_many per group.
"""
from __future__ import annotations

import math

import numpy as np
from dtaidistance import dtw_ndim
from numba import njit

from ...templates.signature import params as P


def band(n: int, m: int) -> int:
    """Sakoe-Chiba half-width for series of lengths n and m (must cover |n - m|)."""
    return int(max(P.BAND_MIN, abs(n - m) + 1, round(P.BAND_FRACTION * max(n, m))))


def dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Length-normalised DTW cost between (n, d) and (m, d) C-contiguous float64 arrays."""
    d = dtw_ndim.distance_fast(a, b, window=band(len(a), len(b)), use_pruning=False)
    return float(d * d / (len(a) + len(b)))


def dtw_many(query: np.ndarray, refs: list[np.ndarray]) -> np.ndarray:
    """Costs of one series against several, in one C call (one band: the widest pair's)."""
    if not refs:
        return np.zeros(0)
    w = max(band(len(query), len(r)) for r in refs)
    d = np.asarray(dtw_ndim.distance_matrix_fast([query, *refs], block=((0, 1), (1, len(refs) + 1)),
                                                 window=w, parallel=False, compact=True))
    lengths = np.array([len(query) + len(r) for r in refs], dtype=np.float64)
    return d * d / lengths


# --- every group against every reference of one comparison in one compiled call -----------
# Verification needs groups x references DTWs per comparison; through dtaidistance that is one
# call per group (~30 us of C per DTW plus ~40-90 us of Python per call). The kernel below
# (numba) computes the same banded DTWs in one call, the local costs of a band row vectorised
# over all references at once. Same band, cost, summation order and normalisation as dtw():
# the costs are bit-identical to dtaidistance's (tests/test_signature_matching.py).

@njit(cache=True, nogil=True)
def _group_costs(q, R, m, k, bounds, window, out):  # pragma: no cover - compiled
    # q (n, c); R (c, m * k): column c of reference r at point j is R[c, j * k + r] (the groups'
    # columns side by side, group g = columns bounds[g, 0]:bounds[g, 1], a column used by two
    # groups appears twice); out (groups, k). Per row of the band, each group's local costs
    # against all references are summed column by column over contiguous memory (vectorised
    # by the compiler), then the groups x k recurrences advance together, cell by cell.
    n = q.shape[0]
    n_groups = bounds.shape[0]
    inf = np.inf
    prev = np.full((n_groups, (m + 1) * k), inf)
    cur = np.full((n_groups, (m + 1) * k), inf)
    prev[:, :k] = 0.0
    crow = np.zeros((n_groups, m * k))
    ldr = n - m if n > m else 0   # dtaidistance's band: |i - j| < window, widened by the
    ldc = m - n if m > n else 0   # length difference on the longer side
    for i in range(n):
        lo = i - ldr - window + 1
        if lo < 0:
            lo = 0
        hi = i + ldc + window
        if hi > m:
            hi = m
        a, b = lo * k, hi * k
        for g in range(n_groups):
            cg = crow[g, a:b]  # views: the compiler vectorises loops over 1-d views only
            c0 = bounds[g, 0]
            qc = q[i, c0]
            rc = R[c0, a:b]
            for t in range(b - a):  # = 0.0 + d * d, dtaidistance's first term, exactly
                d = qc - rc[t]
                cg[t] = d * d
            for c in range(c0 + 1, bounds[g, 1]):
                qc = q[i, c]
                rc = R[c, a:b]
                for t in range(b - a):
                    d = qc - rc[t]
                    cg[t] += d * d
        for g in range(n_groups):
            pg = prev[g]
            cg = cur[g]
            kg = crow[g]
            for r in range(k):  # one recurrence at a time, its left neighbour in a register
                cg[a + r] = inf  # column lo (the boundary column 0 when lo = 0)
                left = inf
                for j in range(lo, hi):
                    best = pg[j * k + r]
                    up = pg[(j + 1) * k + r]
                    if up < best:
                        best = up
                    if left < best:
                        best = left
                    left = kg[j * k + r] + best
                    cg[(j + 1) * k + r] = left
                if hi < m:
                    cg[(hi + 1) * k + r] = inf
        prev, cur = cur, prev
    for g in range(n_groups):
        for r in range(k):
            d = math.sqrt(prev[g, m * k + r])
            out[g, r] = d * d / (n + m)


def stack_references(refs: list[np.ndarray]) -> np.ndarray:
    """The (c, m * k) layout group_costs takes, from k references of shape (m, c)."""
    return np.ascontiguousarray(np.stack(refs, 2).transpose(1, 0, 2)).reshape(refs[0].shape[1], -1)


def group_costs(query: np.ndarray, refs: np.ndarray, k: int, bounds: np.ndarray,
                window: int | None = None) -> np.ndarray:
    """Length-normalised banded DTW costs, (len(bounds), k), of `query` (n, c) against each of
    k references of one length, `refs` from stack_references(). The c columns hold the groups'
    columns side by side; group g is columns bounds[g, 0]:bounds[g, 1] (int64 (groups, 2)).
    Same cost as dtw(); band `window`, by default band(n, m) (pass the widest pair's when the
    references come in several lengths, as dtw_many does)."""
    out = np.empty((len(bounds), k))
    if k:
        m = refs.shape[1] // k
        w = band(len(query), m) if window is None else window
        _group_costs(query, refs, m, k, bounds, w, out)
    return out
