"""The registered fingerprint comparator: `MccMatcher` plus the factory of its 1:N gallery.

    from biocap.matching.fingerprint import FingerprintComparator
    cmp = FingerprintComparator()
    score = cmp.compare(template_a, template_b)          # similarity in [0, 1]
    accept = score >= cmp.threshold_for_fmr(1e-3)
    gallery = cmp.gallery()                             # FingerprintGallery, same score scale
"""
from __future__ import annotations

from .gallery import FingerprintGallery
from .matcher import MccMatcher


class FingerprintComparator(MccMatcher):
    """The `biocap-mcc` 1:1 comparator (`biocap.plugins.contracts.Comparator`): similarity in
    [0, 1] = LSS-R x paired fraction; `gallery()` gives an empty 1:N gallery for it."""

    def gallery(self) -> FingerprintGallery:
        """An empty 1:N gallery that scores on this comparator's scale."""
        return FingerprintGallery(self)
