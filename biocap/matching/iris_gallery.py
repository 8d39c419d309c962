"""1:N search of iris codes at memory speed: short coarse keys prune, the full code decides.

Memory per gallery eye: code 256 B + mask 256 B + two coarse keys with their masks 4 x 32 B =
640 B (plus the caller's id), under the 1 KB budget.

Search, per batch of probes (rotations are taken on the probe side; the gallery is streamed
once per batch, chunk by chunk so a chunk stays in cache while every probe rotation meets it):
1. coarse stage: at every probe rotation, the masked Hamming distance of key A (256 bits: every
   code column, one radius row per column cycling over all eight rows, both phase bits) against
   every gallery key A: XOR, AND and two popcounts on 4 uint64 words per gallery eye. A gallery
   eye survives when, at some rotation, its key disagreements d satisfy d <= slope * n + offset
   (n = key bits both codes see), or when n < `min_key_bits` (too little to judge on).
2. second stage, on the survivors only: key B (the other row of each column pair) is added to
   key A, and the same test runs on the 512-bit sums with its own line.
3. full stage: the survivors of both get the exact masked HD_norm at every rotation; the
   decisions (top-1, and every gallery eye at or below the threshold) are taken on those exact
   values, so the pruned search can only differ from exhaustive search by losing a match early.
Both lines are measured-safe, not provable: `biocap.evaluation.bench_iris.calibrate_coarse`
sets them above every real genuine pair at or below the threshold (CASIA-IrisV1 + MMU2) with a
margin, and the search bench re-checks them (docs/iris.md). `exhaustive_codes` takes the same
decisions without pruning, to check against.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidDataError
from ..templates.iris.template import IrisTemplate
from .iris_hamming import as_words, masked_distances, normalize_hd, rotations

CODE_BYTES = 256  # 8 rows x 128 columns x 2 bits
BYTES_PER_COLUMN = 2
COLUMNS = 128
_COLS = np.arange(COLUMNS)
# key A takes, at column j, radius row ROWS_A[j % 8]; key B the row four away: over the ring
# both keys see every radius (misaligned inner or outer rows then cannot hide a genuine pair)
_ROWS_A = np.array([0, 4, 2, 6, 1, 5, 3, 7])[_COLS % 8]
_ROWS_B = (_ROWS_A + 4) % 8


def _key_bits(rows: np.ndarray) -> np.ndarray:
    return np.stack([_COLS * 16 + rows * 2, _COLS * 16 + rows * 2 + 1], 1).ravel()


KEY_A_BITS = _key_bits(_ROWS_A)
KEY_B_BITS = _key_bits(_ROWS_B)
KEY_WORDS = KEY_A_BITS.size // 64  # 4 uint64 words per key
#: the first key bit in uint64 word 0 (packbits is big-endian within bytes, bytes little-endian)
_FIRST_BIT = np.uint64(0x80)


def key_of(codes: np.ndarray, bits: np.ndarray = KEY_A_BITS) -> np.ndarray:
    """Keys (N, KEY_WORDS) uint64 of packed codes (N, 256) uint8."""
    picked = np.unpackbits(np.atleast_2d(codes), axis=1)[:, bits]
    return np.ascontiguousarray(np.packbits(picked, axis=1)).view(np.uint64)


def key_table(slope: float, offset: float, min_key_bits: int, n_bits: int) -> np.ndarray:
    """Largest number of key disagreements that still survives, per number of common key bits."""
    n = np.arange(n_bits + 1)
    table = np.floor(slope * n + offset).clip(0, n_bits)
    table[n < min_key_bits] = n_bits  # too few bits to judge on: always survives
    return table.astype(np.uint16)


def key_stats(probe_code, probe_mask, codes, masks, max_shift: int = 8):
    """What the two pruning stages see for one probe against gallery codes, at each rotation:
    (n_a, d_a, n_ab, d_ab), each (N, 2*max_shift+1): common bits and disagreements of key A,
    and of keys A and B together."""
    shifts = np.arange(-max_shift, max_shift + 1)
    rc = rotations(probe_code, BYTES_PER_COLUMN, shifts)
    rm = rotations(probe_mask, BYTES_PER_COLUMN, shifts)
    out = []
    for bits in (KEY_A_BITS, KEY_B_BITS):
        pk, pm = key_of(rc, bits), key_of(rm, bits)
        gk, gm = key_of(codes, bits), key_of(masks, bits)
        if bits is KEY_A_BITS:  # as the gallery stores it: key A's first bit never common
            gm[:, 0] &= ~_FIRST_BIT
        common = pm[None, :, :] & gm[:, None, :]
        out.append((np.bitwise_count(common).sum(axis=2, dtype=np.int64),
                    np.bitwise_count((pk[None, :, :] ^ gk[:, None, :]) & common).sum(axis=2, dtype=np.int64)))
    (na, da), (nb, db) = out
    return na, da, na + nb, da + db


@dataclass
class SearchResult:
    """Decisions for one probe: every gallery index at or below the threshold, best first."""

    indices: np.ndarray  # int64 gallery row numbers
    distances: np.ndarray  # HD_norm
    shifts: np.ndarray
    n_full: int = 0  # gallery eyes that reached the full comparison
    n_second: int = 0  # gallery eyes that reached the second stage

    @property
    def top1(self) -> int | None:
        return int(self.indices[0]) if self.indices.size else None


@dataclass
class IrisGallery:
    max_shift: int = 8
    # HD_norm at or below which a gallery eye is a match: well below the 0.1st percentile of
    # real impostor comparisons (about 0.35 on CASIA-IrisV1 and MMU2), see docs/iris.md
    threshold: float = 0.28
    # survival lines d <= slope * n + offset, calibrated by
    # `biocap.evaluation.bench_iris.calibrate_coarse` on all CASIA-IrisV1 + MMU2 genuine pairs at
    # or below the threshold, 4 disagreements above the worst of them (docs/iris.md)
    slope_a: float = 0.40
    offset_a: float = -3.0
    slope_ab: float = 0.40
    offset_ab: float = -13.0
    min_key_bits: int = 32
    chunk: int = 4096  # gallery eyes per coarse step: measured fastest here (2048-16384 tried)
    ids: list = field(default_factory=list)

    def __post_init__(self):
        if not 0 <= self.max_shift < COLUMNS // 2:
            raise InvalidDataError(f"max_shift {self.max_shift} must be within 0..{COLUMNS // 2 - 1}")
        self._codes = np.zeros((0, CODE_BYTES), np.uint8)
        self._masks = np.zeros((0, CODE_BYTES), np.uint8)
        # keys word-major, (KEY_WORDS, capacity): each word streams contiguously
        self._keys = {k: np.zeros((KEY_WORDS, 0), np.uint64) for k in ("a", "am", "b", "bm")}
        self._n = 0
        self.table_a = key_table(self.slope_a, self.offset_a, self.min_key_bits, KEY_WORDS * 64 - 1)
        self.table_ab = key_table(self.slope_ab, self.offset_ab, 2 * self.min_key_bits, 2 * KEY_WORDS * 64)

    # -- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def bytes_per_entry(self) -> int:
        return CODE_BYTES * 2 + 4 * KEY_WORDS * 8

    def add(self, template_id, template: IrisTemplate) -> None:
        if not isinstance(template, IrisTemplate) or template.code.size != CODE_BYTES:
            raise InvalidDataError("the iris gallery holds 2048-bit IrisTemplates (8x128x2)")
        self.add_codes([template_id], template.code[None, :], template.mask[None, :])

    def add_codes(self, ids, codes: np.ndarray, masks: np.ndarray) -> None:
        codes, masks = np.asarray(codes), np.asarray(masks)
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != CODE_BYTES \
                or masks.shape != codes.shape or masks.dtype != np.uint8:
            raise InvalidDataError(f"codes and masks must be (N, {CODE_BYTES}) uint8 arrays of equal shape")
        ids = list(ids)
        if len(ids) != codes.shape[0]:
            raise InvalidDataError(f"{len(ids)} ids for {codes.shape[0]} codes")
        m = codes.shape[0]
        self._reserve(self._n + m)
        self._codes[self._n:self._n + m] = codes
        self._masks[self._n:self._n + m] = masks
        for start in range(0, m, 65536):  # unpacking is 8x the codes' size: go in slices
            stop = min(m, start + 65536)
            dst = slice(self._n + start, self._n + stop)
            for name, src, bits in (("a", codes, KEY_A_BITS), ("am", masks, KEY_A_BITS),
                                    ("b", codes, KEY_B_BITS), ("bm", masks, KEY_B_BITS)):
                self._keys[name][:, dst] = key_of(src[start:stop], bits).T
            # key A is judged on at most 255 bits (its first bit is never "common"), so its
            # counts fit the uint8 counters of the coarse stage exactly
            self._keys["am"][0, dst] &= ~_FIRST_BIT
        self.ids.extend(ids)
        self._n += m

    def _reserve(self, need: int) -> None:
        cap = self._codes.shape[0]
        if need <= cap:
            return
        new = max(need, int(cap * 1.5) + 1024)
        for name in ("_codes", "_masks"):
            a = np.zeros((new, CODE_BYTES), np.uint8)
            a[:self._n] = getattr(self, name)[:self._n]
            setattr(self, name, a)
        for name, old in self._keys.items():
            a = np.zeros((KEY_WORDS, new), np.uint64)
            a[:, :self._n] = old[:, :self._n]
            self._keys[name] = a

    @property
    def codes(self) -> np.ndarray:
        return self._codes[:self._n]

    @property
    def masks(self) -> np.ndarray:
        return self._masks[:self._n]

    # -- search ------------------------------------------------------------------------------
    def _check_probes(self, codes, masks):
        codes, masks = np.atleast_2d(np.asarray(codes)), np.atleast_2d(np.asarray(masks))
        if codes.dtype != np.uint8 or codes.shape[1:] != (CODE_BYTES,) or masks.shape != codes.shape \
                or masks.dtype != np.uint8:
            raise InvalidDataError(f"probe codes and masks must be (B, {CODE_BYTES}) uint8")
        return codes, masks

    def _probe_rotations(self, codes: np.ndarray, masks: np.ndarray):
        shifts = np.arange(-self.max_shift, self.max_shift + 1)
        rc = np.stack([rotations(c, BYTES_PER_COLUMN, shifts) for c in codes])  # (B, S, 256)
        rm = np.stack([rotations(m, BYTES_PER_COLUMN, shifts) for m in masks])
        b, s = rc.shape[:2]
        flat_c, flat_m = rc.reshape(b * s, CODE_BYTES), rm.reshape(b * s, CODE_BYTES)
        keys = {name: key_of(src, bits).T.copy()  # (W, B*S)
                for name, src, bits in (("a", flat_c, KEY_A_BITS), ("am", flat_m, KEY_A_BITS),
                                        ("b", flat_c, KEY_B_BITS), ("bm", flat_m, KEY_B_BITS))}
        return shifts, rc, rm, keys

    def coarse_survivors(self, keys: dict, n_probes: int) -> list[np.ndarray]:
        """Gallery rows that pass key A at some rotation, per probe (keys: (W, B*S) each)."""
        pk, pm = keys["a"], keys["am"]
        s_total = pk.shape[1]
        s = s_total // n_probes
        table = self.table_a
        c = self.chunk
        common = np.empty((s_total, c), np.uint64)
        diff = np.empty((s_total, c), np.uint64)
        d = np.empty((s_total, c), np.uint8)  # exact: key A counts at most 255 common bits
        n = np.empty((s_total, c), np.uint8)
        tmp = np.empty((s_total, c), np.uint8)
        gk_all, gm_all = self._keys["a"], self._keys["am"]
        out: list[list[np.ndarray]] = [[] for _ in range(n_probes)]
        for start in range(0, self._n, c):
            stop = min(self._n, start + c)
            w = stop - start
            cm, df, dd, nn, tt = common[:, :w], diff[:, :w], d[:, :w], n[:, :w], tmp[:, :w]
            dd[...] = 0
            nn[...] = 0
            for word in range(KEY_WORDS):
                np.bitwise_and(pm[word][:, None], gm_all[word, start:stop][None, :], out=cm)
                np.bitwise_xor(pk[word][:, None], gk_all[word, start:stop][None, :], out=df)
                np.bitwise_and(df, cm, out=df)
                np.add(dd, np.bitwise_count(df, out=tt), out=dd)
                np.add(nn, np.bitwise_count(cm, out=tt), out=nn)
            alive = (dd <= table[nn]).reshape(n_probes, s, w).any(axis=1)
            rows, cols = np.nonzero(alive)
            if rows.size:
                for b in np.unique(rows):
                    out[b].append(cols[rows == b] + start)
        return [np.concatenate(o) if o else np.zeros(0, np.int64) for o in out]

    def second_stage(self, rows: np.ndarray, keys: dict, probe: int, n_shifts: int) -> np.ndarray:
        """The rows (of one probe's survivors) that also pass keys A + B at some rotation."""
        if rows.size == 0:
            return rows
        cols = slice(probe * n_shifts, (probe + 1) * n_shifts)
        d = np.zeros((n_shifts, rows.size), np.uint16)
        n = np.zeros((n_shifts, rows.size), np.uint16)
        for k, km in (("a", "am"), ("b", "bm")):
            gk, gm = self._keys[k][:, rows], self._keys[km][:, rows]
            pk, pm = keys[k][:, cols], keys[km][:, cols]
            for word in range(KEY_WORDS):
                common = pm[word][:, None] & gm[word][None, :]
                d += np.bitwise_count((pk[word][:, None] ^ gk[word][None, :]) & common)
                n += np.bitwise_count(common)
        return rows[(d <= self.table_ab[n]).any(axis=0)]

    def _full(self, rows: np.ndarray, pc: np.ndarray, pm: np.ndarray, shifts: np.ndarray):
        """Exact best HD_norm and shift of gallery `rows` against one probe's rotations."""
        if rows.size == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        hd_best = np.empty(rows.size)
        sh_best = np.empty(rows.size, np.int64)
        pcw, pmw = as_words(pc), as_words(pm)
        for start in range(0, rows.size, 1024):  # blocks whose temporaries stay in cache
            r = rows[start:start + 1024]
            raw, n = masked_distances(pcw, pmw, as_words(self._codes[r]), as_words(self._masks[r]))
            hd = normalize_hd(raw, n)
            k = np.argmin(hd, axis=1)
            hd_best[start:start + r.size] = hd[np.arange(r.size), k]
            sh_best[start:start + r.size] = shifts[k]
        return hd_best, sh_best

    @staticmethod
    def _decide(rows, hd, sh, threshold, n_full, n_second) -> SearchResult:
        keep = hd <= threshold
        rows, hd, sh = rows[keep], hd[keep], sh[keep]
        order = np.lexsort((rows, hd))  # best first; ties broken by gallery row, as exhaustive
        return SearchResult(rows[order], hd[order], sh[order], n_full, n_second)

    def _threshold(self, threshold):
        thr = self.threshold if threshold is None else float(threshold)
        if not np.isfinite(thr) or thr > self.threshold + 1e-12:
            raise InvalidDataError(f"threshold {thr} is above the {self.threshold} the pruning stages "
                                   "were calibrated for; build the gallery with a higher threshold")
        return thr

    def search_codes(self, codes: np.ndarray, masks: np.ndarray,
                     threshold: float | None = None) -> list[SearchResult]:
        codes, masks = self._check_probes(codes, masks)
        thr = self._threshold(threshold)
        shifts, rc, rm, keys = self._probe_rotations(codes, masks)
        survivors = self.coarse_survivors(keys, codes.shape[0])
        results = []
        for b, rows in enumerate(survivors):
            second = self.second_stage(rows, keys, b, shifts.size)
            hd, sh = self._full(second, rc[b], rm[b], shifts)
            results.append(self._decide(second, hd, sh, thr, int(second.size), int(rows.size)))
        return results

    def exhaustive_codes(self, codes: np.ndarray, masks: np.ndarray,
                         threshold: float | None = None) -> list[SearchResult]:
        """The same decisions by comparing every gallery eye in full (the reference)."""
        codes, masks = self._check_probes(codes, masks)
        thr = self.threshold if threshold is None else float(threshold)
        shifts = np.arange(-self.max_shift, self.max_shift + 1)
        every = np.arange(self._n)
        results = []
        for b in range(codes.shape[0]):
            rc = rotations(codes[b], BYTES_PER_COLUMN, shifts)
            rm = rotations(masks[b], BYTES_PER_COLUMN, shifts)
            hd, sh = self._full(every, rc, rm, shifts)
            results.append(self._decide(every, hd, sh, thr, self._n, self._n))
        return results

    def search(self, probe: IrisTemplate, threshold: float | None = None) -> list[tuple]:
        """(id, HD_norm, shift) of every gallery eye at or below the threshold, best first."""
        if not isinstance(probe, IrisTemplate):
            raise InvalidDataError("probe must be an IrisTemplate")
        res = self.search_codes(probe.code[None, :], probe.mask[None, :], threshold)[0]
        return [(self.ids[i], float(d), int(s)) for i, d, s in zip(res.indices, res.distances, res.shifts)]
