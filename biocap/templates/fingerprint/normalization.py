"""Stage "normalization": remove slow brightness changes and equalise local contrast, so later
stages see ridges as a zero-mean signal of about unit amplitude everywhere in the foreground.

The local mean and deviation are smooth by construction, so they are computed at a quarter of the
resolution and interpolated back (a wide Gaussian at full resolution costs ten times more)."""
from __future__ import annotations

import cv2
import numpy as np
from .params import NORMALIZE_COARSE, NORMALIZE_MIN_DEVIATION, NORMALIZE_SIGMA


def _smooth(values: np.ndarray) -> np.ndarray:
    h, w = values.shape
    small = cv2.resize(values, (max(1, w // NORMALIZE_COARSE), max(1, h // NORMALIZE_COARSE)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), NORMALIZE_SIGMA / NORMALIZE_COARSE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def normalize(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 image, zero mean and unit local deviation inside `mask`, 0 outside."""
    f = image.astype(np.float32)
    centred = f - _smooth(f)
    dev = np.sqrt(_smooth(centred * centred))
    out = centred / np.maximum(dev, NORMALIZE_MIN_DEVIATION)
    out[~mask] = 0
    return out
