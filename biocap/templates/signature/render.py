"""The card's signature image, drawn from the pen series.

    image = render_signature(pen, width_mm=40, height_mm=12, dpi=300)

The pen-down strokes are scaled to fit the requested box (aspect kept), the stroke width follows
the pressure (between `min_width_mm` and `max_width_mm`), and the image is cropped to the ink (a
margin of one stroke width), so it is never larger than the box. Drawn 4x supersampled and
reduced by area averaging, so curves and width changes are smooth. Black ink on white, 2-D uint8.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...errors import InvalidRequest, InvalidSample
from ...types import MAX_IMAGE_SIDE, PenSeries

#: supersampling factor of the drawing: 4x makes width steps of a quarter pixel
_SS = 4
#: most pen samples drawn (30 minutes at 100 Hz): beyond it the input is not a signature
MAX_POINTS = 180_000


def render_signature(pen: PenSeries, *, width_mm: float = 40.0, height_mm: float = 12.0,
                     dpi: float = 300.0, min_width_mm: float = 0.15, max_width_mm: float = 0.6,
                     y_up: bool = False, crop: bool = True) -> np.ndarray:
    """Draw `pen` into a box of width_mm x height_mm at `dpi`; y_up when the pad's y grows upwards
    (SVC2004); crop=False returns the whole box with the signature centred."""
    for name, v in (("width_mm", width_mm), ("height_mm", height_mm), ("dpi", dpi),
                    ("min_width_mm", min_width_mm), ("max_width_mm", max_width_mm)):
        if not (isinstance(v, (int, float)) and np.isfinite(v) and v > 0):
            raise InvalidRequest(f"{name} must be a positive number, got {v!r}")
    if min_width_mm > max_width_mm:
        raise InvalidRequest("min_width_mm must not exceed max_width_mm")
    w_px, h_px = int(round(width_mm * dpi / 25.4)), int(round(height_mm * dpi / 25.4))
    if not (8 <= w_px <= MAX_IMAGE_SIDE and 8 <= h_px <= MAX_IMAGE_SIDE):
        raise InvalidRequest(f"a {w_px}x{h_px}-pixel image is outside 8-{MAX_IMAGE_SIDE} pixels a "
                             "side", hint="change the size or the resolution")
    if not isinstance(pen, PenSeries):
        raise InvalidSample(f"expected a PenSeries, got {type(pen).__name__}")
    if len(pen) > MAX_POINTS:
        raise InvalidSample(f"{len(pen)} pen samples is far more than a signature holds",
                            hint="render one signature at a time")
    x = np.asarray(pen.x, np.float64)
    y = np.asarray(pen.y, np.float64)
    p = np.asarray(pen.pressure, np.float64)
    down = np.asarray(pen.pen_down).astype(bool)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(np.isfinite(p))):
        raise InvalidSample("the pen series holds NaN or infinite values")
    if not down.any():
        raise InvalidSample("the pen never touched the pad: there is no ink to draw",
                            hint="ask the person to sign again")
    if y_up:
        y = -y
    pmax = float(p[down].max())
    rel = np.clip(p / pmax, 0, 1) if pmax > 0 else np.full_like(p, 0.5)
    px_per_mm = dpi / 25.4
    wmax_px = max_width_mm * px_per_mm
    margin = wmax_px  # one stroke width of white around the ink
    xd, yd = x[down], y[down]
    x0, y0 = float(xd.min()), float(yd.min())
    span_x, span_y = max(float(np.ptp(xd)), 1e-9), max(float(np.ptp(yd)), 1e-9)
    scale = min((w_px - 2 * margin) / span_x, (h_px - 2 * margin) / span_y)
    if scale <= 0:
        raise InvalidRequest("the box is too small for the stroke width",
                             hint="enlarge the box or thin the strokes")
    ink_w, ink_h = span_x * scale, span_y * scale
    out_w = int(np.ceil(ink_w + 2 * margin)) if crop else w_px
    out_h = int(np.ceil(ink_h + 2 * margin)) if crop else h_px
    out_w, out_h = max(8, min(out_w, w_px)), max(8, min(out_h, h_px))
    off_x, off_y = (out_w - ink_w) / 2, (out_h - ink_h) / 2
    sx = ((x - x0) * scale + off_x) * _SS
    sy = ((y - y0) * scale + off_y) * _SS
    canvas = np.full((out_h * _SS, out_w * _SS), 255, np.uint8)
    width_px = (min_width_mm + (max_width_mm - min_width_mm) * rel) * px_per_mm * _SS
    shift = 4  # cv2 fixed-point: coordinates in 1/16 pixel
    pts = np.stack([sx, sy], 1) * (1 << shift)
    pts = np.round(pts).astype(np.int64)
    for i in range(len(x)):
        if not down[i]:
            continue
        thick = max(1, int(round(width_px[i])))
        if i > 0 and down[i - 1]:
            cv2.line(canvas, tuple(int(v) for v in pts[i - 1]), tuple(int(v) for v in pts[i]), 0,
                     thick, cv2.LINE_AA, shift)
        cv2.circle(canvas, tuple(int(v) for v in pts[i]), max(1, thick // 2) << shift, 0, -1,
                   cv2.LINE_AA, shift)
    return cv2.resize(canvas, (out_w, out_h), interpolation=cv2.INTER_AREA)
