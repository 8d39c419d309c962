"""Growing a ridge pattern by iterative contextual (Gabor) filtering, as SFinGe does.

Start from a few random seeds and filter again and again with a Gabor filter tuned, at every
pixel, to the local ridge orientation and period; clipping after each pass keeps the values in
[-1, 1], so the seeds grow into ridges that follow the orientation field and meet where they
must, which is where minutiae appear.

Vectorized: an isotropic Gaussian times cos(a x + b y) splits into two separable filters
(cos*cos - sin*sin), so each (orientation, period) bin costs four 1-D passes with
cv2.sepFilter2D; every pixel then takes the response of its own bin.
"""
from __future__ import annotations

import cv2
import numpy as np

from .pattern import FingerPattern

N_ORIENTATIONS = 24
N_PERIODS = 3


def _separable_pair(theta_normal: float, period: float, sigma: float, radius: int):
    """1-D kernels (kx1, ky1, kx2, ky2): G*cos(ax+by) = kx1 (x) ky1 - kx2 (x) ky2."""
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-t * t / (2 * sigma * sigma))
    a = 2 * np.pi / period * np.cos(theta_normal)
    b = 2 * np.pi / period * np.sin(theta_normal)
    kx1, ky1 = g * np.cos(a * t), g * np.cos(b * t)
    kx2, ky2 = g * np.sin(a * t), g * np.sin(b * t)
    # unit response to a perfect sinusoidal ridge of the same period and orientation
    full = np.outer(ky1, kx1) - np.outer(ky2, kx2)
    yy, xx = np.meshgrid(t, t, indexing="ij")
    norm = float(np.sum(full * np.cos(a * xx + b * yy)))
    # remove the DC response so flat regions do not drift
    dc = float(full.sum()) / full.size
    return [k.astype(np.float32) for k in (kx1, ky1, kx2, ky2)], norm, dc, g


class ContextualFilter:
    """Per-pixel Gabor filtering with a precomputed bank; bins are fixed per finger, and each
    bin filters only the bounding box of its own pixels (orientation varies smoothly, so the
    boxes are small)."""

    def __init__(self, orientation: np.ndarray, period: np.ndarray):
        self.shape = orientation.shape
        h, w = self.shape
        o_bin = np.round(np.mod(orientation, np.pi) / np.pi * N_ORIENTATIONS).astype(np.int32)
        o_bin %= N_ORIENTATIONS
        p_lo, p_hi = float(period.min()), float(period.max())
        if p_hi - p_lo < 1e-6:
            p_hi = p_lo + 1e-6
        self.periods = np.linspace(p_lo, p_hi, N_PERIODS)
        p_bin = np.clip(np.round((period - p_lo) / (p_hi - p_lo) * (N_PERIODS - 1)), 0,
                        N_PERIODS - 1).astype(np.int32)
        bins = o_bin * N_PERIODS + p_bin
        self.jobs = []
        for b in np.unique(bins):
            ob, pb = divmod(int(b), N_PERIODS)
            per = float(self.periods[pb])
            sigma = 0.42 * per
            radius = int(np.ceil(2.6 * sigma))
            ks, norm, _, _ = _separable_pair(ob * np.pi / N_ORIENTATIONS + np.pi / 2, per,
                                             sigma, radius)
            ys, xs = np.nonzero(bins == b)
            y0, y1 = max(0, ys.min() - radius), min(h, ys.max() + radius + 1)
            x0, x1 = max(0, xs.min() - radius), min(w, xs.max() + radius + 1)
            self.jobs.append(((y0, y1, x0, x1), ys - y0, xs - x0, ys, xs, ks, norm))

    def __call__(self, img: np.ndarray) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        for (y0, y1, x0, x1), ly, lx, ys, xs, (kx1, ky1, kx2, ky2), norm in self.jobs:
            crop = img[y0:y1, x0:x1]
            r = (cv2.sepFilter2D(crop, cv2.CV_32F, kx1, ky1, borderType=cv2.BORDER_REFLECT)
                 - cv2.sepFilter2D(crop, cv2.CV_32F, kx2, ky2, borderType=cv2.BORDER_REFLECT))
            out[ys, xs] = r[ly, lx] * (1.0 / norm)
        return out


def grow_ridges(pattern: FingerPattern, rng: np.random.Generator, *, n_seeds: int | None = None,
                iterations: int = 16, gain: float = 2.2) -> np.ndarray:
    """The master ridge field in [-1, 1] (ridges > 0) over the whole canvas."""
    h, w = pattern.height, pattern.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    orient = pattern.orientation(xx, yy)
    period = pattern.period(xx, yy)
    filt = ContextualFilter(orient, period)
    img = np.zeros((h, w), np.float32)
    n = int(rng.integers(50, 90)) if n_seeds is None else int(n_seeds)
    sx = rng.integers(0, w, n)
    sy = rng.integers(0, h, n)
    img[sy, sx] = rng.choice([-1.0, 1.0], n).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 2.0) * 10
    # a faint noise floor lets every region grow even far from the seeds
    img += rng.uniform(-0.01, 0.01, img.shape).astype(np.float32)
    for _ in range(iterations):
        img = np.clip(filt(img) * gain, -1.0, 1.0)
    return img
