"""Stage "thinning": reduce ridges to one-pixel-wide, 8-connected skeleton lines."""
from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize


def thin(binary: np.ndarray) -> np.ndarray:
    """bool skeleton of the ridge map (scikit-image's, on every machine: opencv-contrib's
    thinning, used before when installed, draws other skeletons and so other minutiae)."""
    return skeletonize(binary)
