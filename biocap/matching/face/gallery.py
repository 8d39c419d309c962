"""`FaceGallery`: 1:N search over 128-D unit face embeddings, decisions equal to exhaustive float64.

    gallery = FaceGallery(threshold_for_fmr=comparator.threshold_for_fmr)
    gallery.add_many((subject_id, template) for ...)      # FaceTemplate or (128,) float32 arrays
    result = gallery.search(probe, top_k=10, fmr=1e-4)     # SearchResult on the 1:1 scale
    results = gallery.search_many(probes, top_k=10)        # batched: the fast path

Similarity = (1 + dot) / 2 of the unit vectors (the FaceTemplate comparator's scale, [0, 1]).
The search is `kernel.search_block` over the gallery's one contiguous float32 matrix: a float32
first pass, then float64 rescoring of every row whose proven error bound could change the
decision (see kernel.py). With `fmr`, candidates hold the top_k AND every entry at or above
the threshold (so `SearchResult.matches` lists every match even beyond top_k).

Memory: 512 bytes of float32 per face plus its id (a Python str and a dict slot, ~100-150 bytes
for a short id): about 0.65 KB per face, 650 MB per million faces.

File format (`save`/`load`), little-endian, never pickle:
    magic b"BIOCAPFG" | version u16 | dim u16 | flags u32 | count u64 | ids_bytes u64 |
    sha256(payload) 32 B | sha256(header so far) 32 B          (= 96 bytes)
    payload = embeddings (count x dim float32) | ids (per id: u16 length + UTF-8 bytes)
Every size is checked against the file's real size before anything is allocated; an edited,
truncated or foreign file raises `GalleryFileError` (a BiocapError) saying what is wrong.
"""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ...errors import InvalidDataError, InvalidRequest
from ...plugins.contracts import Candidate, SearchResult
from ...types import Modality
from . import kernel

MAGIC = b"BIOCAPFG"
FILE_VERSION = 1
_HEADER = struct.Struct("<8sHHIQQ32s32s")
HEADER_BYTES = _HEADER.size                  # 96
NORM_TOLERANCE = 1e-3                        # FaceTemplates are unit vectors; 1e-3 allows float32 noise
MAX_ID_BYTES = 1024                          # ids are subject keys, not documents
_GROW = 1.5                                  # capacity growth factor of the embedding matrix


class GalleryFileError(InvalidDataError):
    """A saved face gallery is damaged, edited, truncated or not a face gallery."""

    hint = "restore the gallery file from a backup or rebuild it from the enrolment records"


def as_embedding(template: Any) -> np.ndarray:
    """The (128,) float32 unit vector of a FaceTemplate-like object or an array."""
    emb = getattr(template, "embedding", template)
    try:
        arr = np.asarray(emb, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"a face template or a 128-value embedding was expected, got "
                               f"{type(template).__name__}") from exc
    if arr.shape != (kernel.DIM,):
        raise InvalidDataError(f"a face embedding has shape ({kernel.DIM},), got {arr.shape}",
                               hint="pass a FaceTemplate or its .embedding")
    return _check_rows(arr[None, :])[0]


