"""1:N search of iris codes at memory speed: a short coarse key prunes, the full code decides.

Memory per gallery eye: code 256 B + mask 256 B + coarse key 32 B + key mask 32 B = 576 B (plus
the caller's id), under the 1 KB budget.

Search, per batch of probes (rotations are taken on the probe side, the gallery is streamed
once per batch, chunk by chunk so a chunk stays in cache while every probe rotation meets it):
1. coarse stage: for every other probe rotation, the masked Hamming distance of the 256-bit key
   (every code column, one of the inner radius rows, 2 bits) against every gallery key: XOR,
   AND, two popcounts on 4 uint64 words per gallery eye. A gallery eye survives when, at some
   rotation, its key disagreements are at most `key_table[common key bits]` - a line
   d <= slope * n + offset calibrated on real genuine comparisons so that every genuine pair
   whose full HD_norm is at or below the decision threshold survives (measured-safe; see
   `biocap.evaluation.bench_iris.calibrate_coarse`), and always when fewer than `min_key_bits` key bits are comparable
   (too little evidence to prune anything on).
2. full stage: the survivors get the exact masked HD_norm at every rotation; the decision
   (top-1, and every gallery eye at or below the threshold) is taken on those exact values.
`exhaustive_search` computes the same decisions without the coarse stage, to check against.
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
#: bit positions of the coarse key inside the column-major code: every code column, one of the
#: four inner radius rows (cycling 0, 2, 1, 3 round the iris: inner rows are the least often
#: hidden by lids), both phase bits: 128 x 2 = 256 bits = 4 uint64 words
_KEY_COLS = np.arange(COLUMNS)
_KEY_ROWS = np.array([0, 2, 1, 3])[_KEY_COLS % 4]
KEY_BITS = np.stack([_KEY_COLS * 16 + _KEY_ROWS * 2, _KEY_COLS * 16 + _KEY_ROWS * 2 + 1], 1).ravel()
KEY_WORDS = KEY_BITS.size // 64
#: rotations the coarse stage tries: every other one (neighbouring code columns are strongly
#: correlated, so the best even shift is close to the best shift; the survival line is
#: calibrated on exactly these shifts), the full stage then tries all of them
COARSE_STEP = 1


def key_of(codes: np.ndarray) -> np.ndarray:
    """Coarse keys (N, KEY_WORDS) uint64 of packed codes (N, 256) uint8."""
    bits = np.unpackbits(codes, axis=1)[:, KEY_BITS]
    return np.ascontiguousarray(np.packbits(bits, axis=1)).view(np.uint64)


def key_table(slope: float, offset: float, min_key_bits: int) -> np.ndarray:
    """Largest number of key disagreements that still survives, per number of common key bits
    (uint16: a 256-bit key counts up to 256)."""
    n = np.arange(KEY_WORDS * 64 + 1)
    table = np.floor(slope * n + offset).clip(0, KEY_WORDS * 64)
    table[n < min_key_bits] = KEY_WORDS * 64  # too few bits to judge on: always survives
    return table.astype(np.uint16)


@dataclass
class SearchResult:
    """Decisions for one probe: every gallery index at or below the threshold, best first."""

    indices: np.ndarray  # int64 gallery row numbers
    distances: np.ndarray  # HD_norm
    shifts: np.ndarray
    n_full: int = 0  # gallery eyes that reached the full comparison

    @property
    def top1(self) -> int | None:
        return int(self.indices[0]) if self.indices.size else None


@dataclass
class IrisGallery:
    max_shift: int = 8
    # HD_norm at or below which a gallery eye is a match: below the 0.1st percentile of real
    # impostor comparisons (about 0.35 on CASIA-IrisV1 and MMU2), see docs/iris.md
    threshold: float = 0.28
    # coarse survival line, calibrated by `biocap.evaluation.bench_iris.calibrate_coarse` on
    # all CASIA-IrisV1 + MMU2 genuine pairs at or below the threshold: the line passes every one
    # of them with 4 disagreements to spare (measured-safe, not provable; docs/iris.md)
    key_slope: float = 0.48
    key_offset: float = -14.0
    min_key_bits: int = 32
    chunk: int = 8192
    ids: list = field(default_factory=list)

    def __post_init__(self):
        if not 0 <= self.max_shift < COLUMNS // 2:
            raise InvalidDataError(f"max_shift {self.max_shift} must be within 0..{COLUMNS // 2 - 1}")
        self._codes = np.zeros((0, CODE_BYTES), np.uint8)
        self._masks = np.zeros((0, CODE_BYTES), np.uint8)
        # keys word-major, (KEY_WORDS, capacity): each word streams contiguously
        self._keys = np.zeros((KEY_WORDS, 0), np.uint64)
        self._key_masks = np.zeros((KEY_WORDS, 0), np.uint64)
        self._n = 0
        self.table = key_table(self.key_slope, self.key_offset, self.min_key_bits)

    # -- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def bytes_per_entry(self) -> int:
        return CODE_BYTES * 2 + KEY_WORDS * 8 * 2

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
        sl = slice(self._n, self._n + m)
        self._codes[sl] = codes
        self._masks[sl] = masks
        for start in range(0, m, 65536):  # unpacking is 8x the codes' size: go in slices
            part = slice(start, min(m, start + 65536))
            self._keys[:, self._n + part.start:self._n + part.stop] = key_of(codes[part]).T
            self._key_masks[:, self._n + part.start:self._n + part.stop] = key_of(masks[part]).T
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
        for name in ("_keys", "_key_masks"):
            a = np.zeros((KEY_WORDS, new), np.uint64)
            a[:, :self._n] = getattr(self, name)[:, :self._n]
            setattr(self, name, a)

    @property
    def codes(self) -> np.ndarray:
        return self._codes[:self._n]

    @property
    def masks(self) -> np.ndarray:
        return self._masks[:self._n]

    # -- search ------------------------------------------------------------------------------
    def _probe_rotations(self, codes: np.ndarray, masks: np.ndarray):
        shifts = np.arange(-self.max_shift, self.max_shift + 1)
        rc = np.stack([rotations(c, BYTES_PER_COLUMN, shifts) for c in codes])  # (B, S, 256)
        rm = np.stack([rotations(m, BYTES_PER_COLUMN, shifts) for m in masks])
        coarse = np.nonzero(shifts % COARSE_STEP == 0)[0]
        b = rc.shape[0]
        keys = key_of(rc[:, coarse].reshape(b * coarse.size, CODE_BYTES)).T.copy()  # (W, B*Sc)
        kmasks = key_of(rm[:, coarse].reshape(b * coarse.size, CODE_BYTES)).T.copy()
        return shifts, rc, rm, keys, kmasks

    def _check_probes(self, codes, masks):
        codes, masks = np.atleast_2d(np.asarray(codes)), np.atleast_2d(np.asarray(masks))
        if codes.dtype != np.uint8 or codes.shape[1:] != (CODE_BYTES,) or masks.shape != codes.shape:
            raise InvalidDataError(f"probe codes and masks must be (B, {CODE_BYTES}) uint8")
        return codes, masks

    def coarse_survivors(self, keys: np.ndarray, kmasks: np.ndarray, n_probes: int) -> list[np.ndarray]:
        """Gallery rows that survive the coarse stage, per probe (keys: (W, B*S) probe rotations)."""
        s_total = keys.shape[1]
        s = s_total // n_probes
        table = self.table
        c = self.chunk
        common = np.empty((s_total, c), np.uint64)
        diff = np.empty((s_total, c), np.uint64)
        d = np.empty((s_total, c), np.uint16)  # a 256-bit key counts up to 256: no uint8
        n = np.empty((s_total, c), np.uint16)
        tmp = np.empty((s_total, c), np.uint8)
        out: list[list[np.ndarray]] = [[] for _ in range(n_probes)]
        for start in range(0, self._n, c):
            stop = min(self._n, start + c)
            w = stop - start
            cm, df, dd, nn, tt = common[:, :w], diff[:, :w], d[:, :w], n[:, :w], tmp[:, :w]
            dd[...] = 0
            nn[...] = 0
            for word in range(KEY_WORDS):
                np.bitwise_and(kmasks[word][:, None], self._key_masks[word, start:stop][None, :], out=cm)
                np.bitwise_xor(keys[word][:, None], self._keys[word, start:stop][None, :], out=df)
                np.bitwise_and(df, cm, out=df)
                np.add(dd, np.bitwise_count(df, out=tt), out=dd)
                np.add(nn, np.bitwise_count(cm, out=tt), out=nn)
            alive = (dd <= table[nn]).reshape(n_probes, s, w).any(axis=1)
            rows, cols = np.nonzero(alive)
            if rows.size:
                for b in np.unique(rows):
                    out[b].append(cols[rows == b] + start)
        return [np.concatenate(o) if o else np.zeros(0, np.int64) for o in out]

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
    def _decide(rows, hd, sh, threshold, n_full) -> SearchResult:
        keep = hd <= threshold
        rows, hd, sh = rows[keep], hd[keep], sh[keep]
        order = np.lexsort((rows, hd))  # best first; ties broken by gallery row, as exhaustive
        return SearchResult(rows[order], hd[order], sh[order], n_full)

    def search_codes(self, codes: np.ndarray, masks: np.ndarray,
                     threshold: float | None = None) -> list[SearchResult]:
        codes, masks = self._check_probes(codes, masks)
        thr = self.threshold if threshold is None else float(threshold)
        if thr > self.threshold + 1e-12:
            raise InvalidDataError(f"threshold {thr} is above the {self.threshold} the coarse stage "
                                   "was calibrated for; build the gallery with a higher threshold")
        shifts, rc, rm, keys, kmasks = self._probe_rotations(codes, masks)
        survivors = self.coarse_survivors(keys, kmasks, codes.shape[0])
        results = []
        for b, rows in enumerate(survivors):
            hd, sh = self._full(rows, rc[b], rm[b], shifts)
            results.append(self._decide(rows, hd, sh, thr, int(rows.size)))
        return results

    def exhaustive_codes(self, codes: np.ndarray, masks: np.ndarray,
                         threshold: float | None = None) -> list[SearchResult]:
        """The same decisions by comparing every gallery eye in full (the reference)."""
        codes, masks = self._check_probes(codes, masks)
        thr = self.threshold if threshold is None else float(threshold)
        shifts, rc, rm, _, _ = self._probe_rotations(codes, masks)
        every = np.arange(self._n)
        results = []
        for b in range(codes.shape[0]):
            hd, sh = self._full(every, rc[b], rm[b], shifts)
            results.append(self._decide(every, hd, sh, thr, self._n))
        return results

    def search(self, probe: IrisTemplate, threshold: float | None = None) -> list[tuple]:
        """(id, HD_norm, shift) of every gallery eye at or below the threshold, best first."""
        if not isinstance(probe, IrisTemplate):
            raise InvalidDataError("probe must be an IrisTemplate")
        res = self.search_codes(probe.code[None, :], probe.mask[None, :], threshold)[0]
        return [(self.ids[i], float(d), int(s)) for i, d, s in zip(res.indices, res.distances, res.shifts)]


def coarse_key_stats(probe_code, probe_mask, codes, masks, max_shift: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(common key bits, key disagreements), each (N, coarse shifts), of one probe's coarse
    rotations against gallery codes: what the coarse stage sees, for calibrating its line."""
    shifts = np.arange(-max_shift, max_shift + 1)
    shifts = shifts[shifts % COARSE_STEP == 0]
    pk = key_of(rotations(probe_code, BYTES_PER_COLUMN, shifts))  # (S, W)
    pm = key_of(rotations(probe_mask, BYTES_PER_COLUMN, shifts))
    gk, gm = key_of(codes), key_of(masks)  # (N, W)
    common = pm[None, :, :] & gm[:, None, :]
    n = np.bitwise_count(common).sum(axis=2, dtype=np.int64)
    d = np.bitwise_count((pk[None, :, :] ^ gk[:, None, :]) & common).sum(axis=2, dtype=np.int64)
    return n, d
