"""Sequence check: are the fingers where the desk says they are?

Every finger of a new capture (the segmented fingers of a slap, or a finger taken alone) is
compared 1:1 with the fingers already accepted in this enrollment:
- same position, no match: `mismatch` (a wrong hand, a swapped slap, a wrong finger alone);
- different positions, a match: `duplicate` (the same finger placed twice, or fingers out of
  order; the message names where the finger really is).
A wrong hand on a four-finger slap fails both ways: its index does not match the index taken
alone, and usually matches a finger of the other hand.

Thresholds come from the comparator's shipped calibration: a same-position pair must reach the
threshold at MATCH_FMR (a lenient one, so a genuine pair of a slap fingertip and a flat finger is
rarely refused), a cross-position pair is a duplicate at DUPLICATE_FMR (a strict one, since an
enrollment makes about 50 such comparisons).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..types import FingerPosition

MATCH_FMR = 1e-2  # same position must match at least this well (FNMR is what counts here)
DUPLICATE_FMR = 1e-4  # ~50 cross-position pairs per enrollment: a false flag in ~1 of 200


@dataclass(frozen=True)
class Finding:
    kind: str  # "mismatch" or "duplicate"
    position: int  # the new capture's finger
    other: int  # the accepted finger it was compared with
    score: float
    message: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "position": self.position, "other": self.other,
                "score": round(self.score, 6), "message": self.message}


def _name(p: int) -> str:
    return FingerPosition(p).name.lower().replace("_", " ")


@dataclass
class SequenceChecker:
    comparator: Any
    match_threshold: float
    duplicate_threshold: float

    @classmethod
    def from_comparator(cls, comparator: Any) -> "SequenceChecker":
        return cls(comparator, float(comparator.threshold_for_fmr(MATCH_FMR)),
                   float(comparator.threshold_for_fmr(DUPLICATE_FMR)))

    def prepare(self, template: Any) -> Any:
        """A template in the comparator's fastest form (encoded once, compared many times)."""
        encode = getattr(self.comparator, "encode", None)
        return encode(template) if encode is not None else template

    def check(self, new: Mapping[int, Any], accepted: Mapping[int, Any],
              *, within_new: bool = True) -> list[Finding]:
        """Findings for the new fingers {position: template} against the accepted ones (and,
        with `within_new`, among themselves). Templates may be prepared (`prepare`)."""
        findings: list[Finding] = []
        cmp = self.comparator.compare
        for p, t in new.items():
            best_other, best_score = None, -1.0
            for q, u in accepted.items():
                score = float(cmp(t, u))
                if q == p:
                    if score < self.match_threshold:
                        findings.append(Finding("mismatch", p, q, score, ""))
                elif score >= self.duplicate_threshold and score > best_score:
                    best_other, best_score = q, score
            if within_new:
                for q, u in new.items():
                    if q > p:
                        score = float(cmp(t, u))
                        if score >= self.duplicate_threshold and score > best_score:
                            best_other, best_score = q, score
            if best_other is not None:
                findings.append(Finding("duplicate", p, best_other, best_score, ""))
        return [self._explain(f, findings) for f in findings]

    @staticmethod
    def _explain(f: Finding, all_: list[Finding]) -> Finding:
        if f.kind == "mismatch":
            where = [g.other for g in all_ if g.kind == "duplicate" and g.position == f.position]
            also = f"; it matches the {_name(where[0])} instead" if where else ""
            msg = (f"the {_name(f.position)} does not match the {_name(f.other)} captured before"
                   f"{also}: wrong hand, swapped slap or wrong finger: check and retake")
        else:
            msg = (f"the finger captured as {_name(f.position)} matches the {_name(f.other)}: the "
                   "same finger was placed twice or the fingers are out of order: retake")
        return Finding(f.kind, f.position, f.other, f.score, msg)
