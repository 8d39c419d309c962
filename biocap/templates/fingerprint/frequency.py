"""Stage "frequency": the ridge wavelength (distance between neighbouring ridges, px at 500 ppi).

Taken from the peak of the radially averaged power spectrum of the normalized foreground: one
figure per finger, which at a fixed 500 ppi varies little across a finger (about 8-11 px) and is
far more stable than block-wise estimates on noisy images.

The window is the foreground mask, shrunk and softened, times a Hann window: the normalized image is
0 outside the mask, and a hard mask edge puts broadband energy into the spectrum whose low-frequency
end can outweigh the ridge peak on small or blotchy prints (FVC2002 DB4: two of 80 images came out
at 15-16 px instead of ~7, and their templates matched nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from .params import (DEFAULT_WAVELENGTH, FFT_SIDE, FREQUENCY_MIN_AREA, MASK_TAPER, MAX_WAVELENGTH,
                     MIN_WAVELENGTH)


@dataclass
class RidgeFrequency:
    wavelength: float  # px at 500 ppi
    peak_ratio: float  # spectral peak over the band's mean power: > ~2 means clear ridges

    @property
    def frequency(self) -> float:
        return 1.0 / self.wavelength


def ridge_frequency(normalized: np.ndarray, mask: np.ndarray) -> RidgeFrequency:
    moments = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    if moments["m00"] < FREQUENCY_MIN_AREA:
        return RidgeFrequency(DEFAULT_WAVELENGTH, 0.0)
    cy, cx = int(moments["m01"] / moments["m00"]), int(moments["m10"] / moments["m00"])
    h, w = normalized.shape
    y0, x0 = max(0, cy - FFT_SIDE // 2), max(0, cx - FFT_SIDE // 2)
    crop = normalized[y0:y0 + FFT_SIDE, x0:x0 + FFT_SIDE]
    window = np.outer(np.hanning(crop.shape[0]), np.hanning(crop.shape[1])).astype(np.float32)
    inside = mask[y0:y0 + FFT_SIDE, x0:x0 + FFT_SIDE].astype(np.float32)
    inside = cv2.erode(inside, np.ones((2 * MASK_TAPER + 1,) * 2, np.uint8))
    window *= cv2.GaussianBlur(inside, (0, 0), MASK_TAPER)
    power = np.abs(np.fft.rfft2(crop * window, s=(FFT_SIDE, FFT_SIDE))) ** 2
    fy = np.fft.fftfreq(FFT_SIDE)[:, None]
    fx = np.fft.rfftfreq(FFT_SIDE)[None, :]
    radius = np.sqrt(fx * fx + fy * fy) * FFT_SIDE  # cycles per FFT_SIDE pixels
    bins = np.round(radius).astype(int)
    lo, hi = int(FFT_SIDE / MAX_WAVELENGTH), int(np.ceil(FFT_SIDE / MIN_WAVELENGTH))
    profile = np.bincount(bins.ravel(), power.ravel(), minlength=hi + 2)
    counts = np.maximum(np.bincount(bins.ravel(), minlength=hi + 2), 1)
    profile = profile / counts
    band = profile[lo:hi + 1]
    if not np.isfinite(band).all() or band.max() <= 0:
        return RidgeFrequency(DEFAULT_WAVELENGTH, 0.0)
    k = int(np.argmax(band))
    # sub-bin peak by a parabola through the peak and its neighbours
    offset = 0.0
    if 0 < k < band.size - 1:
        a, b, c = band[k - 1], band[k], band[k + 1]
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    wavelength = FFT_SIDE / (lo + k + offset)
    return RidgeFrequency(float(np.clip(wavelength, MIN_WAVELENGTH, MAX_WAVELENGTH)),
                          float(band.max() / band.mean()))