def _check_rows(arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[1] != kernel.DIM:
        raise InvalidDataError(f"face embeddings must be an (n, {kernel.DIM}) array, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidDataError("a face embedding holds NaN or infinite values",
                               hint="re-extract the template; the extractor output is corrupt")
    norms = np.sqrt(np.einsum("ij,ij->i", arr, arr, dtype=np.float64))
    bad = np.flatnonzero(np.abs(norms - 1.0) > NORM_TOLERANCE)
    if bad.size:
        raise InvalidDataError(f"face embeddings must be L2-normalised; row {int(bad[0])} has norm "
                               f"{norms[bad[0]]:.6f}", hint="divide the embedding by its norm")
    return arr


def _check_id(identifier: Any) -> str:
    if not isinstance(identifier, str) or not identifier:
        raise InvalidRequest(f"a gallery id is a non-empty str, got {identifier!r}")
    if len(identifier.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidRequest(f"gallery ids are at most {MAX_ID_BYTES} UTF-8 bytes")
    return identifier


class FaceGallery:
    """A 1:N gallery of face embeddings keyed by string ids (the `Gallery` contract)."""

    modality = Modality.FACE
    name = "face-embedding-gallery"

    def __init__(self, threshold_for_fmr: Callable[[float], float] | None = None):
        self.threshold_for_fmr = threshold_for_fmr
        self._emb = np.zeros((0, kernel.DIM), np.float32)
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._max_norm = 0.0

    # --- contents ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._row

    @property
    def embeddings(self) -> np.ndarray:
        """The gallery's (n, 128) float32 rows (a view: do not modify)."""
        return self._emb[:self._n]

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def bytes_per_face(self) -> int:
        return kernel.DIM * 4

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        if need > self._emb.shape[0]:
            cap = max(need, int(self._emb.shape[0] * _GROW), 1024)
            grown = np.zeros((cap, kernel.DIM), np.float32)
            grown[:self._n] = self._emb[:self._n]
            self._emb = grown

    def add(self, identifier: str, template: Any) -> None:
        """Add one entry; an id already present is replaced (one row per id)."""
        identifier = _check_id(identifier)
        emb = as_embedding(template)
        if identifier in self._row:
            self._emb[self._row[identifier]] = emb
        else:
            self._reserve(1)
            self._emb[self._n] = emb
            self._row[identifier] = self._n
            self._ids.append(identifier)
            self._n += 1
        self._max_norm = max(self._max_norm, float(np.linalg.norm(emb.astype(np.float64))))

    def add_many(self, items: Iterable[tuple[str, Any]]) -> int:
        """Add (id, template) pairs; returns how many were added or replaced."""
        ids, rows = [], []
        for identifier, template in items:
            ids.append(_check_id(identifier))
            rows.append(as_embedding(template))
        if not ids:
            return 0
        return self.add_arrays(ids, np.stack(rows))

    def add_arrays(self, ids: list[str], embeddings: np.ndarray) -> int:
        """Add an (n, 128) float32 block with its ids in one go (the bulk-load path)."""
        arr = _check_rows(np.ascontiguousarray(embeddings, dtype=np.float32))
        if len(ids) != arr.shape[0]:
            raise InvalidRequest(f"{len(ids)} ids for {arr.shape[0]} embeddings")
        ids = [_check_id(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("the ids to add repeat themselves; give each entry one id")
        new = [i for i, x in enumerate(ids) if x not in self._row]
        old = [i for i, x in enumerate(ids) if x in self._row]
        for i in old:
            self._emb[self._row[ids[i]]] = arr[i]
        self._reserve(len(new))
        if new:
            self._emb[self._n:self._n + len(new)] = arr[new]
            for offset, i in enumerate(new):
                self._row[ids[i]] = self._n + offset
                self._ids.append(ids[i])
            self._n += len(new)
        norms = np.sqrt(np.einsum("ij,ij->i", arr, arr, dtype=np.float64))
        self._max_norm = max(self._max_norm, float(norms.max()))
        return len(ids)

    def remove(self, identifier: str) -> None:
        """Remove an entry (the last row moves into its place)."""
        if identifier not in self._row:
            raise KeyError(identifier)
        row = self._row.pop(identifier)
        last = self._n - 1
        if row != last:
            self._emb[row] = self._emb[last]
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
        self._ids.pop()
        self._n -= 1

    # --- search -----------------------------------------------------------------------------
    def _threshold(self, fmr: float | None) -> float | None:
        if fmr is None:
            return None
        if not (isinstance(fmr, (int, float)) and 0.0 < float(fmr) < 1.0):
            raise InvalidRequest(f"fmr must be a number in (0, 1), got {fmr!r}")
        if self.threshold_for_fmr is None:
            raise InvalidRequest("this gallery has no threshold_for_fmr: search with fmr=None or "
                                 "build it with FaceGallery(threshold_for_fmr=comparator.threshold_for_fmr)")
        return float(self.threshold_for_fmr(float(fmr)))

    def search(self, probe: Any, *, top_k: int = 10, fmr: float | None = None) -> SearchResult:
        return self.search_many([probe], top_k=top_k, fmr=fmr)[0]

    def search_many(self, probes: Any, *, top_k: int = 10, fmr: float | None = None) -> list[SearchResult]:
        """One SearchResult per probe (templates, or an (m, 128) array); batched kernel."""
        if isinstance(probes, np.ndarray) and probes.ndim == 2:
            p = _check_rows(np.ascontiguousarray(probes, dtype=np.float32))
        else:
            rows = [as_embedding(x) for x in probes]
            p = np.stack(rows) if rows else np.zeros((0, kernel.DIM), np.float32)
        if not isinstance(top_k, int) or top_k < 1:
            raise InvalidRequest(f"top_k must be a positive int, got {top_k!r}")
        threshold = self._threshold(fmr)
        results: list[SearchResult] = []
        for start in range(0, p.shape[0], kernel.PROBE_BATCH):
            chunk = p[start:start + kernel.PROBE_BATCH]
            hits = kernel.search_block(self.embeddings, chunk, top_k=top_k, threshold=threshold,
                                       max_row_norm=self._max_norm or None)
            for h in hits:
                results.append(SearchResult(
                    candidates=tuple(Candidate(self._ids[r], float(s)) for r, s in zip(h.rows.tolist(), h.scores.tolist())),
                    fmr=fmr, threshold=threshold, extra={"rescored": h.rescored}))
        return results

    # --- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the gallery (0600, atomically: a temporary file renamed into place)."""
        path = Path(path)
        ids_blob = b"".join(struct.pack("<H", len(b)) + b for b in (i.encode("utf-8") for i in self._ids))
        emb = np.ascontiguousarray(self.embeddings, dtype="<f4").tobytes()
        digest = hashlib.sha256(emb)
        digest.update(ids_blob)
        head = _HEADER.pack(MAGIC, FILE_VERSION, kernel.DIM, 0, self._n, len(ids_blob),
                            digest.digest(), b"\0" * 32)
        head = head[:-32] + hashlib.sha256(head[:-32]).digest()
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(head)
                fh.write(emb)
                fh.write(ids_blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, threshold_for_fmr: Callable[[float], float] | None = None) -> "FaceGallery":
        path = Path(path)
        try:
            size = path.stat().st_size
            with open(path, "rb") as fh:
                head = fh.read(HEADER_BYTES)
                return cls._from_stream(head, fh, size, threshold_for_fmr)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise GalleryFileError(f"cannot read the face gallery {path}: {exc}") from exc

    @classmethod
    def from_bytes(cls, data: bytes, threshold_for_fmr: Callable[[float], float] | None = None) -> "FaceGallery":
        import io

        data = bytes(data)
        return cls._from_stream(data[:HEADER_BYTES], io.BytesIO(data[HEADER_BYTES:]), len(data),
                                threshold_for_fmr)

    @classmethod
    def _from_stream(cls, head: bytes, fh, size: int, threshold_for_fmr) -> "FaceGallery":
        if len(head) < HEADER_BYTES:
            raise GalleryFileError(f"the file is {size} bytes, shorter than the {HEADER_BYTES}-byte "
                                   "face gallery header")
        magic, version, dim, flags, count, ids_bytes, payload_sha, head_sha = _HEADER.unpack(head)
        if magic != MAGIC:
            raise GalleryFileError(f"not a biocap face gallery (starts with {magic[:8]!r})")
        if hashlib.sha256(head[:-32]).digest() != head_sha:
            raise GalleryFileError("the face gallery header fails its checksum (edited or damaged)")
        if version != FILE_VERSION:
            raise GalleryFileError(f"face gallery file version {version} is not supported (this "
                                   f"biocap reads version {FILE_VERSION})", hint="upgrade biocap")
        if dim != kernel.DIM or flags != 0:
            raise GalleryFileError(f"face gallery of dimension {dim} (flags {flags}); this biocap "
                                   f"holds {kernel.DIM}-D embeddings")
        emb_bytes = count * dim * 4
        if HEADER_BYTES + emb_bytes + ids_bytes != size:
            raise GalleryFileError(f"the header announces {count} faces ({HEADER_BYTES + emb_bytes + ids_bytes} "
                                   f"bytes) but the file holds {size} bytes (truncated or edited)")
        if ids_bytes < 3 * count or ids_bytes > count * (2 + MAX_ID_BYTES):
            raise GalleryFileError(f"{ids_bytes} bytes of ids cannot hold {count} ids")
        emb_raw = fh.read(emb_bytes)
        ids_blob = fh.read(ids_bytes)
        if len(emb_raw) != emb_bytes or len(ids_blob) != ids_bytes:
            raise GalleryFileError("the face gallery file ended early (truncated while reading)")
        digest = hashlib.sha256(emb_raw)
        digest.update(ids_blob)
        if digest.digest() != payload_sha:
            raise GalleryFileError("the face gallery content fails its checksum (edited or damaged)")
        ids: list[str] = []
        pos = 0
        try:
            for _ in range(count):
                (length,) = struct.unpack_from("<H", ids_blob, pos)
                pos += 2
                if length == 0 or pos + length > ids_bytes:
                    raise GalleryFileError(f"id {len(ids)} has an impossible length {length}")
                ids.append(ids_blob[pos:pos + length].decode("utf-8"))
                pos += length
        except (struct.error, UnicodeDecodeError) as exc:
            raise GalleryFileError(f"id {len(ids)} cannot be read: {exc}") from exc
        if pos != ids_bytes:
            raise GalleryFileError(f"{ids_bytes - pos} stray bytes follow the last id")
        if len(set(ids)) != len(ids):
            raise GalleryFileError("the face gallery repeats an id")
        emb = np.frombuffer(emb_raw, dtype="<f4").reshape(count, dim).astype(np.float32)
        try:
            _check_rows(emb)
        except InvalidDataError as exc:
            raise GalleryFileError(f"the stored embeddings are not unit vectors: {exc}") from exc
        gallery = cls(threshold_for_fmr)
        if count:
            gallery.add_arrays(ids, emb)
        return gallery
