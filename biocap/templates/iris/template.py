"""`IrisTemplate`: an iris code and its mask as packed bits, with the geometry they came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import InvalidDataError


@dataclass
class IrisTemplate:
    """Packed iris code + mask. Layout: `cols` angular positions, each `rows` x `bits_per_sample`
    bits (column-major), so a rotation by one column is a circular shift of `bytes_per_column`."""

    code: np.ndarray  # uint8 (rows*cols*bits/8,)
    mask: np.ndarray  # uint8, same length; 1 = bit is usable
    rows: int = 8
    cols: int = 128
    bits_per_sample: int = 2
    position: int = 0  # IrisPosition code (0 undefined, 1 right, 2 left)
    image_size: tuple[int, int] = (0, 0)  # (width, height)
    geometry: dict[str, Any] = field(default_factory=dict)  # pupil, iris, eyelids (pixels)
    quality: int | None = None

    def __post_init__(self):
        for name in ("code", "mask"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 1:
                raise InvalidDataError(f"iris template {name} must be a 1-D uint8 array of packed bits")
        n_bits = self.rows * self.cols * self.bits_per_sample
        if n_bits % 8 or (self.rows * self.bits_per_sample) % 8:
            raise InvalidDataError(f"iris code grid {self.rows}x{self.cols}x{self.bits_per_sample} "
                                   "does not pack into whole bytes per column")
        if self.code.size != n_bits // 8 or self.mask.size != n_bits // 8:
            raise InvalidDataError(f"iris code of {self.code.size} bytes and mask of {self.mask.size} "
                                   f"bytes do not match the {n_bits}-bit grid")

    @property
    def n_bits(self) -> int:
        return self.rows * self.cols * self.bits_per_sample

    @property
    def bytes_per_column(self) -> int:
        return self.rows * self.bits_per_sample // 8

    @property
    def usable_bits(self) -> int:
        return int(np.unpackbits(self.mask).sum())

    def rotated(self, columns: int) -> "IrisTemplate":
        """The template of the same eye turned by `columns` code columns (positive: the code of
        column j moves to column j + columns)."""
        shift = columns * self.bytes_per_column
        return IrisTemplate(np.roll(self.code, shift), np.roll(self.mask, shift), self.rows,
                            self.cols, self.bits_per_sample, self.position, self.image_size,
                            dict(self.geometry), self.quality)
