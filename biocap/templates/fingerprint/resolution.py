"""Stage "resolution": bring the image to the working resolution and remember the scale, so minutiae
found there can be reported in the Sample's own pixels.

The working resolution is 570 ppi, not the 500 ppi of most sensors: the stages' pixel constants
(block size, smoothing widths, blob sizes, half-resolution filtering) were first set at 500 ppi,
where a fine-ridged finger has a period of only 6-7 px (3-3.5 px in the half-resolution Gabor
stage). Working 14% finer gave, with every constant unchanged, fewer false minutiae against the
synthetic generator's ground truth (precision 0.74 -> 0.82 capacitive, 0.83 -> 0.86 optical, recall
unchanged) and fewer wrongly ordered genuine/impostor pairs with biocap-mcc on FVC2002 (1 - AUC over
the four sets 59 -> 31-47 basis points anywhere from 569 to 640 ppi; 540 ppi was no better than 500).
Per-set EERs move by +-1 point between neighbouring resolutions (one genuine pair is 0.36 points), so
the choice rests on the smoother measures. Cost: 1.3x the pixels. Constants named
"px at 500 ppi" elsewhere in this package are in working pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import InvalidSample

from ...imaging import to_working_resolution as _shared_resample  # the same rules as quality

WORKING_PPI = 570.0
MAX_WORKING_SIDE = 4096  # px at the working resolution: a four-finger slap is about 1,800 x 1,700


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


def to_500ppi(image: np.ndarray, ppi: float) -> WorkingImage:
    side = max(image.shape) * WORKING_PPI / float(ppi)
    if side > MAX_WORKING_SIDE:
        raise InvalidSample(f"image of {image.shape[1]}x{image.shape[0]} px at {ppi:g} ppi is "
                            f"{side:.0f} px long at {WORKING_PPI:g} ppi, above the {MAX_WORKING_SIDE}-px "
                            "limit",
                            hint="crop the image to the finger (or slap) area first")
    work = _shared_resample(image, ppi, WORKING_PPI)
    return WorkingImage(np.ascontiguousarray(work), work.shape[1] / image.shape[1],
                        work.shape[0] / image.shape[0])
