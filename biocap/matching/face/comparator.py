"""`FaceComparator`: 1:1 comparison of face templates.

Score: similarity (1 + cosine) / 2 of the two L2-normalised 128-D embeddings, in [0, 1]. dlib's
embeddings lie in a narrow cone, so the working range is high: different people mostly score
0.90-0.95 on lfw7x50, the same person above 0.96. The face
gallery reports candidates on the same scale. `threshold_for_fmr` interpolates (in log FMR) the
calibration shipped beside this file (`calibration_face.json`, written by
research/face_calibrate.py; how it was computed and checked: docs/face.md).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from ...errors import InvalidDataError, InvalidRequest
from ...templates.face.template import DIM, FaceTemplate, similarity
from ...types import Modality

CALIBRATION = "calibration_face.json"


@lru_cache(maxsize=1)
def calibration() -> dict:
    text = resources.files(__package__).joinpath(CALIBRATION).read_text()
    cal = json.loads(text)
    pairs = sorted(cal["fmr_threshold"], key=lambda p: -p[0])  # FMR falling, threshold rising
    cal["fmr_threshold"] = pairs
    return cal


def _embedding(t, name: str) -> np.ndarray:
    if isinstance(t, FaceTemplate):
        return t.embedding
    if isinstance(t, np.ndarray) and t.shape == (DIM,) and np.all(np.isfinite(t)):
        n = float(np.linalg.norm(t))
        if n > 0:
            return (t / n).astype(np.float32)
    raise InvalidDataError(f"{name} must be a FaceTemplate (or a ({DIM},) embedding), got "
                           f"{type(t).__name__}",
                           hint="extract templates with biocap.templates.face.FaceExtractor")


class FaceComparator:
    name = "biocap-face-dlib"
    modality = Modality.FACE

    def compare(self, a, b) -> float:
        """Similarity (1 + cosine) / 2 in [0, 1]; higher means more alike."""
        return similarity(_embedding(a, "first template"), _embedding(b, "second template"))

    def threshold_for_fmr(self, fmr: float) -> float:
        pairs = calibration()["fmr_threshold"]
        lo, hi = pairs[-1][0], pairs[0][0]
        if not isinstance(fmr, (int, float)) or not np.isfinite(fmr) or not lo <= fmr <= hi:
            raise InvalidRequest(f"FMR {fmr!r} is outside the calibrated range {lo:g}-{hi:g}",
                                 hint="ask for an FMR the calibration resolves")
        x = np.log10([p[0] for p in pairs])[::-1]
        y = np.array([p[1] for p in pairs])[::-1]
        return float(np.interp(np.log10(fmr), x, y))

    def gallery(self):
        """An empty 1:N face gallery on this comparator's scale and calibration."""
        from .gallery import FaceGallery

        return FaceGallery(self.threshold_for_fmr)
