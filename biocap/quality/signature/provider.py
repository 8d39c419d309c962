"""`SignatureQuality`: is one captured signature usable, and if not, what to tell the person.

Measures (each with its limit and whether it is met): duration, inked path length, pen-down
points, pen-down share of the time, pressure present, sampling gaps and rate steadiness, points
outside the pad. The 0-100 score is the geometric mean of per-measure sub-scores (1 when the good
value is reached, falling linearly to 0 at the limit), so one failed measure pulls the score
down on its own; a failed measure adds its feedback code.

Pad geometry comes from `sample.metadata["pad"]` = {"width": units, "height": units,
"units_per_mm": float} when the driver gives it; without it, the edge check is skipped (reported
as not measured) and DEFAULT_UNITS_PER_MM converts lengths.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidSample
from ...types import Modality, PenSeries, Sample, require_sample
from ..report import Feedback, Measure, QualityReport
from . import params as P

MESSAGES = {
    "too_short": "The signature is too short: ask the person to sign in full, at their usual pace.",
    "too_few_points": "Too few pen points were recorded: ask the person to sign again, pressing "
                      "the pen on the pad.",
    "pen_lifted": "The pen was off the pad most of the time: ask the person to keep the pen on the "
                  "pad while signing.",
    "no_pressure": "The pad reported no pen pressure: check the pen (battery, tip) or the pad "
                   "settings, then sign again.",
    "sampling_gaps": "The pad dropped samples or sampled irregularly: check the cable and the pad, "
                     "then sign again.",
    "outside_pad": "Part of the signature went outside the signing area: ask the person to sign "
                   "inside the box.",
}


def _ramp(value: float, good: float, bad: float) -> float:
    if good == bad:
        return 1.0 if value >= good else 0.0
    return float(min(1.0, max(0.0, (value - bad) / (good - bad))))


def _pad_info(sample: Sample | None) -> dict[str, float]:
    pad = (sample.metadata.get("pad") if sample is not None else None) or {}
    if not isinstance(pad, dict):
        return {}
    out = {}
    for k in ("width", "height", "units_per_mm"):
        v = pad.get(k)
        if isinstance(v, (int, float)) and np.isfinite(v) and v > 0:
            out[k] = float(v)
    return out


def pen_measures(pen: PenSeries, pad: dict[str, float] | None = None) -> dict[str, Any]:
    """The raw measures of one pen series (plain numbers; None where not measurable)."""
    if not isinstance(pen, PenSeries):
        raise InvalidSample(f"expected a PenSeries, got {type(pen).__name__}")
    pad = pad or {}
    x, y = np.asarray(pen.x, np.float64), np.asarray(pen.y, np.float64)
    p, t = np.asarray(pen.pressure, np.float64), np.asarray(pen.t_ms, np.float64)
    down = np.asarray(pen.pen_down).astype(bool)
    for name, col in (("x", x), ("y", y), ("pressure", p), ("t_ms", t)):
        if not np.all(np.isfinite(col)):
            raise InvalidSample(f"pen series column {name!r} holds NaN or infinite values")
    units_per_mm = pad.get("units_per_mm", P.DEFAULT_UNITS_PER_MM)
    dt = np.diff(t)
    duration = float(t.max() - t.min()) / 1000.0 if len(t) > 1 else 0.0
    both = down[1:] & down[:-1]
    seg = np.hypot(np.diff(x), np.diff(y))
    path_mm = float(seg[both].sum()) / units_per_mm if len(seg) else 0.0
    # pen-down share of the time: each interval counts for the state at its start
    total = float(dt[dt > 0].sum())
    down_time = float(dt[(dt > 0) & down[:-1]].sum())
    down_fraction = down_time / total if total > 0 else float(down.mean())
    pd = p[down]
    pmax = float(pd.max()) if pd.size else 0.0
    pressure_spread = float(np.ptp(pd)) / pmax if pmax > 0 else 0.0
    ddt = dt[both]
    backwards = int(np.count_nonzero(dt < 0))
    if ddt.size >= 2:
        med = float(np.median(ddt[ddt > 0])) if np.any(ddt > 0) else 0.0
        is_gap = ddt > max(P.GAP_MS, 3 * med)
        gaps = float(ddt[is_gap].sum() / max(float(ddt[ddt > 0].sum()), 1e-9))  # share of ink time
        good = ddt[(ddt > 0) & (ddt <= max(P.GAP_MS, 3 * med))]
        rate_cv = float(good.std() / good.mean()) if good.size >= 2 and good.mean() > 0 else 0.0
    else:
        med, gaps, rate_cv = 0.0, 0.0, 0.0
    if backwards:
        gaps = max(gaps, backwards / max(1, len(dt)))
        rate_cv = max(rate_cv, 1.0)
    outside = None
    if "width" in pad and "height" in pad:
        outside = float(np.mean((x <= 0) | (y <= 0) | (x >= pad["width"]) | (y >= pad["height"])))
    return {"duration_s": duration, "path_mm": path_mm, "points_down": int(down.sum()),
            "down_fraction": down_fraction, "pressure_spread": pressure_spread,
            "gap_share": gaps, "rate_cv": rate_cv, "sample_interval_ms": med,
            "outside_share": outside}


class SignatureQuality:
    """Quality of an online signature's pen series (the Sample's `pen`)."""

    name = "biocap-signature-quality"
    modality = Modality.SIGNATURE

    def assess(self, sample: Sample) -> QualityReport:
        require_sample(sample, Modality.SIGNATURE, self.name)
        if sample.pen is None:
            return QualityReport(Modality.SIGNATURE, None, self.name,
                                 reason="no pen series: an offline signature image cannot be "
                                        "judged for online verification")
        return self.assess_pen(sample.pen, _pad_info(sample))

    def assess_pen(self, pen: PenSeries, pad: dict[str, float] | None = None) -> QualityReport:
        m = pen_measures(pen, pad)
        checks = [  # (measure, value, good, limit, limit text, feedback code)
            ("duration_s", m["duration_s"], P.GOOD_DURATION_S, P.MIN_DURATION_S,
             f">= {P.MIN_DURATION_S}", "too_short"),
            ("path_mm", m["path_mm"], P.GOOD_PATH_MM, P.MIN_PATH_MM, f">= {P.MIN_PATH_MM}",
             "too_short"),
            ("points_down", m["points_down"], P.GOOD_POINTS, P.MIN_POINTS, f">= {P.MIN_POINTS}",
             "too_few_points"),
            ("down_fraction", m["down_fraction"], P.GOOD_DOWN_FRACTION, P.MIN_DOWN_FRACTION,
             f">= {P.MIN_DOWN_FRACTION}", "pen_lifted"),
            ("pressure_spread", m["pressure_spread"], 2 * P.MIN_PRESSURE_SPREAD,
             P.MIN_PRESSURE_SPREAD, f">= {P.MIN_PRESSURE_SPREAD}", "no_pressure"),
            ("gap_share", -m["gap_share"], -P.GOOD_GAP_SHARE, -P.MAX_GAP_SHARE,
             f"<= {P.MAX_GAP_SHARE}", "sampling_gaps"),
            ("rate_cv", -m["rate_cv"], -P.GOOD_RATE_CV, -P.MAX_RATE_CV, f"<= {P.MAX_RATE_CV}",
             "sampling_gaps"),
        ]
        if m["outside_share"] is not None:
            checks.append(("outside_share", -m["outside_share"], -P.GOOD_OUTSIDE_SHARE,
                           -P.MAX_OUTSIDE_SHARE, f"<= {P.MAX_OUTSIDE_SHARE}", "outside_pad"))
        measures: dict[str, Measure] = {}
        subs, codes = [], []
        negated = ("gap_share", "rate_cv", "outside_share")  # lower is better: compared negated
        for name, value, good, bad, limit, code in checks:
            ok = bool(value >= good or value > bad)
            measures[name] = Measure(float(-value if name in negated else value), limit, ok)
            subs.append(_ramp(value, good, bad))
            if not ok and code not in codes:
                codes.append(code)
        score = int(round(100 * float(np.prod(np.maximum(subs, 0.0)) ** (1 / len(subs)))))
        feedback = [Feedback(c, MESSAGES[c]) for c in codes]
        return QualityReport(Modality.SIGNATURE, score, self.name, measures, feedback,
                             reason=feedback[0].message if feedback else None)
