"""Typed intermediate products of the iris pipeline (one dataclass per stage, open-iris style).

Coordinates are in the Sample's own pixels (x to the right, y down); angles in radians,
counter-clockwise as seen on the image (0 = towards +x, pi/2 = up, i.e. towards -y).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Circle:
    x: float
    y: float
    r: float
    score: float = 0.0  # edge strength the detector found (grey levels per pixel)

    def to_json(self) -> dict:
        return {"x": self.x, "y": self.y, "r": self.r, "score": self.score}


@dataclass(frozen=True)
class Eyelid:
    """A parabola y = apex_y + curvature * (x - apex_x)^2; `upper` lids open downwards."""

    apex_x: float
    apex_y: float
    curvature: float
    upper: bool
    score: float = 0.0

    def y_at(self, x: np.ndarray) -> np.ndarray:
        sign = 1.0 if self.upper else -1.0
        return self.apex_y + sign * self.curvature * (np.asarray(x, dtype=np.float64) - self.apex_x) ** 2

    def to_json(self) -> dict:
        return {"apex_x": self.apex_x, "apex_y": self.apex_y, "curvature": self.curvature,
                "upper": self.upper, "score": self.score}


@dataclass
class Preprocessed:
    """The grey image with specular reflections painted over, and where they were."""

    image: np.ndarray  # uint8, reflections in-painted
    reflections: np.ndarray  # bool, True where a specular highlight was found


@dataclass
class Segmentation:
    pupil: Circle
    iris: Circle
    upper_eyelid: Eyelid | None
    lower_eyelid: Eyelid | None
    occlusion: np.ndarray  # bool image mask: True where the iris is hidden (lids, lashes, glints)

    def to_json(self) -> dict:
        return {"pupil": self.pupil.to_json(), "iris": self.iris.to_json(),
                "upper_eyelid": self.upper_eyelid.to_json() if self.upper_eyelid else None,
                "lower_eyelid": self.lower_eyelid.to_json() if self.lower_eyelid else None,
                "occluded_fraction_of_iris": self.occluded_fraction()}

    def occluded_fraction(self) -> float:
        """Share of the iris ring (between the two circles) hidden by lids, lashes or glints."""
        h, w = self.occlusion.shape
        yy, xx = np.mgrid[:h, :w]
        ring = ((xx - self.iris.x) ** 2 + (yy - self.iris.y) ** 2 <= self.iris.r ** 2) & \
               ((xx - self.pupil.x) ** 2 + (yy - self.pupil.y) ** 2 > self.pupil.r ** 2)
        return float((self.occlusion & ring).sum() / max(1, ring.sum()))


@dataclass
class NormalizedIris:
    """Daugman's rubber sheet: rows go from the pupil (0) to the limbus, columns around the eye."""

    image: np.ndarray  # float32 (rows, cols)
    valid: np.ndarray  # bool (rows, cols): False where occluded or outside the image
    iris_radius: float | None = None  # limbus radius in image pixels (sets the filter's scale)


@dataclass
class IrisFilterResponse:
    """Complex band-pass responses sampled on the code grid (rows, cols)."""

    response: np.ndarray  # complex64 (rows, cols)
    valid: np.ndarray  # bool (rows, cols)
