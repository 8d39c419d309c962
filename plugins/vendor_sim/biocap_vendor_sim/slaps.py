"""Hand-like 4-4-2 slaps for the simulated scanner, with their ground truth.

    image, truth = compose_slap(source, 13, rng)           # right four at 500 ppi, 1600 x 1000
    write_slap(folder, "slap-0001", image, truth)          # PNG + JSON sidecar

A slap is built finger by finger from the scanner's sample source (the realistic synthetic
generator or the shared FVC fingers): each fingertip is cut from one impression of that finger
to a fingertip outline, scaled to the finger's size (the little finger smaller, the thumbs
larger), turned to its own angle (the fingers fan out from the palm, the hand itself is turned a
little) and placed at its own height (the middle finger reaches highest, the little finger
lowest) with gaps that vary from finger to finger. Below most fingertips, past the crease, a
fainter mark of the middle phalanx prints too. Sometimes a finger is missing (`missing`).

Ground truth (`truth["fingers"]`, one entry per finger of the slap, in the slap's left-to-right
order): ISO/IEC 19794-4 position, `present`, and for present fingers the fingertip's rotated box
`{"cx", "cy", "width", "height", "angle"}` (pixels; angle in radians, counter-clockwise from the
image's upward direction to the finger's axis, so a finger leaning right has a negative angle)
plus its axis-aligned `bbox` [x0, y0, x1, y1]. The box is the fingertip outline (the distal
phalanx up to the crease), measured on the placed outline itself.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: left-to-right finger order of each slap as the scanner sees it (palm down on the glass):
#: right four = index .. little, left four = little .. index, thumbs = left, right
SLAP_ORDER = {13: (2, 3, 4, 5), 14: (10, 9, 8, 7), 15: (6, 1)}
SLAP_SIZE = (1600, 1000)  # width, height at 500 ppi
PPI = 500

# Hand geometry at 500 ppi (adult hand; fingertip = distal phalanx contact, about 16 x 22 mm for
# an index finger). Relative sizes and heights follow the fingers' lengths: the middle finger
# reaches highest, the little finger is shortest and narrowest, thumbs are broad.
TIP_WIDTH = {2: 265, 3: 272, 4: 255, 5: 215, 7: 265, 8: 272, 9: 255, 10: 215, 1: 300, 6: 300}
TIP_ASPECT = (1.25, 1.5)  # fingertip length / width, drawn per finger
DROP = {2: 70, 3: 0, 4: 55, 5: 230, 7: 70, 8: 0, 9: 55, 10: 230, 1: 0, 6: 0}  # px below the top
DROP_JITTER = 35.0  # px: each hand is its own
FAN_DEG = {2: 8.0, 3: 1.0, 4: -6.0, 5: -14.0}  # right hand, left to right (index leans towards
# the thumb, the little finger away); mirrored for the left hand
THUMB_DEG = 18.0  # thumbs lean towards each other by about this much
ANGLE_JITTER_DEG = 5.0
HAND_TURN_DEG = 7.0  # the whole hand turned by up to this
GAP = (10.0, 85.0)  # px between neighbouring fingertips at their widest, drawn per gap
CREASE_GAP = (22.0, 48.0)  # px of blank skin at the distal crease
PHALANX_RATE = 0.75  # share of fingers that also print the middle phalanx
PHALANX_LENGTH = (160.0, 360.0)
PHALANX_CONTRAST = (0.3, 0.65)
BACKGROUND = (226.0, 246.0)
NOISE_SIGMA = (2.0, 4.5)


def compose_slap(source: Any, slap: int, rng: np.random.Generator, *,
                 missing: tuple[int, ...] = (), missing_rate: float = 0.0,
                 size: tuple[int, int] = SLAP_SIZE) -> tuple[np.ndarray, dict]:
    """One slap image (uint8, dark ridges on a light glass) and its ground truth.

    `missing`: finger codes the subject does not have (always absent); `missing_rate`: chance
    that one more finger (drawn at random) is absent from this slap."""
    if slap not in SLAP_ORDER:
        raise ValueError(f"slap position {slap} is not 13, 14 or 15")
    order = SLAP_ORDER[slap]
    absent = set(int(m) for m in missing)
    if missing_rate > 0 and rng.random() < missing_rate:
        absent.add(int(order[int(rng.integers(len(order)))]))
    w, h = size
    bg = float(rng.uniform(*BACKGROUND))
    ink = np.zeros((h, w), np.float32)

    # geometry of the hand: finger sizes, angles, heights, gaps
    n = len(order)
    widths = np.array([TIP_WIDTH[f] for f in order], float) * rng.uniform(0.9, 1.1)
    widths *= rng.uniform(0.95, 1.05, n)
    lengths = widths * rng.uniform(*TIP_ASPECT, n)
    if slap == 15:
        lean = rng.uniform(0.5, 1.2) * THUMB_DEG
        angles = np.array([-lean, lean]) + rng.normal(0, ANGLE_JITTER_DEG, 2)
    else:
        fan = np.array([FAN_DEG[f] for f in (2, 3, 4, 5)], float)
        if slap == 14:  # the left hand is the mirror image: little finger on the left
            fan = -fan[::-1]
        angles = fan * rng.uniform(0.6, 1.4) + rng.normal(0, ANGLE_JITTER_DEG, n)
    angles += rng.uniform(-HAND_TURN_DEG, HAND_TURN_DEG)
    theta = np.deg2rad(angles)  # counter-clockwise from up; the image's y points down
    drops = np.array([DROP[f] for f in order], float) + rng.normal(0, DROP_JITTER, n)
    if slap == 15:
        drops[rng.integers(2)] += rng.uniform(0, 120)  # thumbs are rarely level
    drops -= drops.min()
    gaps = rng.uniform(*GAP, n - 1) * (2.2 if slap == 15 else 1.0)
    # centres along x: each fingertip's half width (as tilted) plus the gap to the next
    half = 0.5 * (widths * np.abs(np.cos(theta)) + lengths * np.abs(np.sin(theta)))
    xs = np.zeros(n)
    for i in range(1, n):
        xs[i] = xs[i - 1] + half[i - 1] + gaps[i - 1] + half[i]
    total = xs[-1] + half[-1] + half[0]
    x_off = (w - total) / 2 + half[0] + rng.uniform(-0.08, 0.08) * max(w - total, 0)
    xs += x_off
    top = rng.uniform(40, 140)
    ys = top + drops + 0.5 * lengths * np.abs(np.cos(theta))

    fingers = []
    for i, finger in enumerate(order):
        entry: dict[str, Any] = {"position": int(finger), "present": finger not in absent}
        if entry["present"]:
            sample = source.next_sample(int(finger), rng)
            tip, outline, phal = _finger_layers(sample.image, float(sample.ppi), rng,
                                                float(widths[i]), float(lengths[i]))
            box = _place(ink, tip, float(xs[i]), float(ys[i]), float(theta[i]), outline)
            entry.update(box)
            entry["label"] = getattr(sample, "label", "")
            if phal is not None:  # the middle phalanx, past the crease, further down the axis
                gap = rng.uniform(*CREASE_GAP)
                dist = 0.5 * tip.shape[0] + gap + 0.5 * phal.shape[0]
                px = xs[i] - np.sin(theta[i]) * dist * -1.0
                py = ys[i] + np.cos(theta[i]) * dist
                _place(ink, phal, float(px), float(py), float(theta[i]))
                entry["phalanx"] = True
        fingers.append(entry)

    noise = rng.normal(0, rng.uniform(*NOISE_SIGMA), (h, w)).astype(np.float32)
    shade = cv2.resize(rng.normal(0, 3.0, (8, 12)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC)
    image = np.clip(bg + shade - np.minimum(ink, bg - 2) + noise, 0, 255).astype(np.uint8)
    truth = {"slap": int(slap), "ppi": PPI, "width": w, "height": h,
             "angle_convention": "radians, counter-clockwise from the image's up direction to "
                                 "the finger's axis (fingertip up)",
             "fingers": fingers,
             "missing": [int(f) for f in order if f in absent]}
    return image, truth


def _finger_layers(image: np.ndarray, ppi: float, rng, width: float, length: float):
    """The fingertip's ink (length x width, fading at its outline) and maybe the middle
    phalanx's fainter ink, cut from one impression."""
    if abs(ppi - PPI) > 1:
        image = cv2.resize(image, None, fx=PPI / ppi, fy=PPI / ppi, interpolation=cv2.INTER_AREA)
    img = image.astype(np.float32)
    bg = float(np.percentile(img, 99))
    ink = np.clip(bg - img - 6.0, 0, 255)  # the impression's own glass prints nothing
    smooth = cv2.GaussianBlur(ink, (0, 0), 8)
    level = 0.3 * max(float(np.percentile(smooth, 99)), 1.0)
    printed = smooth > level
    soft = np.clip(smooth / level - 0.5, 0, 1)  # where skin printed (1), fading out
    ys, xs = np.nonzero(printed)
    if len(xs) < 100:
        raise ValueError("the sample source gave an impression without a print")
    x0, x1 = np.percentile(xs, (4, 96))
    y0, y1 = np.percentile(ys, (2, 98))
    # at the print's own scale (ridges keep their spacing: a rescaled print would not match
    # the finger's flat capture); the finger's size sets how much of the print the slap shows
    # (the little finger shows less of it than the others, a thumb the most)
    rel = width / max(TIP_WIDTH.values()) * 1.1
    cw = float(min(max(32.0, (x1 - x0) * 0.95 * min(rel, 1.0)), width))
    ch = float(min(y1 - y0, cw * length / width))
    cx = 0.5 * (x0 + x1)
    # centred on the print (where a flat single capture of the finger has its core too), kept
    # inside the printed rows
    cy = float(np.clip(np.mean(ys), y0 + 0.5 * ch, y1 - 0.5 * ch))
    tip = _crop(ink, cx, cy, cw, ch)
    skin = _crop(soft, cx, cy, cw, ch)
    shape = _outline(tip.shape, 2.4, rng)
    tip *= shape * rng.uniform(0.85, 1.15)
    outline = shape * skin  # the fingertip's print: the outline where the skin printed
    phal = None
    if rng.random() < PHALANX_RATE:
        plen = rng.uniform(*PHALANX_LENGTH)
        # the lower part of the impression has the flat, nearly horizontal ridges of a joint
        src = _crop(ink, cx, y1 - 0.3 * (y1 - y0), cw, 0.55 * (y1 - y0))
        src = np.flipud(src) if rng.random() < 0.5 else src
        phal = cv2.resize(src, (int(round(cw * rng.uniform(0.85, 1.0))), int(round(plen))),
                          interpolation=cv2.INTER_LINEAR)
        phal *= _outline(phal.shape, 4.0, rng) * rng.uniform(*PHALANX_CONTRAST)
    return tip, outline, phal


