"""Verification error metrics from genuine and impostor similarity scores (higher = more alike)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ErrorRates:
    eer: float
    fmr100: float  # lowest FNMR with FMR <= 1%
    fmr1000: float  # lowest FNMR with FMR <= 0.1%
    zero_fmr: float  # lowest FNMR with FMR = 0
    n_genuine: int
    n_impostor: int

    def to_json(self) -> dict:
        """A JSON-ready dict of the rates."""
        return {"eer": self.eer, "fmr100": self.fmr100, "fmr1000": self.fmr1000,
                "zero_fmr": self.zero_fmr, "n_genuine": self.n_genuine,
                "n_impostor": self.n_impostor}


def _clean(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise ValueError("no scores given")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite (map failures to the lowest score instead)")
    return s


def det_curve(genuine, impostor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, fmr, fnmr) at every distinct score; accept when score >= threshold."""
    g, i = _clean(genuine), _clean(impostor)
    thr = np.unique(np.concatenate([g, i, [np.inf]]))
    g_sorted, i_sorted = np.sort(g), np.sort(i)
    fnmr = np.searchsorted(g_sorted, thr, side="left") / g.size  # genuine below threshold
    fmr = 1.0 - np.searchsorted(i_sorted, thr, side="left") / i.size  # impostors at/above
    return thr, fmr, fnmr


def fnmr_at_fmr(genuine, impostor, target_fmr: float) -> float:
    """The false non-match rate at the lowest threshold whose FMR is at most `fmr`."""
    _, fmr, fnmr = det_curve(genuine, impostor)
    ok = fmr <= target_fmr + 1e-12
    return float(fnmr[ok].min())  # the +inf threshold always qualifies (fmr 0)


def equal_error_rate(genuine, impostor) -> float:
    """EER as the midpoint where FMR and FNMR cross (FVC's convention, interpolated)."""
    _, fmr, fnmr = det_curve(genuine, impostor)
    # fmr falls and fnmr rises with the threshold; find the first crossing
    diff = fmr - fnmr
    k = int(np.argmax(diff <= 0))
    if k == 0:
        return float((fmr[0] + fnmr[0]) / 2)
    # linear interpolation between k-1 (fmr > fnmr) and k (fmr <= fnmr)
    d0, d1 = diff[k - 1], diff[k]
    t = d0 / (d0 - d1) if d0 != d1 else 0.5
    e_fmr = fmr[k - 1] + t * (fmr[k] - fmr[k - 1])
    e_fnmr = fnmr[k - 1] + t * (fnmr[k] - fnmr[k - 1])
    return float((e_fmr + e_fnmr) / 2)


def error_rates(genuine, impostor) -> ErrorRates:
    """EER, FMR100, FMR1000 and zero-FMR of genuine and impostor similarity scores."""
    g, i = _clean(genuine), _clean(impostor)
    return ErrorRates(
        eer=equal_error_rate(g, i), fmr100=fnmr_at_fmr(g, i, 0.01),
        fmr1000=fnmr_at_fmr(g, i, 0.001), zero_fmr=fnmr_at_fmr(g, i, 0.0),
        n_genuine=int(g.size), n_impostor=int(i.size))


def error_vs_reject(genuine, impostor, pair_quality, reject_fraction: float,
                    target_fmr: float = 0.01) -> float:
    """FNMR at `target_fmr` after dropping the `reject_fraction` of genuine comparisons whose
    pair quality (e.g. min of the two samples' scores) is lowest; impostors and threshold are
    kept as they are (ISO/IEC 29794-1 error-versus-reject characteristic)."""
    g = _clean(genuine)
    q = np.asarray(pair_quality, dtype=np.float64).ravel()
    if q.size != g.size:
        raise ValueError("pair_quality needs one value per genuine score")
    i = _clean(impostor)
    thresholds, fmr, _ = det_curve(g, i)
    threshold = thresholds[fmr <= target_fmr + 1e-12][0]  # lowest threshold meeting the FMR target
    n_drop = int(round(reject_fraction * g.size))
    order = np.argsort(q, kind="stable")
    kept = g[order[n_drop:]]
    return float(np.mean(kept < threshold)) if kept.size else 0.0
