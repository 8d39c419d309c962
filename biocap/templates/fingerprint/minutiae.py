"""Stage "minutiae": candidate ridge endings and bifurcations on the skeleton, with direction.

Endings are skeleton pixels of crossing number 1, bifurcations are junction clusters where exactly
three segments meet (four or more is a crossing or a tangle, not a minutia). The direction axis
comes from the smoothed orientation field (steadier than a few skeleton pixels); its sense is
decided by the minutia's own ridge pixels nearby: an ending points along its ridge, away from the
tip; a bifurcation points between its two branches, away from the stem (the ISO/ANSI rule).
Angles here are in pixel coordinates (atan2(dy, dx), y down); the pipeline converts them at the end.
"""
from __future__ import annotations

import numpy as np

from .orientation import OrientationField
from .skeleton_graph import SkeletonGraph
from .params import BIFURCATION_SHIFT, ENDING_SHIFT, SENSE_RADIUS

ENDING, BIFURCATION = 1, 2

#: candidate minutiae: position (500 ppi), angle (pixel frame), type, and the graph element
CANDIDATE_DTYPE = np.dtype([("x", "f4"), ("y", "f4"), ("angle", "f4"), ("type", "u1"),
                            ("element", "i4"), ("quality", "f4")])


_OFF_Y, _OFF_X = (a.ravel() for a in np.mgrid[-SENSE_RADIUS:SENSE_RADIUS + 1,
                                             -SENSE_RADIUS:SENSE_RADIUS + 1])


def _mean_offsets(graph: SkeletonGraph, x: np.ndarray, y: np.ndarray,
                  own_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean offset from each (x, y) of the pixels within SENSE_RADIUS that belong to one of its
    own segments (`own_labels`: (n, k) segment ids per minutia, -1 for none). All minutiae at once:
    the window of every minutia is gathered into an (n, window) array."""
    r = SENSE_RADIUS
    pad = np.pad(graph.segments, r)
    xi = np.clip(np.round(x).astype(np.intp), 0, graph.segments.shape[1] - 1) + r
    yi = np.clip(np.round(y).astype(np.intp), 0, graph.segments.shape[0] - 1) + r
    window = pad[yi[:, None] + _OFF_Y[None], xi[:, None] + _OFF_X[None]]
    own = window == own_labels[:, :1]
    for k in range(1, own_labels.shape[1]):
        own |= window == own_labels[:, k:k + 1]
    weights = own.astype(np.float32)
    count = np.maximum(weights.sum(axis=1), 1)
    return weights @ _OFF_X.astype(np.float32) / count, weights @ _OFF_Y.astype(np.float32) / count


def detect_minutiae(graph: SkeletonGraph, field: OrientationField, wavelength: float) -> np.ndarray:
    ey, ex = np.nonzero(graph.crossing == 1)
    ending_seg = graph.segments[ey, ex]
    bif_ids = np.flatnonzero(graph.junction_degree == 3)
    bif_ids = bif_ids[bif_ids > 0]
    bx, by = graph.junction_centres[bif_ids, 0], graph.junction_centres[bif_ids, 1]

    n_end, n_bif = ex.size, bif_ids.size
    out = np.zeros(n_end + n_bif, CANDIDATE_DTYPE)
    out["x"] = np.concatenate([ex, bx])
    out["y"] = np.concatenate([ey, by])
    out["type"][:n_end] = ENDING
    out["type"][n_end:] = BIFURCATION
    out["element"] = np.concatenate([ending_seg, bif_ids])
    if out.size == 0:
        return out

    axis = field.at(out["x"], out["y"]).astype(np.float64)
    # own segments: an ending's segment; the three segments meeting at a bifurcation
    own = np.full((out.size, 3), -1, np.int64)
    own[:n_end, 0] = np.where(ending_seg > 0, ending_seg, -1)
    pairs = graph.touch_pairs
    rows = pairs[np.isin(pairs[:, 1], bif_ids)]
    rows = rows[np.argsort(rows[:, 1], kind="stable")]
    own[n_end:] = rows[:, 0].reshape(-1, 3)  # degree 3: exactly three rows per junction, id order
    dx, dy = _mean_offsets(graph, out["x"], out["y"], own)
    flip = dx * np.cos(axis) + dy * np.sin(axis) < 0
    angle = (axis + np.pi * flip) % (2 * np.pi)
    out["angle"] = angle
    shift = wavelength * np.where(out["type"] == ENDING, ENDING_SHIFT, BIFURCATION_SHIFT)
    h, w = graph.segments.shape
    out["x"] = np.clip(out["x"] + shift * np.cos(angle), 0, w - 1)
    out["y"] = np.clip(out["y"] + shift * np.sin(angle), 0, h - 1)
    return out
