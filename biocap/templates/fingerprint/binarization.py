"""Stage "binarization": ridge pixels are where the enhanced signal is negative (ridges are dark);
specks and pinholes smaller than a ridge fragment are cleaned away."""
from __future__ import annotations

import cv2
import numpy as np

MIN_BLOB = 20  # px at 500 ppi: smaller ridge blobs or valley holes are noise, not structure


def _drop_small(binary: np.ndarray, min_area: int) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
    small = small[small > 0]
    if small.size == 0:
        return binary
    return binary & ~np.isin(labels, small)


def binarize(enhanced: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """bool ridge map at 500 ppi."""
    ridges = (enhanced < 0) & mask
    ridges = _drop_small(ridges, MIN_BLOB)
    holes = _drop_small(~ridges & mask, MIN_BLOB)  # valley pixels that survive
    return mask & ~holes
