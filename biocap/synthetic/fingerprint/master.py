"""A rendered master fingerprint: ridge field, finger area, true minutiae and singular points."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .pattern import CANVAS_EXTRA_BOTTOM, FingerPattern, random_pattern
from .ridges import grow_ridges
from .seeding import stream
from .skeleton_minutiae import extract_minutiae

#: minutiae closer than this to the finger's rim are not ground truth (ridges fade there)
RIM_MARGIN = 10


@dataclass
class MasterPrint:
    finger_id: int
    pattern: FingerPattern
    ridge: np.ndarray  # float32 in [-1, 1], ridges > 0, the whole canvas
    mask: np.ndarray  # bool, the fingertip
    minutiae: np.ndarray  # (n, 4) x, y, theta (pixel frame), type
    scars: np.ndarray  # float32, permanent creases and scars (raise the print threshold)
    wear: float  # 0 young skin .. 1 worn (manual work, age): broken ridges in every impression

    @property
    def soft_mask(self) -> np.ndarray:
        """The fingertip with a soft rim (skin curves away from the platen at the edge)."""
        if self._soft is None:
            self._soft = cv2.GaussianBlur(self.mask.astype(np.float32), (0, 0), 5.0)
        return self._soft

    _soft: np.ndarray | None = None

    @property
    def singular_points(self):
        return self.pattern.singular_points()


def render_master(seed: int, finger_id: int, width: int = 400, height: int = 500,
                  kind: str | None = None) -> MasterPrint:
    rng = stream(seed, finger_id, 0, "master-image")
    pattern = random_pattern(rng, width, height, kind)
    # the finger goes on below the sensor-sized area: a displaced impression must not show
    # the edge of the canvas
    height = height + CANVAS_EXTRA_BOTTOM
    pattern.height = height
    ridge = grow_ridges(pattern, rng)
    yy, xx = np.mgrid[0:height, 0:width]
    mask = pattern.mask(xx, yy)
    valid = cv2.erode(mask.astype(np.uint8), np.ones((2 * RIM_MARGIN + 1,) * 2, np.uint8)) > 0
    # ridges cut by the canvas edge end there without being minutiae
    valid[:RIM_MARGIN] = valid[-RIM_MARGIN:] = False
    valid[:, :RIM_MARGIN] = valid[:, -RIM_MARGIN:] = False
    minutiae, _ = extract_minutiae(ridge, valid)
    wear = float(rng.beta(1.2, 5.0))
    scars = np.zeros((height, width), np.float32)
    a, b = pattern.half_axes
    for _ in range(int(rng.poisson(0.3 + 2.5 * wear))):
        angle = rng.normal(0, 0.4) + (np.pi / 2 if rng.random() < 0.2 else 0.0)
        cx = pattern.centre[0] + rng.uniform(-0.7, 0.7) * a
        cy = pattern.centre[1] + rng.uniform(-0.6, 0.9) * b
        half = rng.uniform(0.15, 0.5) * a
        dx, dy = np.cos(angle) * half, np.sin(angle) * half
        cv2.line(scars, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)),
                 float(rng.uniform(1.0, 2.5)), int(rng.integers(1, 4)), cv2.LINE_AA)
    scars = cv2.GaussianBlur(scars, (0, 0), 1.0)
    return MasterPrint(finger_id, pattern, ridge, mask, minutiae, scars, wear)
