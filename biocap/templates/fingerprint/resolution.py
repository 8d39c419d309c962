"""Stage "resolution": bring the image to the 500 ppi working resolution and remember the scale,
so minutiae found at 500 ppi can be reported in the Sample's own pixels."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...errors import InvalidSample

try:  # the shared resampler (same rules as the quality core); a plain resize if it is absent
    from ...imaging import to_working_resolution as _shared_resample
except ImportError:  # pragma: no cover - only when biocap.imaging is not part of the build
    _shared_resample = None

WORKING_PPI = 500.0
MAX_WORKING_SIDE = 4096  # px at 500 ppi: a four-finger slap is about 1,600 x 1,500


@dataclass
class WorkingImage:
    image: np.ndarray  # uint8 at 500 ppi
    scale_x: float  # working pixels per sample pixel, horizontally
    scale_y: float

    def to_sample(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Working-resolution pixel centres -> the Sample's pixel centres (cv2.resize geometry)."""
        return (x + 0.5) / self.scale_x - 0.5, (y + 0.5) / self.scale_y - 0.5


def to_500ppi(image: np.ndarray, ppi: float) -> WorkingImage:
    side = max(image.shape) * WORKING_PPI / float(ppi)
    if side > MAX_WORKING_SIDE:
        raise InvalidSample(f"image of {image.shape[1]}x{image.shape[0]} px at {ppi:g} ppi is "
                            f"{side:.0f} px long at 500 ppi, above the {MAX_WORKING_SIDE}-px limit",
                            hint="crop the image to the finger (or slap) area first")
    if _shared_resample is not None:
        work = _shared_resample(image, ppi, WORKING_PPI)
    else:
        f = WORKING_PPI / ppi
        size = (max(8, round(image.shape[1] * f)), max(8, round(image.shape[0] * f)))
        work = image if abs(f - 1) <= 0.01 else cv2.resize(
            image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    return WorkingImage(np.ascontiguousarray(work), work.shape[1] / image.shape[1],
                        work.shape[0] / image.shape[0])
