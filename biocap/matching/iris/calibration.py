"""The iris score scale and its shipped decision thresholds.

Scale: similarity = 1 - HD_norm clipped to [0, 1], where HD_norm is Daugman's normalized
fractional Hamming distance at the best rotation (`hamming`). Higher means more alike; unrelated
eyes score about 0.5; HD_norm can fall slightly below 0 for near-identical codes compared over
many bits, and a comparison over too few common bits has HD_norm 1: both ends are clipped.

Thresholds: `calibration.json` holds (fmr, threshold) rows computed from impostor similarities by
`benchmarks/iris_score_calibration.py` (on MMU2, held-out check on CASIA-IrisV1, written into
the file's `held_out` entry); `threshold_for_fmr` reads it. 1:1 and 1:N use the same table.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import InvalidDataError, NoProvider

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


def similarity(hd_norm):
    """Similarity in [0, 1] of a normalized Hamming distance (scalar or array)."""
    s = np.clip(1.0 - np.asarray(hd_norm, np.float64), 0.0, 1.0)
    return float(s) if s.ndim == 0 else s


def distance_of(similarity_value: float) -> float:
    """The HD_norm a similarity corresponds to (inside the unclipped range)."""
    return 1.0 - float(similarity_value)


@lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_FILE) -> tuple[tuple[float, float], ...]:
    """(fmr, threshold) rows, FMR descending."""
    try:
        data = json.loads(Path(path).read_text())
        rows = [(float(f), float(t)) for f, t in data["fmr_threshold"]]
    except FileNotFoundError as exc:
        raise NoProvider(f"iris calibration table {path} is missing",
                         hint="run benchmarks/iris_score_calibration.py to make it") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidDataError(f"iris calibration table {path} is malformed: {exc}") from exc
    if not rows:
        raise InvalidDataError(f"iris calibration table {path} is empty")
    return tuple(sorted(rows, key=lambda r: -r[0]))


def threshold_for_fmr(fmr: float, path: Path = CALIBRATION_FILE) -> float:
    """The lowest similarity whose false match rate on the calibration impostors is at most
    `fmr` (accept when similarity >= threshold)."""
    if isinstance(fmr, bool) or not (isinstance(fmr, (int, float)) and 0 < fmr < 1):
        raise InvalidDataError(f"FMR must be a number in (0, 1), got {fmr!r}")
    rows = load_calibration(path)
    if fmr < rows[-1][0]:
        raise InvalidDataError(f"FMR {fmr:g} is below what the iris calibration resolves "
                               f"({rows[-1][0]:g})",
                               hint="calibrate on more impostor pairs (benchmarks/iris_score_calibration.py)")
    for table_fmr, thr in rows:  # FMR descending: the first row at or under the request
        if table_fmr <= fmr:
            return thr
    return rows[-1][1]


def calibration_table(impostor_similarities: np.ndarray, source: str = "") -> dict:
    """The JSON table from impostor similarities: for FMR targets down to 1/n, the lowest
    threshold whose impostor acceptance rate is at most the target."""
    s = np.sort(np.asarray(impostor_similarities, np.float64))[::-1]
    n = len(s)
    if n < 100:
        raise InvalidDataError(f"{n} impostor scores are too few to calibrate (need >= 100)")
    rows = []
    for fmr in [0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5,
                5e-6, 2e-6, 1e-6]:
        allowed = int(np.floor(fmr * n))
        if allowed < 1:
            break
        rows.append([fmr, float(np.nextafter(s[allowed], np.inf))])
    return {"matcher": "biocap-iris", "score": "similarity = 1 - HD_norm clipped to [0, 1]",
            "n_impostor": n, "source": source, "fmr_threshold": rows}
