"""Stage "normalization": remove slow brightness changes and equalise local contrast, so later
stages see ridges as a zero-mean signal of about unit amplitude everywhere in the foreground.

The local mean and deviation are smooth by construction, so they are computed at a quarter of the
resolution and interpolated back (a wide Gaussian at full resolution costs ten times more)."""
from __future__ import annotations

import cv2
import numpy as np

SIGMA = 8.0  # px at 500 ppi: about one ridge period, wide enough to average a ridge and a valley
COARSE = 4  # the smooth statistics are computed at 1/COARSE resolution


def _smooth(values: np.ndarray) -> np.ndarray:
    h, w = values.shape
    small = cv2.resize(values, (max(1, w // COARSE), max(1, h // COARSE)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), SIGMA / COARSE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def normalize(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 image, zero mean and unit local deviation inside `mask`, 0 outside."""
    f = image.astype(np.float32)
    centred = f - _smooth(f)
    dev = np.sqrt(_smooth(centred * centred))
    out = centred / np.maximum(dev, 2.0)
    out[~mask] = 0
    return out
