"""Small image helpers shared by the fingerprint algorithms: validation, resampling to the working
resolution (500 ppi, the resolution ISO/IEC 29794-4 and NFIQ 2 assume), bounded sizes, and grey-level
normalisation.

Everything here takes and returns 2-D numpy arrays and refuses, with a `InvalidSample` that says
what to do, anything that would allocate without bound.
"""
from __future__ import annotations

import cv2
import numpy as np

from .errors import InvalidSample
from .types import MAX_IMAGE_SIDE, Sample, validate_image

#: Fingerprint working resolutions, both here and nowhere else. They differ on purpose:
#: quality measures at 500 ppi, the resolution ISO/IEC 29794-4 and NFIQ 2's 32-px blocks assume
#: (its model was trained there); minutiae extraction at 570 ppi, where its pixel constants
#: (set at 500 ppi) gave fewer false minutiae and better-ordered FVC2002 pairs (1 - AUC 59 -> 31-47
#: basis points; docs/decisions/15-layout-and-contracts.md). Matching normalises minutiae to 500.
QUALITY_PPI = 500.0
EXTRACTION_PPI = 570.0
#: the default target of `to_working_resolution` (the quality resolution)
WORKING_PPI = QUALITY_PPI
#: largest side accepted after resampling (a 4-finger slap at 500 ppi is about 1,600 x 1,500)
MAX_WORKING_SIDE = 4096
#: resolutions outside this range are not plausible for a fingerprint sensor
MIN_FINGERPRINT_PPI, MAX_FINGERPRINT_PPI = 250.0, 2000.0


def check_ppi(ppi, *, what: str = "resolution") -> float:
    """Return `ppi` as a float if it is a plausible fingerprint resolution, else raise."""
    try:
        value = float(ppi)
    except (TypeError, ValueError):
        raise InvalidSample(f"{what} {ppi!r} is not a number",
                            hint="give the sensor's resolution in pixels per inch, e.g. 500") from None
    if not np.isfinite(value) or not MIN_FINGERPRINT_PPI <= value <= MAX_FINGERPRINT_PPI:
        raise InvalidSample(f"{what} {ppi!r} ppi is outside the {MIN_FINGERPRINT_PPI:.0f}-"
                            f"{MAX_FINGERPRINT_PPI:.0f} ppi that fingerprint algorithms accept",
                            hint="pass the sensor's true resolution; nothing guesses it")
    return value


def image_and_ppi(sample_or_image, ppi=None) -> tuple[np.ndarray, float]:
    """Accept a `Sample` (its ppi is used) or a raw 2-D uint8 array with an explicit `ppi`;
    return the validated (image, ppi)."""
    if isinstance(sample_or_image, Sample):
        image = sample_or_image.image
        ppi = sample_or_image.ppi if ppi is None else ppi
    else:
        image = sample_or_image
        if ppi is None:
            raise InvalidSample("a raw image has no resolution",
                                hint="wrap it in a Sample with its ppi, or pass ppi=...")
    validate_image(image)
    return image, check_ppi(ppi)


def resampled_size(shape: tuple[int, int], ppi: float, target_ppi: float = WORKING_PPI,
                   max_side: int = MAX_WORKING_SIDE) -> tuple[int, int]:
    """(height, width) of an image of `shape` at `ppi` once resampled to `target_ppi`."""
    scale = target_ppi / ppi
    h, w = (max(1, int(round(s * scale))) for s in shape)
    if max(h, w) > max_side:
        raise InvalidSample(f"image of {shape[1]}x{shape[0]} px at {ppi:g} ppi would be "
                            f"{w}x{h} px at {target_ppi:g} ppi, above the {max_side}-px limit",
                            hint="crop the image to the finger area first")
    return h, w


def to_working_resolution(image: np.ndarray, ppi: float,
                          target_ppi: float = WORKING_PPI) -> np.ndarray:
    """Resample a grey image from `ppi` to `target_ppi` (INTER_AREA when shrinking, which
    averages instead of aliasing ridges; INTER_LINEAR when enlarging). A resolution within 1% of
    the target is returned unchanged."""
    validate_image(image)
    ppi = check_ppi(ppi)
    if abs(ppi - target_ppi) <= 0.01 * target_ppi:
        return image
    h, w = resampled_size(image.shape, ppi, target_ppi)
    interpolation = cv2.INTER_AREA if ppi > target_ppi else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interpolation)


def sample_at_working_resolution(sample_or_image, ppi=None) -> np.ndarray:
    """The image of a Sample (or a raw array with `ppi`) at 500 ppi."""
    image, ppi = image_and_ppi(sample_or_image, ppi)
    return to_working_resolution(image, ppi)


def bounded_downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink `image` so that its longer side is at most `max_side` (for previews); returns the
    image and the factor applied (<= 1)."""
    validate_image(image)
    if max_side < 8:
        raise InvalidSample(f"max_side {max_side} is too small; use at least 8 pixels")
    h, w = image.shape
    factor = min(1.0, max_side / max(h, w))
    if factor == 1.0:
        return image, 1.0
    size = (max(8, int(round(w * factor))), max(8, int(round(h * factor))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor


def normalize_mean_std(image: np.ndarray, mean: float = 128.0, std: float = 40.0) -> np.ndarray:
    """Shift and scale grey levels to a given mean and standard deviation (float32 result); a
    flat image comes back flat at `mean`."""
    img = np.asarray(image, dtype=np.float32)
    s = float(img.std())
    if s < 1e-6:
        return np.full_like(img, mean)
    return (img - float(img.mean())) * (std / s) + mean


def stretch_contrast(image: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0) -> np.ndarray:
    """Map the `low_pct`..`high_pct` percentile range of a uint8 image to 0..255 (uint8)."""
    validate_image(image)
    if not 0 <= low_pct < high_pct <= 100:
        raise InvalidSample(f"percentiles {low_pct}, {high_pct} must satisfy 0 <= low < high <= 100")
    hist = np.bincount(image.ravel(), minlength=256).cumsum()
    total = hist[-1]
    lo = int(np.searchsorted(hist, total * low_pct / 100.0))
    hi = int(np.searchsorted(hist, total * high_pct / 100.0))
    if hi <= lo:
        return image.copy()
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
    return lut.astype(np.uint8)[image]


__all__ = ["WORKING_PPI", "MAX_WORKING_SIDE", "MAX_IMAGE_SIDE", "check_ppi", "image_and_ppi",
           "resampled_size", "to_working_resolution", "sample_at_working_resolution",
           "bounded_downscale", "normalize_mean_std", "stretch_contrast"]
