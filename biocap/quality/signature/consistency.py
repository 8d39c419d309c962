"""Are a person's 3-5 enrolment signatures alike enough to enrol?

Each signature's ink (pen-down points) is resampled to CONSISTENCY_POINTS points evenly along its
path, centred and scaled to unit RMS radius, with its unit direction of travel: a shape series
independent of pad, position, size and speed. Pairwise DTW costs between the shapes (dtaidistance,
length-normalised) give the set's median distance and each signature's median distance to the
others. Feedback `inconsistent` when the whole set is too unlike (median above
SET_DISTANCE_LIMIT), when one signature is the odd one out (OUTLIER_RATIO times the others), or
when the durations differ by more than MAX_DURATION_RATIO; the report names the signatures to
take again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from dtaidistance import dtw_ndim

from ...errors import InvalidRequest, InvalidSample
from ...types import PenSeries
from ..report import Feedback
from . import params as P

MESSAGE = ("The enrolment signatures are too unlike each other: the person is not signing "
           "consistently. Ask for another signature{which}.")


@dataclass
class ConsistencyReport:
    consistent: bool
    set_distance: float                     # median pairwise shape distance
    per_signature: list[float]              # each one's median distance to the others
    duration_ratio: float                   # longest / shortest duration
    retake: list[int] = field(default_factory=list)   # indices (0-based) to take again
    feedback: list[Feedback] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"consistent": self.consistent, "set_distance": self.set_distance,
                "per_signature": self.per_signature, "duration_ratio": self.duration_ratio,
                "retake": self.retake,
                "feedback": [{"code": f.code, "message": f.message} for f in self.feedback]}


def shape_series(pen: PenSeries) -> np.ndarray:
    """(CONSISTENCY_POINTS, 4): x, y (centred, unit RMS radius) and direction cos, sin."""
    if not isinstance(pen, PenSeries):
        raise InvalidSample(f"expected a PenSeries, got {type(pen).__name__}")
    down = np.asarray(pen.pen_down).astype(bool)
    x = np.asarray(pen.x, np.float64)[down]
    y = np.asarray(pen.y, np.float64)[down]
    if x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InvalidSample("a signature without ink (or with broken coordinates) cannot be "
                            "compared", hint="take that signature again")
    s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    if s[-1] <= 0:
        raise InvalidSample("a signature of a single point cannot be compared",
                            hint="take that signature again")
    u = np.linspace(0, s[-1], P.CONSISTENCY_POINTS)
    keep = np.concatenate([[True], np.diff(s) > 0])
    xs, ys = np.interp(u, s[keep], x[keep]), np.interp(u, s[keep], y[keep])
    xs, ys = xs - xs.mean(), ys - ys.mean()
    r = float(np.sqrt(np.mean(xs ** 2 + ys ** 2))) or 1.0
    dx, dy = np.gradient(xs), np.gradient(ys)
    n = np.hypot(dx, dy)
    n[n == 0] = 1.0
    return np.ascontiguousarray(np.stack([xs / r, ys / r, dx / n, dy / n], 1))


def _cost(a: np.ndarray, b: np.ndarray) -> float:
    d = dtw_ndim.distance_fast(a, b, window=P.CONSISTENCY_POINTS // 4, use_pruning=False)
    return float(d * d / (len(a) + len(b)))


def assess_enrolment_set(pens: list[PenSeries]) -> ConsistencyReport:
    """Judge the enrolment signatures together (2-10 of them; 3-5 is the usual set)."""
    pens = list(pens)
    if not 2 <= len(pens) <= 10:
        raise InvalidRequest(f"an enrolment set holds 2-10 signatures, got {len(pens)}")
    shapes = [shape_series(p) for p in pens]
    k = len(shapes)
    D = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            D[i, j] = D[j, i] = _cost(shapes[i], shapes[j])
    off = D[~np.eye(k, dtype=bool)].reshape(k, k - 1)
    per = np.median(off, axis=1)
    set_distance = float(np.median(D[np.triu_indices(k, 1)]))
    durations = np.array([float(np.ptp(np.asarray(p.t_ms, np.float64))) for p in pens])
    ratio = float(durations.max() / max(durations.min(), 1e-9))
    retake: list[int] = []
    if k >= 3:
        for i in range(k):
            others = np.median(np.delete(per, i))
            if per[i] > P.OUTLIER_RATIO * max(others, 1e-9) and per[i] > P.SET_DISTANCE_LIMIT / 2:
                retake.append(i)
    if ratio > P.MAX_DURATION_RATIO:
        med = np.median(durations)
        worst = int(np.argmax(np.abs(np.log(durations / med))))
        if worst not in retake:
            retake.append(worst)
    too_unlike = set_distance > P.SET_DISTANCE_LIMIT
    consistent = not too_unlike and not retake
    feedback = []
    if not consistent:
        which = (f" (signature{'s' if len(retake) > 1 else ''} "
                 f"{', '.join(str(i + 1) for i in sorted(retake))})") if retake else ""
        feedback.append(Feedback("inconsistent", MESSAGE.format(which=which)))
    return ConsistencyReport(consistent, set_distance, [float(v) for v in per], ratio,
                             sorted(retake), feedback)
