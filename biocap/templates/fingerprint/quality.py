"""Stage "quality": a 0-100 reliability per minutia from what surrounds it: how clear the ridge
flow is (orientation coherence, averaged over about a ridge period) and how far the minutia is from
the foreground outline (minutiae near the edge are more often artefacts of the cut)."""
from __future__ import annotations

import cv2
import numpy as np
from .params import EDGE_FLOOR, QUALITY_CLEAR_COHERENCE, SAFE_PERIODS


def minutia_quality(x: np.ndarray, y: np.ndarray, mask: np.ndarray, coherence: np.ndarray,
                    wavelength: float) -> np.ndarray:
    if x.size == 0:
        return np.zeros(0, np.uint8)
    xi = np.clip(np.round(x).astype(int), 0, mask.shape[1] - 1)
    yi = np.clip(np.round(y).astype(int), 0, mask.shape[0] - 1)
    # the smoothed coherence is only read at the minutiae: smooth at quarter size (it is smooth)
    h, w = coherence.shape
    if min(h, w) >= 32:
        small = cv2.resize(coherence, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), max(wavelength / 8, 0.5))
        coh = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[yi, xi]
    else:
        coh = cv2.GaussianBlur(coherence, (0, 0), wavelength / 2)[yi, xi]
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1][yi, xi]
    clear = np.clip(coh / QUALITY_CLEAR_COHERENCE, 0, 1)
    inner = np.clip(dist / (SAFE_PERIODS * wavelength), 0, 1)
    return np.clip(np.round(100 * clear * (EDGE_FLOOR + (1 - EDGE_FLOOR) * inner)), 1, 100).astype(np.uint8)
