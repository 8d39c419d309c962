"""`FaceTemplate`: a 128-D face embedding (dlib's ResNet descriptor), L2-normalised float32.

Similarity of two templates = (1 + cosine) / 2 in [0, 1] (= (1 + dot) / 2 of the unit vectors);
the face gallery uses the same scale.

Encoding (`to_bytes`, little-endian, version 1):
    magic b"BCFT" | version u8 | flags u8 (reserved, 0) | dim u16 (128)
    | box 4 x f32 (x, y, w, h) | landmarks 10 x f32 (5 x (x, y)) | embedding dim x f32 | crc32 u32
The CRC covers every byte before it.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ...errors import TemplateFormatError
from ...types import Modality

DIM = 128
MAGIC = b"BCFT"
VERSION = 1
_HEAD = struct.Struct("<4sBBH")
_SIZE = _HEAD.size + 4 * 4 + 10 * 4 + DIM * 4 + 4


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """(1 + cosine) / 2 of two unit embeddings, clipped to [0, 1] (float32 rounding)."""
    return float(min(1.0, max(0.0, (1.0 + float(np.dot(a, b))) / 2.0)))


@dataclass(frozen=True)
class FaceTemplate:
    embedding: np.ndarray  # (128,) float32, unit length
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((5, 2), np.float32))
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    version: int = VERSION
    modality: Modality = Modality.FACE

    def __post_init__(self):
        e = np.asarray(self.embedding)
        if e.shape != (DIM,) or not np.all(np.isfinite(e)):
            raise TemplateFormatError(f"a face embedding is {DIM} finite values, got shape {e.shape}",
                                      field="embedding")
        norm = float(np.linalg.norm(e))
        if norm == 0:
            raise TemplateFormatError("a face embedding cannot be all zeros", field="embedding")
        object.__setattr__(self, "embedding", (e / norm).astype(np.float32))
        lm = np.asarray(self.landmarks, np.float32)
        if lm.shape != (5, 2):
            raise TemplateFormatError(f"face landmarks are 5 (x, y) points, got shape {lm.shape}",
                                      field="landmarks")
        object.__setattr__(self, "landmarks", lm)
        object.__setattr__(self, "box", tuple(float(v) for v in self.box))

    def similarity(self, other: "FaceTemplate") -> float:
        return similarity(self.embedding, other.embedding)

    def to_bytes(self) -> bytes:
        body = (_HEAD.pack(MAGIC, VERSION, 0, DIM) + np.asarray(self.box, "<f4").tobytes()
                + self.landmarks.astype("<f4").tobytes() + self.embedding.astype("<f4").tobytes())
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "FaceTemplate":
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TemplateFormatError(f"a face template is bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEAD.size:
            raise TemplateFormatError(f"face template of {len(data)} bytes is truncated", field="header",
                                      offset=len(data))
        magic, version, _flags, dim = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise TemplateFormatError("not a biocap face template (bad magic)", field="magic", offset=0)
        if version != VERSION:
            raise TemplateFormatError(f"face template version {version} is not supported (this build "
                                      f"reads {VERSION})", field="version", offset=4)
        if dim != DIM:
            raise TemplateFormatError(f"face template dimension {dim}, expected {DIM}", field="dim",
                                      offset=6)
        if len(data) != _SIZE:
            raise TemplateFormatError(f"face template of {len(data)} bytes, expected {_SIZE}",
                                      field="length", offset=min(len(data), _SIZE))
        (crc,) = struct.unpack_from("<I", data, _SIZE - 4)
        if zlib.crc32(data[:-4]) != crc:
            raise TemplateFormatError("face template checksum mismatch (damaged)", field="crc32",
                                      offset=_SIZE - 4)
        o = _HEAD.size
        box = tuple(np.frombuffer(data, "<f4", 4, o).tolist())
        lm = np.frombuffer(data, "<f4", 10, o + 16).reshape(5, 2).copy()
        emb = np.frombuffer(data, "<f4", DIM, o + 56).copy()
        return cls(emb, lm, box)
