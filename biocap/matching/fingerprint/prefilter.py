"""The fast first stages of the 1:N gallery: reduced MCC comparisons with every finger.

Stage 1 (`CylinderPrefilter`): every cylinder of every gallery finger (up to `n_gallery`, 60, the
gallery's capacity) is kept as a pooled code (`pooled`: layers 0, 1, 3, 4 pooled 2x2 to
8 x 8 cells, 4 words), with its bit count and its direction as uint8 (34 bytes a cylinder); the
probe contributes `n_probe` (16) cylinders spread over the print (`spread_picks`: farthest-first
among its 32 most informative), and each finger's score is centred on an impostor cohort
(`cohort`: minus the mean score 32 synthetic impostors get against that finger). A probe
cylinder and a gallery cylinder are compared with the bit-based MCC similarity over whole codes
(no validity masks: 1 - sqrt|a xor b| / (sqrt|a| + sqrt|b|)), gated by the direction difference;
a finger's stage-1 score is the sum, over the `n_best` (10) probe cylinders that find the most
similar counterparts, of their best similarity among the finger's cylinders (a partial mate shows
only part of the print: the probe cylinders outside it find nothing there, and summing their
noise let dense impostors outscore it). The gallery side is word-major (word, finger *
n_gallery), so |a & b| is 4 AND + popcount passes over long contiguous rows; the similarity is
then read from a per-probe table indexed by (|b|, |a & b|) and the gate is a uint8 comparison: a
handful of passes a pair.

Measured on 40 real FVC mates + 9,960 synthetic fingers, 200 real probes (docs/matching.md): the
former stage 1 (each finger's 30 most informative cylinders, layers 0 and 3 at full resolution)
lost mates whose matching cylinders were not among those 30; seeing all 60 pooled cylinders moves
the cascade's rank-1 from 95.5 to 96.5% with biocap's extractor (exhaustive 97.0%) and from 92.5
to 94.0% with mindtct's minutiae (exhaustive 94.0%), in the same memory.
"""
from __future__ import annotations

import numpy as np

from . import mcc
from .cohort import cohort_cylinders
from .params import STAGE1_N_BEST, STAGE1_N_PROBE
from .pooled import DEFAULT_LAYERS, pooled_code

_THETA_STEPS = 256  # stage-1 directions are stored as uint8
N_BEST = STAGE1_N_BEST


