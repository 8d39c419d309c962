"""Stage "filtering": remove false minutiae, each by a named rule so the reason stays observable.

Rules (distances scale with the ridge wavelength, ~9 px at 500 ppi):
- spur: an ending on a short segment that runs into a junction (a hair off a ridge: both go);
- island: a short ridge with two endings (a dot or a fragment: both go);
- bridge: a short segment joining two junctions (a bridge or a small lake: both bifurcations go);
- border: minutiae near the foreground outline, where ridges are cut by the finger's edge;
- break: two endings close together, facing each other along the ridge (a broken ridge);
- cluster: minutiae crowded closer than a ridge period (noise, scars, creases);
- unclear: minutiae where the orientation field is incoherent.

A length of 0 switches a rule off; the four skeleton-graph rules (spur, island, bridge, break)
are off (values and why: `params.py`). Endings whose ridge starts inside a junction are always
dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

from .minutiae import BIFURCATION, ENDING
from .skeleton_graph import SkeletonGraph
from .params import (BORDER_PERIODS, BREAK_ANGLE, BREAK_PERIODS, BRIDGE_PERIODS,
                     CLEAR_CLUSTER_PERIODS, CLUSTER_CLEAR_COHERENCE, CLUSTER_PERIODS, CROWD_LIMIT,
                     CROWD_PERIODS, INTERCHANGE_BORDER_PERIODS, INTERCHANGE_KEEPS,
                     ISLAND_PERIODS, MIN_COHERENCE, SPUR_PERIODS)

RULES = ("spur", "island", "bridge", "border", "break", "cluster", "crowd", "unclear")


@dataclass
class FilterResult:
    kept: np.ndarray  # bool per candidate
    reason: np.ndarray  # object array: rule name that removed the candidate, "" if kept
    #: distance of each candidate to the foreground outline, in ridge periods (None: not measured)
    border_distance: np.ndarray | None = None

    @property
    def interchange(self) -> np.ndarray:
        """bool per candidate: the minutiae records carry (kept, plus INTERCHANGE_KEEPS rejects
        and the border rejects at least INTERCHANGE_BORDER_PERIODS inside the outline)."""
        out = self.kept | np.isin(self.reason, INTERCHANGE_KEEPS)
        if self.border_distance is not None:
            out |= (self.reason == "border") & (self.border_distance >= INTERCHANGE_BORDER_PERIODS)
        return out

    def counts(self) -> dict[str, int]:
        return {r: int((self.reason == r).sum()) for r in RULES}


def _wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def remove_false_minutiae(cand: np.ndarray, graph: SkeletonGraph, mask: np.ndarray,
                          coherence: np.ndarray, wavelength: float) -> FilterResult:
    n = cand.size
    reason = np.full(n, "", dtype=object)
    if n == 0:
        return FilterResult(np.zeros(0, bool), reason)
    is_end = cand["type"] == ENDING
    is_bif = cand["type"] == BIFURCATION
    elem = cand["element"]

    def drop(sel, why):
        sel = sel & (reason == "")
        reason[sel] = why

    # --- graph rules -------------------------------------------------------------------------
    length = graph.segment_length[np.where(is_end, elem, 0)]
    seg_end = graph.segment_endings[np.where(is_end, elem, 0)]
    seg_jun = graph.segment_junctions[np.where(is_end, elem, 0)]
    spur_seg = is_end & (seg_end == 1) & (seg_jun >= 1) & (length < SPUR_PERIODS * wavelength)
    spur_junctions = set()
    if spur_seg.any():
        spur_segments = set(elem[spur_seg].tolist())
        pairs = graph.touch_pairs
        spur_junctions = set(pairs[np.isin(pairs[:, 0], list(spur_segments)), 1].tolist())
    drop(spur_seg | (is_end & (elem == 0)), "spur")  # elem 0: the ending touches a junction
    drop(is_bif & np.isin(elem, list(spur_junctions)), "spur")
    drop(is_end & (seg_end == 2) & (seg_jun == 0) & (length < ISLAND_PERIODS * wavelength), "island")

    # bridges: segments with no ending that touch two junctions and are short
    pairs = graph.touch_pairs
    if pairs.size:
        short = (graph.segment_endings == 0) & (graph.segment_length < BRIDGE_PERIODS * wavelength) \
            & (graph.segment_junctions >= 1)
        bridge_junctions = pairs[short[pairs[:, 0]], 1]
        drop(is_bif & np.isin(elem, bridge_junctions), "bridge")

    # --- geometric rules ---------------------------------------------------------------------
    xi = np.clip(np.round(cand["x"]).astype(int), 0, mask.shape[1] - 1)
    yi = np.clip(np.round(cand["y"]).astype(int), 0, mask.shape[0] - 1)
    inside = np.pad(mask.astype(np.uint8), 1)  # the image edge counts as a border too
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)[1:-1, 1:-1]
    drop(dist[yi, xi] < BORDER_PERIODS * wavelength, "border")
    border_distance = dist[yi, xi] / wavelength
    drop(coherence[yi, xi] < MIN_COHERENCE, "unclear")

    # pair rules over neighbours only (a k-d tree): memory stays linear in the candidate count
    x, y, a = cand["x"].astype(np.float64), cand["y"].astype(np.float64), cand["angle"].astype(np.float64)
    reach = max(BREAK_PERIODS, CLUSTER_PERIODS, CROWD_PERIODS) * wavelength
    pairs = cKDTree(np.stack([x, y], axis=1)).query_pairs(reach, output_type="ndarray")
    i, j = (pairs[:, 0], pairs[:, 1]) if pairs.size else (np.zeros(0, int), np.zeros(0, int))
    dx, dy = x[j] - x[i], y[j] - y[i]
    d = np.hypot(dx, dy)

    def live(pair_sel):
        alive = reason == ""
        return pair_sel & alive[i] & alive[j]

    # breaks: endings i, j close, pointing away from each other along the line joining them
    line = np.arctan2(dy, dx)  # direction i -> j
    facing = (np.abs(_wrap(line - (a[i] + np.pi))) < BREAK_ANGLE) & (np.abs(_wrap(line - a[j])) < BREAK_ANGLE)
    brk = live(is_end[i] & is_end[j] & (d < BREAK_PERIODS * wavelength) & facing)
    drop(np.isin(np.arange(n), np.concatenate([i[brk], j[brk]])), "break")

    coh = coherence[yi, xi]
    clear = np.minimum(coh[i], coh[j]) >= CLUSTER_CLEAR_COHERENCE
    close = live(d < np.where(clear, CLEAR_CLUSTER_PERIODS, CLUSTER_PERIODS) * wavelength)
    drop(np.isin(np.arange(n), np.concatenate([i[close], j[close]])), "cluster")

    near = live(d < CROWD_PERIODS * wavelength)
    neighbours = np.bincount(i[near], minlength=n) + np.bincount(j[near], minlength=n)
    drop(neighbours > CROWD_LIMIT, "crowd")
    return FilterResult(reason == "", reason, border_distance)
