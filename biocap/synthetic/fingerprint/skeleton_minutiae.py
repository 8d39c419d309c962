"""Ground-truth minutiae of a clean ridge image: skeleton + crossing number.

The master is noise-free, so the classical method is exact enough here: binarise (ridge > 0),
thin to a one-pixel skeleton, and read each skeleton pixel's crossing number
CN = 1/2 sum |P(i) - P(i+1)| over its 8 neighbours: 1 is a ridge ending, 3 a bifurcation.
Directions follow ISO/IEC 19794-2 and NIST EFS: the direction bisects the "Y" of the minutia,
so an ending points along its ridge away from the tip (between the two valley branches) and a
bifurcation points between its two branches, away from the stem.
"""
from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize

from ...templates.fingerprint.template import MinutiaType

# 8 neighbours in circular order (dy, dx)
_RING = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
TRACE_LENGTH = 10


def crossing_numbers(skel: np.ndarray) -> np.ndarray:
    p = np.pad(skel.astype(np.int8), 1)
    h, w = skel.shape
    ring = [p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy, dx in _RING]
    cn = sum(np.abs(ring[i] - ring[(i + 1) % 8]) for i in range(8)) // 2
    return np.where(skel, cn, 0)


def _trace(skel: np.ndarray, y: int, x: int, first: tuple[int, int], length: int):
    """Walk along the skeleton from (y, x) through neighbour `first`; return the end point.
    The minutia's other neighbours are off limits, so a walk cannot slip into another branch."""
    h, w = skel.shape
    prev = {(y + dy, x + dx) for dy, dx in _RING} | {(y, x)}
    prev.discard(first)
    cy, cx = first
    for _ in range(length - 1):
        prev.add((cy, cx))
        nxt = None
        for dy, dx in _RING:
            ny, nx = cy + dy, cx + dx
            if 0 <= ny < h and 0 <= nx < w and skel[ny, nx] and (ny, nx) not in prev:
                nxt = (ny, nx)
                break
        if nxt is None:
            break
        cy, cx = nxt
    return cy, cx


def _branches(skel, y, x):
    """First pixels of the distinct branches leaving (y, x) (one per run of set neighbours)."""
    h, w = skel.shape
    vals = [bool(0 <= y + dy < h and 0 <= x + dx < w and skel[y + dy, x + dx]) for dy, dx in _RING]
    starts = []
    for i in range(8):
        if vals[i] and not vals[i - 1]:
            starts.append((y + _RING[i][0], x + _RING[i][1]))
    if not starts and any(vals):
        i = vals.index(True)
        starts.append((y + _RING[i][0], x + _RING[i][1]))
    return starts


def extract_minutiae(ridge: np.ndarray, valid: np.ndarray, *, min_separation: float = 6.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(minutiae (n, 4): x, y, theta (pixel frame), type; skeleton) of a clean ridge field.

    `valid` marks where minutiae may be reported (the finger area away from its rim)."""
    skel = skeletonize((ridge > 0))
    cn = crossing_numbers(skel)
    ys, xs = np.nonzero(((cn == 1) | (cn == 3)) & valid)
    kinds = cn[ys, xs]
    # broken bits of skeleton make clusters of fake minutiae: drop anything too close to another
    if ys.size:
        d = np.hypot(xs[:, None] - xs[None], ys[:, None] - ys[None])
        np.fill_diagonal(d, np.inf)
        alone = d.min(axis=1) >= min_separation
        ys, xs, kinds = ys[alone], xs[alone], kinds[alone]
    rows = []
    for y, x, k in zip(ys.tolist(), xs.tolist(), kinds.tolist()):
        ends = [_trace(skel, y, x, b, TRACE_LENGTH) for b in _branches(skel, y, x)]
        vecs = [np.array([ex - x, ey - y], float) for ey, ex in ends]
        vecs = [v / n for v in vecs if (n := np.hypot(*v)) > 2]
        if k == 1 and len(vecs) == 1:
            d = vecs[0]
            rows.append((x, y, np.arctan2(d[1], d[0]), MinutiaType.ENDING))
        elif k == 3 and len(vecs) == 3:
            # the two branches closest in direction are the fork; point between them
            pairs = [(0, 1), (0, 2), (1, 2)]
            i, j = max(pairs, key=lambda p: float(vecs[p[0]] @ vecs[p[1]]))
            d = vecs[i] + vecs[j]
            rows.append((x, y, np.arctan2(d[1], d[0]), MinutiaType.BIFURCATION))
    out = np.array(rows, dtype=np.float64).reshape(-1, 4)
    out[:, 2] = np.mod(out[:, 2], 2 * np.pi)
    return out, skel
