"""Iris comparison: `IrisComparator` (1:1, similarity = 1 - HD_norm in [0, 1]) and `IrisGallery`
(1:N over packed codes). Modules: `hamming` (masked fractional Hamming distance), `calibration`
(the similarity scale and the shipped decision thresholds), `gallery`, `comparator`."""
from .comparator import IrisComparator, IrisMatch
from .gallery import IrisGallery

__all__ = ["IrisComparator", "IrisGallery", "IrisMatch"]
