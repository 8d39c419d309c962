"""Elastic distance between two multivariate series: DTW in a Sakoe-Chiba band (C kernel).

The kernel is dtaidistance's C implementation (`dtw_ndim.distance_fast`): squared Euclidean
local cost, the square root of the summed cost along the best path. We return the mean local cost
along the path scale, `d^2 / (n + m)`, so long and short signatures are on one scale.
"""
from __future__ import annotations

import numpy as np
from dtaidistance import dtw_ndim

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
