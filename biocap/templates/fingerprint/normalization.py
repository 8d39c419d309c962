"""Stage "normalization": remove slow brightness changes and equalise local contrast, so later
stages see ridges as a zero-mean signal of about unit amplitude everywhere in the foreground."""
from __future__ import annotations

import cv2
import numpy as np

SIGMA = 8.0  # px at 500 ppi: about one ridge period, wide enough to average a ridge and a valley


def normalize(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 image, zero mean and unit local deviation inside `mask`, 0 outside."""
    f = image.astype(np.float32)
    mean = cv2.GaussianBlur(f, (0, 0), SIGMA)
    centred = f - mean
    dev = np.sqrt(cv2.GaussianBlur(centred * centred, (0, 0), SIGMA))
    out = centred / np.maximum(dev, 2.0)
    out[~mask] = 0
    return out
