"""Fingerprint 1:N gallery: contiguous packed arrays, two-stage batched search, versioned files.

    gallery = FingerprintComparator().gallery()
    gallery.add("person-17/2", template)            # or add_many([(id, template), ...])
    result = gallery.search(probe, top_k=10, fmr=1e-4)   # SearchResult: candidates best first
    result.matches                                   # the candidates at or above the threshold
    gallery.remove("person-17/2")
    gallery.save("gallery.bfg"); gallery = FingerprintGallery.load("gallery.bfg")

Storage: one row per finger in fixed-size, contiguous numpy arrays (cylinder bits, validity masks,
minutiae; plus the stage-1 arrays of `prefilter`), so memory per finger is a constant
(`bytes_per_finger`, <= 16 KB) and a removal moves the last row into the hole (O(1), no
fragmentation).

Search, a cascade: stage 1 scores every finger with a reduced MCC comparison
(`prefilter`: 16 probe cylinders spread over the print against every cylinder of the
finger as 4-word pooled codes, `pooled`, the best 10 of them summed; a few AND + popcount
passes over contiguous rows; each finger's score centred on a synthetic impostor cohort,
`cohort`) and keeps the best `cascade_fraction` (5%); stage 1.5 (`consistency`)
rescores those: 32 probe cylinders spread over the print, each paired with its most similar
cylinder of the finger (every cylinder, 4 layers at full resolution, read from the full arrays: no
extra memory), the pairs weighed by their geometric consistency as LSS-R weighs them; it keeps
the best `shortlist` (max(256, 0.5%)); stage 2 runs the full MCC LSS-R comparison, batched, on
the shortlist only; the `top_k` best of stage 2 get the comparator's own 1:1 score (LSS-R x
paired fraction), so candidates are on the same scale, and decided at the same threshold, as 1:1.
`search(..., exhaustive=True)` skips the pruning (the reference for the rank-1 cost of pruning).
"""
from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ...errors import InvalidDataError, TemplateFormatError
from . import mcc
from ...plugins.contracts import Candidate, SearchResult
from ...types import Modality
from .matcher import MAX_CYLINDERS, MccMatcher, MccTemplate
from .params import CASCADE_FRACTION, MIN_SHORTLIST, SHORTLIST_FRACTION
from .consistency import consistent_scores
from .prefilter import CylinderPrefilter

MAGIC = b"BIOCAPFG"
FORMAT_VERSION = 2
#: file format versions this build reads (older ones are converted on load; see _MIGRATIONS)
READABLE_VERSIONS = (1, 2)
MAX_ID_LENGTH = 256
MAX_HEADER_BYTES = 1 << 20

_ARRAYS = ("bits", "mask", "xyt", "n_cyl", "n_min")
#: search settings every file records (and `load` requires: no silent defaults)
_SEARCH_PARAMS = ("shortlist_fraction", "min_shortlist", "cascade_fraction")
_DTYPES = {"bits": "<u8", "mask": "<u8", "xyt": "<f4", "n_cyl": "<i2", "n_min": "<i2", "ids": "u1",
           "pre_q": "u1", "pre_scale": "<f4"}  # the last two: version 1 only (ignored on load)




