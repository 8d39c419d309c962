"""Controlled degradations of a face image, one per quality component, for `bench quality
--modality face`: each makes one defect worse and should lower that component's score.

Each takes the image (grey (h, w) or RGB (h, w, 3) uint8), the reference detection of the
original (landmarks) and a seeded generator, and returns the degraded image of the same kind.
Decisions that look at the image (which way exposure or light leans) are taken on its luma,
and a colour image consumes the generator exactly as its grey version does, so the grey of a
degraded colour image is (up to rounding, and JPEG's chroma) the degraded grey image. Where a defect has a
direction (pose, exposure, uneven light, off-centre), the degradation pushes it further the way
the original already leans, so "worse" is well defined (docs/face.md, quality bench).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..templates.face.detection import FaceDetection
from ..quality.face.measures import pose_degrees


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def _luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img


def _per_pixel(mask_or_gain: np.ndarray, img: np.ndarray) -> np.ndarray:
    """A (h, w) or (w,) factor shaped to broadcast over a grey or colour image."""
    return mask_or_gain[..., None] if img.ndim == 3 else mask_or_gain


def _level(value: float, img: np.ndarray):
    """A grey level as cv2's drawing functions want it for this image."""
    return (value, value, value) if img.ndim == 3 else value


def blur(img, face, rng):
    sigma = 0.05 * face.inter_eye_distance * rng.uniform(0.9, 1.1)
    return cv2.GaussianBlur(img, (0, 0), sigma)


def _exposure_direction(img, face) -> int:
    x, y, w, h = (int(v) for v in face.box)
    region = _luma(img)[max(0, y):y + h, max(0, x):x + w]
    return -1 if region.mean() < 128 else 1


def exposure(img, face, rng):
    """Under-exposure for a face darker than mid-grey, over-exposure for a brighter one."""
    f = img.astype(np.float32)
    if _exposure_direction(img, face) < 0:
        return _u8(f * rng.uniform(0.22, 0.28))
    return _u8(f * rng.uniform(2.2, 2.6) + 20)


def under_exposure(img, face, rng):
    return _u8(img.astype(np.float32) * rng.uniform(0.22, 0.28))


def over_exposure(img, face, rng):
    return _u8(img.astype(np.float32) * rng.uniform(2.2, 2.6) + 20)


def low_contrast(img, face, rng):
    f = img.astype(np.float32)
    mean = f.mean(axis=(0, 1))  # per channel (one value for grey)
    return _u8((f - mean) * rng.uniform(0.25, 0.3) + mean)


def uneven_light(img, face, rng):
    """A horizontal light ramp darkening the side of the face that is already darker."""
    h, w = img.shape[:2]
    mx = face.eye_midpoint[0]
    x, y, bw, bh = (int(v) for v in face.box)
    luma = _luma(img)
    left = luma[max(0, y):y + bh, max(0, x):int(mx)].mean()
    right = luma[max(0, y):y + bh, int(mx):x + bw].mean()
    ramp = np.clip((np.arange(w) - (mx - bw / 2)) / max(bw, 1), 0, 1).astype(np.float32)
    if left < right:  # darken the left
        gain = 0.25 + 0.75 * ramp
    else:
        gain = 1.0 - 0.75 * ramp
    return _u8(img.astype(np.float32) * _per_pixel(gain[None, :], img))


