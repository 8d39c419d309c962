"""The face 1:N kernel: a float32 first pass with a proven error bound, exact float64 rescoring.

Everything here is a function over one contiguous block of embeddings, so a shard (a Dask
worker, a process, a slice of a memory map) runs `search_block` on its rows and the caller
merges the shards' answers with `merge_hits`; the merged answer is the one exhaustive float64
search would give over all rows.

Scores: similarity = (1 + dot) / 2 of unit vectors, in [0, 1], the face comparator's scale.

The exact score of a row is `exact_dots` (float64 products of the float32 values, summed by
numpy's pairwise reduction along the row): a function of that row and the probe only, never of
which other rows are in the batch, so the rescoring and the exhaustive reference agree to the bit.

First pass: `block @ probes.T` in float32 (BLAS sgemm). For a dot product of n terms computed
in floating point with unit roundoff u, in any summation order, with or without FMA,
|fl(x.y) - x.y| <= gamma_n * sum|x_i y_i| <= gamma_n * |x| |y|,  gamma_n = n u / (1 - n u)
(Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.5). With n = 128 and
u = 2**-24, gamma_n ~ 7.6e-6. `error_bound` doubles it (safety against a BLAS that converts
through an extra rounding) and adds 1e-12 for the float64 rounding of (1 + dot) / 2.

Decisions (both proven to equal the exhaustive ones):
- top-k: if t~ is the k-th largest approximate dot, at least k rows have an exact dot >= t~ - e,
  so every row of the exact top-k has an approximate dot >= t~ - 2e: those rows are rescored.
- threshold tau (on the score scale): a row with exact score >= tau has exact dot >= 2 tau - 1
  - 1e-12, hence approximate dot >= 2 tau - 1 - e - 1e-12: those rows are rescored.
Ties are broken by row index (lower first), the same rule as `exhaustive_search`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIM = 128                 # dlib's ResNet face descriptor (the FaceTemplate of biocap)
UNIT_ROUNDOFF_F32 = 2.0 ** -24
SAFETY = 2.0              # the bound is doubled: a margin, not a tuning knob
FLOAT64_SLACK = 1e-12     # covers the float64 rounding of (1 + dot) / 2 and of 2 tau - 1
BLOCK_ROWS = 32_768       # rows per sgemm call: 32768 x 128 probes x 4 B = 16 MB of scores
PROBE_BATCH = 128         # probes per sgemm: measured 64 -> 128 gains ~20% (docs/decisions)


def gamma(n: int, u: float = UNIT_ROUNDOFF_F32) -> float:
    return n * u / (1.0 - n * u)


def error_bound(max_row_norm: float, probe_norms: np.ndarray, dim: int = DIM) -> np.ndarray:
    """Per probe: the largest |float32 dot - exact dot| any row of the block can have."""
    return SAFETY * gamma(dim) * float(max_row_norm) * np.asarray(probe_norms, np.float64) + FLOAT64_SLACK


def exact_dots(rows: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """float64 dot of each row with the probe (float32 inputs, products exact in float64)."""
    rows64 = np.asarray(rows, dtype=np.float64)
    return np.multiply(rows64, np.asarray(probe, dtype=np.float64)[None, :]).sum(axis=1)


def to_score(dots: np.ndarray) -> np.ndarray:
    return (1.0 + np.asarray(dots, np.float64)) / 2.0


@dataclass
class Hits:
    """One probe's exact answer over a block: rows (absolute indices) and float64 scores,
    best first (ties by row index), holding the top-k and every row at or above the threshold."""

    rows: np.ndarray      # int64
    scores: np.ndarray    # float64
    rescored: int = 0     # how many rows the exact pass looked at


def _order(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.lexsort((rows, -scores))


def _select(rows: np.ndarray, scores: np.ndarray, top_k: int, threshold: float | None) -> Hits:
    want = min(top_k, rows.size)
    if threshold is not None:
        want = max(want, int(np.count_nonzero(scores >= threshold)))
    if 0 < want < rows.size // 4:      # keep every row tied with the want-th best, then sort
        cut = np.partition(scores, scores.size - want)[scores.size - want]
        pre = scores >= cut
        rows, scores = rows[pre], scores[pre]
    order = _order(rows, scores)
    rows, scores = rows[order], scores[order]
    keep = min(top_k, rows.size)
    if threshold is not None:
        keep = max(keep, int(np.count_nonzero(scores >= threshold)))
    return Hits(rows[:keep].copy(), scores[:keep].copy())


def search_block(block: np.ndarray, probes: np.ndarray, *, top_k: int, threshold: float | None = None,
                 base_index: int = 0, max_row_norm: float | None = None) -> list[Hits]:
    """Exact top-k (and threshold matches) of each probe over one contiguous block.

    block: (n, 128) float32 C-contiguous; probes: (m, 128) float32. Returns one Hits per probe
    with absolute row indices (base_index + row). `max_row_norm` may be given when known.
    """
    block = np.ascontiguousarray(block, dtype=np.float32)
    probes = np.ascontiguousarray(probes, dtype=np.float32)
    n, m = block.shape[0], probes.shape[0]
    if n == 0 or m == 0:
        return [Hits(np.zeros(0, np.int64), np.zeros(0)) for _ in range(m)]
    if max_row_norm is None:
        max_row_norm = float(np.sqrt(np.max(np.einsum("ij,ij->i", block, block, dtype=np.float64))))
    p_norms = np.sqrt(np.einsum("ij,ij->i", probes, probes, dtype=np.float64))
    eps = error_bound(max_row_norm, p_norms, block.shape[1])
    dot_thr = None if threshold is None else 2.0 * threshold - 1.0 - eps - FLOAT64_SLACK
    k = max(1, min(int(top_k), n))
    # per probe: candidate rows and approximate dots kept so far, and the running floor
    cand_rows: list[list[np.ndarray]] = [[] for _ in range(m)]
    cand_vals: list[list[np.ndarray]] = [[] for _ in range(m)]
    kth = np.full(m, -np.inf)            # k-th best approximate dot seen so far (or -inf)
    pooled = np.zeros(m, np.int64)
    buffer = np.empty((m, min(BLOCK_ROWS, n)), np.float32)   # reused: no page faults per block
    for start in range(0, n, BLOCK_ROWS):
        part = block[start:start + BLOCK_ROWS]
        approx = buffer[:, :part.shape[0]]
        np.matmul(probes, part.T, out=approx)                 # (m, rows) float32, sgemm
        if start == 0 and part.shape[0] >= k:                 # seed the floor from block 0
            kth = np.partition(approx, part.shape[0] - k, axis=1)[:, part.shape[0] - k].astype(np.float64)
        floor = kth - 2.0 * eps
        if dot_thr is not None:
            floor = np.minimum(floor, dot_thr)
        floor32 = floor.astype(np.float32)                    # round down, never up
        floor32 = np.where(floor32 > floor, np.nextafter(floor32, np.float32(-np.inf)), floor32)
        # hits are rare once the floor is set: find the probes with any, then their rows
        active = np.flatnonzero(approx.max(axis=1) >= floor32)
        for j in active.tolist():
            hit = np.flatnonzero(approx[j] >= floor32[j])
            cand_rows[j].append(hit + start)
            cand_vals[j].append(approx[j, hit].astype(np.float64))
            pooled[j] += hit.size
            if pooled[j] > 4 * k + 256:
                r = np.concatenate(cand_rows[j])
                v = np.concatenate(cand_vals[j])
                kth[j] = max(kth[j], np.partition(v, v.size - k)[v.size - k])
                keep = v >= kth[j] - 2.0 * eps[j]
                if dot_thr is not None:
                    keep |= v >= dot_thr[j]
                cand_rows[j], cand_vals[j] = [r[keep]], [v[keep]]
                pooled[j] = int(keep.sum())
    out = []
    for j in range(m):
        if not cand_rows[j]:
            out.append(Hits(np.zeros(0, np.int64), np.zeros(0)))
            continue
        r = np.concatenate(cand_rows[j])
        v = np.concatenate(cand_vals[j])
        if v.size >= k:     # final prune with the final k-th value (never drops a needed row)
            kv = np.partition(v, v.size - k)[v.size - k]
            keep = v >= max(kth[j], kv) - 2.0 * eps[j]
            if dot_thr is not None:
                keep |= v >= dot_thr[j]
            r = r[keep]
        scores = to_score(exact_dots(block[r], probes[j]))
        hits = _select(r.astype(np.int64) + base_index, scores, k, threshold)
        hits.rescored = int(r.size)
        out.append(hits)
    return out


def merge_hits(parts: list[Hits], top_k: int, threshold: float | None = None) -> Hits:
    """Merge one probe's exact Hits from several blocks (shards) into the global answer."""
    parts = [p for p in parts if p.rows.size]
    if not parts:
        return Hits(np.zeros(0, np.int64), np.zeros(0))
    rows = np.concatenate([p.rows for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    hits = _select(rows, scores, max(1, int(top_k)), threshold)
    hits.rescored = sum(p.rescored for p in parts)
    return hits


def exhaustive_search(block: np.ndarray, probe: np.ndarray, *, top_k: int,
                      threshold: float | None = None) -> Hits:
    """The reference: every row scored in float64 (`exact_dots`), sorted, ties by row index."""
    block = np.asarray(block, np.float32)
    scores = np.empty(block.shape[0])
    for start in range(0, block.shape[0], BLOCK_ROWS):
        scores[start:start + BLOCK_ROWS] = to_score(exact_dots(block[start:start + BLOCK_ROWS], probe))
    rows = np.arange(block.shape[0], dtype=np.int64)
    return _select(rows, scores, max(1, min(int(top_k), max(1, block.shape[0]))), threshold)
