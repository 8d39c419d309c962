"""The ISO/IEC 29794-5 quality components of a face image, each as a raw value and a 0-100 score.

Names follow ISO/IEC 29794-5 (and BSI's OFIQ, its reference implementation) where they exist.
Every measure works from the 5 dlib landmarks and the image itself; region measures run on the
eye-aligned canonical crop (detection.canonical_crop), so they do not depend on the camera's
distance. What each one looks at, and how well it works, is in docs/face.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...templates.face import params as P
from ...templates.face.detection import FaceDetection, canonical_crop


@dataclass(frozen=True)
class Component:
    name: str
    raw: float  # the measured value, in the unit named in UNITS
    score: float  # 0-100, higher is better
    limit: str | None = None  # the requirement the raw value is checked against, if any
    ok: bool | None = None


UNITS = {
    "single_face": "faces", "inter_eye_distance": "px", "head_size": "head height / image height",
    "crop": "smallest margin / head height", "yaw": "degrees", "pitch": "degrees",
    "roll": "degrees", "sharpness": "mean |Laplacian| / face std",
    "luminance_mean": "0-1", "luminance_variance": "std 0-1",
    "under_exposure": "share of face pixels", "over_exposure": "share of face pixels",
    "dynamic_range": "bits", "illumination_uniformity": "darker / brighter half",
    "background_uniformity": "grey levels per px", "eyes_open": "eye darkness contrast",
    "mouth_closed": "IED", "eyes_not_occluded": "1 - flat share around the eye",
    "mouth_not_occluded": "gradient energy ratio", "compression": "blockiness",
}


def ramp(value: float, points) -> float:
    """Piecewise-linear map through (x, score) points sorted by x, flat outside them."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return float(np.interp(value, xs, ys))


