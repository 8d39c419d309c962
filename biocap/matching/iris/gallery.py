"""1:N search of iris codes at memory speed: short keys prune, the full code decides.

Memory per gallery eye: code 256 B + mask 256 B + the first stage's 6 key words 48 B + its
eye term 1 B + the 8-word key with its mask for the second stage 128 B = 689 B (plus the
caller's id), under the 1 KB budget. The first stage's words are stored word-major (each word
of every eye streams contiguously); the second stage's eye-major (one eye's 16 words are two
cache lines, fetched for the few (rotation, eye) pairs it judges).

The key: 256 (column, radius row) positions of the code, both phase bits, 8 uint64 words, taken
only from the 96 code columns outside the upper-lid sector the normaliser always leaves out
(code columns 16-47 are masked in about 85 % of real codes; a key bit there is mostly wasted).
Words 0-5 visit every one of those columns twice, at two radius rows three apart in the cycle
0, 4, 2, 6, 1, 5, 3, 7 (radii spread so a misaligned inner or outer band cannot hide a genuine
pair); words 6-7 add a third row on 64 of them.

Search, per batch of probes (rotations are taken on the probe side; the gallery's keys are
streamed once per batch, chunk by chunk so a chunk stays in cache while every probe rotation
meets it):
1. first stage, every gallery eye at all 17 rotations, on key words 0-5 (384 bits) WITHOUT the
   masks: masked bits were replaced once by a fixed pseudo-random pattern (one for the gallery,
   another for probes), so X = popcount(probe key XOR gallery key) counts the real
   disagreements plus about half of the bits either side cannot see. That is an XOR and a
   popcount per word instead of AND, XOR, AND and two popcounts. An eye survives when, at some
   rotation, X + round(slope1 * gallery key bits seen) <= offset1 - round(slope1 * probe key
   bits seen).
2. second stage, on the survivors only and only at the rotations where they passed the first
   line (about 1.5 of the 17): the exact masked key disagreements d over all 8 key words and the
   bits both see n: survives when d <= slope2 * n + offset2 at one of those rotations (or
   n < `min_key_bits`: too little to judge on). Done inside the chunk loop, while the chunk's
   keys are still in cache.
3. full stage: the survivors of both get the exact masked HD_norm at every rotation; the
   decisions (top-1, and every gallery eye at or below the threshold) are taken on those exact
   values, so the pruned search can only differ from exhaustive search by losing a match early.
Both lines are measured-safe, not provable: `biocap.evaluation.bench_iris.calibrate_coarse`
sets them above every real genuine pair at or below the threshold (CASIA-IrisV1 + MMU2) with a
margin of 8 disagreements; `benchmarks/iris_calibrate.py` also calibrates on each dataset alone
and counts the other's genuine pairs lost (held-out check), and the search bench re-checks the
lines on its dataset's genuine pairs and compares every decision with `exhaustive_codes`, which
takes the same decisions without pruning.

What was tried and dropped: docs/decisions/15-iris-gallery-pruning.md.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ...errors import InvalidDataError, TemplateFormatError
from ...plugins.contracts import Candidate, SearchResult
from ...templates.iris.template import IrisTemplate
from ...types import Modality
from . import params
from .calibration import distance_of, similarity, threshold_for_fmr
from .hamming import as_words, masked_distances, normalize_hd, rotations

CODE_BYTES = 256  # 8 rows x 128 columns x 2 bits
BYTES_PER_COLUMN = 2
COLUMNS = 128
ROWS = 8
KEY_WORDS = 8
STAGE1_WORDS = 6
MAX_SLOPE1 = 0.16  # keeps the first stage's eye term <= 61 (see IrisGallery._stages)
#: code columns outside the upper-lid sector (60 degrees round straight up, code columns ~21-43,
#: plus the lid margin seen in real masks)
KEY_COLUMNS = np.r_[48:128, 0:16]
_ROW_CYCLE = np.array([0, 4, 2, 6, 1, 5, 3, 7])


def _key_positions() -> np.ndarray:
    """(256, 2) (column, row) of the key, in word order (32 positions = 64 bits per word)."""
    out = []
    for round_ in range(3):
        i = np.arange(KEY_COLUMNS.size)
        out.append(np.stack([KEY_COLUMNS, _ROW_CYCLE[(i + 3 * round_) % 8]], 1))
    return np.concatenate(out)[: KEY_WORDS * 32]


KEY_POSITIONS = _key_positions()
#: indices of the key's bits in the unpacked 2048-bit code (column-major, 16 bits per column)
KEY_BITS = ((KEY_POSITIONS[:, 0] * 16 + KEY_POSITIONS[:, 1] * 2)[:, None] + np.arange(2)).ravel()


def _fill_pattern(tag: bytes) -> np.ndarray:
    """A fixed pseudo-random 2048-bit pattern (packed, 256 B): the same on every machine."""
    stream = b"".join(hashlib.sha256(tag + bytes([i])).digest() for i in range(CODE_BYTES // 32))
    return np.frombuffer(stream, np.uint8).copy()


#: masked bits of gallery / probe codes are replaced by these in the first-stage key
GALLERY_FILL = _fill_pattern(b"biocap iris gallery fill")
PROBE_FILL = _fill_pattern(b"biocap iris probe fill")


def key_of(codes: np.ndarray, bits: np.ndarray = KEY_BITS) -> np.ndarray:
    """Keys (N, KEY_WORDS) uint64 of packed codes (N, 256) uint8."""
    picked = np.unpackbits(np.atleast_2d(codes), axis=1)[:, bits]
    return np.ascontiguousarray(np.packbits(picked, axis=1)).view(np.uint64)


def filled(codes: np.ndarray, masks: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Codes whose masked bits are replaced by the fixed `fill` pattern."""
    return (codes & masks) | (fill & ~masks)


