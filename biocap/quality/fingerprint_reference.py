"""NIST NBIS (mindtct, bozorth3) and NFIQ 2 through the optional `nbis-py` package: the reference
that biocap's fingerprint quality is benchmarked and trained against. Never a core dependency.

NFIQ 2 and mindtct are defined for 500 ppi images and `nbis-py` ignores its `ppi` setting, so
images are resampled to 500 ppi here before they are handed over.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import NoProvider
from ..imaging import to_working_resolution


def _nbis():
    try:
        import nbis  # noqa: PLC0415 (optional extra)
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise NoProvider("the NFIQ 2 / NBIS reference needs the optional extra",
                         hint="pip install 'biocap[reference]' (package nbis-py)") from exc
    return nbis


@dataclass
class ReferenceResult:
    nfiq2: int  # NFIQ 2 score, 0-100
    nfiq2_features: dict[str, float]  # NFIQ 2's own feature values (for study only)
    minutiae: object  # nbis.Minutiae (for bozorth3); None when mindtct failed
    n_minutiae: int
    ms_mindtct: float  # minutiae extraction alone
    ms_with_nfiq2: float  # minutiae extraction plus NFIQ 2
    ms_nfiq2: float  # NFIQ 2's share: the difference of the two (at least 0)


class NbisReference:
    """NFIQ 2 scores, mindtct minutiae and bozorth3 comparisons of 2-D uint8 images."""

    def __init__(self):
        nbis = _nbis()

        def make(with_nfiq2: bool):
            return nbis.new_nbis_extractor(nbis.NbisExtractorSettings(
                min_quality=0.0, get_center=False, check_fingerprint=False,
                compute_nfiq2=with_nfiq2, ppi=None))

        self._errors = (nbis.NbisError, nbis.InternalError)
        self._plain = make(False)
        self._nfiq2 = make(True)

    def analyse(self, image: np.ndarray, ppi: float) -> ReferenceResult:
        img = to_working_resolution(image, ppi)
        png = cv2.imencode(".png", img)[1].tobytes()
        t0 = time.perf_counter()
        try:
            plain = self._plain.extract_minutiae(png)
        except self._errors:
            plain = None
        t1 = time.perf_counter()
        try:
            minutiae = self._nfiq2.extract_minutiae(png)
            quality = minutiae.quality()
            score, features = int(quality.score), {f.name: float(f.value) for f in quality.features}
        except self._errors:  # NFIQ 2 refused the image: score 0, keep mindtct's minutiae
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
        img = to_working_resolution(image, ppi)
        png = cv2.imencode(".png", img)[1].tobytes()
        try:
            return int(self._nfiq2.extract_minutiae(png).quality().score)
        except self._errors:
            return 0

    @staticmethod
    def compare(a, b) -> float:
        """bozorth3 similarity of two `nbis.Minutiae` (higher = more alike); 0 when either
        side has no minutiae (a failure to extract counts as a non-match)."""
        if a is None or b is None:
            return 0.0
        return float(a.compare(b))