# --- pose ------------------------------------------------------------------------------------------
def pose_degrees(face: FaceDetection) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the eye centres and the subnasale, with a head model
    (params NOSE_DROP, NOSE_DEPTH). Yaw > 0: the subject has turned to their left (nose towards
    the image's right); pitch > 0: chin up; roll > 0: the subject's left eye (image right) lower."""
    roll = face.roll
    c, s = np.cos(-roll), np.sin(-roll)
    ied = max(face.inter_eye_distance, 1e-6)
    d = face.nose - face.eye_midpoint
    u = (c * d[0] - s * d[1]) / ied  # along the eye line
    v = (s * d[0] + c * d[1]) / ied  # perpendicular, downwards
    yaw = np.arctan2(u, P.NOSE_DEPTH)
    v = v * np.cos(yaw)  # the measured IED shrinks by cos(yaw); the nose drop does not
    r = np.hypot(P.NOSE_DROP, P.NOSE_DEPTH)
    alpha = np.arctan2(P.NOSE_DEPTH, P.NOSE_DROP)
    if v <= r:
        pitch = np.arccos(max(v / r, -1.0)) - alpha
    else:  # nose lower than the model allows: carry on linearly (chin far down)
        pitch = -alpha - (v - r) / r
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


def head_box(face: FaceDetection) -> tuple[float, float, float, float]:
    """Estimated head box (x0, y0, x1, y1) from the eyes and the head model (crown to chin,
    ear to ear), upright approximation."""
    ied = face.inter_eye_distance
    mx, my = face.eye_midpoint
    return (mx - P.HEAD_WIDTH / 2 * ied, my - P.CROWN_ABOVE_EYES * ied,
            mx + P.HEAD_WIDTH / 2 * ied, my + (P.HEAD_HEIGHT - P.CROWN_ABOVE_EYES) * ied)


# --- region helpers on the canonical crop ----------------------------------------------------------
_EYE_DX = P.CANON_IED // 2


def _canon_points():
    cw, _ = P.CANON_SIZE
    cx, ey = cw // 2, P.CANON_EYES_Y
    return cx, ey


def _inner_face(crop: np.ndarray) -> np.ndarray:
    """Eyebrows to upper lip, cheek to cheek: the skin-and-features area every photometric
    measure uses (no hair, no background)."""
    cx, ey = _canon_points()
    k = P.CANON_IED
    return crop[int(ey - 0.35 * k):int(ey + 1.35 * k), int(cx - 0.8 * k):int(cx + 0.8 * k)]


def _darkness_extent(profile: np.ndarray, ref: float) -> float:
    """Full width at half maximum (rows) of the darkness peak of a vertical profile."""
    dark = np.clip((ref - profile) / max(ref, 1.0), 0, None)
    k = int(np.argmax(dark))
    peak = dark[k]
    if peak < 0.08:
        return 0.0
    half = peak / 2
    lo = k
    while lo > 0 and dark[lo - 1] >= half:
        lo -= 1
    hi = k
    while hi < len(dark) - 1 and dark[hi + 1] >= half:
        hi += 1
    return float(hi - lo + 1)


def eye_openness(crop: np.ndarray) -> float:
    """1 - (20th percentile of the eye's core after a vertical closing / median of the skin below
    the eye), the less open of the two eyes. An open eye shows a dark iris and pupil as tall as a
    fifth of the eye distance; a closed lid is skin with at most a thin dark lash line or crease.
    The closing with a vertical line of EYE_CLOSE_ROWS rows fills every dark feature shorter than
    that (lashes, lid crease, a glasses rim) and keeps the iris, so only tall dark structure counts.
    A darkness-contrast proxy (docs/face.md says how far it can be trusted)."""
    cx, ey = _canon_points()
    k = P.CANON_IED
    f = crop.astype(np.float32)
    tall = cv2.morphologyEx(f, cv2.MORPH_CLOSE, np.ones((P.EYE_CLOSE_ROWS, 1), np.uint8))
    out = []
    for ex in (cx - _EYE_DX, cx + _EYE_DX):
        core = tall[int(ey - 0.07 * k):int(ey + 0.07 * k), int(ex - 0.14 * k):int(ex + 0.14 * k)]
        skin = f[int(ey + 0.2 * k):int(ey + 0.35 * k), int(ex - 0.25 * k):int(ex + 0.25 * k)]
        out.append(1.0 - np.percentile(core, 20) / (np.median(skin) + 1.0))
    return float(min(out))


def _mouth_window(crop: np.ndarray):
    cx, ey = _canon_points()
    k = P.CANON_IED
    top = ey + P.NOSE_DROP * k
    return crop[int(top + 0.15 * k):int(top + 0.8 * k), int(cx - 0.25 * k):int(cx + 0.25 * k)]


def _skin_reference(crop: np.ndarray) -> float:
    cx, ey = _canon_points()
    k = P.CANON_IED
    y0, y1 = int(ey + 0.35 * k), int(ey + 0.75 * k)
    cheeks = np.concatenate([crop[y0:y1, int(cx - 0.75 * k):int(cx - 0.4 * k)].ravel(),
                             crop[y0:y1, int(cx + 0.4 * k):int(cx + 0.75 * k)].ravel()])
    return float(np.median(cheeks))


def mouth_opening(crop: np.ndarray) -> float:
    """Longest run of rows (IED units) in the mouth window whose darker pixels fall below
    MOUTH_DARK_FRACTION of the skin: an open mouth's cavity, not the thin line of closed lips."""
    window = _mouth_window(crop).astype(np.float32)
    profile = np.percentile(window, 30, axis=1)
    dark = profile < P.MOUTH_DARK_FRACTION * _skin_reference(crop)
    best = run = 0
    for d in dark:
        run = run + 1 if d else 0
        best = max(best, run)
    return best / P.CANON_IED


def _grad_energy(crop: np.ndarray) -> np.ndarray:
    smooth = cv2.GaussianBlur(crop, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def eyes_visible(energy: np.ndarray) -> float:
    """1 - the share of flat pixels around the less visible eye. Flat = gradient energy under
    EYES_FLAT_FRACTION of the lower face's median (nose, cheeks, mouth: the face's own texture,
    away from the eyes, so a cover over the eyes does not lower the reference). The window
    (EYES_WINDOW, IED units) is large enough to hold the eye when a cover has pulled the landmarks
    onto its edges: a hand, dark glasses or a band leave most of it flat, an eye with its lids,
    brow and lashes leaves little."""
    cx, ey = _canon_points()
    k = P.CANON_IED
    lower = energy[int(ey + 0.45 * k):int(ey + 1.35 * k), int(cx - 0.8 * k):int(cx + 0.8 * k)]
    flat = P.EYES_FLAT_FRACTION * (float(np.median(lower)) + 1e-6)
    hh, hw = P.EYES_WINDOW
    shares = [float((energy[int(ey - hh * k):int(ey + hh * k), int(ex - hw * k):int(ex + hw * k)]
                     < flat).mean()) for ex in (cx - _EYE_DX, cx + _EYE_DX)]
    return 1.0 - max(shares)


def visibility(crop: np.ndarray) -> tuple[float, float]:
    """(eyes, mouth): eyes as `eyes_visible`; mouth = median gradient energy of the mouth region
    relative to the inner face's. A hand, a scarf, a mask or dark glasses leave a flat region."""
    energy = _grad_energy(crop)
    face = float(np.median(_inner_face(energy))) + 1e-6
    cx, ey = _canon_points()
    k = P.CANON_IED
    top = ey + P.NOSE_DROP * k
    # the median: a cover's edges may cross the box, its flat inside fills most of it
    mouth = np.median(energy[int(top + 0.2 * k):int(top + 0.7 * k), int(cx - 0.35 * k):int(cx + 0.35 * k)])
    return eyes_visible(energy), float(mouth) / face


def sharpness(crop: np.ndarray) -> float:
    face = _inner_face(crop).astype(np.float32)
    lap = cv2.Laplacian(face, cv2.CV_32F, ksize=1)
    return float(np.abs(lap).mean() / (face.std() + 4.0))


def blockiness(grey: np.ndarray, face: FaceDetection) -> float:
    """JPEG blocking: the 8-pixel-grid phase with the strongest neighbour differences against
    the median phase, both axes, over the face box (phase-free: a cropped JPEG keeps its grid)."""
    x, y, w, h = face.box
    H, W = grey.shape
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(W, int(x + w)), min(H, int(y + h))
    region = grey[y0:y1, x0:x1].astype(np.float32)
    if region.shape[0] < 24 or region.shape[1] < 24:
        return 1.0
    ratios = []
    for axis, origin in ((1, x0), (0, y0)):
        diff = np.abs(np.diff(region, axis=axis)).mean(axis=1 - axis)
        phase = (np.arange(diff.size) + origin) % 8
        per = np.array([diff[phase == p].mean() for p in range(8)])
        ratios.append(per.max() / max(np.median(per), 1e-3))
    return float(np.sqrt(ratios[0] * ratios[1]))


def background_clutter(grey: np.ndarray, face: FaceDetection) -> float | None:
    """Mean gradient magnitude (grey levels per pixel, at half resolution) outside the head
    (enlarged head ellipse) and above the chin; None when too little background is visible."""
    small = cv2.resize(grey, (max(1, grey.shape[1] // 2), max(1, grey.shape[0] // 2)),
                       interpolation=cv2.INTER_AREA)
    h, w = small.shape
    x0, y0, x1, y1 = (v / 2 for v in head_box(face))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax, ay = (x1 - x0) / 2 * 1.25, (y1 - y0) / 2 * 1.15
    yy, xx = np.mgrid[:h, :w]
    outside = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 > 1
    region = outside & (yy < y1)
    if region.sum() < 200:
        return None
    energy = _grad_energy(small) / 8.0  # Sobel's gain
    return float(energy[region].mean())


# --- all components --------------------------------------------------------------------------------
def components(grey: np.ndarray, faces: list[FaceDetection]) -> dict[str, Component]:
    """Every component for the largest face of `faces` (empty dict when there is none, except
    single_face)."""
    out: dict[str, Component] = {}
    n = len(faces)
    out["single_face"] = Component("single_face", float(n), 100.0 if n == 1 else 0.0, "== 1",
                                   bool(n == 1))
    if not faces:
        return out
    face = faces[0]
    H, W = grey.shape
    ied = face.inter_eye_distance

    def put(name, raw, score, limit=None, ok=None):
        out[name] = Component(name, float(raw), float(np.clip(score, 0, 100)), limit,
                              None if ok is None else bool(ok))

    put("inter_eye_distance", ied, ramp(ied, P.IED_POINTS), ">= 90", ied >= 90)
    x0, y0, x1, y1 = head_box(face)
    head = (P.HEAD_HEIGHT * ied) / H
    put("head_size", head, ramp(head, P.HEAD_SIZE_POINTS), "0.5-0.8", 0.5 <= head <= 0.8)
    margin = min(x0, y0, W - x1, H - y1) / (P.HEAD_HEIGHT * ied)
    put("crop", margin, ramp(margin, P.MARGIN_POINTS), ">= 0", margin >= 0)
    yaw, pitch, roll = pose_degrees(face)
    for name, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll)):
        lim = P.POSE_LIMITS_DEG[name]
        put(name, value, 100 * (1 - abs(value) / P.POSE_ZERO_DEG), f"|x| <= {lim:g}", abs(value) <= lim)

    crop, _ = canonical_crop(grey, face)
    inner = _inner_face(crop)
    sharp = sharpness(crop)
    put("sharpness", sharp, 100 * sharp / (sharp + P.SHARPNESS_HALF))
    values = inner.astype(np.float32) / 255.0
    mean, std = float(values.mean()), float(values.std())
    lo, hi = P.LUM_MEAN_LIMITS
    put("luminance_mean", mean, ramp(mean, P.LUM_MEAN_POINTS), f"{lo}-{hi}", lo <= mean <= hi)
    put("luminance_variance", std, ramp(std, P.LUM_STD_POINTS), f">= {P.LUM_STD_LIMIT}",
        std >= P.LUM_STD_LIMIT)
    under = float((inner <= P.UNDER_LEVEL).mean())
    over = float((inner >= P.OVER_LEVEL).mean())
    put("under_exposure", under, 100 * (1 - under / P.EXPOSED_ZERO_SHARE), "<= 0.05", under <= 0.05)
    put("over_exposure", over, 100 * (1 - over / P.EXPOSED_ZERO_SHARE), "<= 0.05", over <= 0.05)
    hist = np.bincount(inner.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    entropy = float(-(p * np.log2(p)).sum())
    put("dynamic_range", entropy, ramp(entropy, P.DYNAMIC_RANGE_POINTS), ">= 6", entropy >= 6)
    half = inner.shape[1] // 2
    a, b = float(inner[:, :half].mean()), float(inner[:, half:].mean())
    uni = min(a, b) / max(a, b, 1e-6)
    put("illumination_uniformity", uni, ramp(uni, P.UNIFORMITY_POINTS), ">= 0.8", uni >= 0.8)
    clutter = background_clutter(grey, face)
    if clutter is None:
        put("background_uniformity", -1.0, 0.0, "background visible (-1: none)", False)
    else:
        put("background_uniformity", clutter, 100 * np.exp(-clutter / P.BACKGROUND_SCALE),
            "<= 4", clutter <= 4)
    eo = eye_openness(crop)
    put("eyes_open", eo, ramp(eo, P.EYE_OPEN_POINTS), f">= {P.EYE_OPEN_LIMIT:g}", eo >= P.EYE_OPEN_LIMIT)
    mo = mouth_opening(crop)
    put("mouth_closed", mo, ramp(mo, P.MOUTH_OPEN_POINTS), "<= 0.15", mo <= 0.15)
    ev, mv = visibility(crop)
    put("eyes_not_occluded", ev, ramp(ev, P.EYES_VISIBLE_POINTS), f">= {P.EYES_VISIBLE_LIMIT:g}",
        ev >= P.EYES_VISIBLE_LIMIT)
    put("mouth_not_occluded", mv, ramp(mv, P.MOUTH_VISIBLE_POINTS), ">= 0.45", mv >= 0.45)
    bk = blockiness(grey, face)
    put("compression", bk, ramp(bk, P.BLOCKINESS_POINTS), "<= 1.2", bk <= 1.2)
    return out


def unified(comps: dict[str, Component]) -> float:
    """Weighted geometric mean of the component scores (each floored at 1); no face or several
    faces cap it at 5, since nothing else can be trusted then."""
    if comps["single_face"].score == 0:
        return 0.0 if comps["single_face"].raw == 0 else min(5.0, _geo(comps))
    return _geo(comps)


def _geo(comps: dict[str, Component]) -> float:
    num = den = 0.0
    for name, w in P.UNIFIED_WEIGHTS.items():
        c = comps.get(name)
        if c is None:
            continue
        num += w * np.log(max(c.score, 1.0) / 100.0)
        den += w
    return float(100 * np.exp(num / den)) if den else 0.0
