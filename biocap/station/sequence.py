"""Sequence check: are the fingers where the desk says they are?

Each finger captured alone (the references: e-KTP's index fingers) is compared 1:1 with every
segmented finger of each slap, and with the other fingers captured alone:
- `out_of_place`: a reference matches a slap finger at another position clearly better than the
  slap's finger at its own position (a wrong hand, a swapped slap, a wrong finger alone);
- `mismatch`: the slap's finger at the reference's position does not match it at all;
- `duplicate`: two fingers captured alone are the same finger (a finger placed twice).
Slap fingers are not compared with each other (ten fingers of one person would make ~45
impostor pairs per enrollment for no extra evidence).

Thresholds come from the comparator's shipped calibration (FVC impostors): see the constants.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..types import FingerPosition

MISMATCH_FMR = 1e-1  # own-position score below this threshold: nothing of the finger is there
DUPLICATE_FMR = 1e-4  # a reference matching a finger at another position: at least this strong
RATIO = 3.0  # ... and this many times its own position's score (a genuine own score wins)
STRONG_FACTOR = 3.0  # a slap without the reference's position: the cross match must reach this
# many times the DUPLICATE_FMR threshold (no own score to weigh it against; synthetic impostor
# tails run above the FVC calibration's)


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
    mismatch_threshold: float
    duplicate_threshold: float

    @classmethod
    def from_comparator(cls, comparator: Any) -> "SequenceChecker":
        return cls(comparator, float(comparator.threshold_for_fmr(MISMATCH_FMR)),
                   float(comparator.threshold_for_fmr(DUPLICATE_FMR)))

    @property
    def strong_threshold(self) -> float:
        return STRONG_FACTOR * self.duplicate_threshold

    def prepare(self, template: Any) -> Any:
        """A template in the comparator's fastest form (encoded once, compared many times)."""
        encode = getattr(self.comparator, "encode", None)
        return encode(template) if encode is not None else template

    def check_slap(self, slap: Mapping[int, Any], references: Mapping[int, Any]) -> list[Finding]:
        """Findings for a slap's segmented fingers {position: template} against the fingers
        captured alone {position: template}."""
        findings = []
        cmp = self.comparator.compare
        for p, r in references.items():
            own = float(cmp(r, slap[p])) if p in slap else None
            cross = {q: float(cmp(r, t)) for q, t in slap.items() if q != p}
            best = max(cross, key=cross.get) if cross else None
            if best is not None:
                score = cross[best]
                if own is None and score >= self.strong_threshold:
                    findings.append(Finding("out_of_place", best, p, score, ""))
                    continue
                if own is not None and score >= self.duplicate_threshold and score > RATIO * own:
                    findings.append(Finding("out_of_place", best, p, score, ""))
                    continue
            if own is not None and own < self.mismatch_threshold:
                findings.append(Finding("mismatch", p, p, own, ""))
        return [self._explain(f) for f in findings]

    def check_single(self, position: int, template: Any, references: Mapping[int, Any],
                     slaps: list[Mapping[int, Any]] = ()) -> list[Finding]:
        """Findings for a finger captured alone: the same finger as another captured alone, or
        out of place against slaps accepted before it."""
        findings = []
        for q, u in references.items():
            if q == position:
                continue
            score = float(self.comparator.compare(template, u))
            if score >= self.duplicate_threshold:
                findings.append(self._explain(Finding("duplicate", position, q, score, "")))
        for slap in slaps:
            findings += self.check_slap(slap, {position: template})
        return findings

    @staticmethod
    def _explain(f: Finding) -> Finding:
        if f.kind == "mismatch":
            msg = (f"the {_name(f.position)} in the slap does not match the {_name(f.other)} "
                   "captured alone: wrong hand, swapped slap or wrong finger: check and retake")
        elif f.kind == "out_of_place":
            msg = (f"the {_name(f.other)} captured alone matches the finger in the slap's "
                   f"{_name(f.position)} place: wrong hand, swapped slap or a wrong finger "
                   "alone: check which hand and finger, and retake")
        else:
            msg = (f"the {_name(f.position)} captured alone is the same finger as the "
                   f"{_name(f.other)}: a finger was placed twice: retake with the right finger")
        return Finding(f.kind, f.position, f.other, f.score, msg)
