"""Stage "thinning": reduce ridges to one-pixel-wide, 8-connected skeleton lines."""
from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize

try:  # opencv-contrib's thinning is faster where present
    from cv2 import ximgproc as _ximgproc  # type: ignore[attr-defined]
except ImportError:
    _ximgproc = None


def thin(binary: np.ndarray) -> np.ndarray:
    """bool skeleton of the ridge map."""
    if _ximgproc is not None:
        return _ximgproc.thinning(binary.astype(np.uint8) * 255) > 0
    return skeletonize(binary)
