"""Iris templates: segmentation, rubber-sheet normalization, Gabor phase codes.

Public face: `IrisExtractor` (Sample -> `IrisTemplate`) and `IrisTemplate`; the stages are
importable one by one (`segmentation`, `normalization`, `encoding`) with typed results (`types`).
"""
from .extractor import IrisExtractor, IrisTrace, TooLittleIris  # noqa: F401
from .segmentation import SegmentationFailed  # noqa: F401
from .template import IrisTemplate  # noqa: F401
