"""The in-memory fingerprint minutiae template every codec reads into and writes from."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidDataError
from ...types import Modality


class MinutiaType(enum.IntEnum):
    """Minutia types as ISO/IEC 19794-2 codes them (2 bits)."""

    OTHER = 0
    ENDING = 1
    BIFURCATION = 2


#: x, y in the Sample's own pixels; angle in radians, counter-clockwise from the x axis (image
#: y axis pointing down, as the standards define it); quality 0-100 (255 = not reported)
MINUTIA_DTYPE = np.dtype([("x", "<f4"), ("y", "<f4"), ("angle", "<f4"), ("type", "u1"),
                          ("quality", "u1")])


def minutiae_array(rows: Any = ()) -> np.ndarray:
    """Build a MINUTIA_DTYPE array from (x, y, angle, type, quality) rows."""
    return np.array([tuple(r) for r in rows], dtype=MINUTIA_DTYPE)


@dataclass
class SingularPoint:
    kind: str  # "core" or "delta"
    x: float
    y: float
    angle: float | None = None
    #: all direction angles (radians) when a record stores several (a delta has three);
    #: `angle` is the first of them
    angles: tuple[float, ...] = ()


@dataclass
class FingerprintTemplate:
    """Minutiae of one finger view, with the image geometry they refer to."""

    modality: ClassVar[Modality] = Modality.FINGERPRINT

    minutiae: np.ndarray  # MINUTIA_DTYPE
    width: int
    height: int
    ppi: float
    position: int = 0  # FingerPosition code
    view: int = 0
    impression_type: int = 0
    quality: int | None = None  # finger quality 0-100
    singular_points: list[SingularPoint] = field(default_factory=list)
    extended: dict[str, Any] = field(default_factory=dict)  # ridge counts, vendor blocks (bytes)...

    def __post_init__(self):
        m = np.asarray(self.minutiae)
        if m.dtype != MINUTIA_DTYPE:
            try:
                m = minutiae_array(m) if m.dtype.names is None else m.astype(MINUTIA_DTYPE)
            except (TypeError, ValueError) as exc:
                raise InvalidDataError(f"minutiae must be (x, y, angle, type, quality) rows: {exc}")
        self.minutiae = m
        if self.width <= 0 or self.height <= 0:
            raise InvalidDataError(f"template image size {self.width}x{self.height} is not positive")
        if not self.ppi > 0:
            raise InvalidDataError(f"template resolution {self.ppi} ppi is not positive")

    def __len__(self) -> int:
        return len(self.minutiae)

    def scaled_to(self, ppi: float) -> np.ndarray:
        """Minutia coordinates rescaled to another resolution (e.g. 500 ppi for matching)."""
        m = self.minutiae.copy()
        f = ppi / self.ppi
        m["x"] *= f
        m["y"] *= f
        return m
