"""Person-level score over several fingers (up to ten), robust to missing fingers.

Each finger's comparison score is turned into evidence: -log10 of the false match rate at that
score, read from the comparator's impostor calibration table (`threshold_for_fmr`'s table). The
person score is the sum of the evidence of the fingers compared. Under independence of fingers
this is the -log10 of the product of the fingers' FMRs, so it keeps one meaning however many
fingers were available: a missing finger (amputated, bandaged, failed to enrol, not captured)
adds no evidence either way instead of counting as a mismatch, and a threshold on the person
score is a threshold on the product of FMRs.

    fuse_fingers({2: 0.31, 7: 0.12, 3: None})        # right index, left index, right middle missing
    -> FusionResult(score=..., fingers_used=2, evidence={2: ..., 7: ...})
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..errors import InvalidDataError
from .fingerprint.comparator import FingerprintComparator

METHODS = ("evidence-sum", "max", "mean")


@dataclass(frozen=True)
class FusionResult:
    score: float
    fingers_used: int
    evidence: dict[int, float] = field(default_factory=dict)
    method: str = "evidence-sum"


class ScoreEvidence:
    """Maps a finger score to -log10(FMR) by the calibration table (monotone, interpolated)."""

    def __init__(self, table: list[tuple[float, float]] | None = None):
        rows = table if table is not None else FingerprintComparator().calibration()
        if not rows:
            raise InvalidDataError("the calibration table is empty")
        rows = sorted(rows, key=lambda r: r[1])  # by threshold, ascending (FMR descending)
        thr = np.array([r[1] for r in rows], np.float64)
        ev = -np.log10(np.array([r[0] for r in rows], np.float64))
        # anchor: a score of 0 is no evidence (FMR 1)
        self._thr = np.concatenate([[0.0], thr])
        self._ev = np.concatenate([[0.0], ev])
        self.max_evidence = float(ev.max())

    def __call__(self, score: float) -> float:
        return float(np.interp(score, self._thr, self._ev))  # flat beyond the last calibrated FMR


def fuse_fingers(scores: Mapping[int, float | None], method: str = "evidence-sum",
                 evidence: ScoreEvidence | None = None) -> FusionResult:
    """Fuse per-finger scores (finger position 1..10 -> score, or None when missing)."""
    if method not in METHODS:
        raise InvalidDataError(f"unknown fusion method {method!r}; choose one of {', '.join(METHODS)}")
    if not isinstance(scores, Mapping):
        raise InvalidDataError("scores must map finger positions (1-10) to scores or None")
    if len(scores) > 10:
        raise InvalidDataError(f"{len(scores)} fingers given; a person has at most ten")
    present: dict[int, float] = {}
    for pos, s in scores.items():
        if isinstance(pos, bool) or not isinstance(pos, (int, np.integer)) or not 1 <= int(pos) <= 10:
            raise InvalidDataError(f"finger position {pos!r} is not 1-10 (ISO/IEC 19794 codes)")
        if s is None or (isinstance(s, float) and math.isnan(s)):
            continue  # missing finger: no evidence either way
        if not isinstance(s, (int, float, np.floating, np.integer)) or not np.isfinite(s) or s < 0:
            raise InvalidDataError(f"score {s!r} of finger {pos} is not a finite score >= 0")
        present[int(pos)] = float(s)
    if not present:
        return FusionResult(0.0, 0, {}, method)
    if method == "max":
        return FusionResult(max(present.values()), len(present), dict(present), method)
    if method == "mean":
        return FusionResult(float(np.mean(list(present.values()))), len(present), dict(present), method)
    ev = evidence or _default_evidence()
    per = {p: ev(s) for p, s in present.items()}
    return FusionResult(float(sum(per.values())), len(present), per, method)


_EVIDENCE: ScoreEvidence | None = None


def _default_evidence() -> ScoreEvidence:
    global _EVIDENCE
    if _EVIDENCE is None:
        _EVIDENCE = ScoreEvidence()
    return _EVIDENCE


def person_threshold(fmr: float) -> float:
    """The person score that corresponds to a (product-of-fingers) false match rate."""
    if not (isinstance(fmr, (int, float)) and 0 < fmr < 1):
        raise InvalidDataError(f"FMR must be in (0, 1), got {fmr!r}")
    return float(-math.log10(fmr))
