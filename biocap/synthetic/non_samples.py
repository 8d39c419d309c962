"""Images that are NOT biometric samples, with their ground truth ("not a <modality>"): the
probes a quality provider and an extractor must refuse (issue 17). Deterministic per seed.

    img = stripes(period_px=9, angle=0.5)      # a sinusoidal stripe pattern at a ridge period
    img = rings(period_px=9, centre=(0.5, 0.5)) # concentric rings (a whorl without minutiae)
    img = noise(seed=1); img = flat(0)
    img = rendered_pen(x, y, pen_down)         # a signature's pen trace drawn as an image
"""
from __future__ import annotations

import cv2
import numpy as np

SHAPE = (500, 400)  # rows, columns: a single-finger frame at 500 ppi


def stripes(period_px: float, angle: float = 0.0, *, shape=SHAPE, square: bool = False,
            contrast: float = 120.0, noise_std: float = 0.0, seed: int = 0) -> np.ndarray:
    """Parallel stripes: a sinusoid (or a square wave) of `period_px` at `angle` radians."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period_px)
    if square:
        wave = np.sign(wave)
    img = 127.5 + contrast * wave
    if noise_std:
        img += np.random.default_rng(seed).normal(0, noise_std, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def rings(period_px: float, centre: tuple[float, float] = (0.5, 0.5), *, shape=SHAPE,
          aspect: float = 1.0, contrast: float = 120.0, noise_std: float = 0.0,
          seed: int = 0) -> np.ndarray:
    """Concentric rings (ellipses when `aspect` != 1: vertical radius / horizontal) of
    `period_px` around `centre` (x, y as shares of the width and height; may lie outside)."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.hypot(x - centre[0] * w, (y - centre[1] * h) / aspect)
    img = 127.5 + contrast * np.sin(r * 2 * np.pi / period_px)
    if noise_std:
        img += np.random.default_rng(seed).normal(0, noise_std, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def noise(*, shape=SHAPE, seed: int = 0, blur_sigma: float = 0.0) -> np.ndarray:
    """Uniform white noise, optionally blurred (a blotchy texture)."""
    img = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    if blur_sigma:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    return img


def flat(level: int, *, shape=SHAPE) -> np.ndarray:
    return np.full(shape, level, np.uint8)


def rendered_pen(x, y, pen_down, *, shape=(300, 600), thickness: int = 3) -> np.ndarray:
    """A pen trace (pad units) drawn dark on white, scaled to fit `shape` with a margin."""
    x, y, down = np.asarray(x, float), np.asarray(y, float), np.asarray(pen_down, bool)
    h, w = shape
    span = max(np.ptp(x), np.ptp(y) * w / h, 1e-9)
    px = (x - x.min()) / span * (w * 0.9) + w * 0.05
    py = (y - y.min()) / span * (w * 0.9) + h * 0.05
    img = np.full(shape, 255, np.uint8)
    pts = np.stack([px, py], 1).astype(np.int32)
    for i in range(1, len(pts)):
        if down[i] and down[i - 1]:
            cv2.line(img, tuple(map(int, pts[i - 1])), tuple(map(int, pts[i])), 0, thickness,
                     cv2.LINE_AA)
    return img
