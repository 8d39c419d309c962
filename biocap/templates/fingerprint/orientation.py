"""Stage "orientation": the local ridge direction and how clear it is (coherence).

Classic gradient structure tensor: the averaged squared gradient gives the dominant gradient
direction (perpendicular to the ridges) as a doubled angle, which averages correctly across the
0/180 degree wrap. Computed at half resolution (250 ppi) where ridges are still well sampled, and
kept as the doubled-angle vector (cos 2a, sin 2a) at 500 ppi.

Angles here are in pixel coordinates: atan2(dy, dx) with y pointing down, in [0, pi).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from .params import ORIENTATION_SMOOTH_SIGMA, TENSOR_SIGMA


@dataclass
class OrientationField:
    cos2: np.ndarray  # float32, cos of twice the ridge angle, 500 ppi grid
    sin2: np.ndarray
    coherence: np.ndarray  # float32 0..1: 1 = perfectly parallel ridges

    @property
    def angle(self) -> np.ndarray:
        """Ridge direction in [0, pi), pixel coordinates (y down)."""
        return (0.5 * np.arctan2(self.sin2, self.cos2)) % np.pi

    def at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        xi = np.clip(np.round(x).astype(int), 0, self.cos2.shape[1] - 1)
        yi = np.clip(np.round(y).astype(int), 0, self.cos2.shape[0] - 1)
        return (0.5 * np.arctan2(self.sin2[yi, xi], self.cos2[yi, xi])) % np.pi


def orientation_field(normalized: np.ndarray, mask: np.ndarray) -> OrientationField:
    h, w = normalized.shape
    half = cv2.resize(normalized, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(half, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(half, cv2.CV_32F, 0, 1, ksize=3)
    s = TENSOR_SIGMA / 2
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), s)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), s)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), s)
    # doubled gradient angle; the ridge direction is perpendicular, i.e. the doubled angle + pi
    vx, vy = -(gxx - gyy), -2 * gxy
    energy = gxx + gyy
    mag = np.sqrt(vx * vx + vy * vy)
    coherence = mag / np.maximum(energy, 1e-6)
    # second pass: average the doubled-angle vectors, so noisy spots borrow from clear neighbours
    s2 = ORIENTATION_SMOOTH_SIGMA / 2
    sx = cv2.GaussianBlur(vx, (0, 0), s2)
    sy = cv2.GaussianBlur(vy, (0, 0), s2)
    norm = np.sqrt(sx * sx + sy * sy) + 1e-9
    cos2 = cv2.resize(sx / norm, (w, h), interpolation=cv2.INTER_LINEAR)
    sin2 = cv2.resize(sy / norm, (w, h), interpolation=cv2.INTER_LINEAR)
    renorm = np.sqrt(cos2 * cos2 + sin2 * sin2) + 1e-9
    coh = cv2.resize(coherence, (w, h), interpolation=cv2.INTER_LINEAR)
    coh[~mask] = 0
    return OrientationField((cos2 / renorm).astype(np.float32), (sin2 / renorm).astype(np.float32),
                            coh.astype(np.float32))
