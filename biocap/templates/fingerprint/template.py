"""The in-memory fingerprint minutiae template every codec reads into and writes from."""
from __future__ import annotations

import enum
import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidDataError, TemplateFormatError
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


#: ISO/IEC 19794-2 extended-data block type (vendor-defined range, 0x0100-0xFFFF) in which
#: biocap's extractor marks the minutiae its own comparator uses: one bit per minutia of the
#: view, in record order, most significant bit first (`numpy.packbits`). The record itself holds
#: the interoperable set (what other matchers read); biocap-mcc reads the marked subset.
MATCHER_SUBSET_BLOCK = 0xB10C


def matcher_subset_block(use: np.ndarray) -> dict[str, Any]:
    """The vendor block marking `use` (bool per minutia) as biocap-mcc's minutiae."""
    return {"type": MATCHER_SUBSET_BLOCK, "data": np.packbits(np.asarray(use, bool)).tobytes()}


def matcher_minutiae(template: "FingerprintTemplate") -> np.ndarray:
    """The minutiae biocap's comparator uses: those marked in the view's MATCHER_SUBSET_BLOCK
    when it has one that fits its minutiae count, else all of them."""
    m = template.minutiae
    for block in template.extended.get("vendor_blocks", ()) if template.extended else ():
        if isinstance(block, dict) and block.get("type") == MATCHER_SUBSET_BLOCK:
            data = block.get("data")
            if isinstance(data, (bytes, bytearray)) and len(data) == (len(m) + 7) // 8:
                use = np.unpackbits(np.frombuffer(bytes(data), np.uint8))[:len(m)].astype(bool)
                return m[use]
    return m


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

    def scaled_to(self, ppi: float, *, for_matcher: bool = False) -> np.ndarray:
        """Minutia coordinates rescaled to another resolution (e.g. 500 ppi for matching);
        `for_matcher`: only the minutiae biocap's comparator uses (`matcher_minutiae`)."""
        m = (matcher_minutiae(self) if for_matcher else self.minutiae).copy()
        f = ppi / self.ppi
        m["x"] *= f
        m["y"] *= f
        return m

    def to_bytes(self) -> bytes:
        """A versioned, checksummed byte string holding everything the template holds (minutiae
        at full float32 precision, unlike the ISO/ANSI records); `from_bytes` reads it back."""
        header = json.dumps({
            "width": int(self.width), "height": int(self.height), "ppi": float(self.ppi),
            "position": int(self.position), "view": int(self.view),
            "impression_type": int(self.impression_type), "quality": _opt_int(self.quality),
            "singular_points": [_tagged(asdict(p)) for p in self.singular_points],
            "extended": _tagged(self.extended), "n_minutiae": len(self.minutiae)}).encode()
        body = _MAGIC + struct.pack("<II", _VERSION, len(header)) + header \
            + np.ascontiguousarray(self.minutiae).tobytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "FingerprintTemplate":
        """Read `to_bytes` output; anything damaged or of another version raises TemplateFormatError."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidDataError(f"from_bytes takes bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < 20 or data[:8] != _MAGIC:
            raise TemplateFormatError("not a biocap fingerprint template", field="magic", offset=0)
        if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
            raise TemplateFormatError("fingerprint template fails its checksum; it is damaged",
                                      field="crc32", offset=len(data) - 4)
        version, hlen = struct.unpack("<II", data[8:16])
        if version != _VERSION:
            raise TemplateFormatError(f"fingerprint template version {version}; this biocap reads "
                                      f"{_VERSION}", field="version", offset=8)
        if hlen > min(_MAX_HEADER, len(data) - 20):
            raise TemplateFormatError(f"header length {hlen} is impossible", field="header_length", offset=12)
        try:
            h = json.loads(data[16:16 + hlen].decode())
            n = int(h["n_minutiae"])
            if n < 0 or len(data) != 16 + hlen + n * MINUTIA_DTYPE.itemsize + 4:
                raise ValueError(f"{len(data)} bytes do not hold {n} minutiae")
            minutiae = np.frombuffer(data, MINUTIA_DTYPE, n, 16 + hlen).copy()
            points = [SingularPoint(**_untagged(p)) for p in h["singular_points"]]
            return cls(minutiae, int(h["width"]), int(h["height"]), float(h["ppi"]), int(h["position"]),
                       int(h["view"]), int(h["impression_type"]), _opt_int(h["quality"]), points,
                       _untagged(h["extended"]))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise TemplateFormatError(f"fingerprint template header is corrupt ({exc})", field="header",
                                      offset=16) from exc


#: `to_bytes` layout: magic, version, header length, JSON header, minutiae (MINUTIA_DTYPE), CRC-32
_MAGIC = b"BIOCAPFT"
_VERSION = 1
_MAX_HEADER = 1 << 20


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _tagged(v: Any) -> Any:
    """JSON-ready form of template metadata that keeps bytes, tuples, arrays and non-str keys."""
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": bytes(v).hex()}
    if isinstance(v, np.ndarray):
        return {"__ndarray__": [v.dtype.str, list(v.shape), np.ascontiguousarray(v).tobytes().hex()]}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return {"__tuple__": [_tagged(x) for x in v]}
    if isinstance(v, list):
        return [_tagged(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in v):
            return {k: _tagged(x) for k, x in v.items()}
        return {"__dict__": [[_tagged(k), _tagged(x)] for k, x in v.items()]}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise InvalidDataError(f"template metadata of type {type(v).__name__} cannot be stored")


def _untagged(v: Any) -> Any:
    if isinstance(v, list):
        return [_untagged(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"__bytes__"}:
            return bytes.fromhex(v["__bytes__"])
        if set(v) == {"__ndarray__"}:
            dtype, shape, hexdata = v["__ndarray__"]
            if np.dtype(dtype).hasobject:
                raise ValueError("object arrays are not stored")
            return np.frombuffer(bytes.fromhex(hexdata), np.dtype(dtype)).reshape(shape).copy()
        if set(v) == {"__tuple__"}:
            return tuple(_untagged(x) for x in v["__tuple__"])
        if set(v) == {"__dict__"}:
            return {_hashable(_untagged(k)): _untagged(x) for k, x in v["__dict__"]}
        return {k: _untagged(x) for k, x in v.items()}
    return v


def _hashable(k: Any) -> Any:
    if isinstance(k, list):
        raise ValueError("a list cannot be a dict key")
    return k
