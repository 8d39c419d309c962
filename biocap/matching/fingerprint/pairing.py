"""Second-stage consolidation of an MCC comparison: global minutiae pairing.

LSS-R scores a comparison by how well its best local pairs support one another; it does not ask
how many of the two prints' minutiae agree once the prints are laid on top of each other. This
stage does, vectorized over a batch of candidates:

1. align the probe on each candidate with the rotation and translation of the `n_anchor` most
   efficient LSS-R pairs (weighted by their relaxed similarity);
2. pair minutiae one-to-one (mutual nearest neighbours) within a distance tolerance that grows
   with the distance from the anchors (skin distortion accumulates away from the aligned area)
   and an angle tolerance;
3. divide the pairs by the geometric mean of the minutiae of each side that lie in the common
   area (those within `overlap_radius` of a minutia of the other side), so a partial print is
   not penalized for the area it does not share.

The comparator's score is the MCC score times this paired fraction (both in [0, 1]; the product
needs no weight to tune). Measured on FVC2002 B with both extractors and on synthetic templates:
benchmarks/results/verify_fingerprint_notes.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: mcc imports this module
    from .mcc import Prepared


@dataclass(frozen=True)
class PairingParams:
    # LSS-R pairs (most efficient first) that fix the alignment: the fewest that still outvote
    # one wrong pair (1 to 5 measured: notes)
    n_anchor: int = 3
    # pairing distance at the anchors, pixels at 500 ppi: about one ridge period (0.5 mm) ...
    tol: float = 10.0
    # ... plus this much per pixel of distance from them: ~10% skin strain far from the anchors
    tol_slope: float = 0.1
    max_angle: float = np.pi / 6  # pairing direction tolerance
    # a minutia is in the common area within this of a minutia of the other print (~4 ridge
    # periods, the typical spacing of minutiae)
    overlap_radius: float = 40.0


DEFAULT_PAIRING = PairingParams()


def _candidate_points(cand: Prepared) -> tuple[np.ndarray, ...]:
    """x, y, cos, sin of the candidates' cylinder minutiae, (P, C) float32 each, padded slots
    moved far away; kept on `cand` (`pairing_points`) for the next probe."""
    pts = getattr(cand, "pairing_points", None)
    if pts is None:
        xyt = cand.batch.xyt
        far = np.arange(xyt.shape[1])[None, :] >= cand.batch.n_cyl[:, None]
        x = np.where(far, np.float32(1e6), xyt[..., 0]).astype(np.float32)
        y = np.where(far, np.float32(1e6), xyt[..., 1]).astype(np.float32)
        pts = (x, y, np.cos(xyt[..., 2]).astype(np.float32), np.sin(xyt[..., 2]).astype(np.float32))
        cand.pairing_points = pts
    return pts


def paired_fraction(probe: Prepared, cand: Prepared, ia: np.ndarray, jb: np.ndarray, w: np.ndarray,
                    params: PairingParams = DEFAULT_PAIRING, compiled: bool = False) -> np.ndarray:
    """(P,) float32 in [0, 1]: the paired fraction of the common area for one probe (a Prepared
    of one set) against every set of `cand`, aligned on the LSS-R pairs (ia, jb: (P, >=1)
    probe and candidate cylinder indices, most efficient first; w: their relaxed similarities,
    0 for pairs not taken). `compiled`: the pairing counts by a numba kernel (the same values)."""
    P, C = cand.batch.xyt.shape[:2]
    na = int(probe.batch.n_cyl[0])
    if P == 0 or na == 0 or ia.shape[1] == 0:
        return np.zeros(P, np.float32)
    h = min(params.n_anchor, ia.shape[1])
    ia, jb, w = ia[:, :h], jb[:, :h], np.asarray(w[:, :h], np.float32)
    a = probe.batch.xyt[0, :na]  # (na, 3) float32
    b = cand.batch.xyt  # (P, C, 3)
    A = a[ia]  # (P, h, 3)
    B = np.take_along_axis(b, jb[:, :, None], axis=1)
    ws = w.sum(1)
    live = ws > 0
    ws = np.maximum(ws, 1e-9)[:, None]
    dth = B[..., 2] - A[..., 2]
    phi = np.arctan2((w * np.sin(dth)).sum(1), (w * np.cos(dth)).sum(1))[:, None]  # (P, 1)
    c, s = np.cos(phi), np.sin(phi)
    tx = (w * (B[..., 0] - (c * A[..., 0] - s * A[..., 1]))).sum(1, keepdims=True) / ws
    ty = (w * (B[..., 1] - (s * A[..., 0] + c * A[..., 1]))).sum(1, keepdims=True) / ws
    cx = (w * B[..., 0]).sum(1, keepdims=True) / ws  # the anchors' centre, in the candidate
    cy = (w * B[..., 1]).sum(1, keepdims=True) / ws
    ax = (c * a[None, :, 0] - s * a[None, :, 1] + tx).astype(np.float32)  # (P, na)
    ay = (s * a[None, :, 0] + c * a[None, :, 1] + ty).astype(np.float32)
    at = (a[None, :, 2] + phi).astype(np.float32)
    bx, by, bc, bs = _candidate_points(cand)
    if compiled:  # the same counts by the compiled kernel (no (P, na, C) temporaries)
        from . import kernels

        tol = params.tol + params.tol_slope * np.sqrt((ax - cx) ** 2 + (ay - cy) ** 2)
        n_pair, near_a, near_b = (np.zeros(P, np.int64) for _ in range(3))
        kernels.pair_minutiae(ax, ay, (1.0 / (tol * tol)).astype(np.float32), np.cos(at), np.sin(at), bx, by, bc, bs,
                              np.float32(params.overlap_radius ** 2), np.float32(np.cos(params.max_angle)),
                              n_pair, near_a, near_b)
        frac = n_pair / np.sqrt(np.maximum(near_a * near_b, 1))
        return np.where(live, np.minimum(frac, 1.0), 0.0).astype(np.float32)
    d2 = ax[:, :, None] - bx[:, None, :]  # (P, na, C); padded slots are far away
    d2 *= d2
    dy = ay[:, :, None] - by[:, None, :]
    dy *= dy
    d2 += dy
    r2 = np.float32(params.overlap_radius ** 2)
    close = d2 <= r2  # (boolean any() reduces ~3x faster than min() here)
    near_a = close.any(2).sum(1)
    near_b = close.any(1).sum(1)
    # distances in units of the local tolerance, 1e30 where the directions disagree
    tol = params.tol + params.tol_slope * np.sqrt((ax - cx) ** 2 + (ay - cy) ** 2)  # (P, na)
    d2 *= (1.0 / (tol * tol)).astype(np.float32)[:, :, None]
    cos_d = np.multiply(np.cos(at)[:, :, None], bc[:, None, :], out=dy)
    cos_d += np.sin(at)[:, :, None] * bs[:, None, :]
    # (a masked copy with a data-dependent mask runs ~20x slower than this arithmetic)
    off = np.less(cos_d, np.float32(np.cos(params.max_angle)), out=np.empty(d2.shape, bool))
    np.maximum(d2, np.multiply(off, np.float32(1e30), out=cos_d), out=d2)
    rb = d2.argmin(2)  # (P, na): each probe minutia's nearest compatible candidate minutia
    has = np.take_along_axis(d2, rb[:, :, None], axis=2)[:, :, 0] <= 1.0
    # mutual: the candidate minutia has no probe minutia nearer than this one (min is ~2.5x
    # faster than argmin over this axis; exact ties between two probe minutiae, which need
    # equal scaled distances, would both count)
    col_min = d2.min(1)  # (P, C)
    mutual = has & (np.take_along_axis(d2, rb[:, :, None], axis=2)[:, :, 0]
                     <= np.take_along_axis(col_min, rb, axis=1))
    n_pair = mutual.sum(1)
    frac = n_pair / np.sqrt(np.maximum(near_a * near_b, 1))
    return np.where(live, np.minimum(frac, 1.0), 0.0).astype(np.float32)
