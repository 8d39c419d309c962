"""`IrisComparator`: 1:1 comparison of iris templates.

`compare(a, b)` returns a SIMILARITY: 1 - HD_norm, where HD_norm is Daugman's normalized
fractional Hamming distance at the best of +-`max_shift` rotations (lower HD = more alike;
1 - HD so that higher means more alike, like every other biocap comparator). It is >= 0, about
0.5 for unrelated eyes, and can slightly exceed 1 for near-identical codes compared over more
than 911 bits (the normalization then pushes HD_norm below 0).
`distance(a, b)` gives the distance itself, the shift that reached it and the bits compared.
biocap's 1:N gallery decides at HD_norm <= 0.28 (similarity >= 0.72), see docs/iris.md.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidDataError
from ..templates.iris.template import IrisTemplate
from ..types import Modality
from .iris_hamming import best_distance


@dataclass(frozen=True)
class IrisMatch:
    distance: float  # HD_norm
    shift: int  # code columns b was turned by to match a
    raw_distance: float
    common_bits: int


def _check(t, name: str) -> IrisTemplate:
    if not isinstance(t, IrisTemplate):
        raise InvalidDataError(f"{name} must be an IrisTemplate, got {type(t).__name__}",
                               hint="extract templates with biocap.templates.iris.IrisExtractor")
    return t


@dataclass
class IrisComparator:
    name: str = "biocap-iris"
    modality: Modality = Modality.IRIS
    max_shift: int = 8  # code columns each way (128 columns: +-22.5 degrees)

    def distance(self, a: IrisTemplate, b: IrisTemplate) -> IrisMatch:
        a, b = _check(a, "first template"), _check(b, "second template")
        if (a.rows, a.cols, a.bits_per_sample) != (b.rows, b.cols, b.bits_per_sample):
            raise InvalidDataError(f"iris codes of different grids ({a.rows}x{a.cols} and "
                                   f"{b.rows}x{b.cols}) cannot be compared")
        hd, shift, raw, n = best_distance(b.code, b.mask, a.code, a.mask, a.bytes_per_column,
                                          self.max_shift)
        return IrisMatch(hd, shift, raw, n)

    def compare(self, a: IrisTemplate, b: IrisTemplate) -> float:
        """Similarity 1 - HD_norm (higher = more alike; see the module docstring)."""
        return max(0.0, 1.0 - self.distance(a, b).distance)

    def gallery(self):
        from .iris_gallery import IrisGallery
        return IrisGallery(max_shift=self.max_shift)
