"""`IrisTemplate`: an iris code and its mask as packed bits, with the geometry they came from."""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidDataError, TemplateFormatError
from ...types import Modality

#: `to_bytes` layout: magic, version, header length, JSON header, code, mask, CRC-32 of all before
_MAGIC = b"BIOCAPIT"
_VERSION = 1
_MAX_HEADER = 1 << 16


@dataclass
class IrisTemplate:
    """Packed iris code + mask. Layout: `cols` angular positions, each `rows` x `bits_per_sample`
    bits (column-major), so a rotation by one column is a circular shift of `bytes_per_column`."""

    modality: ClassVar[Modality] = Modality.IRIS

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

    def to_bytes(self) -> bytes:
        """A versioned, checksummed byte string (no pickle); `from_bytes` reads it back."""
        header = json.dumps({"rows": self.rows, "cols": self.cols, "bits_per_sample": self.bits_per_sample,
                             "position": int(self.position), "image_size": list(self.image_size),
                             "geometry": self.geometry, "quality": self.quality},
                            default=_json_default).encode()
        body = _MAGIC + struct.pack("<II", _VERSION, len(header)) + header + self.code.tobytes() \
            + self.mask.tobytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "IrisTemplate":
        """Read `to_bytes` output; anything damaged or of another version raises TemplateFormatError."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidDataError(f"from_bytes takes bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < 20 or data[:8] != _MAGIC:
            raise TemplateFormatError("not a biocap iris template", field="magic", offset=0)
        if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
            raise TemplateFormatError("iris template fails its checksum; it is damaged", field="crc32",
                                      offset=len(data) - 4)
        version, hlen = struct.unpack("<II", data[8:16])
        if version != _VERSION:
            raise TemplateFormatError(f"iris template version {version}; this biocap reads {_VERSION}",
                                      field="version", offset=8)
        if hlen > min(_MAX_HEADER, len(data) - 20):
            raise TemplateFormatError(f"header length {hlen} is impossible", field="header_length", offset=12)
        try:
            h = json.loads(data[16:16 + hlen].decode())
            rows, cols, bits = int(h["rows"]), int(h["cols"]), int(h["bits_per_sample"])
            n = rows * cols * bits // 8
            if not (0 < rows <= 64 and 0 < cols <= 4096 and 0 < bits <= 8):
                raise ValueError(f"grid {rows}x{cols}x{bits} is out of range")
            if len(data) != 16 + hlen + 2 * n + 4:
                raise ValueError(f"{len(data)} bytes do not hold a {rows}x{cols}x{bits} code and mask")
            body = np.frombuffer(data, np.uint8, 2 * n, 16 + hlen)
            return cls(body[:n].copy(), body[n:].copy(), rows, cols, bits, int(h["position"]),
                       tuple(int(v) for v in h["image_size"]), dict(h["geometry"]),
                       None if h["quality"] is None else int(h["quality"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise TemplateFormatError(f"iris template header is corrupt ({exc})", field="header", offset=16) from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON data")