def turn_head(img, eye_midpoint, ied: float, nose, yaw_deg: float = 0.0, pitch_deg: float = 0.0):
    """Turn the head in depth: a head-shaped depth map (ellipsoid plus the nose) rotated about the
    vertical (yaw) or horizontal (pitch) axis through the head centre, the image resampled.
    Also used by the simulated face camera (plugins/vendor_sim)."""
    h, w = img.shape[:2]
    cx, cy = np.asarray(eye_midpoint, np.float64) + np.array([0.0, 0.4 * ied])
    ax, ay = 1.3 * ied, 1.9 * ied
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    nx, ny = (xx - cx) / ax, (yy - cy) / ay
    inside = np.clip(1 - nx ** 2 - ny ** 2, 0, None)
    z = 1.1 * ied * np.sqrt(inside)
    z += 0.45 * ied * np.exp(-(((xx - nose[0]) / (0.22 * ied)) ** 2 + ((yy - nose[1] + 0.3 * ied)
                                                                        / (0.5 * ied)) ** 2))
    t, p = np.radians(yaw_deg), np.radians(pitch_deg)
    # backward map: output (x, y) samples input at the point that rotates there (first order)
    mapx = cx + (xx - cx) * np.cos(t) - z * np.sin(t)
    mapy = cy + (yy - cy) * np.cos(p) + z * np.sin(p)
    return cv2.remap(img, mapx.astype(np.float32), mapy.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _depth_warp(img, face, yaw_deg: float = 0.0, pitch_deg: float = 0.0):
    return turn_head(img, face.eye_midpoint, face.inter_eye_distance, face.nose, yaw_deg, pitch_deg)


def yaw(img, face, rng):
    current, _, _ = pose_degrees(face)
    sign = 1.0 if current >= 0 else -1.0
    return _depth_warp(img, face, yaw_deg=sign * rng.uniform(22, 28))


def pitch(img, face, rng):
    _, current, _ = pose_degrees(face)
    sign = 1.0 if current >= 0 else -1.0
    return _depth_warp(img, face, pitch_deg=sign * rng.uniform(18, 24))


def roll(img, face, rng):
    _, _, current = pose_degrees(face)
    sign = 1.0 if current >= 0 else -1.0
    h, w = img.shape[:2]
    cx, cy = face.eye_midpoint
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), -sign * rng.uniform(15, 20), 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def small_face(img, face, rng):
    """The subject twice as far away: the scene shrunk by half, centred, the rest replicated."""
    h, w = img.shape[:2]
    s = rng.uniform(0.45, 0.5)
    small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    top, left = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    return cv2.copyMakeBorder(small, top, h - small.shape[0] - top, left, w - small.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def off_centre(img, face, rng):
    """The face moved towards the nearer side edge by 30-35 % of the width."""
    h, w = img.shape[:2]
    mx = face.eye_midpoint[0]
    sign = -1.0 if mx < w / 2 else 1.0
    m = np.float32([[1, 0, sign * rng.uniform(0.3, 0.35) * w], [0, 1, 0]])
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _head_mask(img, face, grow: float = 1.3) -> np.ndarray:
    h, w = img.shape[:2]
    ied = face.inter_eye_distance
    mask = np.zeros((h, w), np.uint8)
    cx, cy = face.eye_midpoint + np.array([0.0, 0.2 * ied])
    cv2.ellipse(mask, (int(cx), int(cy)), (int(1.2 * grow * ied), int(1.9 * grow * ied)), 0, 0, 360,
                255, -1)
    mask[int(face.eye_midpoint[1] + 1.6 * ied):, :] = 255  # neck and shoulders stay
    return mask


def clutter(img, face, rng):
    """A busy background: random bars and blobs of random grey behind the head."""
    h, w = img.shape[:2]
    layer = img.copy()
    for _ in range(int(rng.integers(30, 50))):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = _level(int(rng.integers(0, 256)), img)
        if rng.random() < 0.5:
            cv2.line(layer, (x0, y0), (int(rng.integers(0, w)), int(rng.integers(0, h))), colour,
                     int(rng.integers(1, 5)))
        else:
            cv2.circle(layer, (x0, y0), int(rng.integers(2, max(3, w // 15))), colour, -1)
    keep = _head_mask(img, face) > 0
    out = img.copy()
    out[~keep] = layer[~keep]
    return out


def _blend(img, patch, mask):
    m = _per_pixel(cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.5), img)
    return _u8(img.astype(np.float32) * (1 - m) + patch.astype(np.float32) * m)


def close_eyes(img, face, rng):
    """Closed eyelids: skin from just below each eye over the eye, and a thin dark lash line."""
    ied = face.inter_eye_distance
    out = img.copy()
    for eye in (face.right_eye, face.left_eye):
        ex, ey = (int(round(v)) for v in eye)
        shift = int(round(0.32 * ied))
        patch = np.roll(img, -shift, axis=0)  # the cheek below, moved up onto the eye
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.ellipse(mask, (ex, ey), (int(0.3 * ied), int(0.14 * ied)), 0, 0, 360, 255, -1)
        out = _blend(out, patch, mask)
        skin = np.median(patch[mask > 0], axis=0) if (mask > 0).any() else np.full(3, 128.0)
        lash = tuple(int(v * 0.45) for v in skin) if img.ndim == 3 else int(float(skin) * 0.45)
        cv2.ellipse(out, (ex, ey - int(0.02 * ied)), (int(0.24 * ied), int(0.06 * ied)), 0, 20, 160,
                    lash, max(1, int(round(0.03 * ied))))
    return out


def open_mouth(img, face, rng):
    """An open mouth: a dark oval cavity where the lips meet."""
    ied = face.inter_eye_distance
    mx, my = face.eye_midpoint
    roll = face.roll
    drop = 1.15 * ied
    cx, cy = mx - np.sin(roll) * drop, my + np.cos(roll) * drop
    out = img.copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(0.24 * ied), int(rng.uniform(0.11, 0.14) * ied)),
                np.degrees(roll), 0, 360, 255, -1)
    dark = np.full_like(img, int(rng.uniform(15, 35)))
    return _blend(out, dark, mask)


def _cover(img, face, centre, size, rng):
    level = int(rng.uniform(40, 200))
    noise = _per_pixel(rng.normal(0, 2, img.shape[:2]), img)  # the same draws for grey and colour
    patch = _u8(np.full(img.shape, level, np.float32) + noise)
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(size[0]), int(size[1])),
                np.degrees(face.roll), 0, 360, 255, -1)
    return _blend(img, patch, mask)


