"""Sensor-appearance variants of real fingerprint images, for training the quality model.

Why: the model learns NFIQ 2's ranking from images labelled by NFIQ 2 itself, and what changes
from one sensor to the next is mostly appearance: grey-level curve and background level,
contrast, optical blur, noise, resolution (ridge period in pixels), compression, how dry or wet
the skin images, how much of the finger touches. The four FVC sets show four sensors; the same
real prints redrawn as if by other sensors (each variant labelled by NFIQ 2 again, so the
target says how NFIQ 2 reacts to that appearance) widen what the model has seen. Unlike
`biocap.synthetic.fingerprint.degrade` (one strong defect at a time, to teach the low end of the scale), these
transforms are mild and combined, so most variants stay usable prints.

Every function takes and returns a 2-D uint8 image at 500 ppi; `random_sensor_variant` draws a
combination from a numpy Generator and returns a key naming every parameter (for the NFIQ 2
cache), so the same seed always gives the same images.
"""
from __future__ import annotations

import cv2
import numpy as np

from biocap.errors import InvalidSample
from biocap.synthetic.fingerprint import degrade


def _check(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8 \
            or min(image.shape) < 16:
        raise InvalidSample("sensor variants need a 2-D uint8 image of at least 16x16 px")


def _background(image: np.ndarray) -> float:
    # the brightest percentile: the platen where no finger touches (optical and most capacitive)
    return float(np.percentile(image, 99))


def levels(image: np.ndarray, black: float = 0.0, white: float = 255.0,
           gamma: float = 1.0) -> np.ndarray:
    """Another sensor's grey-level curve: the image's darkest percentile (ridges) goes to
    `black`, its brightest (the platen) to `white`, with `gamma` in between. `white` above 255
    saturates the platen and the lightest valleys, as some optical sensors do."""
    _check(image)
    if not (0.2 <= gamma <= 5 and -100 <= black < white <= 400):
        raise InvalidSample("levels needs 0.2 <= gamma <= 5 and -100 <= black < white <= 400")
    lo, hi = np.percentile(image, (1, 99))
    u = np.clip((image.astype(np.float32) - lo) / max(float(hi - lo), 1.0), 0, 1)
    out = black + (white - black) * u ** gamma
    return np.clip(out, 0, 255).astype(np.uint8)


def resample(image: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A sensor whose true resolution differs from the one it declares: ridges `scale` times
    wider in pixels (the image grows or shrinks with them)."""
    _check(image)
    if not 0.5 <= scale <= 2.0:
        raise InvalidSample("resample scale must be within 0.5-2")
    h, w = image.shape
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def soften(image: np.ndarray, sigma: float = 0.8) -> np.ndarray:
    """Optics or a protective film: slight blur."""
    _check(image)
    return degrade.blur(image, float(sigma)) if sigma > 0 else image.copy()


def sensor_noise(image: np.ndarray, sigma: float = 6.0, seed: int = 0) -> np.ndarray:
    """Pixel noise of the sensor."""
    _check(image)
    return degrade.noise(image, sigma, seed)


def skin(image: np.ndarray, moisture: float = 0.0, seed: int = 0) -> np.ndarray:
    """Skin moisture: negative values thin the ridges and break them where they lose contact
    (dry), positive values thicken and merge them (wet); |moisture| <= 1."""
    _check(image)
    if not -1 <= moisture <= 1:
        raise InvalidSample("moisture must be within -1 and 1")
    if moisture == 0:
        return image.copy()
    size = 3 if abs(moisture) < 0.6 else 5
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    bg = _background(image)
    img = image.astype(np.float32)
    if moisture > 0:  # dark ridges spread: grey erosion, blended by strength
        out = (1 - moisture) * img + moisture * cv2.erode(img, kernel)
        return np.clip(cv2.GaussianBlur(out, (0, 0), 0.7), 0, 255).astype(np.uint8)
    strength = -moisture
    out = (1 - strength) * img + strength * cv2.dilate(img, kernel)
    # ridges lose contact in patches a ridge period or two long (a smooth random field)
    rng = np.random.default_rng(seed)
    h, w = image.shape
    field = cv2.resize(rng.random((h // 8 + 2, w // 8 + 2)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    lost = field < 0.45 * strength
    out[lost] = out[lost] + (bg - out[lost]) * 0.8
    return np.clip(out, 0, 255).astype(np.uint8)


def compress(image: np.ndarray, quality: int = 60) -> np.ndarray:
    """Lossy transmission or storage (JPEG at `quality`)."""
    _check(image)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidSample("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def contact(image: np.ndarray, keep: float = 0.8, angle_deg: float = 0.0) -> np.ndarray:
    """Partial contact: the finger touched only a central elliptical area (larger for larger
    `keep`), its edge soft; the rest shows the platen."""
    _check(image)
    if not 0.2 <= keep <= 1:
        raise InvalidSample("contact keep must be within 0.2-1")
    h, w = image.shape
    mask = np.zeros((h, w), np.float32)
    # semi-axes 0.62 sqrt(keep) of the sides: the ellipse covers about 1.2 keep of the frame,
    # clipped by its edges, and the finger's own outline cuts it further
    r = 0.62 * np.sqrt(keep)
    axes = (max(4, int(w * r)), max(4, int(h * r)))
    cv2.ellipse(mask, (w // 2, h // 2), axes, float(angle_deg), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 6.0)
    bg = _background(image)
    out = bg + (image.astype(np.float32) - bg) * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def random_sensor_variant(image: np.ndarray, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """One random combination of the transforms above; returns (key naming the parameters,
    image). The grey-level curve always changes; the others each with their own chance."""
    _check(image)
    steps: list[tuple[str, dict]] = []
    if rng.random() < 0.7:
        steps.append(("resample", {"scale": float(rng.uniform(0.85, 1.15))}))
    if rng.random() < 0.5:
        steps.append(("skin", {"moisture": float(rng.uniform(-0.9, 0.9)),
                               "seed": int(rng.integers(1 << 30))}))
    if rng.random() < 0.2:
        steps.append(("contact", {"keep": float(rng.uniform(0.45, 0.9)),
                                  "angle_deg": float(rng.uniform(0, 180))}))
    if rng.random() < 0.4:
        steps.append(("soften", {"sigma": float(rng.uniform(0.5, 1.6))}))
    # platen from mid grey (some capacitive sensors) to saturated white (some optical ones),
    # ridges from black to 160 levels below it
    white = float(rng.uniform(150, 300))
    steps.append(("levels", {"black": float(rng.uniform(-40, min(100.0, white - 130))),
                             "white": white,
                             "gamma": float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))}))
    if rng.random() < 0.5:
        steps.append(("sensor_noise", {"sigma": float(rng.uniform(2, 14)),
                                       "seed": int(rng.integers(1 << 30))}))
    if rng.random() < 0.25:
        steps.append(("compress", {"quality": int(rng.integers(25, 90))}))
    out = image
    for name, kwargs in steps:
        out = TRANSFORMS[name](out, **kwargs)
    return ";".join(call_key(name, kw) for name, kw in steps), out


def call_key(name: str, kwargs: dict) -> str:
    """`name(a=v,...)` with sorted arguments and floats to 4 significant digits: names a
    transform exactly enough that a cached NFIQ 2 score is reused only for the very same image."""
    return name + "(" + ",".join(f"{a}={v:.4g}" if isinstance(v, float) else f"{a}={v}"
                                 for a, v in sorted(kwargs.items())) + ")"


TRANSFORMS = {"levels": levels, "resample": resample, "soften": soften, "sensor_noise": sensor_noise,
              "skin": skin, "compress": compress, "contact": contact}
