"""`SignatureTemplate`: the features of one online signature, with a versioned, checked byte form.

Byte layout (little-endian): magic `BSGT`, version u16, n_points u32, n_local u16, n_global u16,
duration_ms u32, strokes u16, local features float32 (n_points x n_local, row-major), global
features float64 (n_global), CRC-32 of everything before it (u32).

Version 3 records (11 local columns) are still read: the five columns version 4 added are
derived from the stored ones (derivative of the resampled series, z-normalised). That is close
to, not the same as, what version 4 extracts from the pen series (derivative at 100 Hz, then
resampled); re-extract from the pen series where it is kept.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from ...errors import TemplateFormatError
from ...types import Modality
from . import params as P
from .features import GLOBAL_NAMES, LOCAL_NAMES, LOCAL_NAMES_V3

MAGIC = b"BSGT"
VERSION = 4  # 4: + d log curvature radius, d acceleration, second derivatives of speed, log
#              curvature radius and acceleration; 3: + d_pressure, d_speed, log curvature
#              radius, d_angle (2: x, y, speed, direction, acceleration, pressure; 1: x, y, dx, dy, ...)
#: older versions still read: 3 (its five missing columns derived from the stored ones, see
#: _upgrade_v3)
READS = (3, VERSION)
_HEAD = struct.Struct("<4sHIHHIH")


@dataclass(frozen=True)
class SignatureTemplate:
    """Per-point features (n, len(LOCAL_NAMES)) for elastic matching and whole-signature
    features (k,)."""

    local: np.ndarray
    global_: np.ndarray
    duration_ms: int
    strokes: int
    version: int = VERSION
    modality: Modality = Modality.SIGNATURE

    def __post_init__(self):
        # held at float32 precision, as stored, so a template and its bytes compare identically
        loc = np.ascontiguousarray(np.asarray(self.local, dtype=np.float32), dtype=np.float64)
        glo = np.ascontiguousarray(self.global_, dtype=np.float64)
        if loc.ndim != 2 or loc.shape[1] != len(LOCAL_NAMES) or not 2 <= loc.shape[0] <= P.MAX_POINTS:
            raise TemplateFormatError(f"signature template local features must be (n, "
                                      f"{len(LOCAL_NAMES)}) with 2 <= n <= {P.MAX_POINTS}, got "
                                      f"{loc.shape}", field="local")
        if glo.shape != (len(GLOBAL_NAMES),):
            raise TemplateFormatError(f"signature template global features must have "
                                      f"{len(GLOBAL_NAMES)} values, got {glo.shape}", field="global")
        if not (np.all(np.isfinite(loc)) and np.all(np.isfinite(glo))):
            raise TemplateFormatError("signature template holds NaN or infinite features",
                                      field="features")
        object.__setattr__(self, "local", loc)
        object.__setattr__(self, "global_", glo)

    def __len__(self) -> int:
        return int(self.local.shape[0])

    def to_bytes(self) -> bytes:
        n, k = self.local.shape
        head = _HEAD.pack(MAGIC, VERSION, n, k, len(self.global_), int(self.duration_ms),
                          int(self.strokes))
        body = head + self.local.astype("<f4").tobytes() + self.global_.astype("<f8").tobytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "SignatureTemplate":
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TemplateFormatError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEAD.size + 4:
            raise TemplateFormatError(f"signature template of {len(data)} bytes is truncated",
                                      field="header", offset=0)
        magic, version, n, k, g, dur, strokes = _HEAD.unpack_from(data, 0)
        if magic != MAGIC:
            raise TemplateFormatError(f"not a biocap signature template (starts {magic!r})",
                                      field="magic", offset=0)
        if version not in READS:
            raise TemplateFormatError(f"signature template version {version} is not supported "
                                      f"(this build reads {READS})", field="version", offset=4,
                                      hint="extract the template again from the pen series")
        names = LOCAL_NAMES if version == VERSION else LOCAL_NAMES_V3
        if k != len(names) or g != len(GLOBAL_NAMES) or not 2 <= n <= P.MAX_POINTS:
            raise TemplateFormatError(f"signature template shape {n}x{k}+{g} is not valid",
                                      field="n_points", offset=6)
        need = _HEAD.size + n * k * 4 + g * 8 + 4
        if len(data) != need:
            raise TemplateFormatError(f"signature template is {len(data)} bytes, its header says "
                                      f"{need}", field="length", offset=0)
        (crc,) = struct.unpack_from("<I", data, need - 4)
        if zlib.crc32(data[:need - 4]) != crc:
            raise TemplateFormatError("signature template checksum does not match: it is damaged",
                                      field="crc32", offset=need - 4)
        off = _HEAD.size
        local = np.frombuffer(data, "<f4", n * k, off).reshape(n, k).astype(np.float64)
        glob = np.frombuffer(data, "<f8", g, off + n * k * 4).astype(np.float64)
        if version == 3:
            local = _upgrade_v3(local)
        return cls(local, glob, dur, strokes)


def _z(col: np.ndarray) -> np.ndarray:
    sd = float(col.std())
    return (col - col.mean()) / sd if sd > 1e-9 else col - col.mean()


def _upgrade_v3(local: np.ndarray) -> np.ndarray:
    """Version 3's 11 columns -> version 4's 16: the first derivatives of the log curvature radius
    and of the acceleration, the second derivatives of speed, log curvature radius and
    acceleration, taken on the stored (resampled, z-normalised) columns."""
    col = {c: local[:, LOCAL_NAMES_V3.index(c)] for c in ("d_speed", "log_curvature_radius", "accel")}
    d_rho, d_acc = np.gradient(col["log_curvature_radius"]), np.gradient(col["accel"])
    extra = [d_rho, d_acc, np.gradient(col["d_speed"]), np.gradient(d_rho), np.gradient(d_acc)]
    return np.concatenate([local, np.stack([_z(e) for e in extra], 1)], 1)
