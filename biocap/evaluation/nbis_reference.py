"""NIST NBIS (mindtct + bozorth3) through nbis-py: the reference matcher benchmarks compare with,
and an adapter that turns mindtct minutiae into a `FingerprintTemplate`.

nbis-py is an optional extra (`pip install biocap[reference]`); nothing in the core needs it.
mindtct reports angles in degrees, counter-clockwise with the image y axis pointing down, which is
the `FingerprintTemplate` convention (checked by rotating an image; see tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidSample, NoProvider
from ..templates.fingerprint_template import FingerprintTemplate, MinutiaType, minutiae_array
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


class NbisReference:
    """mindtct extraction and bozorth3 comparison.

    `assume_500ppi=True` (default) runs mindtct as the published NBIS figures were made (500 ppi
    assumed whatever the sensor); the returned template still carries the true resolution."""

    name = "nbis-bozorth3"

    def __init__(self, assume_500ppi: bool = True):
        nbis = _nbis()
        self._nbis = nbis
        self._assume_500 = assume_500ppi
        self._extractors: dict[float | None, Any] = {}

    def _extractor(self, ppi: float | None):
        key = None if self._assume_500 else ppi
        if key not in self._extractors:
            s = self._nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                                 check_fingerprint=False, compute_nfiq2=False,
                                                 ppi=key)
            self._extractors[key] = self._nbis.new_nbis_extractor(s)
        return self._extractors[key]

    def extract(self, image: np.ndarray, ppi: float) -> NbisResult:
        import cv2

        validate_image(image)
        if not (np.isfinite(ppi) and 50 <= ppi <= 5000):
            raise InvalidSample(f"resolution {ppi!r} ppi is not plausible")
        ok, buf = cv2.imencode(".png", image)
        if not ok:
            raise InvalidSample("could not encode the image for mindtct")
        try:
            minutiae = self._extractor(ppi).extract_minutiae(buf.tobytes())
        except Exception as exc:  # nbis raises its own error types
            raise InvalidSample(f"mindtct failed: {exc}") from exc
        return NbisResult(minutiae, template_from_nbis(minutiae, image.shape[1], image.shape[0], ppi))

    def compare(self, a: NbisResult, b: NbisResult) -> float:
        return float(a.minutiae.compare(b.minutiae))


def template_from_nbis(minutiae: Any, width: int, height: int, ppi: float) -> FingerprintTemplate:
    """Convert nbis-py minutiae (degrees, ccw, y down; reliability 0-1) to our template."""
    rows = []
    for m in minutiae.get():
        kind = str(m.kind())
        t = MinutiaType.BIFURCATION if "BIFURCATION" in kind else MinutiaType.ENDING
        q = int(round(100 * min(max(float(m.reliability()), 0.0), 1.0)))
        rows.append((float(m.x()), float(m.y()), float(np.deg2rad(m.angle())), int(t), q))
    return FingerprintTemplate(minutiae_array(rows), width=int(width), height=int(height), ppi=float(ppi))
