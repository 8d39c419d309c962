"""Stage "singular_points": cores and deltas by the Poincare index of the orientation field.

Walking once around a point, the ridge direction turns by +180 degrees around a core (loop), by
-180 degrees around a delta, and not at all elsewhere. The field is first smoothed heavily (noise
makes spurious singularities) and sampled on an 8-pixel grid; each closed 8-neighbour loop of the
grid gives an index, connected detections are merged into one point at their centroid.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .orientation import OrientationField
from .params import MAX_PER_KIND, SINGULAR_GRID, SINGULAR_MIN_BORDER, SINGULAR_SMOOTH_SIGMA

# loop order E, SE, S, SW, W, NW, N, NE: positive turning in pixel coordinates (y down)
LOOP = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))


@dataclass
class Singularity:
    kind: str  # "core" or "delta"
    x: float  # 500 ppi pixels
    y: float


def _wrap_half(a):
    return (a + np.pi / 2) % np.pi - np.pi / 2


def singular_points(field: OrientationField, mask: np.ndarray) -> list[Singularity]:
    h, w = mask.shape
    gh, gw = h // SINGULAR_GRID, w // SINGULAR_GRID
    if gh < 5 or gw < 5:
        return []
    c = cv2.resize(field.cos2, (gw, gh), interpolation=cv2.INTER_AREA)
    s = cv2.resize(field.sin2, (gw, gh), interpolation=cv2.INTER_AREA)
    c = cv2.GaussianBlur(c, (0, 0), SINGULAR_SMOOTH_SIGMA)
    s = cv2.GaussianBlur(s, (0, 0), SINGULAR_SMOOTH_SIGMA)
    theta = 0.5 * np.arctan2(s, c)
    inner = cv2.resize(mask.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST)
    inner = cv2.erode(inner, np.ones((2 * (SINGULAR_MIN_BORDER // SINGULAR_GRID) + 1,) * 2, np.uint8)) > 0
    pad = np.pad(theta, 1, mode="edge")
    ring = [pad[1 + dy:gh + 1 + dy, 1 + dx:gw + 1 + dx] for dy, dx in LOOP]
    total = sum(_wrap_half(ring[(i + 1) % 8] - ring[i]) for i in range(8))
    index = np.round(total / np.pi)
    found: list[Singularity] = []
    for kind, sel in (("core", index >= 1), ("delta", index <= -1)):
        sel = (sel & inner).astype(np.uint8)
        n, labels, stats, cent = cv2.connectedComponentsWithStats(sel, connectivity=8)
        order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:MAX_PER_KIND] + 1 if n > 1 else []
        for k in order:
            cx, cy = cent[k]
            found.append(Singularity(kind, float((cx + 0.5) * SINGULAR_GRID - 0.5), float((cy + 0.5) * SINGULAR_GRID - 0.5)))
    return found