class FingerprintGallery:
    """A 1:N gallery of single-finger templates for the `biocap-mcc` comparator
    (`biocap.plugins.contracts.Gallery`)."""

    modality = Modality.FINGERPRINT

    def __init__(self, comparator: MccMatcher | None = None,
                 shortlist_fraction: float = SHORTLIST_FRACTION, min_shortlist: int = MIN_SHORTLIST,
                 cascade_fraction: float = CASCADE_FRACTION):
        self.comparator = comparator or MccMatcher()
        if not 0 < shortlist_fraction <= 1:
            raise InvalidDataError(f"shortlist_fraction must be in (0, 1], got {shortlist_fraction}")
        if min_shortlist < 1:
            raise InvalidDataError(f"min_shortlist must be >= 1, got {min_shortlist}")
        if not 0 < cascade_fraction <= 1:
            raise InvalidDataError(f"cascade_fraction must be in (0, 1], got {cascade_fraction}")
        self.shortlist_fraction = float(shortlist_fraction)
        self.cascade_fraction = float(cascade_fraction)
        self.min_shortlist = int(min_shortlist)
        # stage-1 scores centred per finger on a synthetic impostor cohort (cohort)
        self.prefilter = CylinderPrefilter(self.comparator.params, centred=True)
        self.capacity_cyl = self.comparator.max_cylinders
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._alloc(0)

    # --- storage ------------------------------------------------------------------------------
    def _alloc(self, rows: int) -> None:
        p, C = self.comparator.params, self.capacity_cyl
        self._a = {
            "bits": np.zeros((rows, C, p.n_words), np.uint64),
            "mask": np.zeros((rows, C, p.n_mask_words), np.uint64),
            "xyt": np.zeros((rows, C, 3), np.float32),
            "n_cyl": np.zeros(rows, np.int16),
            "n_min": np.zeros(rows, np.int16),
        }
        self.prefilter._alloc(rows)

    def _reserve(self, rows: int) -> None:
        have = self._a["n_cyl"].shape[0]
        if rows <= have:
            return
        new = max(rows, int(have * 1.5) + 16)
        old = self._a
        self._a = {k: np.zeros((new,) + v.shape[1:], v.dtype) for k, v in old.items()}
        for k, v in old.items():
            self._a[k][:self._n] = v[:self._n]
        self.prefilter.reserve(new, self._n)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._row

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def compact(self) -> None:
        """Release the spare capacity that growth left (after a bulk enrolment, before serving)."""
        n = self._n
        self._a = {k: v[:n].copy() for k, v in self._a.items()}  # copies: a view would pin the old buffer
        self.prefilter.compact(n)

    def allocated_bytes(self) -> int:
        """Bytes held by the gallery's arrays now (including spare capacity)."""
        return int(sum(v.nbytes for v in self._a.values()) + self.prefilter.nbytes())

    def bytes_per_finger(self) -> float:
        """Memory per enrolled finger: the array row plus the id (string and index entries);
        spare capacity after growth is not counted (`compact()` releases it,
        `allocated_bytes()` tells what is held)."""
        row = self._row_bytes()
        ids = sum(len(i.encode()) + 49 + 8 + 100 for i in self._ids) / max(self._n, 1)  # str, list, dict
        return float(row + ids)

    def _row_bytes(self) -> int:
        p, C = self.comparator.params, self.capacity_cyl
        return C * (p.n_words * 8 + p.n_mask_words * 8 + 12) + 4 + self.prefilter.nbytes_per_row()

    # --- enrolment ----------------------------------------------------------------------------
    def add(self, identifier: str, template: Any) -> None:
        """Enrol one template under a new id."""
        self.add_many([(identifier, template)])

    def add_many(self, items: Iterable[tuple[str, Any]]) -> int:
        """Enrol (id, template) pairs; all are checked before any is added. Returns the count."""
        batch: list[tuple[str, MccTemplate]] = []
        seen: set[str] = set()
        for identifier, template in items:
            self._check_id(identifier)
            if identifier in self._row or identifier in seen:
                raise InvalidDataError(f"id {identifier!r} is already enrolled",
                                       hint="remove it first, or use another id")
            enc = self.comparator.encode(template)
            if not enc.enrollable:
                raise InvalidDataError(
                    f"template for {identifier!r} cannot be enrolled ({enc.n_minutiae} minutiae, "
                    f"{len(enc.cylinders)} usable)", hint="capture the finger again (failure to enrol)")
            seen.add(identifier)
            batch.append((identifier, enc))
        self._reserve(self._n + len(batch))
        start = self._n
        for identifier, enc in batch:
            self._write_row(self._n, identifier, enc)
            self._n += 1
        self._set_prefilter_rows(start, self._n)
        return len(batch)

    def _set_prefilter_rows(self, start: int, stop: int, step: int = 4096) -> None:
        """Stage-1 arrays of rows start..stop-1 (derived data), a few thousand rows at a time: the
        cohort offsets are computed per call, so one call per batch, not per finger."""
        a = self._a
        for s in range(start, stop, step):
            e = min(stop, s + step)
            self.prefilter.set_rows(s, a["bits"][s:e], a["xyt"][s:e], a["n_cyl"][s:e].astype(np.int64))

    @staticmethod
    def _check_id(identifier: Any) -> None:
        if not isinstance(identifier, str) or not identifier:
            raise InvalidDataError(f"gallery ids must be non-empty strings, got {identifier!r}")
        if len(identifier) > MAX_ID_LENGTH or "\n" in identifier:
            raise InvalidDataError(f"gallery id {identifier[:40]!r}... is longer than "
                                   f"{MAX_ID_LENGTH} characters or holds a newline")

    def _write_row(self, r: int, identifier: str, enc: MccTemplate) -> None:
        a, cs = self._a, enc.cylinders
        c = min(len(cs), self.capacity_cyl)
        a["bits"][r] = 0
        a["mask"][r] = 0
        a["xyt"][r] = 0
        a["bits"][r, :c], a["mask"][r, :c], a["xyt"][r, :c] = cs.bits[:c], cs.mask[:c], cs.xyt[:c]
        a["n_cyl"][r], a["n_min"][r] = c, min(enc.n_minutiae, 32767)
        if r < len(self._ids):
            self._ids[r] = identifier
        else:
            self._ids.append(identifier)
        self._row[identifier] = r

    def remove(self, identifier: str) -> None:
        """Take a finger out; the last row moves into its place (O(1))."""
        r = self._row.pop(identifier, None)
        if r is None:
            raise InvalidDataError(f"id {identifier!r} is not in the gallery")
        last = self._n - 1
        if r != last:  # move the last row into the hole
            for v in self._a.values():
                v[r] = v[last]
            self.prefilter.move_row(last, r)
            moved = self._ids[last]
            self._ids[r] = moved
            self._row[moved] = r
        self._ids.pop()
        self._n -= 1

    # --- search -------------------------------------------------------------------------------
    def _view(self, rows) -> mcc.PackedBatch:
        a = self._a
        return mcc.PackedBatch(a["bits"][rows], a["mask"][rows], a["xyt"][rows],
                               a["n_cyl"][rows].astype(np.int32), a["n_min"][rows].astype(np.int32))

    def prefilter_scores(self, probe: MccTemplate) -> np.ndarray:
        """Stage 1: the reduced MCC score of the probe with every finger: (N,) float32."""
        return self.prefilter.scores(probe.cylinders, self._n)

    def score_rows(self, probe: MccTemplate, rows: np.ndarray, chunk: int = 128,
                   pairing=None) -> np.ndarray:
        """Stage 2: full MCC scores (LSS-R) of the probe against the given gallery rows; with
        `pairing` (the comparator's), LSS-R x paired fraction: the 1:1 score."""
        rows = np.asarray(rows, np.int64)
        out = np.zeros(len(rows), np.float32)
        if not probe.enrollable or len(rows) == 0:
            return out
        p = self.comparator.params
        prep_p = mcc.prepare_sets([probe.cylinders], p)
        for s in range(0, len(rows), chunk):
            sub = rows[s:s + chunk]
            out[s:s + chunk] = mcc.compare_prepared(prep_p, mcc.prepare(self._view(sub), p), p, chunk,
                                                    pairing=pairing)
        return out

    def shortlist_size(self) -> int:
        """Fingers that reach the full comparison (stage 2)."""
        return int(min(self._n, max(self.min_shortlist, math.ceil(self.shortlist_fraction * self._n))))

    def cascade_size(self) -> int:
        """Fingers that stage 1 passes on to stage 1.5 (never fewer than the final shortlist)."""
        return int(min(self._n, max(self.shortlist_size(), math.ceil(self.cascade_fraction * self._n))))

    def shortlist_rows(self, probe: MccTemplate) -> np.ndarray:
        """Rows that reach stage 2: stage 1 over every finger keeps the best `cascade_size()`,
        stage 1.5 (every cylinder, all layers) keeps the best `shortlist_size()` of those."""
        s = self.shortlist_size()
        if s >= self._n:
            return np.arange(self._n)
        pre = self.prefilter_scores(probe)
        c = self.cascade_size()
        rows = np.argpartition(-pre, c - 1)[:c] if c < self._n else np.arange(self._n)
        if c > s:
            rows = np.sort(rows)  # ascending rows: the gathers below read memory in order
            a = self._a
            mid = consistent_scores(probe.cylinders, a["bits"], a["xyt"], a["n_cyl"], rows,
                                    self.comparator.params)
            rows = rows[np.argpartition(-mid, s - 1)[:s]]
        return rows

    def search(self, probe: Any, *, top_k: int = 10, fmr: float | None = None,
               exhaustive: bool = False) -> SearchResult:
        """The `top_k` most similar fingers, best first, scored on the comparator's 1:1 scale;
        with `fmr`, the comparator's threshold for it and the matches at or above it.
        `extra["stage2"]` lists the same fingers in stage-2 order with their LSS-R scores."""
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise InvalidDataError(f"top_k must be a positive integer, got {top_k!r}")
        threshold = None if fmr is None else self.comparator.threshold_for_fmr(fmr)
        enc = self.comparator.encode(probe)
        if self._n == 0 or not enc.enrollable:
            return SearchResult((), fmr, threshold, {"stage2": ()})
        rows = np.arange(self._n) if exhaustive else self.shortlist_rows(enc)
        scores = self.score_rows(enc, rows)
        k = min(int(top_k), len(rows))
        best = np.argsort(-scores, kind="stable")[:k]
        top = rows[best]
        final = self.score_rows(enc, top, pairing=self.comparator.pairing)
        order = np.argsort(-final, kind="stable")
        return SearchResult(
            tuple(Candidate(self._ids[int(top[o])], float(final[o])) for o in order), fmr, threshold,
            {"stage2": tuple(Candidate(self._ids[int(rows[b])], float(scores[b])) for b in best)})

    # --- files --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the gallery to a versioned file (see docs/matching.md for the layout)."""
        arrays = {k: np.ascontiguousarray(v[:self._n]) for k, v in self._a.items()}
        arrays["ids"] = np.frombuffer("\n".join(self._ids).encode(), np.uint8)
        entries, offset = [], 0
        for name, arr in arrays.items():
            entries.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape),
                            "offset": offset, "nbytes": int(arr.nbytes),
                            "crc32": zlib.crc32(arr.tobytes())})
            offset += int(arr.nbytes)
        header = {"format": "biocap-fingerprint-gallery", "format_version": FORMAT_VERSION,
                  "matcher": self.comparator.name, "count": self._n,
                  "capacity_cylinders": self.capacity_cyl,
                  "mcc_params": dataclasses.asdict(self.comparator.params),
                  "shortlist_fraction": self.shortlist_fraction, "min_shortlist": self.min_shortlist,
                  "cascade_fraction": self.cascade_fraction,
                  "arrays": entries}
        raw = json.dumps(header).encode()
        tmp = Path(str(path) + ".tmp")
        with open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<II", FORMAT_VERSION, len(raw)) + raw)
            for arr in arrays.values():
                f.write(arr.tobytes())
        tmp.replace(path)  # never leave a half-written gallery under the real name

    @classmethod
    def load(cls, path: str | Path) -> "FingerprintGallery":
        path = Path(path)
        try:
            size = path.stat().st_size
            f = open(path, "rb")
        except OSError as exc:
            raise InvalidDataError(f"cannot open gallery file {path}: {exc}") from exc
        with f:
            head = f.read(16)
            if len(head) < 16 or head[:8] != MAGIC:
                raise TemplateFormatError(f"{path} is not a biocap fingerprint gallery file",
                                          field="magic", offset=0)
            version, hlen = struct.unpack("<II", head[8:16])
            if version not in READABLE_VERSIONS:
                newer = version > max(READABLE_VERSIONS)
                raise TemplateFormatError(
                    f"{path} is gallery format version {version}; this biocap reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}",
                    field="format_version", offset=8,
                    hint="upgrade biocap to read it" if newer else
                    "re-enrol from the templates: no converter exists for that old version")
            if hlen > min(MAX_HEADER_BYTES, size - 16):
                raise TemplateFormatError(f"{path}: header length {hlen} is impossible "
                                          f"(file has {size} bytes); the file is truncated or corrupt",
                                          field="header_length", offset=12)
            try:
                header = _MIGRATIONS.get(version, lambda h: h)(json.loads(f.read(hlen).decode()))
                entries = {e["name"]: e for e in header["arrays"]}
                count = int(header["count"])
                stored = header["mcc_params"]
                lacking = [fld.name for fld in dataclasses.fields(mcc.MccParams) if fld.name not in stored]
                if lacking:  # MccParams' defaults are the paper's, not the matcher's: refuse
                    raise TemplateFormatError(f"{path}: the header lacks the MCC parameter(s) "
                                              f"{', '.join(lacking)}", field="mcc_params", offset=16,
                                              hint="re-save the gallery with this biocap")
                params = mcc.MccParams(**stored)
                cap = int(header["capacity_cylinders"])
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise TemplateFormatError(f"{path}: the header is corrupt ({exc})", field="header",
                                          offset=16) from exc
            missing = [k for k in _SEARCH_PARAMS if k not in header]
            if missing:  # never fall back to defaults that may differ from the file's
                raise TemplateFormatError(f"{path}: the header lacks the search parameter(s) "
                                          f"{', '.join(missing)}", field="header", offset=16,
                                          hint="re-save the gallery with this biocap")
            base = 16 + hlen
            try:
                gal = cls(MccMatcher(params, max_cylinders=cap), float(header["shortlist_fraction"]),
                          int(header["min_shortlist"]), float(header["cascade_fraction"]))
            except (TypeError, ValueError) as exc:
                raise TemplateFormatError(f"{path}: search parameters are invalid ({exc})",
                                          field="header", offset=16) from exc
            gal._alloc(0)
            arrays = {}
            for name in list(_ARRAYS) + ["ids"]:
                e = entries.get(name)
                if e is None:
                    raise TemplateFormatError(f"{path}: array {name!r} is missing", field=name)
                arrays[name] = _read_array(f, path, name, e, base, size)
        if any(arrays[k].shape[0] != count for k in _ARRAYS):
            raise TemplateFormatError(f"{path}: array lengths disagree with the count {count}",
                                      field="count")
        ids = arrays.pop("ids").tobytes().decode("utf-8", errors="strict").split("\n") if count else []
        if len(ids) != count or len(set(ids)) != count:
            raise TemplateFormatError(f"{path}: {len(ids)} ids for {count} fingers, or duplicates",
                                      field="ids")
        expect = gal._a
        for k in _ARRAYS:
            if arrays[k].shape[1:] != expect[k].shape[1:]:
                raise TemplateFormatError(f"{path}: array {k} has shape {arrays[k].shape}, expected "
                                          f"(n, {', '.join(map(str, expect[k].shape[1:]))})", field=k)
        gal._a = {k: arrays[k].astype(expect[k].dtype, copy=False) for k in _ARRAYS}
        gal._n = count
        gal.prefilter._alloc(count)  # derived data: rebuilt, not stored
        gal._set_prefilter_rows(0, count)
        gal._ids = ids
        gal._row = {i: r for r, i in enumerate(ids)}
        return gal