def cover_eyes(img, face, rng):
    """Both eyes behind a plain band (dark glasses, a hand)."""
    ied = face.inter_eye_distance
    return _cover(img, face, face.eye_midpoint, (1.0 * ied, 0.3 * ied), rng)


def cover_mouth(img, face, rng):
    """The mouth behind a plain patch (a hand, a scarf)."""
    ied = face.inter_eye_distance
    mx, my = face.eye_midpoint
    drop = 1.15 * ied
    centre = (mx - np.sin(face.roll) * drop, my + np.cos(face.roll) * drop)
    return _cover(img, face, centre, (0.5 * ied, 0.3 * ied), rng)


def second_face(img, face, rng):
    """Another person in the picture: the canvas doubled in width, a mirrored copy beside it."""
    return np.ascontiguousarray(np.concatenate([img, np.fliplr(img)], axis=1))


def jpeg(img, face, rng):
    quality = [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(5, 9))]
    if img.ndim == 3:  # colour JPEG (chroma subsampled as a camera's)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), quality)
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    ok, buf = cv2.imencode(".jpg", img, quality)
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


#: component -> the degradation that should lower its score
DEGRADATIONS: dict[str, Callable] = {
    "inter_eye_distance": small_face,
    "head_size": small_face,
    "crop": off_centre,
    "yaw": yaw,
    "pitch": pitch,
    "roll": roll,
    "sharpness": blur,
    "luminance_mean": exposure,
    "luminance_variance": low_contrast,
    "under_exposure": under_exposure,
    "over_exposure": over_exposure,
    "dynamic_range": low_contrast,
    "illumination_uniformity": uneven_light,
    "background_uniformity": clutter,
    "eyes_open": close_eyes,
    "mouth_closed": open_mouth,
    "eyes_not_occluded": cover_eyes,
    "mouth_not_occluded": cover_mouth,
    "single_face": second_face,
    "compression": jpeg,
}


def degrade(name: str, img: np.ndarray, face: FaceDetection, rng: np.random.Generator) -> np.ndarray:
    return DEGRADATIONS[name](img, face, rng)