def line_table(slope: float, offset: float, min_key_bits: int, n_bits: int) -> np.ndarray:
    """Largest number of key disagreements that still survives, per number of common key bits."""
    n = np.arange(n_bits + 1)
    table = np.floor(slope * n + offset).clip(0, n_bits)
    table[n < min_key_bits] = n_bits  # too few bits to judge on: always survives
    return table.astype(np.uint16)


def _popcount_rows(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)


@dataclass
class CodeHits:
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
    """A 1:N gallery of iris templates (`biocap.plugins.contracts.Gallery`): `search` answers on
    the comparator's similarity scale. The pruned search finds every eye at or below `threshold`
    (HD_norm; similarity >= 1 - threshold); a requested FMR whose threshold is looser than that
    is answered by comparing every eye in full (`extra["exhaustive"]`)."""

    modality = Modality.IRIS  # not a field: class attribute (no annotation)
    # defaults and their reasons: `params` (the survival lines are calibrated there)
    max_shift: int = params.MAX_SHIFT
    threshold: float = params.SEARCH_THRESHOLD
    slope1: float = params.SLOPE1
    offset1: float = params.OFFSET1
    slope2: float = params.SLOPE2
    offset2: float = params.OFFSET2
    min_key_bits: int = params.MIN_KEY_BITS
    chunk: int = params.CHUNK
    ids: list = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.chunk, bool) or not isinstance(self.chunk, int) or not 1 <= self.chunk <= 1 << 16:
            raise InvalidDataError(f"chunk must be a whole number within 1..65536, got {self.chunk!r}")
        if not 0 <= self.max_shift < COLUMNS // 2:
            raise InvalidDataError(f"max_shift {self.max_shift} must be within 0..{COLUMNS // 2 - 1}")
        for name in ("slope1", "offset1", "slope2", "offset2"):
            if not np.isfinite(getattr(self, name)):
                raise InvalidDataError(f"{name} must be a finite number")
        # the first stage counts in uint8: its line must stay within 0..255 disagreements
        # (and the eye term, at most round(slope1 * 384) <= 61, rides in the same counters)
        if not (0 <= self.offset1 <= 255 and 0 <= self.slope1 <= MAX_SLOPE1):
            raise InvalidDataError(f"offset1 must be within 0..255 and slope1 within 0..{MAX_SLOPE1} "
                                   "(rerun benchmarks/iris_calibrate.py for valid lines)")
        self._codes = np.zeros((0, CODE_BYTES), np.uint8)
        self._masks = np.zeros((0, CODE_BYTES), np.uint8)
        # first stage: key words 0-5 (masked bits = GALLERY_FILL), word-major (6, capacity)
        self._key1 = np.zeros((STAGE1_WORDS, 0), np.uint64)
        # second stage: key words 0-7 then their mask words, eye-major (capacity, 16)
        self._key2 = np.zeros((0, 2 * KEY_WORDS), np.uint64)
        self._eye_term = np.zeros(0, np.uint8)  # round(slope1 * first-stage key bits seen)
        self._n = 0
        self._row: dict[str, int] = {}
        if self.ids:
            raise InvalidDataError("an IrisGallery starts empty; add templates with add/add_many")
        self.table2 = line_table(self.slope2, self.offset2, self.min_key_bits, KEY_WORDS * 64)

    # -- the two pruning rules (shared with the calibration and the bench's check) -------------
    def eye_term(self, seen_gallery) -> np.ndarray:
        """The gallery side of the first survival line: round(slope1 x key bits seen)."""
        return np.round(self.slope1 * np.asarray(seen_gallery)).astype(np.int64)

    def rotation_limit(self, seen_probe) -> np.ndarray:
        """offset1 - round(slope1 * probe key bits seen), per probe rotation."""
        return np.floor(self.offset1).astype(np.int64) - np.round(self.slope1 * np.asarray(seen_probe)).astype(np.int64)

    def stage1_slack(self, st: dict) -> np.ndarray:
        """(N, S) how far under the first line each rotation is (>= 0: survives)."""
        return self.rotation_limit(st["seen_probe"])[None, :] - self.eye_term(st["seen_gallery"])[:, None] - st["x"]

    def stage2_slack(self, st: dict) -> np.ndarray:
        """How far under the second survival line each rotation is (>= 0: survives)."""
        return self.table2[st["n"]].astype(np.int64) - st["d"]

    def joint_slack(self, st: dict) -> np.ndarray:
        """(N,) the largest, over rotations, of the smaller of the two slacks: >= 0 exactly when
        the search keeps the gallery code (both lines pass at one same rotation)."""
        return np.minimum(self.stage1_slack(st), self.stage2_slack(st)).max(axis=1)

    # -- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def bytes_per_entry(self) -> int:
        return CODE_BYTES * 2 + STAGE1_WORDS * 8 + 2 * KEY_WORDS * 8 + self._eye_term.itemsize

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._row

    def add(self, template_id: str, template: IrisTemplate) -> None:
        """Enrol one template under a new id."""
        self.add_many([(template_id, template)])

    def add_many(self, items: Iterable[tuple[str, IrisTemplate]]) -> int:
        """Enrol (id, template) pairs; all are checked before any is added. Returns the count."""
        ids, codes, masks = [], [], []
        for template_id, template in items:
            if not isinstance(template, IrisTemplate) or template.code.size != CODE_BYTES:
                raise InvalidDataError("the iris gallery holds 2048-bit IrisTemplates (8x128x2)")
            self._check_id(template_id)
            ids.append(template_id)
            codes.append(template.code)
            masks.append(template.mask)
        if not ids:
            return 0
        self.add_codes(ids, np.stack(codes), np.stack(masks))
        return len(ids)

    @staticmethod
    def _check_id(i: Any) -> None:
        if not isinstance(i, str) or not i or len(i) > MAX_ID_LENGTH or "\n" in i:
            raise InvalidDataError(f"gallery ids must be non-empty strings of at most "
                                   f"{MAX_ID_LENGTH} characters without newlines, got {i!r:.60}")

    def _check_ids(self, ids: list) -> None:
        """No id twice (`add_codes` also takes other hashable ids, e.g. benchmark row numbers;
        `add`/`add_many` and `save` need strings)."""
        seen: set = set()
        for i in ids:
            if i in self._row or i in seen:
                raise InvalidDataError(f"id {i!r} is already enrolled", hint="remove it first, or use another id")
            seen.add(i)

    def remove(self, identifier: str) -> None:
        """Take an eye out; the last row moves into its place (O(1))."""
        r = self._row.pop(identifier, None)
        if r is None:
            raise InvalidDataError(f"id {identifier!r} is not in the gallery")
        last = self._n - 1
        if r != last:
            self._codes[r], self._masks[r] = self._codes[last], self._masks[last]
            self._key1[:, r], self._key2[r] = self._key1[:, last], self._key2[last]
            self._eye_term[r] = self._eye_term[last]
            moved = self.ids[last]
            self.ids[r] = moved
            self._row[moved] = r
        self.ids.pop()
        self._n -= 1

    def add_codes(self, ids, codes: np.ndarray, masks: np.ndarray) -> None:
        """Enrol packed codes and masks, (N, 256) uint8 each, under `ids`."""
        codes, masks = np.asarray(codes), np.asarray(masks)
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != CODE_BYTES \
                or masks.shape != codes.shape or masks.dtype != np.uint8:
            raise InvalidDataError(f"codes and masks must be (N, {CODE_BYTES}) uint8 arrays of equal shape")
        ids = list(ids)
        if len(ids) != codes.shape[0]:
            raise InvalidDataError(f"{len(ids)} ids for {codes.shape[0]} codes")
        self._check_ids(ids)
        m = codes.shape[0]
        self._reserve(self._n + m)
        self._codes[self._n:self._n + m] = codes
        self._masks[self._n:self._n + m] = masks
        for start in range(0, m, 65536):  # unpacking is 8x the codes' size: go in slices
            stop = min(m, start + 65536)
            dst = slice(self._n + start, self._n + stop)
            c, k = codes[start:stop], masks[start:stop]
            key, km = key_of(filled(c, k, GALLERY_FILL)), key_of(k)
            self._key1[:, dst] = key[:, :STAGE1_WORDS].T
            self._key2[dst] = np.concatenate([key, km], axis=1)
            self._eye_term[dst] = self.eye_term(_popcount_rows(km[:, :STAGE1_WORDS])).clip(0, 63)
        self._row.update((i, self._n + k) for k, i in enumerate(ids))
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
        a = np.zeros((STAGE1_WORDS, new), np.uint64)
        a[:, :self._n] = self._key1[:, :self._n]
        self._key1 = a
        a = np.zeros((new, 2 * KEY_WORDS), np.uint64)
        a[:self._n] = self._key2[:self._n]
        self._key2 = a
        a = np.zeros(new, np.uint8)
        a[:self._n] = self._eye_term[:self._n]
        self._eye_term = a

    @property
    def codes(self) -> np.ndarray:
        return self._codes[:self._n]

    @property
    def masks(self) -> np.ndarray:
        return self._masks[:self._n]

    @property
    def first_stage_bytes(self) -> int:
        """Bytes per gallery eye the first stage streams (key words 0-5 and the eye term)."""
        return STAGE1_WORDS * 8 + self._eye_term.itemsize

    # -- search ------------------------------------------------------------------------------
    def _check_probes(self, codes, masks):
        codes, masks = np.atleast_2d(np.asarray(codes)), np.atleast_2d(np.asarray(masks))
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1:] != (CODE_BYTES,) \
                or masks.shape != codes.shape or masks.dtype != np.uint8:
            raise InvalidDataError(f"probe codes and masks must be (B, {CODE_BYTES}) uint8")
        return codes, masks

    def _probe_keys(self, codes: np.ndarray, masks: np.ndarray):
        """Per probe rotation (B*S of them): filled key words 0-5 word-major (6, B*S), key
        words 0-7 and their masks eye-major (B*S, 16), and the first-stage limit per rotation."""
        shifts = np.arange(-self.max_shift, self.max_shift + 1)
        fc = filled(codes, masks, PROBE_FILL)
        rc = np.concatenate([rotations(c, BYTES_PER_COLUMN, shifts) for c in fc])  # (B*S, 256)
        rm = np.concatenate([rotations(m, BYTES_PER_COLUMN, shifts) for m in masks])
        pk, pm = key_of(rc), key_of(rm)
        limit = self.rotation_limit(_popcount_rows(pm[:, :STAGE1_WORDS]))
        return shifts, pk[:, :STAGE1_WORDS].T.copy(), np.concatenate([pk, pm], axis=1), limit

    def first_stage(self, pk: np.ndarray, limit: np.ndarray, n_probes: int) -> list[np.ndarray]:
        """Gallery rows that pass the first line at some rotation, per probe.
        pk: (W, B*S) filled probe key words; limit: (B*S,) int."""
        return self._stages(pk, None, limit, n_probes)[0]

    def _stages(self, pk: np.ndarray, p2: np.ndarray | None, limit: np.ndarray, n_probes: int):
        """Both pruning stages, chunk by chunk: (per probe, how many rows pass the first line at
        some rotation; per probe, the rows passing both lines at one same rotation). With p2
        None only the first stage runs, and the first item lists its rows. The second line is
        only tried at the (rotation, row) pairs the first let through (about 1.5 rotations per
        surviving row instead of 17): its calibration
        (`calibrate_coarse`) takes each genuine pair's best rotation among those that pass the
        first line, so this is the rule it was calibrated for."""
        s_total = pk.shape[1]
        s = s_total // n_probes
        c = self.chunk
        x = np.empty((s_total, c), np.uint64)
        cnt = np.empty((s_total, c), np.uint8)
        acc3 = np.empty((s_total, c), np.uint8)
        acc = np.empty((s_total, c), np.uint8)
        alive = np.empty((s_total, c), bool)
        ok = np.empty((s_total, c), bool)
        never = limit < 0  # rotations whose limit no count can meet (limit <= offset1 <= 255)
        lim_r = limit.clip(0, 255).astype(np.uint8)
        key, key2, term, table2 = self._key1, self._key2, self._eye_term, self.table2
        half = KEY_WORDS
        first_out, second_out = [], []
        first_counts = np.zeros(n_probes, np.int64)
        for start in range(0, self._n, c):
            stop = min(self._n, start + c)
            w = stop - start
            xx, cc, a3, aa, al, kk = x[:, :w], cnt[:, :w], acc3[:, :w], acc[:, :w], alive[:, :w], ok[:, :w]
            # uint8 counters hold X + eye term: words 0-2 and the term (<= 61) stay under 256;
            # words 3-5 may carry the sum (at most 447) over 255 once, and a wrapped sum is then
            # smaller than the 3-word one: such rows are pruned below, as their true count is
            # over any limit (limit <= offset1 <= 255)
            np.bitwise_xor(pk[0][:, None], key[0, start:stop][None, :], out=xx)
            np.bitwise_count(xx, out=cc)
            np.add(cc, term[None, start:stop], out=a3)
            for word in range(1, STAGE1_WORDS):
                np.bitwise_xor(pk[word][:, None], key[word, start:stop][None, :], out=xx)
                np.bitwise_count(xx, out=cc)
                if word < 3:
                    np.add(a3, cc, out=a3)
                elif word == 3:
                    np.add(a3, cc, out=aa)
                else:
                    np.add(aa, cc, out=aa)
            np.less_equal(aa, lim_r[:, None], out=al)  # survive: X + eye term <= rotation limit
            np.greater_equal(aa, a3, out=kk)  # ... and no wrap in words 3-5
            np.logical_and(al, kk, out=al)
            if never.any():
                al[never] = False
            flat = np.flatnonzero(al)  # passing (probe rotation, row) pairs (2-D nonzero: 10x slower)
            if flat.size == 0:
                continue
            hit = al.reshape(n_probes, s, w).any(axis=1)  # (probe, row) passing at some rotation
            if p2 is None:
                hb = np.flatnonzero(hit)
                first_out.append((hb // w, hb % w + start))
                continue
            first_counts += np.count_nonzero(hit, axis=1)
            rot = flat // w
            g = flat - rot * w + start  # exact masked key distance over all 8 words at those pairs only
            pg, gg = p2[rot], key2[g]  # (P, 16) each: keys then masks
            common = pg[:, half:] & gg[:, half:]
            n = np.bitwise_count(common).sum(axis=1, dtype=np.uint16)
            d = np.bitwise_count(np.bitwise_and(pg[:, :half] ^ gg[:, :half], common)).sum(axis=1, dtype=np.uint16)
            both = d <= table2[n]
            second_out.append((rot[both] // s, g[both]))
        if p2 is None:
            return self._per_probe(first_out, n_probes), None
        return first_counts, self._per_probe(second_out, n_probes)

    @staticmethod
    def _per_probe(pairs: list, n_probes: int) -> list[np.ndarray]:
        """Split (probe, row) pairs into one sorted array of distinct rows per probe."""
        if not pairs:
            return [np.zeros(0, np.int64) for _ in range(n_probes)]
        b = np.concatenate([p[0] for p in pairs]).astype(np.int64)
        r = np.concatenate([p[1] for p in pairs]).astype(np.int64)
        u = np.unique(b * (1 << 40) + r)  # sorted by probe, then row; one entry per pair
        b, r = u >> 40, u & ((1 << 40) - 1)
        bounds = np.searchsorted(b, np.arange(n_probes + 1))
        return [r[bounds[i]:bounds[i + 1]] for i in range(n_probes)]

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
    def _decide(rows, hd, sh, threshold, n_full, n_second) -> CodeHits:
        keep = hd <= threshold
        rows, hd, sh = rows[keep], hd[keep], sh[keep]
        order = np.lexsort((rows, hd))  # best first; ties broken by gallery row, as exhaustive
        return CodeHits(rows[order], hd[order], sh[order], n_full, n_second)

    def _threshold(self, threshold):
        thr = self.threshold if threshold is None else float(threshold)
        if not np.isfinite(thr) or thr > self.threshold + 1e-12:
            raise InvalidDataError(f"threshold {thr} is above the {self.threshold} the pruning stages "
                                   "were calibrated for; build the gallery with a higher threshold")
        return thr

    def search_codes(self, codes: np.ndarray, masks: np.ndarray,
                     threshold: float | None = None) -> list[CodeHits]:
        """The pruned search's decisions for a batch of packed probe codes (HD_norm scale)."""
        codes, masks = self._check_probes(codes, masks)
        thr = self._threshold(threshold)
        shifts, pk, pm, limit = self._probe_keys(codes, masks)
        first, survivors = self._stages(pk, pm, limit, codes.shape[0])
        results = []
        for b, (n_first, second) in enumerate(zip(first, survivors)):
            rc = rotations(codes[b], BYTES_PER_COLUMN, shifts)
            rm = rotations(masks[b], BYTES_PER_COLUMN, shifts)
            hd, sh = self._full(second, rc, rm, shifts)
            results.append(self._decide(second, hd, sh, thr, int(second.size), int(n_first)))
        return results

    def exhaustive_codes(self, codes: np.ndarray, masks: np.ndarray,
                         threshold: float | None = None) -> list[CodeHits]:
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

    def search(self, probe: IrisTemplate, *, top_k: int = 10, fmr: float | None = None) -> SearchResult:
        """The `top_k` most similar eyes at or above the gallery's pruning threshold, best first,
        as similarities (1 - HD_norm, the comparator's scale); with `fmr`, the comparator's
        threshold for it and the matches at or above it. `extra` holds each candidate's
        rotation (`shifts`) and whether every eye was compared in full (`exhaustive`)."""
        if not isinstance(probe, IrisTemplate):
            raise InvalidDataError("probe must be an IrisTemplate")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise InvalidDataError(f"top_k must be a positive integer, got {top_k!r}")
        threshold = None if fmr is None else threshold_for_fmr(fmr)
        hd_limit = self.threshold
        exhaustive = threshold is not None and distance_of(threshold) > self.threshold
        code, mask = probe.code[None, :], probe.mask[None, :]
        if exhaustive:  # looser than the pruning was calibrated for: compare every eye
            hd_limit = distance_of(threshold)
            res = self.exhaustive_codes(code, mask, hd_limit)[0]
        else:
            res = self.search_codes(code, mask, hd_limit)[0]
        k = min(int(top_k), res.indices.size)
        cands = tuple(Candidate(self.ids[int(i)], similarity(float(d)))
                      for i, d in zip(res.indices[:k], res.distances[:k]))
        return SearchResult(cands, fmr, threshold,
                            {"shifts": tuple(int(x) for x in res.shifts[:k]), "exhaustive": exhaustive})

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the gallery (codes, masks, ids and every parameter) to a versioned, checksummed
        file; the keys are derived data, rebuilt on load."""
        for i in self.ids:
            self._check_id(i)
        arrays = {"codes": np.ascontiguousarray(self.codes), "masks": np.ascontiguousarray(self.masks),
                  "ids": np.frombuffer("\n".join(self.ids).encode(), np.uint8)}
        entries, offset = [], 0
        for name, arr in arrays.items():
            entries.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
                            "offset": offset, "nbytes": int(arr.nbytes), "crc32": zlib.crc32(arr.tobytes())})
            offset += int(arr.nbytes)
        header = {"format": "biocap-iris-gallery", "format_version": FILE_VERSION, "count": self._n,
                  "params": {k: getattr(self, k) for k in _FILE_PARAMS}, "arrays": entries}
        raw = json.dumps(header).encode()
        tmp = Path(str(path) + ".tmp")
        with open(tmp, "wb") as f:
            f.write(FILE_MAGIC + struct.pack("<II", FILE_VERSION, len(raw)) + raw)
            for arr in arrays.values():
                f.write(arr.tobytes())
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> "IrisGallery":
        """Read a gallery written by `save`; a damaged or edited file raises TemplateFormatError."""
        path = Path(path)
        try:
            size = path.stat().st_size
            f = open(path, "rb")
        except OSError as exc:
            raise InvalidDataError(f"cannot open iris gallery file {path}: {exc}") from exc
        with f:
            head = f.read(16)
            if len(head) < 16 or head[:8] != FILE_MAGIC:
                raise TemplateFormatError(f"{path} is not a biocap iris gallery file", field="magic", offset=0)
            version, hlen = struct.unpack("<II", head[8:16])
            if version != FILE_VERSION:
                raise TemplateFormatError(f"{path} is iris gallery format version {version}; this biocap "
                                          f"reads version {FILE_VERSION}", field="format_version", offset=8,
                                          hint="upgrade biocap to read it" if version > FILE_VERSION else
                                          "re-enrol from the templates")
            if hlen > min(MAX_HEADER_BYTES, size - 16):
                raise TemplateFormatError(f"{path}: header length {hlen} is impossible (file has {size} "
                                          "bytes); the file is truncated or corrupt", field="header_length", offset=12)
            try:
                header = json.loads(f.read(hlen).decode())
                params = header["params"]
                missing = [k for k in _FILE_PARAMS if k not in params]
                count = int(header["count"])
                entries = {e["name"]: e for e in header["arrays"]}
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError) as exc:
                raise TemplateFormatError(f"{path}: the header is corrupt ({exc})", field="header", offset=16) from exc
            if missing:
                raise TemplateFormatError(f"{path}: the header lacks the parameter(s) {', '.join(missing)}",
                                          field="params", hint="re-save the gallery with this biocap")
            base = 16 + hlen
            arrays = {}
            for name, (dtype, width) in _FILE_ARRAYS.items():
                e = entries.get(name)
                if not isinstance(e, dict):
                    raise TemplateFormatError(f"{path}: array {name!r} is missing", field=name)
                arrays[name] = _read_array(f, path, name, e, base, size, dtype, width)
        if arrays["codes"].shape != (count, CODE_BYTES) or arrays["masks"].shape != (count, CODE_BYTES):
            raise TemplateFormatError(f"{path}: code arrays disagree with the count {count}", field="count")
        ids = arrays["ids"].tobytes().decode("utf-8", errors="replace").split("\n") if count else []
        if len(ids) != count or len(set(ids)) != count:
            raise TemplateFormatError(f"{path}: {len(ids)} ids for {count} eyes, or duplicates", field="ids")
        try:
            gal = cls(**{k: params[k] for k in _FILE_PARAMS})
        except (TypeError, ValueError) as exc:
            raise TemplateFormatError(f"{path}: parameters are invalid ({exc})", field="params") from exc
        except InvalidDataError as exc:
            raise TemplateFormatError(f"{path}: parameters are invalid ({exc})", field="params") from exc
        gal.add_codes(ids, arrays["codes"], arrays["masks"])
        return gal


FILE_MAGIC = b"BIOCAPIG"
FILE_VERSION = 1
MAX_HEADER_BYTES = 1 << 16
MAX_ID_LENGTH = 256
#: every parameter a gallery file records; a file lacking one is refused
_FILE_PARAMS = ("max_shift", "threshold", "slope1", "offset1", "slope2", "offset2", "min_key_bits", "chunk")
_FILE_ARRAYS = {"codes": ("|u1", CODE_BYTES), "masks": ("|u1", CODE_BYTES), "ids": ("|u1", None)}


def _read_array(f, path: Path, name: str, e: dict, base: int, size: int, dtype: str, width) -> np.ndarray:
    try:
        shape = tuple(int(x) for x in e["shape"])
        offset, nbytes, crc = int(e["offset"]), int(e["nbytes"]), int(e["crc32"])
        ok_dtype = np.dtype(e["dtype"]).str == np.dtype(dtype).str
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateFormatError(f"{path}: entry of array {name!r} is corrupt ({exc})", field=name) from exc
    if not ok_dtype or any(x < 0 for x in shape) or len(shape) != (1 if width is None else 2) \
            or (width is not None and shape[1] != width):
        raise TemplateFormatError(f"{path}: array {name!r} has type {e.get('dtype')} shape {shape}", field=name)
    if int(np.prod(shape, dtype=np.int64)) != nbytes or offset < 0 or base + offset + nbytes > size:
        raise TemplateFormatError(f"{path}: array {name!r} does not fit in the file; it is truncated or "
                                  "corrupt", field=name, offset=base + offset)
    f.seek(base + offset)
    data = f.read(nbytes)
    if len(data) != nbytes or zlib.crc32(data) != crc:
        raise TemplateFormatError(f"{path}: array {name!r} fails its checksum; the file is corrupt",
                                  field=name, offset=base + offset)
    return np.frombuffer(data, np.uint8).reshape(shape).copy()