def _crop(img: np.ndarray, cx: float, cy: float, w: float, h: float) -> np.ndarray:
    m = np.float32([[1, 0, cx - w / 2], [0, 1, cy - h / 2]])
    return cv2.warpAffine(img, m, (int(round(w)), int(round(h))), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _outline(shape: tuple[int, int], power: float, rng) -> np.ndarray:
    """A soft super-ellipse: 1 inside, fading to 0 over a few pixels at the outline."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xx - (w - 1) / 2) / (w / 2)
    v = (yy - (h - 1) / 2) / (h / 2)
    r = np.abs(u) ** power + np.abs(v) ** power
    edge = 6.0 / min(h, w)  # about 6 px of fade
    return np.clip((1.0 - r) / (power * edge), 0.0, 1.0) ** 0.7


def _place(canvas: np.ndarray, layer: np.ndarray, cx: float, cy: float, theta: float,
           outline: np.ndarray | None = None) -> dict:
    """Add `layer` (upright) to `canvas` centred at (cx, cy), turned by theta (counter-clockwise
    from up). Returns the placed outline's rotated and axis-aligned boxes."""
    h, w = layer.shape
    c, s = np.cos(theta), np.sin(theta)
    # upright layer coordinates (u right, v down) -> image: rotate counter-clockwise by theta
    # (with y down, a counter-clockwise turn on screen is x' = c*u + s*v, y' = -s*u + c*v)
    m = np.array([[c, s, 0.0], [-s, c, 0.0]])
    m[:, 2] = (cx, cy) - m[:, :2] @ np.array([(w - 1) / 2, (h - 1) / 2])
    H, W = canvas.shape
    corners = m[:, :2] @ np.array([[0, w, w, 0], [0, 0, h, h]], float) + m[:, 2:3]
    x0, y0 = np.floor(corners.min(1)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(1)).astype(int) + 2
    x0c, y0c, x1c, y1c = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1c <= x0c or y1c <= y0c:
        return {"cx": cx, "cy": cy, "width": 0.0, "height": 0.0, "angle": theta, "bbox": [0, 0, 0, 0]}
    local = m.copy()
    local[:, 2] -= (x0c, y0c)
    warped = cv2.warpAffine(layer, local, (x1c - x0c, y1c - y0c), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    region = canvas[y0c:y1c, x0c:x1c]
    np.maximum(region, warped, out=region)
    # the outline: where the layer's own outline mask is inside (measured on the placed mask)
    if outline is None:
        return {}
    placed = cv2.warpAffine(outline.astype(np.float32), local, (x1c - x0c, y1c - y0c),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ys, xs = np.nonzero(placed > 0.5)
    if len(xs) == 0:
        return {"cx": cx, "cy": cy, "width": 0.0, "height": 0.0, "angle": theta, "bbox": [0, 0, 0, 0]}
    xs = xs + x0c
    ys = ys + y0c
    # extents along the finger's axes (u across, v along, fingertip up)
    u = (xs - cx) * c - (ys - cy) * s
    v = (xs - cx) * s + (ys - cy) * c
    u0, u1, v0, v1 = u.min(), u.max() + 1, v.min(), v.max() + 1
    ucen, vcen = (u0 + u1) / 2, (v0 + v1) / 2
    bx = cx + ucen * c + vcen * s
    by = cy - ucen * s + vcen * c
    return {"cx": round(float(bx), 2), "cy": round(float(by), 2),
            "width": round(float(u1 - u0), 2), "height": round(float(v1 - v0), 2),
            "angle": round(float(theta), 5),
            "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]}


def write_slap(folder: str | os.PathLike, stem: str, image: np.ndarray, truth: dict) -> Path:
    """Write `<stem>.png` and its ground truth `<stem>.json`; returns the PNG's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{stem}.png"
    if not cv2.imwrite(str(png), image):
        raise OSError(f"could not write {png}")
    (folder / f"{stem}.json").write_text(json.dumps(truth, indent=1))
    return png
