"""Decision thresholds from impostor scores, the same way for every modality.

A calibration table (JSON, shipped beside each comparator) lists (fmr, threshold) rows: the lowest
similarity that at most that share of the calibration's impostor pairs reaches. The scripts that
fit them live outside the runtime package (benchmarks/); the comparators only read them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError, NoProvider

#: FMR targets a table gives thresholds for, down to what its impostor count resolves
FMR_TARGETS = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5,
               5e-6, 2e-6, 1e-6)


def load_table(path: str | Path, *, remedy: str) -> list[tuple[float, float]]:
    """(fmr, threshold) rows of a calibration table, FMR descending; `remedy` says how to rebuild it."""
    try:
        data = json.loads(Path(path).read_text())
        rows = [(float(f), float(t)) for f, t in data["fmr_threshold"]]
    except FileNotFoundError as exc:
        raise NoProvider(f"calibration table {path} is missing", hint=remedy) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidDataError(f"calibration table {path} is malformed: {exc}", hint=remedy) from exc
    if not rows:
        raise InvalidDataError(f"calibration table {path} is empty", hint=remedy)
    rows.sort(key=lambda r: -r[0])
    return rows


def threshold_at(rows: list[tuple[float, float]], fmr: float, *, remedy: str) -> float:
    """The threshold of the first row (FMR descending) whose FMR is at most `fmr`."""
    if isinstance(fmr, bool) or not (isinstance(fmr, (int, float)) and 0 < fmr < 1):
        raise InvalidDataError(f"FMR must be a number in (0, 1), got {fmr!r}")
    lowest = rows[-1][0]
    if fmr < lowest:
        raise InvalidDataError(f"FMR {fmr:g} is below what the calibration resolves ({lowest:g})",
                               hint=remedy)
    for table_fmr, thr in rows:
        if table_fmr <= fmr:
            return thr
    return rows[-1][1]


def impostor_table(impostor_scores, targets=FMR_TARGETS) -> list[list[float]]:
    """[fmr, threshold] rows from impostor similarities, for the targets down to 1/n: the
    threshold sits just above the (allowed + 1)-th highest impostor score."""
    s = np.sort(np.asarray(impostor_scores, np.float64))[::-1]
    n = len(s)
    if n < 100:
        raise InvalidDataError(f"{n} impostor scores are too few to calibrate (need >= 100)")
    rows = []
    for fmr in targets:
        allowed = int(np.floor(fmr * n))  # impostors that may score at/above the threshold
        if allowed < 1:
            break
        rows.append([fmr, float(np.nextafter(s[allowed], np.inf))])
    return rows
