"""Stage "resolution": bring the image to the working resolution and remember the scale, so minutiae
found there can be reported in the Sample's own pixels.

The working resolution is `biocap.imaging.EXTRACTION_PPI` (570 ppi, not the 500 ppi of most
sensors; why: docs/decisions/15-layout-and-contracts.md). Constants named "px at 500 ppi"
elsewhere in this package are in working pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InvalidSample

from ...imaging import EXTRACTION_PPI
from ...imaging import to_working_resolution as _shared_resample  # the same rules as quality
from .params import MAX_WORKING_SIDE

WORKING_PPI = EXTRACTION_PPI


@dataclass
class WorkingImage:
    image: np.ndarray  # uint8 at the working resolution (possibly a crop of the whole image)
    scale_x: float  # working pixels per sample pixel, horizontally
    scale_y: float
    offset_x: int = 0  # where `image` starts in the whole working-resolution image
    offset_y: int = 0

    def to_sample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-resolution pixel centres -> the Sample's pixel centres (cv2.resize geometry)."""
        return ((x + self.offset_x + 0.5) / self.scale_x - 0.5,
                (y + self.offset_y + 0.5) / self.scale_y - 0.5)

    def crop(self, y0: int, y1: int, x0: int, x1: int) -> "WorkingImage":
        """The same image cut to rows y0:y1 and columns x0:x1 (coordinates stay mappable)."""
        return WorkingImage(np.ascontiguousarray(self.image[y0:y1, x0:x1]), self.scale_x,
                            self.scale_y, self.offset_x + x0, self.offset_y + y0)


def to_working_resolution(image: np.ndarray, ppi: float, period_scale: float = 1.0) -> WorkingImage:
    """The image resampled to the extraction resolution, with the scale factors back.
    `period_scale` != 1 resamples it further by that factor (a print whose ridge period lies outside
    `params.PERIOD_RANGE` at the working resolution is brought inside it; the pipeline decides)."""
    target = WORKING_PPI * float(period_scale)
    side = max(image.shape) * target / float(ppi)
    if side > MAX_WORKING_SIDE:
        raise InvalidSample(f"image of {image.shape[1]}x{image.shape[0]} px at {ppi:g} ppi is "
                            f"{side:.0f} px long at {target:g} ppi, above the {MAX_WORKING_SIDE}-px "
                            "limit",
                            hint="crop the image to the finger (or slap) area first")
    work = _shared_resample(image, ppi, target)
    return WorkingImage(np.ascontiguousarray(work), work.shape[1] / image.shape[1],
                        work.shape[0] / image.shape[0])
