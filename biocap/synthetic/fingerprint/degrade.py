"""Synthetic degradations of a fingerprint image, each imitating one thing that goes wrong at the
sensor: used to widen the training set of the quality model and to test its feedback.

Every function takes a 2-D uint8 image at 500 ppi and returns a new one of the same shape.
"""
from __future__ import annotations

import cv2
import numpy as np


def _background(image: np.ndarray) -> int:
    # sensors differ (optical: white background, some capacitive: grey); the brightest
    # percentile is a fair guess of "no finger" for all of them
    return int(np.percentile(image, 99))


def blur(image: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Out of focus or a finger that slid: ridges smear into each other."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def motion_blur(image: np.ndarray, length: int = 15, angle_deg: float = 0.0) -> np.ndarray:
    """A finger moving during capture: smearing along one direction."""
    length = max(3, int(length) | 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def low_contrast(image: np.ndarray, factor: float = 0.25) -> np.ndarray:
    """Too little pressure or a faint sensor: grey levels squeezed towards the background."""
    bg = _background(image)
    out = bg + (image.astype(np.float32) - bg) * factor
    return np.clip(out, 0, 255).astype(np.uint8)


def dry(image: np.ndarray, size: int = 5) -> np.ndarray:
    """Dry skin: ridges thin and break up (grey dilation widens the bright valleys), with
    speckles where the ridge lost contact."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    out = cv2.dilate(image, kernel)
    rng = np.random.default_rng(int(image.sum()) % (2**32))
    breaks = cv2.resize((rng.random((image.shape[0] // 6 + 1, image.shape[1] // 6 + 1)) < 0.3)
                        .astype(np.uint8) * 255, image.shape[::-1], interpolation=cv2.INTER_NEAREST)
    return np.maximum(out, breaks & np.uint8(_background(image)))


def wet(image: np.ndarray, size: int = 5) -> np.ndarray:
    """Wet or smudged finger: ridges thicken and merge (grey erosion widens the dark ridges)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.GaussianBlur(cv2.erode(image, kernel), (0, 0), 1.0)


def noise(image: np.ndarray, sigma: float = 40.0, seed: int = 0) -> np.ndarray:
    """Sensor noise."""
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def partial(image: np.ndarray, keep: float = 0.4, side: str = "bottom") -> np.ndarray:
    """Only part of the finger touched the sensor: the rest is background."""
    out = image.copy()
    h, w = image.shape
    bg = _background(image)
    if side == "bottom":
        out[int(h * keep):, :] = bg
    elif side == "top":
        out[: int(h * (1 - keep)), :] = bg
    elif side == "right":
        out[:, int(w * keep):] = bg
    elif side == "left":
        out[:, : int(w * (1 - keep))] = bg
    else:
        raise ValueError(f"side must be top, bottom, left or right, got {side!r}")
    return out


def offset(image: np.ndarray, dx: float = 0.35, dy: float = 0.0) -> np.ndarray:
    """Finger off centre: the image shifted by a fraction of its size, background filling in."""
    h, w = image.shape
    m = np.float32([[1, 0, dx * w], [0, 1, dy * h]])
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_background(image))


#: name -> (function, sampler of random keyword arguments given a numpy Generator)
DEGRADATIONS = {
    "blur": (blur, lambda r: {"sigma": float(r.uniform(1.2, 4.5))}),
    "motion_blur": (motion_blur, lambda r: {"length": int(r.integers(7, 25)),
                                            "angle_deg": float(r.uniform(0, 180))}),
    "low_contrast": (low_contrast, lambda r: {"factor": float(r.uniform(0.1, 0.5))}),
    "dry": (dry, lambda r: {"size": int(r.choice([3, 5, 7]))}),
    "wet": (wet, lambda r: {"size": int(r.choice([3, 5, 7]))}),
    "noise": (noise, lambda r: {"sigma": float(r.uniform(15, 70)), "seed": int(r.integers(1 << 30))}),
    "partial": (partial, lambda r: {"keep": float(r.uniform(0.25, 0.6)),
                                    "side": str(r.choice(["top", "bottom", "left", "right"]))}),
    "offset": (offset, lambda r: {"dx": float(r.uniform(-0.4, 0.4)), "dy": float(r.uniform(-0.4, 0.4))}),
}


def random_degradation(image: np.ndarray, rng: np.random.Generator) -> tuple[str, dict, np.ndarray]:
    """Apply one randomly chosen degradation with random strength; returns (name, kwargs, image)."""
    name = str(rng.choice(sorted(DEGRADATIONS)))
    func, sampler = DEGRADATIONS[name]
    kwargs = sampler(rng)
    return name, kwargs, func(image, **kwargs)
