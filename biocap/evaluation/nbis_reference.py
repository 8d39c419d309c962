"""NIST NBIS (mindtct + bozorth3) and NFIQ 2 through nbis-py: the reference that biocap's
fingerprint matching and quality are benchmarked (and the quality model trained) against, and an
adapter that turns mindtct minutiae into a `FingerprintTemplate`.

nbis-py is an optional extra (`pip install biocap[reference]`); nothing in the core needs it.
NFIQ 2 and mindtct are defined for 500 ppi and nbis-py ignores its `ppi` setting, so the quality
path (`analyse`, `nfiq2`) resamples images to 500 ppi before handing them over.
mindtct reports angles in degrees, counter-clockwise with the image y axis pointing down, which is
the `FingerprintTemplate` convention (checked by rotating an image; see tests).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidSample, NoProvider
from ..imaging import to_working_resolution
from ..templates.fingerprint.template import FingerprintTemplate, MinutiaType, minutiae_array
from ..types import validate_image


def _nbis():
    try:
        import nbis
    except ImportError as exc:
        raise NoProvider("the NBIS reference needs nbis-py",
                         hint="pip install 'biocap[reference]' (nbis-py)") from exc
    return nbis


def available() -> bool:
    try:
        _nbis()
    except NoProvider:
        return False
    return True


@dataclass
class NbisResult:
    minutiae: Any  # nbis.Minutiae (what bozorth3 compares)
    template: FingerprintTemplate


@dataclass
class ReferenceResult:
    nfiq2: int  # NFIQ 2 score, 0-100
    nfiq2_features: dict[str, float]  # NFIQ 2's own feature values (for study only)
    minutiae: Any  # nbis.Minutiae (for bozorth3); None when mindtct failed
    n_minutiae: int
    ms_mindtct: float  # minutiae extraction alone
    ms_with_nfiq2: float  # minutiae extraction plus NFIQ 2
    ms_nfiq2: float  # NFIQ 2's share: the difference of the two (at least 0)


class NbisReference:
    """mindtct extraction, bozorth3 comparison and NFIQ 2 scores.

    `assume_500ppi=True` (default) runs mindtct as the published NBIS figures were made (500 ppi
    assumed whatever the sensor); the returned template still carries the true resolution."""

    name = "nbis-bozorth3"

    def __init__(self, assume_500ppi: bool = True):
        nbis = _nbis()
        self._nbis = nbis
        self._assume_500 = assume_500ppi
        self._extractors: dict[Any, Any] = {}  # by ppi (None: 500 assumed), and "nfiq2"

    def _extractor(self, ppi: float | None):
        key = None if self._assume_500 else ppi
        if key not in self._extractors:
            s = self._nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                                 check_fingerprint=False, compute_nfiq2=False,
                                                 ppi=key)
            self._extractors[key] = self._nbis.new_nbis_extractor(s)
        return self._extractors[key]

    def _nfiq2_extractor(self):
        if "nfiq2" not in self._extractors:
            s = self._nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                                 check_fingerprint=False, compute_nfiq2=True,
                                                 ppi=None)
            self._extractors["nfiq2"] = self._nbis.new_nbis_extractor(s)
        return self._extractors["nfiq2"]

    def analyse(self, image: np.ndarray, ppi: float) -> ReferenceResult:
        """NFIQ 2 and mindtct on the image resampled to 500 ppi, each timed on its own."""
        png = _png(to_working_resolution(image, ppi))
        errors = (self._nbis.NbisError, self._nbis.InternalError)
        t0 = time.perf_counter()
        try:
            plain = self._extractor(None).extract_minutiae(png)
        except errors:
            plain = None
        t1 = time.perf_counter()
        try:
            minutiae = self._nfiq2_extractor().extract_minutiae(png)
            quality = minutiae.quality()
            score, features = int(quality.score), {f.name: float(f.value) for f in quality.features}
        except errors:  # NFIQ 2 refused the image: score 0, keep mindtct's minutiae
            minutiae, score, features = plain, 0, {}
        t2 = time.perf_counter()
        ms_plain, ms_all = (t1 - t0) * 1e3, (t2 - t1) * 1e3
        return ReferenceResult(
            nfiq2=score, nfiq2_features=features,
            minutiae=minutiae, n_minutiae=len(minutiae.get()) if minutiae is not None else 0,
            ms_mindtct=ms_plain, ms_with_nfiq2=ms_all, ms_nfiq2=max(0.0, ms_all - ms_plain))

    def nfiq2(self, image: np.ndarray, ppi: float) -> int:
        """NFIQ 2 score; 0 when NFIQ 2 cannot compute one (it refuses images without a usable
        finger, which is what a score of 0 means)."""
        png = _png(to_working_resolution(image, ppi))
        try:
            return int(self._nfiq2_extractor().extract_minutiae(png).quality().score)
        except (self._nbis.NbisError, self._nbis.InternalError):
            return 0

    def extract(self, image: np.ndarray, ppi: float) -> NbisResult:
        validate_image(image)
        if not (np.isfinite(ppi) and 50 <= ppi <= 5000):
            raise InvalidSample(f"resolution {ppi!r} ppi is not plausible")
        try:
            minutiae = self._extractor(ppi).extract_minutiae(_png(image))
        except Exception as exc:  # nbis raises its own error types
            raise InvalidSample(f"mindtct failed: {exc}") from exc
        return NbisResult(minutiae, template_from_nbis(minutiae, image.shape[1], image.shape[0], ppi))

    @staticmethod
    def compare(a, b) -> float:
        """bozorth3 similarity (higher = more alike) of two `NbisResult`s or `nbis.Minutiae`;
        0 when either side is None (a failure to extract counts as a non-match)."""
        if a is None or b is None:
            return 0.0
        a, b = getattr(a, "minutiae", a), getattr(b, "minutiae", b)
        return float(a.compare(b))


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise InvalidSample("could not encode the image for NBIS")
    return buf.tobytes()


def template_from_nbis(minutiae: Any, width: int, height: int, ppi: float) -> FingerprintTemplate:
    """Convert nbis-py minutiae (degrees, ccw, y down; reliability 0-1) to our template."""
    rows = []
    for m in minutiae.get():
        kind = str(m.kind())
        t = MinutiaType.BIFURCATION if "BIFURCATION" in kind else MinutiaType.ENDING
        q = int(round(100 * min(max(float(m.reliability()), 0.0), 1.0)))
        rows.append((float(m.x()), float(m.y()), float(np.deg2rad(m.angle())), int(t), q))
    return FingerprintTemplate(minutiae_array(rows), width=int(width), height=int(height), ppi=float(ppi))
