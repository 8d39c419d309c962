"""`IrisComparator`: 1:1 comparison of iris templates.

`compare(a, b)` returns a SIMILARITY in [0, 1]: 1 - HD_norm clipped, where HD_norm is Daugman's
normalized fractional Hamming distance at the best of +-`max_shift` rotations (`calibration`
documents the scale; about 0.5 for unrelated eyes). `threshold_for_fmr(fmr)` reads the shipped
calibration; `distance(a, b)` gives the distance itself, the shift that reached it and the bits
compared. `gallery()` gives an `IrisGallery` that scores on the same scale.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidDataError
from ...templates.iris.template import IrisTemplate
from ...types import Modality
from . import params
from .calibration import similarity, threshold_for_fmr
from .gallery import IrisGallery
from .hamming import best_distance


@dataclass(frozen=True)
class IrisMatch:
    """The best alignment of two iris codes."""

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
    """The `biocap-iris` comparator (`biocap.plugins.contracts.Comparator`)."""

    name: str = "biocap-iris"
    modality: Modality = Modality.IRIS
    max_shift: int = params.MAX_SHIFT  # code columns each way (`params`)

    def distance(self, a: IrisTemplate, b: IrisTemplate) -> IrisMatch:
        """HD_norm of two templates at their best rotation, with the shift and the bits compared."""
        a, b = _check(a, "first template"), _check(b, "second template")
        if (a.rows, a.cols, a.bits_per_sample) != (b.rows, b.cols, b.bits_per_sample):
            raise InvalidDataError(f"iris codes of different grids ({a.rows}x{a.cols} and "
                                   f"{b.rows}x{b.cols}) cannot be compared")
        hd, shift, raw, n = best_distance(b.code, b.mask, a.code, a.mask, a.bytes_per_column,
                                          self.max_shift)
        return IrisMatch(hd, shift, raw, n)

    def compare(self, a: IrisTemplate, b: IrisTemplate) -> float:
        """Similarity 1 - HD_norm clipped to [0, 1] (higher = more alike)."""
        return similarity(self.distance(a, b).distance)

    def threshold_for_fmr(self, fmr: float) -> float:
        """The similarity at or above which a pair is a match at false match rate `fmr`."""
        return threshold_for_fmr(fmr)

    def gallery(self) -> IrisGallery:
        """An empty 1:N gallery on this comparator's scale."""
        return IrisGallery(max_shift=self.max_shift)
