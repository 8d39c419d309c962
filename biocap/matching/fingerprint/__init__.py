"""Fingerprint comparison: the `biocap-mcc` comparator (1:1) and its gallery (1:N).

    from biocap.matching.fingerprint import FingerprintComparator
    cmp = FingerprintComparator()
    score = cmp.compare(a, b)                     # similarity in [0, 1]
    gallery = cmp.gallery()                       # FingerprintGallery, same scale

Modules: `mcc` (Minutia Cylinder-Code kernels), `pairing` (second-stage minutiae pairing),
`matcher` (encoding, 1:1 scores, calibrated thresholds), `comparator` (the registered provider),
`gallery` (1:N cascade and files) with its stages `prefilter`, `pooled`, `cohort`, `consistency`,
and `sharded` (1:N over Dask workers).
"""
from .comparator import FingerprintComparator
from .gallery import FingerprintGallery
from .matcher import MAX_CYLINDERS, MccMatcher, MccTemplate, calibration_table, encode

__all__ = ["FingerprintComparator", "FingerprintGallery", "MccMatcher", "MccTemplate", "MAX_CYLINDERS",
           "calibration_table", "encode"]
