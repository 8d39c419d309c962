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

ENDING, BIFURCATION = 1, 2
SENSE_RADIUS = 10  # px at 500 ppi: about one ridge period of the minutia's own ridge

#: candidate minutiae: position (500 ppi), angle (pixel frame), type, and the graph element
CANDIDATE_DTYPE = np.dtype([("x", "f4"), ("y", "f4"), ("angle", "f4"), ("type", "u1"),
                            ("element", "i4"), ("quality", "f4")])


def _sense(graph: SkeletonGraph, x: float, y: float, labels: tuple[int, ...]) -> tuple[float, float]:
    """Mean offset from (x, y) of the pixels of the given segments within SENSE_RADIUS."""
    h, w = graph.segments.shape
    xi, yi, r = int(round(x)), int(round(y)), SENSE_RADIUS
    y0, y1, x0, x1 = max(0, yi - r), min(h, yi + r + 1), max(0, xi - r), min(w, xi + r + 1)
    window = graph.segments[y0:y1, x0:x1]
    own = np.isin(window, labels) if len(labels) > 1 else window == labels[0]
    ys, xs = np.nonzero(own)
    if xs.size == 0:
        return 0.0, 0.0
    return float(xs.mean() + x0 - x), float(ys.mean() + y0 - y)


def detect_minutiae(graph: SkeletonGraph, field: OrientationField) -> np.ndarray:
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

    axis = field.at(out["x"], out["y"])
    touching: dict[int, list[int]] = {}
    for seg, jun in graph.touch_pairs:
        touching.setdefault(int(jun), []).append(int(seg))
    angle = axis.astype(np.float64)
    for i in range(out.size):
        labels = (int(out["element"][i]),) if i < n_end else tuple(touching.get(int(out["element"][i]), ()))
        if not labels:
            continue
        dx, dy = _sense(graph, float(out["x"][i]), float(out["y"][i]), labels)
        if dx * np.cos(axis[i]) + dy * np.sin(axis[i]) < 0:
            angle[i] += np.pi
    out["angle"] = angle % (2 * np.pi)
    return out
