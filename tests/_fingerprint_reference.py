"""Plain references the fingerprint gallery tests compare the cascade's stages with (test-only)."""
from __future__ import annotations

import numpy as np

from biocap.matching.fingerprint import mcc


def rescore_rows(probe: mcc.CylinderSet, bits: np.ndarray, xyt: np.ndarray, n_cyl: np.ndarray,
                 params: mcc.MccParams, n_probe: int = 16, chunk: int = 256) -> np.ndarray:
    """The former stage 1.5 of the cascade: the stage-1 score (sum over the probe's `n_probe` most
    informative cylinders of their best bit-based similarity, direction-gated) computed with every
    cylinder of each finger and all angular layers, read straight from the gallery's full arrays
    (no extra memory per finger). `bits` (m, C, words), `xyt` (m, C, 3), `n_cyl` (m,) are the rows
    to score; returns (m,) float32. About 7x the cost of stage 1 per finger (docs/matching.md)."""
    m, C, W = bits.shape
    out = np.zeros(m, np.float32)
    if len(probe) == 0 or m == 0:
        return out
    pc = np.bitwise_count(probe.bits).sum(-1, dtype=np.int64)
    pick = np.argsort(-pc, kind="stable")[:n_probe]
    a = np.ascontiguousarray(probe.bits[pick])
    a_sqrt = np.sqrt(np.bitwise_count(a).sum(-1)).astype(np.float32)[:, None]
    a_theta = probe.xyt[pick, 2].astype(np.float32)[:, None]
    k = len(pick)
    slot_ok = np.arange(C)[None, :] < np.asarray(n_cyl)[:, None]  # (m, C): padding never counts
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        b = bits[s:e].reshape(-1, W)
        b_t = np.ascontiguousarray(b.T)
        shape = (k, b.shape[0])
        ab = mcc._popcount_dot(a, b_t, np.zeros(shape, np.uint16), np.empty(shape, np.uint64),
                               np.empty(shape, np.uint8)).astype(np.float32)
        b_sqrt = np.sqrt(np.bitwise_count(b).sum(-1, dtype=np.int32)).astype(np.float32)[None, :]
        xor = a_sqrt * a_sqrt + b_sqrt * b_sqrt - 2.0 * ab
        np.maximum(xor, 0.0, out=xor)
        denom = a_sqrt + b_sqrt
        sim = 1.0 - np.sqrt(xor) / np.maximum(denom, 1e-6)
        ok = mcc._abs_angle_diff(a_theta, xyt[s:e, :, 2].reshape(1, -1).astype(np.float32)) <= params.delta_theta
        sim *= ok & (denom > 0) & slot_ok[s:e].reshape(1, -1)
        out[s:e] = sim.reshape(k, e - s, C).max(axis=2).sum(axis=0)
    return out
