"""The desk's enrollment steps after capture: templates from the samples, and the 1:1 check that
the person at the desk is the one just enrolled (e-KTP verifies the index fingers this way).

Kept apart from the CLI so an enrollment app calls the same code the demo runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import NoProvider
from .types import Modality, Sample

#: the false match rate the desk's 1:1 decision is set at (1 in 10,000 impostor attempts)
DESK_FMR = 1e-4


@dataclass(frozen=True)
class Verification:
    position: int
    score: float
    threshold: float
    fmr: float

    @property
    def accepted(self) -> bool:
        return self.score >= self.threshold


def extract_templates(sdk, samples: list[Sample]) -> dict[int, Any]:
    """Templates of every sample whose modality has an extractor, keyed by sample index."""
    templates = {}
    for index, sample in enumerate(samples):
        try:
            templates[index] = sdk.extract(sample)
        except NoProvider:
            continue  # e.g. no face or signature extractor in this build: stored as images only
    return templates


def decision_threshold(sdk, modality: Modality, fmr: float = DESK_FMR) -> tuple[float, float]:
    """(threshold, fmr actually used) of the registered comparator: the requested FMR, or the
    lowest FMR its calibration resolves when the request is below that."""
    comparator = sdk.comparator(modality)
    threshold_for_fmr = getattr(comparator, "threshold_for_fmr", None)
    if threshold_for_fmr is None:
        raise NoProvider(f"the {modality.value} comparator {comparator.name!r} states no "
                         "decision threshold for a false match rate")
    calibration = getattr(comparator, "calibration", None)
    if calibration is not None:
        fmr = max(fmr, min(f for f, _ in calibration()))
    return threshold_for_fmr(fmr), fmr


def verify(sdk, enrolled: Any, probe: Sample, fmr: float = DESK_FMR) -> Verification:
    """Compare a fresh capture with the enrolled template at the desk's false match rate."""
    threshold, used_fmr = decision_threshold(sdk, probe.modality, fmr)
    score = sdk.compare(enrolled, sdk.extract(probe), modality=probe.modality)
    return Verification(int(probe.position or 0), float(score), threshold, used_fmr)
