"""Draw a template's minutiae on its image: ridge endings red, bifurcations blue, each with a tick
along its direction; cores as magenta squares, deltas as cyan triangles (BGR colours)."""
from __future__ import annotations

import cv2
import numpy as np

from ...errors import InvalidDataError, InvalidSample
from .template import FingerprintTemplate, MinutiaType

ENDING_BGR = (0, 0, 255)
BIFURCATION_BGR = (255, 96, 0)
OTHER_BGR = (0, 200, 0)
CORE_BGR = (255, 0, 255)
DELTA_BGR = (255, 255, 0)


def draw_minutiae(image: np.ndarray, template: FingerprintTemplate) -> np.ndarray:
    """A BGR uint8 copy of `image` (grey or BGR, in the template's pixels) with the minutiae."""
    if not isinstance(template, FingerprintTemplate):
        raise InvalidDataError(f"expected a FingerprintTemplate, got {type(template).__name__}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3) \
            or (image.ndim == 3 and image.shape[2] != 3) or min(image.shape[:2]) < 1:
        raise InvalidSample("overlay image must be a uint8 grey (H, W) or BGR (H, W, 3) array")
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    h, w = canvas.shape[:2]
    # marks sized for the image's resolution: ~ one ridge period at 500 ppi is 9 px
    unit = max(1.0, template.ppi / 500.0)
    radius, tick, thick = int(round(4 * unit)), 14 * unit, max(1, int(round(unit)))
    for m in template.minutiae:
        x, y, a = float(m["x"]), float(m["y"]), float(m["angle"])
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(a)) or not (-w < x < 2 * w and -h < y < 2 * h):
            continue  # a corrupt template must not break the drawing
        colour = {MinutiaType.ENDING: ENDING_BGR, MinutiaType.BIFURCATION: BIFURCATION_BGR}.get(
            int(m["type"]), OTHER_BGR)
        centre = (int(round(x)), int(round(y)))
        # ISO angle: counter-clockwise on screen with y down, hence the minus on the y component
        end = (int(round(x + tick * np.cos(a))), int(round(y - tick * np.sin(a))))
        cv2.circle(canvas, centre, radius, colour, thick, cv2.LINE_AA)
        cv2.line(canvas, centre, end, colour, thick, cv2.LINE_AA)
    for sp in template.singular_points:
        if not (np.isfinite(sp.x) and np.isfinite(sp.y)):
            continue
        c = (int(round(sp.x)), int(round(sp.y)))
        r = int(round(7 * unit))
        if sp.kind == "core":
            cv2.rectangle(canvas, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), CORE_BGR, thick + 1)
        else:
            tri = np.array([(c[0], c[1] - r), (c[0] - r, c[1] + r), (c[0] + r, c[1] + r)], np.int32)
            cv2.polylines(canvas, [tri], True, DELTA_BGR, thick + 1)
    return canvas
