"""Vectorized integro-differential search for circular boundaries (Daugman's operator).

For every candidate centre and radius the grey level is averaged along the circle (only over the
given arcs, e.g. the lateral ones for the limbus, which eyelids do not cover); the boundary is
where that average jumps most between a ring just inside and a ring just outside.
"""
from __future__ import annotations

import cv2
import numpy as np


def circle_samples(image: np.ndarray, cx: np.ndarray, cy: np.ndarray, radii: np.ndarray,
                   angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grey levels on each (centre, radius, angle) and whether each sample is inside the image.
    Shapes: cx, cy (K,), radii (R,), angles (A,) -> (K, R, A)."""
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    r = radii.astype(np.float32)
    xs = cx.astype(np.float32)[:, None, None] + r[None, :, None] * cos[None, None, :]
    ys = cy.astype(np.float32)[:, None, None] - r[None, :, None] * sin[None, None, :]
    k, nr, na = xs.shape
    h, w = image.shape
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    flat_x = xs.reshape(k * nr, na)
    flat_y = ys.reshape(k * nr, na)
    src = image if image.dtype == np.float32 else image.astype(np.float32)
    # cv2.remap limits each map side to 32767; split the rows when needed
    out = np.empty((k * nr, na), np.float32)
    step = 32000
    for start in range(0, k * nr, step):
        out[start:start + step] = cv2.remap(src, flat_x[start:start + step], flat_y[start:start + step],
                                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(k, nr, na), inside


def ring_contrast_per_angle(vals: np.ndarray, width: int) -> np.ndarray:
    """(outer ring - inner ring) per angle at each radius index: (K, R, A); rings `width` radii
    wide with a 1-radius gap at the boundary; radii too near the range's ends get -inf."""
    k, nr, na = vals.shape
    c = np.cumsum(np.pad(vals, ((0, 0), (1, 0), (0, 0))), axis=1)
    out = np.full((k, nr, na), -np.inf, dtype=np.float32)
    lo, hi = width + 1, nr - width - 1
    if hi <= lo:
        return out
    idx = np.arange(lo, hi)
    out[:, idx] = ((c[:, idx + 1 + width] - c[:, idx + 1]) - (c[:, idx - 1] - c[:, idx - 1 - width])) / width
    return out


def best_circle(image: np.ndarray, cx: np.ndarray, cy: np.ndarray, radii: np.ndarray,
                angles: np.ndarray, *, width: int = 2, min_inside: float = 0.7,
                quantile: float = 0.5, min_radius: float = 0.0) -> tuple[float, float, float, float]:
    """Best (x, y, r, contrast) over candidate centres x radii. The score of a circle is a low
    quantile of its per-angle contrasts: a true boundary steps up all around, while an eyebrow,
    a lash or a lid edge steps up only along part of the circle."""
    vals, inside = circle_samples(image, cx, cy, radii, angles)
    contrast = ring_contrast_per_angle(vals, width)
    na = contrast.shape[2]
    kth = min(na - 1, max(0, int(quantile * na)))
    score = np.partition(contrast, kth, axis=2)[:, :, kth].astype(np.float64)
    score[inside.mean(axis=2) < min_inside] = -np.inf
    score[:, radii < min_radius] = -np.inf  # radii below the range only pad the inner ring
    k, i = np.unravel_index(int(np.argmax(score)), score.shape)
    return float(cx[k]), float(cy[k]), float(radii[i]), float(score[k, i])


def centre_grid(x: float, y: float, half_x: float, half_y: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    gx = np.arange(-half_x, half_x + 1e-9, step) + x
    gy = np.arange(-half_y, half_y + 1e-9, step) + y
    mx, my = np.meshgrid(gx, gy)
    return mx.ravel(), my.ravel()
