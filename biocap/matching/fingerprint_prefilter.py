"""The fast first stage of 1:N search: a fixed-length, alignment-free vector per finger.

Each ordered pair of minutiae (t, k) closer than `max_dist` adds to a histogram over
(distance, direction of the segment t->k relative to t's direction, direction of k relative to t).
These three values do not change when the finger is rotated or shifted, so two impressions of one
finger give similar histograms without aligning them. The histogram is smoothed (minutiae move and
angles are noisy), square-rooted (Hellinger: many weak agreements count more than one large bin)
and L2-normalized, so a gallery scan is one matrix-vector product.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class PrefilterParams:
    max_dist: float = 160.0  # pixels at 500 ppi
    n_dist: int = 8
    n_alpha: int = 12
    n_beta: int = 12

    @property
    def dim(self) -> int:
        return self.n_dist * self.n_alpha * self.n_beta


DEFAULT_PREFILTER = PrefilterParams()


def _smooth(h: np.ndarray, axis: int, circular: bool) -> np.ndarray:
    prev = np.roll(h, 1, axis=axis)
    nxt = np.roll(h, -1, axis=axis)
    if not circular:  # no wrap-around along distance
        idx = [slice(None)] * h.ndim
        idx[axis] = 0
        prev[tuple(idx)] = 0
        idx[axis] = -1
        nxt[tuple(idx)] = 0
    return 0.5 * h + 0.25 * (prev + nxt)


def pair_histogram(xyt: np.ndarray, params: PrefilterParams = DEFAULT_PREFILTER) -> np.ndarray:
    """The descriptor of minutiae in the matching frame ((n, 3): x, y up, angle): (dim,) float32,
    unit length (all zeros when there are fewer than two minutiae)."""
    p = params
    xyt = np.asarray(xyt, np.float64)
    out = np.zeros((p.n_dist, p.n_alpha, p.n_beta), np.float64)
    if len(xyt) >= 2:
        dx = xyt[None, :, 0] - xyt[:, None, 0]
        dy = xyt[None, :, 1] - xyt[:, None, 1]
        d = np.sqrt(dx * dx + dy * dy)
        theta = xyt[:, 2]
        alpha = np.mod(np.arctan2(dy, dx) - theta[:, None], TWO_PI)
        beta = np.mod(theta[None, :] - theta[:, None], TWO_PI)
        use = (d < p.max_dist) & ~np.eye(len(xyt), dtype=bool)
        bd = np.minimum((d[use] / p.max_dist * p.n_dist).astype(np.int64), p.n_dist - 1)
        ba = np.minimum((alpha[use] / TWO_PI * p.n_alpha).astype(np.int64), p.n_alpha - 1)
        bb = np.minimum((beta[use] / TWO_PI * p.n_beta).astype(np.int64), p.n_beta - 1)
        flat = (bd * p.n_alpha + ba) * p.n_beta + bb
        out = np.bincount(flat, minlength=p.dim).astype(np.float64).reshape(out.shape)
        out = _smooth(out, 0, circular=False)
        out = _smooth(out, 1, circular=True)
        out = _smooth(out, 2, circular=True)
    v = np.sqrt(out.ravel())
    n = np.linalg.norm(v)
    return (v / n if n > 0 else v).astype(np.float32)
