"""Where and how a finger lands on the sensor: the geometry of one impression.

A master point m goes to the impression pixel q = A(m + delta(m)):
- delta is Cappelli's elastic skin model (Cappelli, Maio, Maltoni 2001): inside a close-contact
  ellipse the skin sticks to the platen and does not move; outside it the skin follows a small
  rigid motion l (rotation psi about the contact centre plus a shift), faded in by a brake
  function of the distance from the ellipse: delta(m) = (l(m) - m) * (1 - exp(-(d/k)^2)).
- A places the finger: rotation about the fingertip centre, translation, and the sensor's scale
  (its ppi over the master's 500 ppi).
The contact area (what actually touches) is an ellipse in master coordinates whose size follows
the pressure, cut by the fingertip's shape. Images use the backward map (each output pixel's
master point, for cv2.remap), templates the forward map; both are the same transform.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pattern import MASTER_PPI, FingerPattern


@dataclass
class ImpressionGeometry:
    out_width: int
    out_height: int
    scale: float  # output pixels per master pixel (ppi / 500)
    finger_centre: tuple[float, float]  # master point placed at the output centre (+ shift)
    rotation: float  # radians, placement rotation
    shift: tuple[float, float]  # output pixels
    contact_centre: tuple[float, float]  # master coords, centre of close contact
    close_axes: tuple[float, float]  # close-contact ellipse half-axes (no distortion inside)
    skin_rotation: float  # psi, radians
    skin_shift: tuple[float, float]  # master pixels
    brake_k: float
    contact_axes: tuple[float, float]  # contact (visible) ellipse half-axes
    contact_offset: tuple[float, float]
    pressure: float  # 0 light .. 1 heavy

    # --- the elastic part, in master coordinates ------------------------------------------------
    def _delta(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cx, cy = self.contact_centre
        rx, ry = self.close_axes
        r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
        d = np.maximum(r - 1.0, 0.0) * 0.5 * (rx + ry)
        brake = 1.0 - np.exp(-(d / self.brake_k) ** 2)
        c, s = np.cos(self.skin_rotation), np.sin(self.skin_rotation)
        lx = c * (x - cx) - s * (y - cy) + cx + self.skin_shift[0]
        ly = s * (x - cx) + c * (y - cy) + cy + self.skin_shift[1]
        return (lx - x) * brake, (ly - y) * brake

    # --- the rigid placement ---------------------------------------------------------------------
    def _place(self, x, y):
        fx, fy = self.finger_centre
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        u, v = x - fx, y - fy
        ox = self.out_width / 2 + self.shift[0]
        oy = self.out_height / 2 + self.shift[1]
        return (self.scale * (c * u - s * v) + ox, self.scale * (s * u + c * v) + oy)

    def _unplace(self, qx, qy):
        fx, fy = self.finger_centre
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        u = (qx - self.out_width / 2 - self.shift[0]) / self.scale
        v = (qy - self.out_height / 2 - self.shift[1]) / self.scale
        return (c * u + s * v + fx, -s * u + c * v + fy)

    def forward(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Master points -> impression pixels."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        dx, dy = self._delta(x, y)
        return self._place(x + dx, y + dy)

    def backward(self, qx, qy, iterations: int = 6) -> tuple[np.ndarray, np.ndarray]:
        """Impression pixels -> master points (fixed-point inversion of m + delta(m) = u; the
        skin motion is small and smooth, so this converges in a few steps)."""
        ux, uy = self._unplace(np.asarray(qx, np.float64), np.asarray(qy, np.float64))
        mx, my = ux.copy(), uy.copy()
        for _ in range(iterations):
            dx, dy = self._delta(mx, my)
            mx, my = ux - dx, uy - dy
        return mx, my

    def forward_angle(self, x, y, theta) -> np.ndarray:
        """Directions (pixel frame) carried through the local Jacobian of the forward map."""
        eps = 2.0
        x0, y0 = self.forward(x, y)
        x1, y1 = self.forward(x + eps * np.cos(theta), y + eps * np.sin(theta))
        return np.arctan2(y1 - y0, x1 - x0)

    def in_contact(self, pattern: FingerPattern, x, y) -> np.ndarray:
        """Master points that touch the sensor in this impression."""
        cx = pattern.centre[0] + self.contact_offset[0]
        cy = pattern.centre[1] + self.contact_offset[1]
        a, b = self.contact_axes
        inside = ((np.asarray(x) - cx) / a) ** 2 + ((np.asarray(y) - cy) / b) ** 2 <= 1.0
        return inside & pattern.mask(x, y)


#: FVC2002's acquisition protocol: impressions 1-2 normal, 3-4 exaggerated displacement and
#: rotation, 5-6 dry, 7-8 wet (moistened) fingers; later impressions repeat the cycle
CONDITIONS = ("normal", "normal", "displaced", "displaced", "dry", "dry", "wet", "wet")


def impression_condition(impression: int) -> str:
    return CONDITIONS[(int(impression) - 1) % len(CONDITIONS)]


def random_geometry(rng: np.random.Generator, pattern: FingerPattern, out_width: int,
                    out_height: int, ppi: float, *, placement_sigma: float = 35.0,
                    rotation_sigma_deg: float = 9.0, distortion: float = 1.0,
                    contact: float = 1.0, displaced: bool = False) -> ImpressionGeometry:
    """Draw one impression's geometry. `distortion` scales the elastic skin motion, `contact`
    the size of the contact area (a capacitive sensor's small area is the crop, not this)."""
    a, b = pattern.half_axes
    fx, fy = pattern.centre
    if displaced:  # FVC's "exaggerated displacement and rotation (up to 35 degrees)"
        placement_sigma *= 1.8
        rotation_sigma_deg *= 1.8
    rot = np.deg2rad(np.clip(rng.normal(0, rotation_sigma_deg), -min(35, 3 * rotation_sigma_deg),
                             min(35, 3 * rotation_sigma_deg)))
    # the core region tends to be presented at the sensor's centre
    anchor_y = fy - 0.15 * b
    shift = tuple(np.clip(rng.normal(0, placement_sigma, 2), -2.5 * placement_sigma,
                          2.5 * placement_sigma) * ppi / MASTER_PPI)
    pressure = float(rng.beta(2.2, 2.2))
    close = (a * rng.uniform(0.25, 0.45), b * rng.uniform(0.2, 0.4))
    contact_scale = contact * (0.74 + 0.36 * pressure) * rng.uniform(0.9, 1.05)
    return ImpressionGeometry(
        out_width=int(out_width), out_height=int(out_height), scale=float(ppi) / MASTER_PPI,
        finger_centre=(fx, anchor_y), rotation=float(rot), shift=shift,
        contact_centre=(fx + rng.normal(0, 18), fy + rng.normal(-20, 22)),
        close_axes=close,
        skin_rotation=float(np.deg2rad(rng.normal(0, 6.0)) * distortion),
        skin_shift=tuple(rng.normal(0, 10.0, 2) * distortion),
        brake_k=float(rng.uniform(25, 60)),
        contact_axes=(a * contact_scale * rng.uniform(0.92, 1.08), 1.2 * b * contact_scale),
        # the contact patch runs on towards the palm, past the sensor's lower edge
        contact_offset=(rng.normal(0, 0.06 * a), rng.normal(0.2 * b, 0.08 * b)),
        pressure=pressure)
