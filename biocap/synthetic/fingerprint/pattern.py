"""The pattern of a master finger: class, singular points, orientation field, ridge period, shape.

The orientation field follows Sherlock & Monro's zero-pole model: at a point z the ridge angle is
theta0 + 1/2 (sum of arg(z - delta) - sum of arg(z - core)) (y up). Arches have no singular
points and get a smooth bump field instead. Class frequencies follow population statistics
(Wilson et al., as used by SFinGe): arch 3.7%, tented arch 2.9%, left loop 33.8%, right loop
31.7%, whorl 27.9%.

Coordinates are master pixels at 500 ppi, x to the right, y down; angles in that pixel frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import InvalidDataError

MASTER_PPI = 500.0
CLASSES = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")
CLASS_PROBABILITIES = np.array([0.037, 0.029, 0.338, 0.317, 0.279])
BOTTOM_STRETCH = 1.5  # the finger's lower half is this much longer than its upper half
#: a rendered master's canvas extends this far below the sensor-sized area (pixels at 500 ppi)
CANVAS_EXTRA_BOTTOM = 120


@dataclass
class FingerPattern:
    """Everything about a master finger except its ridges: enough to draw the ridges."""

    kind: str
    width: int
    height: int
    cores: np.ndarray  # (k, 2) x, y
    deltas: np.ndarray  # (k, 2)
    centre: tuple[float, float]  # centre of the fingertip ellipse
    half_axes: tuple[float, float]  # fingertip half-width, half-height
    mean_period: float  # ridge period in pixels at 500 ppi
    arch_bump: tuple[float, float, float] = (0.0, 0.0, 1.0)  # amplitude, y of crest, width
    extra: dict = field(default_factory=dict)

    def orientation(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ridge orientation (radians mod pi, pixel frame) at the given points."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "arch":
            amp, y0, s = self.arch_bump
            cx = self.centre[0]
            u = (x - cx) / s
            # ridges y = c - h(y) exp(-u^2/2); the slope's height fades away from the crest line
            h = amp * np.exp(-((y - y0) / (2.2 * s)) ** 2)
            return np.mod(np.arctan(h * u / s * np.exp(-u * u / 2)), np.pi)
        z = x + 1j * y
        theta = np.zeros(np.broadcast(x, y).shape)
        # with y pointing down the signs of the y-up formula swap (a mirror image)
        for dx, dy in self.deltas:
            theta -= np.angle(z - (dx + 1j * dy))
        for cx, cy in self.cores:
            theta += np.angle(z - (cx + 1j * cy))
        return np.mod(0.5 * theta, np.pi)

    def period(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ridge period in pixels: wider above the core (fingertip), narrower towards the
        deltas and the crease, as on real fingers."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        cy = self.cores[:, 1].mean() if len(self.cores) else self.centre[1]
        hy = self.half_axes[1]
        rel = np.clip((cy - y) / hy, -1.0, 1.0)  # +1 at the tip, -1 towards the crease
        wave = self.extra.get("period_wave", (0.0, 0.0, 0.0))
        p = self.mean_period * (1.0 + 0.07 * rel) + wave[0] * np.sin(
            x / 57.0 + wave[1]) * np.cos(y / 71.0 + wave[2])
        return p

    def mask(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fingertip shape: half an ellipse at the top, a rounded rectangle at the bottom that
        runs on towards the first crease (so no impression shows where the model ends)."""
        cx, cy = self.centre
        a, b = self.half_axes
        u = (np.asarray(x, dtype=np.float64) - cx) / a
        v = (np.asarray(y, dtype=np.float64) - cy) / b
        top = (u * u + v * v) <= 1.0
        bottom = (np.abs(u) ** 4 + np.abs(v / BOTTOM_STRETCH) ** 4) <= 1.0
        return np.where(v < 0, top, bottom)

    def singular_points(self) -> list[tuple[str, float, float]]:
        return ([("core", float(x), float(y)) for x, y in self.cores]
                + [("delta", float(x), float(y)) for x, y in self.deltas])


def check_size(width: int, height: int) -> tuple[int, int]:
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InvalidDataError(f"{name} must be an integer number of pixels, got {v!r}")
        if not 64 <= int(v) <= 4096:
            raise InvalidDataError(f"{name} {v} px is outside 64..4096; fingerprints at 500 ppi "
                                   "are a few hundred pixels across")
    return int(width), int(height)


def random_pattern(rng: np.random.Generator, width: int = 400, height: int = 500,
                   kind: str | None = None) -> FingerPattern:
    """Draw a finger class (population proportions unless `kind` is given) and its geometry."""
    width, height = check_size(width, height)
    if kind is None:
        kind = CLASSES[int(rng.choice(len(CLASSES), p=CLASS_PROBABILITIES))]
    elif kind not in CLASSES:
        raise InvalidDataError(f"unknown fingerprint class {kind!r}; choose one of {CLASSES}")
    # the fingertip fills most of the canvas (an image of a rolled-ish flat impression)
    scale = min(width / 400.0, height / 500.0)
    a = rng.uniform(150, 180) * scale
    b = rng.uniform(215, 250) * scale
    centre = (width / 2 + rng.normal(0, 6) * scale, height / 2 + rng.normal(25, 8) * scale)
    core = np.array([centre[0] + rng.normal(0, 14) * scale,
                     centre[1] - b * rng.uniform(0.05, 0.3)])
    side = 1.0 if kind == "left_loop" else -1.0
    cores = np.zeros((0, 2))
    deltas = np.zeros((0, 2))
    bump = (0.0, 0.0, 1.0)
    if kind in ("left_loop", "right_loop"):
        cores = core[None]
        deltas = (core + [side * rng.uniform(70, 125) * scale,
                          rng.uniform(85, 150) * scale])[None]
    elif kind == "tented_arch":
        cores = core[None]
        deltas = (core + [rng.normal(0, 8) * scale, rng.uniform(55, 95) * scale])[None]
    elif kind == "whorl":
        tilt = rng.normal(0, 0.5)
        sep = rng.uniform(8, 45) * scale
        off = np.array([np.sin(tilt), np.cos(tilt)]) * sep / 2
        cores = np.stack([core - off, core + off])
        below = rng.uniform(95, 150) * scale
        deltas = np.stack([core + [-rng.uniform(85, 130) * scale, below + rng.normal(0, 10)],
                           core + [rng.uniform(85, 130) * scale, below + rng.normal(0, 10)]])
    else:  # arch
        bump = (rng.uniform(45, 90) * scale, core[1] + rng.uniform(20, 60) * scale,
                rng.uniform(55, 85) * scale)
    pattern = FingerPattern(kind=kind, width=width, height=height, cores=cores, deltas=deltas,
                            centre=centre, half_axes=(a, b),
                            mean_period=rng.uniform(8.6, 10.4) * scale, arch_bump=bump)
    pattern.extra["period_wave"] = (rng.uniform(0.0, 0.45) * scale, rng.uniform(0, 6.3),
                                    rng.uniform(0, 6.3))
    return pattern
