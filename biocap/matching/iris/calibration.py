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

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..calibration import impostor_table, load_table, threshold_at

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
    return tuple(load_table(path, remedy=_REMEDY))


def threshold_for_fmr(fmr: float, path: Path = CALIBRATION_FILE) -> float:
    """The lowest similarity whose false match rate on the calibration impostors is at most
    `fmr` (accept when similarity >= threshold)."""
    return threshold_at(list(load_calibration(path)), fmr, remedy=_REMEDY)


def calibration_table(impostor_similarities: np.ndarray, source: str = "") -> dict:
    """The JSON table from impostor similarities: for FMR targets down to 1/n, the lowest
    threshold whose impostor acceptance rate is at most the target."""
    return {"matcher": "biocap-iris", "score": "similarity = 1 - HD_norm clipped to [0, 1]",
            "n_impostor": len(impostor_similarities), "source": source,
            "fmr_threshold": impostor_table(impostor_similarities)}


_REMEDY = "rebuild it: benchmarks/iris_score_calibration.py"
