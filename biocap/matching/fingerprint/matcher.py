"""biocap's fingerprint 1:1 matcher: Minutia Cylinder-Code (bit-based) with LSS-R, then a
second-stage global minutiae pairing (`pairing`): score = LSS-R x paired fraction.

`MccMatcher` is everything the comparator and its gallery share (encoding, 1:1 scores, decision
thresholds); `comparator.FingerprintComparator` adds the `gallery()` factory on top, so the
gallery depends on this module and never on the comparator.

    from biocap.matching.fingerprint import FingerprintComparator
    cmp = FingerprintComparator()
    score = cmp.compare(template_a, template_b)          # 0..1, higher = more alike
    accept = score >= cmp.threshold_for_fmr(1e-3)
    scores = cmp.compare_many(probe, candidates)        # one probe against many, batched

Encode a template once (`cmp.encode`) when it is compared more than once: building its cylinders
costs ~6 ms, a comparison of two encoded templates ~1 ms. Templates of any resolution are
compared (normalized to 500 ppi). ISO/ANSI records (bytes) are
decoded with `biocap.templates.formats.decode`. See
docs/matching.md for the algorithm and the reasons for choosing it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ...errors import InvalidDataError, NoProvider, TemplateFormatError
from ...templates.fingerprint.template import FingerprintTemplate
from ...templates.formats import decode
from ...types import Modality
from . import mcc
from .pairing import DEFAULT_PAIRING, PairingParams
from .params import MATCHER_PARAMS, MAX_CYLINDERS, MAX_MINUTIAE, MIN_MINUTIAE  # noqa: F401


CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass
class MccTemplate:
    """A template prepared for matching (its cylinders); reuse it across compares."""

    cylinders: mcc.CylinderSet
    n_minutiae: int
    xyt: np.ndarray  # (n, 3) all minutiae in the matching frame
    _prepared: Any = None  # the cylinders packed as a probe (`probe_prepared`), made on first use

    def probe_prepared(self, params: mcc.MccParams) -> mcc.Prepared:
        """The cylinders packed for the kernels as a probe, kept for the next comparison."""
        if self._prepared is None or self._prepared[0] != params:
            self._prepared = (params, mcc.prepare_sets([self.cylinders], params))
        return self._prepared[1]

    @property
    def enrollable(self) -> bool:
        return self.n_minutiae >= MIN_MINUTIAE and len(self.cylinders) > 0


def as_template(obj: Any) -> FingerprintTemplate:
    """A FingerprintTemplate from a template or an ISO/ANSI record (bytes)."""
    if isinstance(obj, FingerprintTemplate):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        decoded = decode(bytes(obj))
        views = _views(decoded)
        if len(views) != 1:
            raise TemplateFormatError(f"the record holds {len(views)} finger views; compare one view",
                                      hint="pick the view to compare from the decoded record")
        return views[0]
    raise InvalidDataError(f"expected a FingerprintTemplate or record bytes, got {type(obj).__name__}")


def _views(decoded: Any) -> list[FingerprintTemplate]:
    if isinstance(decoded, FingerprintTemplate):
        return [decoded]
    if isinstance(decoded, (list, tuple)):
        return [v for v in decoded if isinstance(v, FingerprintTemplate)]
    for attr in ("views", "templates"):
        if hasattr(decoded, attr):
            return [v for v in getattr(decoded, attr) if isinstance(v, FingerprintTemplate)]
    raise TemplateFormatError(f"the codec returned {type(decoded).__name__}, not finger views")


def encode(template: Any, params: mcc.MccParams = MATCHER_PARAMS,
           max_cylinders: int = MAX_CYLINDERS) -> MccTemplate:
    """Prepare a template (or record bytes) for matching."""
    if isinstance(template, MccTemplate):
        return template
    t = as_template(template)
    if len(t) > MAX_MINUTIAE:
        raise InvalidDataError(f"template has {len(t)} minutiae; at most {MAX_MINUTIAE} are accepted",
                               hint="check the extractor; a finger has well under 200 minutiae")
    xyt = mcc.matching_frame(t)
    return MccTemplate(mcc.build_cylinders(xyt, params, max_cylinders=max_cylinders),
                       len(xyt), xyt.astype(np.float32))


class MccMatcher:
    """The `biocap-mcc` 1:1 matcher: encoding, scores and thresholds (no gallery factory)."""

    name = "biocap-mcc"
    modality = Modality.FINGERPRINT

    def __init__(self, params: mcc.MccParams = MATCHER_PARAMS, max_cylinders: int = MAX_CYLINDERS,
                 pairing: PairingParams | None = DEFAULT_PAIRING):
        self.params = params
        self.max_cylinders = int(max_cylinders)
        #: second-stage consolidation (None: LSS-R alone, as the 1:N gallery scores)
        self.pairing = pairing
        self._calibration: list[tuple[float, float]] | None = None

    def encode(self, template: Any) -> MccTemplate:
        """A template (or record bytes) prepared for matching; reuse it across compares."""
        return encode(template, self.params, self.max_cylinders)

    def compare(self, a: Any, b: Any) -> float:
        """Similarity 0..1 of two templates (FingerprintTemplate, record bytes or MccTemplate)."""
        return float(self.compare_many(a, [b])[0])

    def compare_many(self, probe: Any, candidates: Sequence[Any]) -> np.ndarray:
        """Scores of one probe against many candidates, computed as one batch."""
        p = self.encode(probe)
        cands = [self.encode(c) for c in candidates]
        out = np.zeros(len(cands), np.float32)
        if not p.enrollable or not cands:
            return out
        ok = [k for k, c in enumerate(cands) if c.enrollable]
        if ok:
            prep_p = p.probe_prepared(self.params)
            prep_c = mcc.prepare_sets([cands[k].cylinders for k in ok], self.params, self.max_cylinders)
            out[ok] = mcc.compare_prepared(prep_p, prep_c, self.params, pairing=self.pairing)
        return out

    def prepare_many(self, encoded: Iterable[MccTemplate]) -> mcc.Prepared:
        """Candidates prepared once, for repeated `compare_prepared` (benchmarks, all-pairs)."""
        return mcc.prepare_sets([e.cylinders for e in encoded], self.params, self.max_cylinders)

    def compare_prepared(self, probe: MccTemplate, prepared: mcc.Prepared,
                         enrollable: np.ndarray | None = None) -> np.ndarray:
        """Scores of an encoded probe against candidates prepared by `prepare_many`."""
        if not probe.enrollable:
            return np.zeros(len(prepared), np.float32)
        out = mcc.compare_prepared(probe.probe_prepared(self.params), prepared, self.params,
                                   pairing=self.pairing)
        if enrollable is not None:
            out = np.where(enrollable, out, 0.0).astype(np.float32)
        return out

    # --- decision thresholds -------------------------------------------------------------------
    def calibration(self) -> list[tuple[float, float]]:
        """(fmr, threshold) rows, FMR descending, from the shipped impostor-score table."""
        if self._calibration is None:
            self._calibration = load_calibration(CALIBRATION_FILE)
        return self._calibration

    def threshold_for_fmr(self, fmr: float) -> float:
        """The lowest score threshold whose false match rate on the calibration impostors is at
        most `fmr` (accept when score >= threshold)."""
        if not (isinstance(fmr, (int, float)) and 0 < fmr < 1):
            raise InvalidDataError(f"FMR must be a number in (0, 1), got {fmr!r}")
        rows = self.calibration()
        lowest = rows[-1][0]
        if fmr < lowest:
            raise InvalidDataError(
                f"FMR {fmr:g} is below what the calibration resolves ({lowest:g})",
                hint="calibrate on more impostor comparisons (benchmarks/bench_fingerprint_matching.sh)")
        fmrs = np.array([r[0] for r in rows])
        thr = np.array([r[1] for r in rows])
        k = int(np.searchsorted(-fmrs, -fmr, side="left"))  # first row with table fmr <= fmr
        return float(thr[min(k, len(thr) - 1)])


def load_calibration(path: Path) -> list[tuple[float, float]]:
    """(fmr, threshold) rows of a calibration table, FMR descending."""
    try:
        data = json.loads(Path(path).read_text())
        rows = [(float(f), float(t)) for f, t in data["fmr_threshold"]]
    except FileNotFoundError as exc:
        raise NoProvider(f"calibration table {path} is missing",
                         hint="run benchmarks/bench_fingerprint_matching.sh to make it") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidDataError(f"calibration table {path} is malformed: {exc}") from exc
    if not rows:
        raise InvalidDataError(f"calibration table {path} is empty")
    rows.sort(key=lambda r: -r[0])
    return rows


def calibration_table(impostor_scores: np.ndarray, matcher: str = "biocap-mcc",
                      source: str = "") -> dict:
    """The JSON calibration table from impostor scores: for FMR targets down to 1/n, the lowest
    threshold whose impostor acceptance rate is at most the target."""
    s = np.sort(np.asarray(impostor_scores, np.float64))[::-1]
    n = len(s)
    if n < 100:
        raise InvalidDataError(f"{n} impostor scores are too few to calibrate (need >= 100)")
    rows = []
    for fmr in [0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5]:
        allowed = int(np.floor(fmr * n))  # impostors that may score at/above the threshold
        if allowed < 1:
            break
        # threshold just above the (allowed+1)-th highest impostor score
        thr = float(np.nextafter(s[allowed], np.inf))
        rows.append([fmr, thr])
    return {"matcher": matcher, "n_impostor": n, "source": source, "fmr_threshold": rows}