class CylinderPrefilter:
    #: fingers per storage block: inside a block the columns are slot-major (slot, finger), so the
    #: best-of-the-finger's-cylinders step is an element-wise maximum over contiguous rows
    BLOCK = 256

    def __init__(self, params: mcc.MccParams, n_gallery: int = 60, n_probe: int = STAGE1_N_PROBE,
                 layers: tuple[int, ...] = DEFAULT_LAYERS, centred: bool = False,
                 n_best: int | None = None):
        if params.ns != 16 or params.nd <= max(layers):
            raise ValueError(f"stage 1 pools 16 x 16-cell layers {layers}; the cylinders have "
                             f"{params.ns} x {params.ns} cells and {params.nd} layers")
        self.params = params
        self.n_gallery = int(n_gallery)
        self.n_probe = int(n_probe)
        # a finger's score sums the n_best best of the probe cylinders' similarities: a probe
        # cylinder outside the part of the print a mate shows has no counterpart there, and its
        # best similarity is noise that a dense impostor wins
        self.n_best = min(N_BEST, self.n_probe) if n_best is None else int(n_best)
        if not 0 < self.n_best <= self.n_probe:
            raise ValueError(f"n_best must be in 1..n_probe ({self.n_probe}), got {n_best}")
        self.layers = tuple(int(k) for k in layers)
        # scores are centred finger by finger on an impostor cohort (`cohort`)
        self.centred = bool(centred)
        self._cohort_prep = None  # the cohort's prepared probes, built on first use
        # the direction gate on the uint8 grid: |difference| <= gate_steps steps
        self.gate_steps = int(np.floor(params.delta_theta * _THETA_STEPS / mcc.TWO_PI + 1e-9))
        self._alloc(0)

    # --- storage (rows = gallery fingers, in blocks of BLOCK; the last block may be narrower) --
    def _alloc(self, rows: int) -> None:
        self.capacity = int(rows)
        cols = self.capacity * self.n_gallery
        self.codes_t = np.zeros((len(self.layers), cols), np.uint64)
        # bits set in the code (at most 255: a code with all 256 bits set loses one, so that
        # |a & b| <= 255 too) and the direction on 256 steps (1.4 degrees, far below the gate).
        # An empty slot has no bits: its similarity is 0.
        self.count = np.zeros(cols, np.uint8)
        self.theta = np.zeros(cols, np.uint8)
        # per finger (row-major): the cohort's mean stage-1 score against it, in 1/255 steps
        self.offset = np.zeros(self.capacity, np.uint16)

    def _full_rows(self) -> int:
        """Rows in full blocks; the rows after them form one narrower last block."""
        return self.capacity // self.BLOCK * self.BLOCK

    def _columns(self, rows: np.ndarray) -> np.ndarray:
        """(m, n_gallery) column of each slot of each row: block, then slot, then row."""
        rows = np.asarray(rows, np.int64)[:, None]
        B, G, full = self.BLOCK, self.n_gallery, self._full_rows()
        width = np.where(rows < full, B, self.capacity - full)
        return (rows // B) * (B * G) + np.arange(G)[None, :] * width + rows % B

    def _relayout(self, rows: int, used: int) -> None:
        """Change the capacity to `rows`, keeping rows 0..used-1 (the last block's width changes)."""
        keep = np.arange(min(used, rows))
        src = self._columns(keep).reshape(-1)
        old = (self.codes_t[:, src], self.count[src], self.theta[src], self.offset[keep])
        self._alloc(rows)
        dst = self._columns(keep).reshape(-1)
        self.codes_t[:, dst], self.count[dst], self.theta[dst], self.offset[keep] = old

    def reserve(self, rows: int, used: int) -> None:
        if rows > self.capacity:
            self._relayout(rows, used)

    def compact(self, rows: int) -> None:
        """Keep exactly `rows` rows (new arrays: nothing pins the old buffers)."""
        self._relayout(rows, rows)

    def nbytes(self) -> int:
        return int(self.codes_t.nbytes + self.count.nbytes + self.theta.nbytes + self.offset.nbytes)

    def nbytes_per_row(self) -> int:
        return (self.n_gallery * (len(self.layers) * 8 + self.count.itemsize + self.theta.itemsize)
                + self.offset.itemsize)

    def _select(self, bits: np.ndarray, n_cyl: np.ndarray, k: int) -> np.ndarray:
        """(rows, k) indices of the k cylinders with most bits set (padding sorts last)."""
        pc = np.bitwise_count(bits).sum(-1, dtype=np.int64)
        pc[np.arange(bits.shape[1])[None, :] >= n_cyl[:, None]] = -1
        return np.argsort(-pc, axis=1, kind="stable")[:, :k]

    def set_rows(self, start: int, bits: np.ndarray, xyt: np.ndarray, n_cyl: np.ndarray) -> None:
        """Fill rows start.. from full padded cylinder arrays (rows, C, words), (rows, C, 3)."""
        m, G = bits.shape[0], self.n_gallery
        if m == 0:
            return
        C = bits.shape[1]
        if C < G:  # fewer slots than stage-1 cylinders: pad
            bits = np.concatenate([bits, np.zeros((m, G - C, bits.shape[2]), bits.dtype)], axis=1)
            xyt = np.concatenate([xyt, np.zeros((m, G - C, 3), xyt.dtype)], axis=1)
        n_cyl = np.asarray(n_cyl)
        pick = self._select(bits, n_cyl, G)  # (m, G): every cylinder when the finger has <= G
        valid = pick < n_cyl[:, None]
        code = pooled_code(np.take_along_axis(bits, pick[:, :, None], axis=1), self.layers)
        code[~valid] = 0
        count = np.bitwise_count(code).sum(-1)
        full_code = count > 255  # all 256 bits set: drop one, so that counts fit uint8
        code[full_code, 0] &= ~np.uint64(1)
        count[full_code] = 255
        cols = self._columns(np.arange(start, start + m)).reshape(-1)
        self.codes_t[:, cols] = code.reshape(m * G, -1).T
        self.count[cols] = count.reshape(-1)
        th = np.take_along_axis(xyt[..., 2], pick, axis=1)
        self.theta[cols] = _theta_steps(np.where(valid, th, 0.0)).reshape(-1)  # NaN-safe itself
        if self.centred:
            self.offset[start:start + m] = self._cohort_offsets(bits, xyt, n_cyl)

    def _cohort_offsets(self, bits: np.ndarray, xyt: np.ndarray, n_cyl: np.ndarray) -> np.ndarray:
        """(m,) uint16: the cohort's mean raw stage-1 score against each of these fingers, in
        1/255 steps, computed by the same kernel on a scratch prefilter holding only them."""
        m = bits.shape[0]
        scratch = CylinderPrefilter(self.params, self.n_gallery, self.n_probe, self.layers,
                                    centred=False, n_best=self.n_best)
        scratch._alloc(m)
        scratch.set_rows(0, bits, xyt, n_cyl)
        prepared = self._cohort_prepared()
        total = np.zeros(m, np.float64)
        for prep in prepared:
            total += scratch._scores_prepared(prep, m)
        return np.rint(total * (255.0 / max(len(prepared), 1))).astype(np.uint16)

    def _cohort_prepared(self) -> list:
        """The cohort's probe codes and similarity tables, prepared once per prefilter (adding
        one finger then costs a few small kernel calls per cohort finger, not a table build)."""
        if self._cohort_prep is None:
            self._cohort_prep = [self._prepare(p) for p in cohort_cylinders(self.params)]
        return self._cohort_prep

    def move_row(self, src: int, dst: int) -> None:
        s, d = self._columns(np.array([src]))[0], self._columns(np.array([dst]))[0]
        self.codes_t[:, d], self.count[d], self.theta[d] = self.codes_t[:, s], self.count[s], self.theta[s]
        self.offset[dst] = self.offset[src]

    # --- scoring ------------------------------------------------------------------------------
    def probe_codes(self, probe: mcc.CylinderSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The probe's `n_probe` cylinders: codes (k, words), bit counts (k,), directions on the
        uint8 grid (k,). They are spread over the print: among the 2 * n_probe most informative
        cylinders, the most informative first, then each time the one farthest from those taken.
        Why: the most informative cylinders crowd the print's centre, so a mate enrolled from an
        impression that overlaps the probe elsewhere (shifted, partial) offered none of them a
        counterpart; spread, as many cost the same and reach the overlap (session 4, 12 probe
        cylinders, 100k, mates = impression 8: rank-1 93.5 -> 95.5%, exhaustive 96.5%;
        docs/matching.md)."""
        pick = spread_picks(np.bitwise_count(probe.bits).sum(-1, dtype=np.int64), probe.xyt[:, :2],
                            self.n_probe)
        a = np.ascontiguousarray(pooled_code(probe.bits[pick], self.layers))
        return a, np.bitwise_count(a).sum(-1).astype(np.int64), _theta_steps(probe.xyt[pick, 2])

    def _prepare(self, probe: mcc.CylinderSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the kernel needs of a probe: its codes, its similarity table and direction shifts."""
        a, a_count, a_theta = self.probe_codes(probe)
        # similarity in 1/255 steps (an error <= 0.002 a cylinder; scores are sums of ~10)
        table = np.rint(similarity_table(a_count) * 255).astype(np.uint8)  # (k, 256 * 257)
        # + gallery theta: wraps mod 256
        shift = ((self.gate_steps - a_theta.astype(np.int64)) % _THETA_STEPS).astype(np.uint8)
        return a, table, shift

    def scores(self, probe: mcc.CylinderSet, n_rows: int, chunk: int = 2048) -> np.ndarray:
        """Stage-1 score of every gallery row 0..n_rows-1: (n_rows,) float32; when `centred`, minus
        the finger's cohort mean (so it can be negative)."""
        if len(probe) == 0 or n_rows == 0:
            return np.zeros(n_rows, np.float32)
        if n_rows > self.capacity:
            raise ValueError(f"{n_rows} rows asked, {self.capacity} stored")
        return self._scores_prepared(self._prepare(probe), n_rows, chunk)

    def _scores_prepared(self, prep, n_rows: int, chunk: int = 2048) -> np.ndarray:
        out = np.zeros(n_rows, np.float32)
        B, G, g = self.BLOCK, self.n_gallery, self.gate_steps
        full = self._full_rows()
        chunk = _round_up(max(int(chunk), 1), B)
        a, table, shift = prep
        k, n_words = a.shape
        width = min(chunk, self.capacity) * G
        tmp = np.empty(width, np.uint64)  # per-chunk buffers, reused: they stay in cache
        cnt = np.empty(width, np.uint8)
        part = np.empty(width, np.uint8)
        idx = np.empty(width, np.intp)
        ok = np.empty(width, np.uint8)
        acc = np.empty(min(chunk, self.capacity), np.uint16)  # k * 255 <= 65535 for k <= 257
        best = np.zeros((k, len(acc)), np.uint8)  # each probe cylinder's best, finger by finger
        n_drop = max(0, k - self.n_best)
        for s in range(0, n_rows, chunk):
            e = min(n_rows, s + chunk)
            e_pad = _round_up(e, B) if e <= full else self.capacity  # whole blocks
            cols = slice(s * G, e_pad * G)
            n = (e_pad - s) * G
            split = (min(e_pad, full) - s) * G  # columns in full blocks; the rest: the last block
            b_t = self.codes_t[:, cols]
            base = self.count[cols].astype(np.intp) * 257
            b_theta = self.theta[cols]
            for i in range(k):  # one probe cylinder against the chunk: a few vector passes
                # idx = |b| * 257 + |a & b|; words counted in uint8 in groups of 3 (<= 192 bits)
                for g0 in range(0, n_words, 3):
                    for w in range(g0, min(n_words, g0 + 3)):
                        np.bitwise_and(b_t[w], a[i, w], out=tmp[:n])
                        np.bitwise_count(tmp[:n], out=cnt[:n] if w > g0 else part[:n])
                        if w > g0:
                            part[:n] += cnt[:n]
                    np.add(base if g0 == 0 else idx[:n], part[:n], out=idx[:n])
                sim = table[i].take(idx[:n])
                np.add(b_theta, shift[i], out=ok[:n])  # uint8 wrap-around: difference mod 256
                sim *= ok[:n] <= 2 * g
                # best over the finger's slots: (block, slot, finger) -> max over slot
                m = split // G
                if m:
                    best[i, :m] = sim[:split].reshape(-1, G, B).max(axis=1).reshape(-1)
                if n > split:
                    best[i, m:e_pad - s] = sim[split:n].reshape(G, -1).max(axis=0)
            rows = e_pad - s
            best[:, :rows].sum(axis=0, dtype=np.uint16, out=acc[:rows])
            if n_drop:  # minus the n_drop weakest
                acc[:rows] -= np.partition(best[:, :rows], n_drop - 1, axis=0)[:n_drop].sum(
                    axis=0, dtype=np.uint16)
            if self.centred:
                out[s:e] = (acc[:e - s].astype(np.int32) - self.offset[s:e]) * np.float32(1 / 255)
            else:
                out[s:e] = acc[:e - s] * np.float32(1 / 255)
        return out


def spread_picks(counts: np.ndarray, xy: np.ndarray, k: int) -> np.ndarray:
    """Indices of k cylinders spread over the print: among the 2k most informative (`counts`, bits
    set; ties in order), the most informative first, then each time the one farthest from those
    taken. Both fast stages pick their probe cylinders this way (the most informative alone crowd
    the print's centre, where a shifted or partial mate may offer no counterpart)."""
    pool = np.argsort(-np.asarray(counts), kind="stable")[:2 * int(k)]
    return pool[_farthest_first(np.asarray(xy)[pool], k)]


def _farthest_first(xy: np.ndarray, k: int) -> np.ndarray:
    """Indices of k of the points, greedily spread: point 0, then each time the point farthest
    from all taken so far."""
    xy = np.nan_to_num(np.asarray(xy, np.float64))
    k = min(int(k), len(xy))
    if k <= 0:
        return np.zeros(0, np.intp)
    taken = [0]
    dist = np.hypot(*(xy - xy[0]).T)
    while len(taken) < k:
        j = int(np.argmax(dist))
        taken.append(j)
        np.minimum(dist, np.hypot(*(xy - xy[j]).T), out=dist)
    return np.array(taken, np.intp)


def _round_up(n: int, block: int) -> int:
    return -(-int(n) // block) * block


def similarity_table(a_count: np.ndarray) -> np.ndarray:
    """(k, 256 * 257) float32: the bit-based similarity 1 - sqrt(|a xor b|) / (sqrt|a| + sqrt|b|)
    of a probe code with |a| = a_count[i] bits against a gallery code with |b| bits sharing
    |a & b| of them, at [i, |b| * 257 + |a & b|]; 0 when both codes are empty."""
    sqrt_na = np.sqrt(np.asarray(a_count, np.float32))[:, None, None]
    nb = np.arange(256, dtype=np.float32)
    sqrt_nb = np.sqrt(nb)[None, :, None]
    xor = (sqrt_na * sqrt_na + nb[None, :, None]) - 2.0 * np.arange(257, dtype=np.float32)[None, None, :]
    np.maximum(xor, 0.0, out=xor)
    denom = sqrt_na + sqrt_nb
    sim = 1.0 - np.sqrt(xor) / np.maximum(denom, np.float32(1e-6))
    sim *= denom > 0
    return sim.reshape(len(sqrt_na), -1)


def _theta_steps(theta: np.ndarray) -> np.ndarray:
    """Directions (radians, any range) on the 256-step uint8 grid."""
    th = np.nan_to_num(np.asarray(theta, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return (np.rint(np.mod(th, mcc.TWO_PI) * (_THETA_STEPS / mcc.TWO_PI)).astype(np.int64)
            % _THETA_STEPS).astype(np.uint8)
