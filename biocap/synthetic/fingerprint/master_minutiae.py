"""Statistical master minutiae: where a real finger's minutiae lie, without rendering ridges.

Used by the template-level generator (fast enough for galleries of 10^5-10^6 fingers). Positions
come from a jittered grid inside the fingertip (real minutiae are spread, never closer than about
a ridge period), directions follow the ridge flow of the finger's orientation field, about 55% are
ridge endings, and some come in pairs (short ridges, lakes) as on real fingers.
"""
from __future__ import annotations

import numpy as np

from ...templates.fingerprint.template import MinutiaType
from .pattern import FingerPattern

#: master minutiae of a full 500 ppi fingertip: about 40-70 (mean 55)
MEAN_MINUTIAE = 55.0
SD_MINUTIAE = 9.0


def sample_master_minutiae(rng: np.random.Generator, pattern: FingerPattern) -> np.ndarray:
    """(n, 4) float array: x, y, theta (pixel frame, radians), type (MinutiaType code)."""
    a, b = pattern.half_axes
    cx, cy = pattern.centre
    area = np.pi * a * b
    n_target = int(np.clip(round(rng.normal(MEAN_MINUTIAE, SD_MINUTIAE)
                                 * area / (np.pi * 165 * 232)), 20, 120))
    cell = 0.8 * np.sqrt(area / n_target)
    gx = np.arange(cx - a, cx + a, cell)
    gy = np.arange(cy - b, cy + b, cell)
    xx, yy = np.meshgrid(gx, gy)
    x = xx.ravel() + rng.uniform(0.15, 0.85, xx.size) * cell
    y = yy.ravel() + rng.uniform(0.15, 0.85, xx.size) * cell
    keep = pattern.mask(x, y)
    # not on the very rim, where ridges fade into the finger's edge
    r = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    keep &= r < 0.95
    x, y = x[keep], y[keep]
    order = rng.permutation(x.size)[:n_target]
    x, y = x[order], y[order]
    theta = pattern.orientation(x, y) + np.pi * (rng.random(x.size) < 0.5)
    kind = np.where(rng.random(x.size) < 0.55, MinutiaType.ENDING, MinutiaType.BIFURCATION)
    # about one in eight becomes a pair: the other end of a short ridge, facing back
    n_pairs = int(rng.binomial(x.size, 0.12))
    if n_pairs:
        k = rng.choice(x.size, n_pairs, replace=False)
        step = rng.uniform(12, 26, n_pairs)
        px = x[k] + step * np.cos(theta[k] + np.pi)
        py = y[k] + step * np.sin(theta[k] + np.pi)
        ok = pattern.mask(px, py)
        x = np.concatenate([x, px[ok]])
        y = np.concatenate([y, py[ok]])
        theta = np.concatenate([theta, theta[k][ok] + np.pi])
        kind = np.concatenate([kind, kind[k][ok]])
    return np.stack([x, y, np.mod(theta, 2 * np.pi), kind.astype(np.float64)], axis=1)