def _read_array(f, path: Path, name: str, e: dict, base: int, size: int) -> np.ndarray:
    try:
        dtype = np.dtype(e["dtype"])
        shape = tuple(int(x) for x in e["shape"])
        offset, nbytes, crc = int(e["offset"]), int(e["nbytes"]), int(e["crc32"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TemplateFormatError(f"{path}: entry of array {name!r} is corrupt ({exc})", field=name) from exc
    if dtype.str != np.dtype(_DTYPES[name]).str or any(s < 0 for s in shape):
        raise TemplateFormatError(f"{path}: array {name!r} has type {dtype.str} shape {shape}",
                                  field=name)
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != nbytes or offset < 0 \
            or base + offset + nbytes > size:
        raise TemplateFormatError(f"{path}: array {name!r} does not fit in the file; it is truncated "
                                  "or corrupt", field=name, offset=base + offset)
    f.seek(base + offset)
    data = f.read(nbytes)
    if len(data) != nbytes or zlib.crc32(data) != crc:
        raise TemplateFormatError(f"{path}: array {name!r} fails its checksum; the file is corrupt",
                                  field=name, offset=base + offset)
    return np.frombuffer(data, dtype).reshape(shape).copy()


def _from_v1(header: dict) -> dict:
    """Version 1 also stored a minutia-pair-histogram prefilter (`pre_q`, `pre_scale`); version 2
    rebuilds its stage 1 from the cylinders, so those arrays are simply not read."""
    header = dict(header)
    header["arrays"] = [a for a in header["arrays"] if a.get("name") not in ("pre_q", "pre_scale")]
    header.pop("prefilter_params", None)
    return header


#: version -> function that turns that version's header into the current one; a future format
#: adds an entry here so that its predecessors still load
_MIGRATIONS: dict[int, Any] = {1: _from_v1}

__all__ = ["FingerprintGallery", "FORMAT_VERSION", "MAX_CYLINDERS"]
