"""Person-level 1:N: one fused score per resident over up to ten fingers, two irises and a face.

    gallery = PersonGallery()
    gallery.add("NIK-3201...", PersonTemplates(fingers={2: t2, 7: t7, ...},
                                               irises={1: (code, mask), 2: (code, mask)},
                                               face=embedding))
    result = gallery.search(probe)                  # PersonSearchResult
    result.decision                                 # "unique" | "duplicate" | "adjudication"
    result.best.id, result.best.score, result.best.evidence   # {"iris:1": 7.9, "face": 4.1, ...}

## Fused score
Each modality's comparison score becomes evidence: the base-10 log likelihood ratio of "same
person" against "different persons" at that score (`ScoreModel`, fitted on generated genuine
and impostor pairs by `benchmarks/person_calibrate.py`, shipped as `calibration_person.json`),
made monotone and clamped to a per-modality range (no single comparison is allowed to be
conclusive beyond what the programme trusts it for). The fused score sums the evidence of every
modality both sides have; a modality missing on either side (a declared exception, a failed
capture) adds nothing either way. Irises are judged at the iris gallery's line (HD_norm 0.28):
an eye at or below it gives the evidence of its score, an eye above it the evidence of "no match
at the line" (`iris_nomatch`), so the pruned iris search and an exhaustive one see the same
evidence. The fingers' sum is capped at `FINGER_CAP` (fingers of one person are captured
together and are not independent; the cap also keeps ten fingers from outvoting two irises
and a face that clearly differ).

## Decisions
With likelihood ratios, a threshold of T = log10(1 / FMR) keeps the false match rate of one
comparison at or below FMR whatever modalities are present (Markov's inequality: the expected
likelihood ratio of an impostor pair is 1). Two thresholds: `fmr_duplicate` (default 1e-9) and
`fmr_adjudication` (1e-6). The best candidate at or above the first is a duplicate, at or above
the second an adjudication case, else the resident is unique. `benchmarks/person_calibrate.py`
checks the empirical FMR of both thresholds on generated impostor persons.

## Search order (fast path)
1. irises: the iris gallery's pruned exact search, both eyes in one batch (cheap, exact scores
   for every eye it returns; an eye it does not return is above the line);
2. face: every resident's cosine, one matrix product (exact);
3. fingerprints only where needed: a resident's upper bound U = iris + face + min(FINGER_CAP,
   fingers left x the finger clamp) is below the adjudication threshold for almost everyone;
   the few others are compared finger by finger (best probe fingers first), each step lowering
   U, until U falls below the threshold or every finger is compared (then the score is exact).
A resident dropped by the bound cannot reach the adjudication threshold, so it cannot change the
decision: the fast path decides as the exhaustive fused search (`exhaustive=True`: every eye
in full without pruning, every finger of every resident) does, except where the iris gallery's
pruning (measured-safe, docs/iris.md) loses an eye; `same_decision` compares two results.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InvalidDataError, TemplateFormatError
from ..templates.fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate, matcher_minutiae
from .fingerprint.comparator import FingerprintComparator
from .iris.gallery import CODE_BYTES, IrisGallery

CALIBRATION_FILE = Path(__file__).with_name("calibration_person.json")
#: cap on the fingers' summed evidence (see the module docstring): above the duplicate threshold
#: for FMR 1e-9 (9), so fingers alone can still find a duplicate without irises
FINGER_CAP = 10.0
#: default false match rates per comparison of the two decision thresholds: 1e-9 keeps false
#: duplicates under 1e-4 per search at 100,000 residents; 1e-6 sends the uncertain to a person
FMR_DUPLICATE = 1e-9
FMR_ADJUDICATION = 1e-6
#: iris HD_norm at or below which an eye is a match (the iris gallery's calibrated line)
IRIS_LINE = 0.28
FACE_DIM = 128
#: the order a live resident's fingers are compared in ("cheapest" or "probe", see
#: PersonGallery._finger_plan): the same decisions, "cheapest" builds fewer MCC cylinders
FINGER_ORDER = "cheapest"
EYES = (1, 2)  # ISO/IEC 19794-6 eye labels: 1 right, 2 left
MAX_FINGERS = 10

DECISIONS = ("unique", "duplicate", "adjudication")


class PersonGalleryError(InvalidDataError):
    hint = "check the person gallery file or rebuild it from the centre's database"


# --- templates ------------------------------------------------------------------------------
@dataclass
class PersonTemplates:
    """What the gallery compares for one person; every modality may be missing."""

    fingers: dict[int, FingerprintTemplate] = field(default_factory=dict)  # ISO position 1-10
    irises: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # eye -> (code, mask)
    face: np.ndarray | None = None  # (128,) float32, L2-normalised

    def __post_init__(self):
        if not isinstance(self.fingers, Mapping) or len(self.fingers) > MAX_FINGERS:
            raise InvalidDataError("fingers must map at most ten ISO positions (1-10) to templates")
        fingers = {}
        for pos, t in self.fingers.items():
            if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)) or not 1 <= pos <= 10:
                raise InvalidDataError(f"finger position {pos!r} is not 1-10")
            if isinstance(t, (bytes, bytearray)):
                t = decode_finger(bytes(t))
            if not isinstance(t, FingerprintTemplate):
                raise InvalidDataError(f"finger {pos}: expected a FingerprintTemplate")
            fingers[int(pos)] = t
        self.fingers = fingers
        irises = {}
        for eye, v in dict(self.irises).items():
            if eye not in EYES:
                raise InvalidDataError(f"eye {eye!r} is not 1 (right) or 2 (left)")
            code, mask = (v.code, v.mask) if hasattr(v, "code") else v
            code, mask = np.asarray(code), np.asarray(mask)
            if code.shape != (CODE_BYTES,) or mask.shape != (CODE_BYTES,) \
                    or code.dtype != np.uint8 or mask.dtype != np.uint8:
                raise InvalidDataError(f"eye {eye}: code and mask must be ({CODE_BYTES},) uint8")
            irises[int(eye)] = (code, mask)
        self.irises = irises
        if self.face is not None:
            f = getattr(self.face, "embedding", self.face)
            f = np.asarray(f, dtype=np.float32).reshape(-1)
            if f.shape != (FACE_DIM,) or not np.all(np.isfinite(f)):
                raise InvalidDataError(f"a face embedding is {FACE_DIM} finite floats")
            n = float(np.linalg.norm(f))
            if not 0.99 <= n <= 1.01:
                raise InvalidDataError(f"a face embedding must be L2-normalised (norm {n:.3f})")
            self.face = f

    @property
    def modalities(self) -> list[str]:
        return ([f"finger:{p}" for p in sorted(self.fingers)] + [f"iris:{e}" for e in sorted(self.irises)]
                + (["face"] if self.face is not None else []))


# compact finger storage: version, width, height, ppi, position, n; then per minutia x, y in
# 1/8 px (uint16), angle in 2 pi / 65536 (uint16), type, quality
_FINGER_HEAD = struct.Struct("<BHHHBH")
_FINGER_VERSION = 1
_MIN = np.dtype([("x", "<u2"), ("y", "<u2"), ("a", "<u2"), ("type", "u1"), ("quality", "u1")])


def encode_finger(t: FingerprintTemplate) -> bytes:
    """The compact record of the minutiae biocap-mcc matches (the template's matcher subset: the
    interoperable extras that only other matchers read are not stored in the person gallery)."""
    m = matcher_minutiae(t)
    if len(m) > 1000:
        raise InvalidDataError(f"{len(m)} minutiae; at most 1000 are stored")
    out = np.zeros(len(m), _MIN)
    out["x"] = np.clip(np.round(m["x"] * 8), 0, 65535)
    out["y"] = np.clip(np.round(m["y"] * 8), 0, 65535)
    out["a"] = np.round(np.mod(m["angle"], 2 * np.pi) / (2 * np.pi) * 65536).astype(np.int64) % 65536
    out["type"], out["quality"] = m["type"], m["quality"]
    return _FINGER_HEAD.pack(_FINGER_VERSION, int(t.width), int(t.height), int(round(t.ppi)),
                             int(t.position), len(m)) + out.tobytes()


def decode_finger(data: bytes) -> FingerprintTemplate:
    if len(data) < _FINGER_HEAD.size:
        raise TemplateFormatError("finger record too short")
    v, w, h, ppi, pos, n = _FINGER_HEAD.unpack_from(data)
    if v != _FINGER_VERSION or len(data) != _FINGER_HEAD.size + n * _MIN.itemsize or not w or not h or not ppi:
        raise TemplateFormatError("damaged finger record (version, size or geometry)")
    raw = np.frombuffer(data, _MIN, n, _FINGER_HEAD.size)
    m = np.zeros(n, MINUTIA_DTYPE)
    m["x"], m["y"] = raw["x"] / 8.0, raw["y"] / 8.0
    m["angle"] = raw["a"] * (2 * np.pi / 65536)
    m["type"], m["quality"] = raw["type"], raw["quality"]
    return FingerprintTemplate(minutiae=m, width=w, height=h, ppi=float(ppi), position=pos)


# --- evidence -------------------------------------------------------------------------------
class ScoreModel:
    """log10 likelihood ratio of one modality's score: two normal fits (genuine, impostor) on a
    transformed score, made non-decreasing in the score and clamped to [lo, hi]."""

    def __init__(self, spec: Mapping[str, Any]):
        try:
            self.transform = str(spec["transform"])
            self.genuine = (float(spec["genuine"][0]), float(spec["genuine"][1]))
            self.impostor = (float(spec["impostor"][0]), float(spec["impostor"][1]))
            self.lo, self.hi = float(spec["clamp"][0]), float(spec["clamp"][1])
            grid = spec["grid"]
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise PersonGalleryError(f"bad score model in the person calibration: {exc}") from exc
        if self.transform not in ("identity", "log10"):
            raise PersonGalleryError(f"unknown score transform {self.transform!r}")
        if not (self.genuine[1] > 0 and self.impostor[1] > 0 and self.lo < self.hi):
            raise PersonGalleryError("score model spreads must be > 0 and lo < hi")
        self._x = np.linspace(float(grid[0]), float(grid[1]), 2001)
        llr = self._raw(self._x)
        llr = np.minimum.accumulate(llr[::-1])[::-1]  # non-decreasing: min over the right
        llr = np.maximum.accumulate(llr)
        self._y = np.clip(llr, self.lo, self.hi)

    def _t(self, s):
        s = np.asarray(s, np.float64)
        return np.log10(np.maximum(s, 0) + 1e-4) if self.transform == "log10" else s

    def _raw(self, t):
        (mg, sg), (mi, si) = self.genuine, self.impostor
        lg = -0.5 * ((t - mg) / sg) ** 2 - math.log(sg)
        li = -0.5 * ((t - mi) / si) ** 2 - math.log(si)
        return (lg - li) / math.log(10)

    def __call__(self, score) -> np.ndarray:
        return np.interp(self._t(score), self._x, self._y)


@dataclass
class Calibration:
    finger: ScoreModel
    iris: ScoreModel
    face: ScoreModel
    iris_nomatch: float
    source: str = ""

    @classmethod
    def load(cls, path: str | Path = CALIBRATION_FILE) -> "Calibration":
        try:
            spec = json.loads(Path(path).read_text())
            return cls(ScoreModel(spec["finger"]), ScoreModel(spec["iris"]), ScoreModel(spec["face"]),
                       float(spec["iris_nomatch"]), str(spec.get("source", "")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PersonGalleryError(f"cannot read the person calibration {path}: {exc}") from exc


_CALIBRATION: Calibration | None = None


def default_calibration() -> Calibration:
    global _CALIBRATION
    if _CALIBRATION is None:
        _CALIBRATION = Calibration.load()
    return _CALIBRATION


def threshold_for_fmr(fmr: float) -> float:
    """The fused score for a false match rate per comparison: log10(1 / fmr)."""
    if isinstance(fmr, bool) or not isinstance(fmr, (int, float)) or not 0 < fmr < 1:
        raise InvalidDataError(f"FMR must be in (0, 1), got {fmr!r}")
    return float(-math.log10(fmr))


# --- results --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonCandidate:
    id: str
    score: float  # fused evidence (log10 likelihood ratio)
    evidence: dict[str, float]  # "iris:1", "face", "finger:7" -> evidence
    exact: bool = True  # every shared finger compared (False: the decision was proven first and
    # `score` is a lower bound of the fused score)


@dataclass(frozen=True)
class PersonSearchResult:
    decision: str
    candidates: tuple[PersonCandidate, ...]  # best first: those at or above the adjudication
    # threshold, then the best others, up to top_k
    threshold_duplicate: float
    threshold_adjudication: float
    fmr: tuple[float, float]
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def best(self) -> PersonCandidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def matched(self) -> str | None:
        return self.best.id if self.decision != "unique" and self.best else None

    def as_search_result(self):
        """The same answer as the galleries' contract type (`biocap.plugins.contracts
        .SearchResult`): candidates on the fused scale, the duplicate threshold, and the decision,
        the adjudication threshold and each candidate's evidence in `extra`."""
        from ..plugins.contracts import Candidate, SearchResult

        return SearchResult(tuple(Candidate(c.id, c.score) for c in self.candidates), self.fmr[0],
                            self.threshold_duplicate,
                            {"decision": self.decision, "matched": self.matched,
                             "threshold_adjudication": self.threshold_adjudication,
                             "evidence": {c.id: dict(c.evidence) for c in self.candidates}})

    def to_dict(self) -> dict:
        return {"decision": self.decision, "matched": self.matched,
                "thresholds": {"duplicate": self.threshold_duplicate,
                               "adjudication": self.threshold_adjudication},
                "fmr": {"duplicate": self.fmr[0], "adjudication": self.fmr[1]},
                "candidates": [{"id": c.id, "score": round(c.score, 3), "exact": c.exact,
                                "evidence": {k: round(v, 3) for k, v in c.evidence.items()}}
                               for c in self.candidates],
                "stats": dict(self.stats)}


def same_decision(a: PersonSearchResult, b: PersonSearchResult) -> bool:
    """True when two searches took the same decision about the same resident."""
    return a.decision == b.decision and a.matched == b.matched


def decide(cands: list[PersonCandidate], t_dup: float, t_adj: float) -> str:
    if not cands or cands[0].score < t_adj:
        return "unique"
    return "duplicate" if cands[0].score >= t_dup else "adjudication"


# --- the gallery ----------------------------------------------------------------------------
class PersonGallery:
    """Residents' fingers (compact minutiae), irises (an iris gallery per eye) and faces."""

    def __init__(self, calibration: Calibration | None = None, comparator: FingerprintComparator | None = None):
        self.cal = calibration or default_calibration()
        self.comparator = comparator or FingerprintComparator()
        self.ids: list[str] = []
        self._row: dict[str, int] = {}
        self._fingers: list[dict[int, bytes]] = []
        self._iris = {e: IrisGallery() for e in EYES}
        self._iris_rows = {e: np.zeros(0, np.int64) for e in EYES}  # iris gallery index -> person row
        self._face = np.zeros((0, FACE_DIM), np.float32)
        self._has_face = np.zeros(0, bool)
        self._has_eye = {e: np.zeros(0, bool) for e in EYES}
        self._finger_mask = np.zeros(0, np.uint16)  # bit p-1 set: finger p present
        self._n = 0
        self._enc_cache: dict[tuple[int, int], Any] = {}
        self._pinned: dict[tuple[int, int], Any] = {}  # pin_irisless_fingers: never evicted
        self.finger_order = FINGER_ORDER

    def __len__(self) -> int:
        return self._n

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._row

    @property
    def bytes_per_resident(self) -> float:
        """Memory of the arrays per resident (iris gallery rows, face, finger records)."""
        if not self._n:
            return 0.0
        iris = sum(len(g) * g.bytes_per_entry for g in self._iris.values())
        fingers = sum(len(b) for f in self._fingers for b in f.values())
        return (iris + self._n * (FACE_DIM * 4 + 1 + 2 + 2) + fingers) / self._n

    # -- contents ------------------------------------------------------------------------------
    def add(self, identifier: str, person: PersonTemplates) -> None:
        self.add_many([(identifier, person)])

    def add_many(self, items: Iterable[tuple[str, PersonTemplates]]) -> int:
        rows = []
        for ident, p in items:
            if not isinstance(ident, str) or not 0 < len(ident.encode()) <= 256:
                raise InvalidDataError("a resident id is a non-empty string of at most 256 bytes")
            if ident in self._row or any(ident == r[0] for r in rows):
                raise InvalidDataError(f"resident {ident!r} is already in the gallery")
            if not isinstance(p, PersonTemplates):
                raise InvalidDataError("add PersonTemplates")
            rows.append((ident, p))
        self.add_encoded([(ident, {k: encode_finger(t) for k, t in p.fingers.items()},
                           p.irises, p.face) for ident, p in rows])
        return len(rows)

    def add_encoded(self, rows: Sequence[tuple[str, dict[int, bytes], dict, np.ndarray | None]]) -> None:
        """Bulk add of (id, {position: encode_finger bytes}, {eye: (code, mask)}, face or None)."""
        if not rows:
            return
        m = len(rows)
        base = self._n
        face = np.zeros((m, FACE_DIM), np.float32)
        has_face = np.zeros(m, bool)
        fmask = np.zeros(m, np.uint16)
        eyes = {e: ([], [], []) for e in EYES}
        for k, (ident, fingers, irises, f) in enumerate(rows):
            if ident in self._row:
                raise InvalidDataError(f"resident {ident!r} is already in the gallery")
            self._row[ident] = base + k
            self.ids.append(ident)
            self._fingers.append(dict(fingers))
            for pos in fingers:
                fmask[k] |= 1 << (pos - 1)
            if f is not None:
                face[k], has_face[k] = f, True
            for e, (c, mk) in irises.items():
                eyes[e][0].append(base + k)
                eyes[e][1].append(c)
                eyes[e][2].append(mk)
        for e, (prow, codes, masks) in eyes.items():
            if prow:
                self._iris[e].add_codes(prow, np.asarray(codes, np.uint8), np.asarray(masks, np.uint8))
                self._iris_rows[e] = np.concatenate([self._iris_rows[e], np.asarray(prow, np.int64)])
            self._has_eye[e] = np.concatenate([self._has_eye[e], np.zeros(m, bool)])
            self._has_eye[e][prow] = True
        self._face = np.concatenate([self._face, face])
        self._has_face = np.concatenate([self._has_face, has_face])
        self._finger_mask = np.concatenate([self._finger_mask, fmask])
        self._n += m

    def pin_irisless_fingers(self, start: int = 0) -> int:
        """Build and keep the MCC cylinders of every finger of the residents from row `start` on
        who have fewer than two eyes: with no iris evidence against them, they are the residents
        the bound lets through most often (a face within reach of the adjudication line), and
        building cylinders is what a finger comparison costs. Returns the fingers pinned."""
        k = 0
        for r in range(start, self._n):
            if self._has_eye[1][r] and self._has_eye[2][r]:
                continue
            for pos, rec in self._fingers[r].items():
                if (r, pos) not in self._pinned:
                    self._pinned[(r, pos)] = self.comparator.encode(decode_finger(rec))
                    k += 1
        return k

    def finger_template(self, row: int, pos: int):
        key = (row, pos)
        enc = self._pinned.get(key)
        if enc is not None:
            return enc
        enc = self._enc_cache.get(key)
        if enc is None:
            enc = self.comparator.encode(decode_finger(self._fingers[row][pos]))
            if len(self._enc_cache) > 4096:
                self._enc_cache.clear()
            self._enc_cache[key] = enc
        return enc

    # -- search --------------------------------------------------------------------------------
    def search(self, probe: PersonTemplates, *, fmr: float | tuple[float, float] = (FMR_DUPLICATE, FMR_ADJUDICATION),
               top_k: int = 5, exhaustive: bool | str = False) -> PersonSearchResult:
        """The fused 1:N search of one person. `exhaustive=True`: every eye in full (no pruning)
        and every finger of every resident; `exhaustive="iris"`: every eye in full, fingers
        only where the bound says they can change the decision (exact, much cheaper)."""
        return self.search_many([probe], fmr=fmr, top_k=top_k, exhaustive=exhaustive)[0]

    def search_many(self, probes: Sequence[PersonTemplates], *,
                    fmr: float | tuple[float, float] = (FMR_DUPLICATE, FMR_ADJUDICATION), top_k: int = 5,
                    exhaustive: bool | str = False, timings: dict[str, float] | None = None
                    ) -> list[PersonSearchResult]:
        """`search` of a batch (the gallery is streamed once per batch). `timings`, when given,
        accumulates CPU seconds per stage: "iris", "face", "fingers"."""
        if exhaustive not in (False, True, "iris"):
            raise InvalidDataError("exhaustive is False, True or 'iris'")
        if not isinstance(top_k, int) or top_k < 1:
            raise InvalidDataError(f"top_k must be a positive integer, got {top_k!r}")
        if isinstance(fmr, (int, float)) and not isinstance(fmr, bool):
            fmr = (float(fmr), float(fmr))  # one FMR: one line, decisions unique or duplicate
        if not isinstance(fmr, (tuple, list)) or len(fmr) != 2:
            raise InvalidDataError("fmr is one false match rate or (duplicate FMR, adjudication FMR)")
        t_dup, t_adj = threshold_for_fmr(fmr[0]), threshold_for_fmr(fmr[1])
        if t_dup < t_adj:
            raise InvalidDataError("the duplicate FMR must not be above the adjudication FMR")
        probes = list(probes)
        for p in probes:
            if not isinstance(p, PersonTemplates):
                raise InvalidDataError("probes must be PersonTemplates")
        tm = timings if timings is not None else {}
        known = self._known_evidence(probes, exhaustive, tm)  # (B, n) iris + face, and per-part dicts
        out = []
        t = time.process_time()
        for b, p in enumerate(probes):
            part, iris_ev, face_ev = known[b]
            cands, stats = self._fingers_stage(p, part, iris_ev, face_ev, t_dup, t_adj, top_k, exhaustive is True)
            out.append(PersonSearchResult(decide(cands, t_dup, t_adj), tuple(cands), t_dup, t_adj,
                                          (float(fmr[0]), float(fmr[1])), stats))
        tm["fingers"] = tm.get("fingers", 0.0) + time.process_time() - t
        return out

    def _known_evidence(self, probes, exhaustive, tm):
        """Per probe: (iris + face evidence for every resident, iris evidence per eye, face)."""
        n = self._n
        res = []
        t = time.process_time()
        iris_hits: dict[int, list] = {e: [None] * len(probes) for e in EYES}
        for e in EYES:
            idx = [b for b, p in enumerate(probes) if e in p.irises]
            if not idx or not len(self._iris[e]):
                continue
            codes = np.stack([probes[b].irises[e][0] for b in idx])
            masks = np.stack([probes[b].irises[e][1] for b in idx])
            g = self._iris[e]
            found = (g.exhaustive_codes if exhaustive else g.search_codes)(codes, masks, IRIS_LINE)  # True or "iris"
            for b, r in zip(idx, found):
                iris_hits[e][b] = r
        t1 = time.process_time()
        tm["iris"] = tm.get("iris", 0.0) + t1 - t
        faces = [b for b, p in enumerate(probes) if p.face is not None]
        face_scores = {}
        if faces and n:
            cos = self._face[:n] @ np.stack([probes[b].face for b in faces]).T  # (n, F)
            for j, b in enumerate(faces):
                face_scores[b] = cos[:, j]
        for b, p in enumerate(probes):
            part = np.zeros(n)
            iris_ev: dict[int, np.ndarray] = {}
            for e in EYES:
                r = iris_hits[e][b]
                if r is None:
                    continue
                ev = np.where(self._has_eye[e][:n], self.cal.iris_nomatch, 0.0)
                rows = self._iris_rows[e][r.indices]
                ev[rows] = self.cal.iris(1.0 - r.distances)
                iris_ev[e] = ev
                part += ev
            face_ev = None
            if b in face_scores:
                face_ev = np.where(self._has_face[:n], self.cal.face(face_scores[b]), 0.0)
                part += face_ev
            res.append((part, iris_ev, face_ev))
        tm["face"] = tm.get("face", 0.0) + time.process_time() - t1  # with the evidence arrays
        return res

    def _fingers_stage(self, p, part, iris_ev, face_ev, t_dup, t_adj, top_k, exhaustive):
        n = self._n
        hi, lo = float(self.cal.finger.hi), float(self.cal.finger.lo)
        # probe fingers with the most minutiae first: they settle the bounds soonest
        positions = sorted(p.fingers, key=lambda q: (-len(p.fingers[q]), q))
        # a resident's fused score is at most part + FINGER_CAP: only those at or above
        # t_adj - FINGER_CAP can reach the line (the bound below is computed for them alone)
        rows0 = np.arange(n) if exhaustive or not positions else np.flatnonzero(part >= t_adj - FINGER_CAP)
        pmask = np.uint16(sum(1 << (q - 1) for q in positions))
        common = np.bitwise_count(self._finger_mask[:n] & pmask).astype(np.int64)  # fingers both have
        fsum = np.zeros(n)
        done = np.zeros(n, np.int64)  # fingers compared so far
        fev: dict[int, dict[int, float]] = {}

        def upper(rows):
            return part[rows] + np.minimum(FINGER_CAP, fsum[rows] + (common[rows] - done[rows]) * hi)

        def lower(rows):
            return part[rows] + np.minimum(FINGER_CAP, fsum[rows] + (common[rows] - done[rows]) * lo)

        live = rows0 if exhaustive else rows0[upper(rows0) >= t_adj]
        live = live[common[live] > 0] if positions else live[:0]
        compared = 0
        settled = None
        if live.size:
            # the probe's MCC templates, kept on the probe: several shards searched by one
            # process with the same probe object build them once
            probe_enc: dict[int, Any] = p.__dict__.setdefault("_encoded", {})
            probe_cost = {q: 0 if q in probe_enc else len(p.fingers[q]) for q in positions}
            plan = self._finger_plan(live, positions, probe_cost, exhaustive)
            for step in range(len(positions)):
                if not exhaustive:
                    live = live[upper(live) >= t_adj]
                    settled = self._settled(live, lower, upper, t_dup)
                    if settled is not None:
                        break
                groups: dict[int, list[int]] = {}
                for r in live.tolist():
                    if step < len(plan[r]):
                        groups.setdefault(plan[r][step], []).append(r)
                for q in sorted(groups):
                    have = np.asarray(groups[q], np.int64)
                    if q not in probe_enc:
                        probe_enc[q] = self.comparator.encode(p.fingers[q])
                    cands = [self.finger_template(int(r), q) for r in have]
                    scores = np.zeros(have.size, np.float32)
                    for s in range(0, have.size, 256):
                        prep = self.comparator.prepare_many(cands[s:s + 256])
                        ok = np.array([c.enrollable for c in cands[s:s + 256]])
                        scores[s:s + 256] = self.comparator.compare_prepared(probe_enc[q], prep, ok)
                    compared += have.size
                    ev = self.cal.finger(scores)
                    fsum[have] += ev
                    done[have] += 1
                    for r, v in zip(have.tolist(), ev.tolist()):
                        fev.setdefault(r, {})[q] = v
            if settled is None and not exhaustive:
                settled = self._settled(live[upper(live) >= t_adj], lower, upper, t_dup)
        exact = done == common
        score = part + np.minimum(FINGER_CAP, fsum)
        shown = exact.copy()
        if settled is not None:  # the decision is proven before every finger was compared: the
            score[settled] = lower(np.array([settled]))[0]  # winner's score is its lower bound
            shown[settled] = True
        # report: every resident scored at or above the threshold, then the best others
        order = np.argsort(-np.where(shown, score, -np.inf), kind="stable")
        n_above = int(np.sum(shown & (score >= t_adj)))
        keep = [int(r) for r in order[:max(top_k, n_above)] if shown[r]] if n else []
        cands = []
        for r in keep:
            ev = {}
            for e, arr in iris_ev.items():
                if self._has_eye[e][r]:
                    ev[f"iris:{e}"] = float(arr[r])
            if face_ev is not None and self._has_face[r]:
                ev["face"] = float(face_ev[r])
            for q, v in sorted(fev.get(r, {}).items()):
                ev[f"finger:{q}"] = float(v)
            cands.append(PersonCandidate(self.ids[r], float(score[r]), ev, bool(exact[r])))
        cands.sort(key=lambda c: (-c.score, c.id))
        stats = {"residents": n, "finger_comparisons": int(compared),
                 "finger_bound_needed": int(np.sum(done > 0)),
                 "iris_probe_eyes": len(iris_ev), "face": int(face_ev is not None)}
        return cands[:max(top_k, sum(c.score >= t_adj for c in cands))], stats

    def _finger_plan(self, live: np.ndarray, positions: list[int], probe_cost: dict[int, int],
                     exhaustive: bool) -> dict[int, list[int]]:
        """Per live resident, the order its fingers are compared in: the fingers both sides have,
        fewest minutiae first over the resident's finger and the probe's when its cylinders are
        not built yet (`FINGER_ORDER` "cheapest": building a finger's MCC cylinders is the cost,
        and ruling out an impostor takes the same number of comparisons whichever fingers,
        `docs/decisions/22-dedup-throughput.md`);
        "probe": the probe's fingers with the most minutiae first, for every resident. Either
        order gives the same decisions (every step keeps the bound exact)."""
        if self.finger_order == "probe" or exhaustive:
            return {r: [q for q in positions if self._fingers[r].get(q) is not None] for r in live.tolist()}
        plan = {}
        # cost of a comparison ~ the gallery finger's minutiae + the probe finger's when its
        # cylinders are not built yet (they are shared by every resident compared on that finger)
        for r in live.tolist():
            f = self._fingers[r]
            plan[r] = sorted((q for q in positions if q in f),
                             key=lambda q: (_FINGER_HEAD.unpack_from(f[q])[5] + probe_cost[q], q))
        return plan

    @staticmethod
    def _settled(live, lower, upper, t_dup):
        """The row whose lower bound already makes it the duplicate every exhaustive search would
        name (at or above the duplicate threshold, above every other live resident's upper bound),
        or None."""
        if not live.size:
            return None
        lb = lower(live)
        k = int(np.argmax(lb))
        if lb[k] < t_dup:
            return None
        if live.size > 1:
            ub = upper(live)
            ub[k] = -np.inf
            if ub.max() >= lb[k]:
                return None
        return int(live[k])

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Versioned, checksummed file (header JSON + arrays + finger records; never pickle)."""
        n = self._n
        blobs, offs = [], [0]
        for f in self._fingers:
            for pos in sorted(f):
                blobs.append(bytes([pos]) + struct.pack("<H", len(f[pos])) + f[pos])
            offs.append(offs[-1] + sum(3 + len(f[pos]) for pos in f))
        parts = [("face", self._face[:n].tobytes()), ("has_face", self._has_face[:n].tobytes()),
                 ("fingers", b"".join(blobs)), ("finger_offsets", np.asarray(offs, "<i8").tobytes())]
        for e in EYES:
            g = self._iris[e]
            parts += [(f"iris{e}_rows", np.asarray(self._iris_rows[e], "<i8").tobytes()),
                      (f"iris{e}_codes", np.ascontiguousarray(g.codes[:len(g)]).tobytes()),
                      (f"iris{e}_masks", np.ascontiguousarray(g.masks[:len(g)]).tobytes())]
        ids = json.dumps(self.ids).encode()
        parts.append(("ids", ids))
        header = json.dumps({"format": "biocap-person-gallery", "version": 1, "n": n,
                             "parts": [[k, len(v), zlib.crc32(v)] for k, v in parts]}).encode()
        data = b"BIOCAPPG" + struct.pack("<I", len(header)) + header + b"".join(v for _, v in parts)
        digest = hashlib.sha256(data).digest()
        Path(path).write_bytes(data + digest)

    @classmethod
    def load(cls, path: str | Path, calibration: Calibration | None = None) -> "PersonGallery":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PersonGalleryError(f"cannot read {path}: {exc}") from exc
        if len(data) < 44 or data[:8] != b"BIOCAPPG" or hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise PersonGalleryError(f"{path} is not an intact person gallery (magic or checksum)")
        (hl,) = struct.unpack_from("<I", data, 8)
        try:
            header = json.loads(data[12:12 + hl])
            if header.get("format") != "biocap-person-gallery" or header.get("version") != 1:
                raise ValueError("unknown format or version")
            parts, pos = {}, 12 + hl
            for k, size, crc in header["parts"]:
                parts[k] = data[pos:pos + size]
                if len(parts[k]) != size or zlib.crc32(parts[k]) != crc:
                    raise ValueError(f"part {k} is damaged")
                pos += size
            n = int(header["n"])
            ids = json.loads(parts["ids"])
            face = np.frombuffer(parts["face"], np.float32).reshape(n, FACE_DIM)
            has_face = np.frombuffer(parts["has_face"], bool)
            offs = np.frombuffer(parts["finger_offsets"], "<i8")
            blob = parts["fingers"]
            fingers = []
            for k in range(n):
                f, q = {}, int(offs[k])
                while q < offs[k + 1]:
                    p_, ln = blob[q], struct.unpack_from("<H", blob, q + 1)[0]
                    f[p_] = bytes(blob[q + 3:q + 3 + ln])
                    q += 3 + ln
                fingers.append(f)
            irises = [{} for _ in range(n)]
            for e in EYES:
                rows = np.frombuffer(parts[f"iris{e}_rows"], "<i8")
                codes = np.frombuffer(parts[f"iris{e}_codes"], np.uint8).reshape(-1, CODE_BYTES)
                masks = np.frombuffer(parts[f"iris{e}_masks"], np.uint8).reshape(-1, CODE_BYTES)
                for r, c, m in zip(rows.tolist(), codes, masks):
                    irises[r][e] = (c, m)
            if len(ids) != n or len(fingers) != n:
                raise ValueError("counts disagree")
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
            raise PersonGalleryError(f"{path}: damaged person gallery ({exc})") from exc
        g = cls(calibration)
        g.add_encoded([(ids[k], fingers[k], irises[k], face[k] if has_face[k] else None) for k in range(n)])
        return g


__all__ = ["PersonGallery", "PersonTemplates", "PersonCandidate", "PersonSearchResult", "Calibration",
           "ScoreModel", "threshold_for_fmr", "same_decision", "encode_finger", "decode_finger",
           "person_to_bytes", "person_from_bytes", "person_parts", "FINGER_CAP", "FMR_DUPLICATE", "FMR_ADJUDICATION", "DECISIONS"]


# --- one person's templates as bytes (the centre's storage and the Dask tasks' payload) -------
_PERSON_MAGIC = b"BPT1"


def person_to_bytes(p: PersonTemplates) -> bytes:
    """Versioned, checksummed bytes of a PersonTemplates (no pickle)."""
    out = [bytes([len(p.fingers)])]
    for pos in sorted(p.fingers):
        rec = encode_finger(p.fingers[pos])
        out.append(struct.pack("<BI", pos, len(rec)) + rec)
    out.append(bytes([len(p.irises)]))
    for e in sorted(p.irises):
        c, m = p.irises[e]
        out.append(bytes([e]) + c.tobytes() + m.tobytes())
    out.append(b"\x01" + p.face.astype("<f4").tobytes() if p.face is not None else b"\x00")
    body = b"".join(out)
    return _PERSON_MAGIC + struct.pack("<I", zlib.crc32(body)) + body


def person_from_bytes(data: bytes) -> PersonTemplates:
    """The PersonTemplates of `person_to_bytes`; damaged bytes raise PersonGalleryError."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 9 or data[:4] != _PERSON_MAGIC \
            or struct.unpack_from("<I", data, 4)[0] != zlib.crc32(data[8:]):
        raise PersonGalleryError("damaged person templates (magic or checksum)")
    return _person_from_bytes(bytes(data))


def person_parts(data: bytes) -> tuple[dict[int, bytes], dict[int, tuple], np.ndarray | None]:
    """(finger records, irises, face) of `person_to_bytes` output, fingers left encoded: what
    `PersonGallery.add_encoded` takes (loading a gallery need not decode every minutia)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 9 or data[:4] != _PERSON_MAGIC \
            or struct.unpack_from("<I", data, 4)[0] != zlib.crc32(data[8:]):
        raise PersonGalleryError("damaged person templates (magic or checksum)")
    data = bytes(data)
    try:
        q = 8
        n_f = data[q]
        q += 1
        fingers = {}
        for _ in range(n_f):
            pos, ln = struct.unpack_from("<BI", data, q)
            q += 5
            if not 1 <= pos <= 10 or ln > 16384 or q + ln > len(data):
                raise ValueError("finger record position or length")
            fingers[pos] = data[q:q + ln]
            q += ln
        n_i = data[q]
        q += 1
        irises = {}
        for _ in range(n_i):
            e = data[q]
            if e not in EYES or q + 1 + 2 * CODE_BYTES > len(data):
                raise ValueError("eye label or length")
            c = np.frombuffer(data, np.uint8, CODE_BYTES, q + 1).copy()
            m = np.frombuffer(data, np.uint8, CODE_BYTES, q + 1 + CODE_BYTES).copy()
            irises[e] = (c, m)
            q += 1 + 2 * CODE_BYTES
        face = None
        if data[q] == 1:
            face = np.frombuffer(data, "<f4", FACE_DIM, q + 1).astype(np.float32)
            q += 1 + 4 * FACE_DIM
        else:
            q += 1
        if q != len(data):
            raise ValueError("trailing bytes")
        return fingers, irises, face
    except (ValueError, IndexError, struct.error) as exc:
        raise PersonGalleryError(f"damaged person templates ({exc})") from exc


def _person_from_bytes(data: bytes) -> PersonTemplates:
    fingers, irises, face = person_parts(data)
    return PersonTemplates(fingers={p: decode_finger(b) for p, b in fingers.items()}, irises=irises, face=face)
