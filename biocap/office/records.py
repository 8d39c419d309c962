"""Value types of the office: what a capture, an exception and a resident's record hold.

These are plain dataclasses (no storage logic) so the station, the package builder and the centre
share them. `encode_capture` / `decode_capture` turn a `CaptureRecord` into bytes and back
(versioned, length-checked, never pickle); the store encrypts those bytes.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import cv2
import numpy as np

from ..errors import InvalidDataError
from ..types import DeviceInfo, FingerPosition, IrisPosition, Modality, PenSeries, Sample

#: container magic and version of an encoded capture ("BCR" + format version)
CAPTURE_MAGIC = b"BCR1"
#: largest encoded capture accepted (a 1600x1500 slap as PNG is < 3 MB; generous bound)
MAX_CAPTURE_BYTES = 64 * 1024 * 1024
#: PNG level 1: lossless, ~2x faster to write than the default, a few percent larger
PNG_LEVEL = 1


@dataclass
class CaptureRecord:
    """One accepted capture of an enrollment step (a finger, a slap, an eye, the face, a signature)."""

    step: str
    modality: Modality
    position: int
    sample: Sample
    quality: dict[str, Any] | None = None
    templates: dict[str, bytes] = field(default_factory=dict)  # format name -> encoded record
    override_reason: str | None = None
    captured_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self):
        if not isinstance(self.step, str) or not self.step or len(self.step) > 64:
            raise InvalidDataError(f"capture step must be a name of 1-64 characters, got {self.step!r}")
        self.modality = Modality(self.modality)
        if not isinstance(self.sample, Sample):
            raise InvalidDataError(f"capture {self.step!r} holds a {type(self.sample).__name__}, "
                                   "not a Sample")
        self.position = int(self.position or 0)
        if self.quality is not None and hasattr(self.quality, "to_json"):  # a QualityReport
            self.quality = self.quality.to_json()
        if self.quality is not None and not isinstance(self.quality, dict):
            raise InvalidDataError(f"capture {self.step!r}: quality must be a dict or a QualityReport")
        for name, blob in self.templates.items():
            if not isinstance(name, str) or not isinstance(blob, (bytes, bytearray)):
                raise InvalidDataError(f"capture {self.step!r}: templates must map a format name "
                                       "to encoded bytes")


@dataclass(frozen=True)
class ExceptionRecord:
    """A step that could not be captured, with the operator's reason (amputated, bandaged, ...)."""

    step: str
    modality: Modality
    position: int
    code: str
    reason: str


@dataclass(frozen=True)
class EnrollmentInfo:
    enrollment_id: str
    state: str  # "open" or "finished"
    started_at: str
    finished_at: str | None
    complete: bool | None
    policy: str
    operator: str
    replaces: str | None


@dataclass
class ResidentRecord:
    """One resident's latest enrollment with everything captured, and the enrollments before it."""

    subject: str
    enrollment: EnrollmentInfo
    metadata: dict[str, Any]
    summary: dict[str, Any]
    captures: list[CaptureRecord]
    exceptions: list[ExceptionRecord]
    history: list[EnrollmentInfo]

    @property
    def enrollment_id(self) -> str:
        return self.enrollment.enrollment_id


# --- capture <-> bytes ------------------------------------------------------------------------------
def _device_from_json(d: dict[str, Any] | None) -> DeviceInfo | None:
    if not d:
        return None
    return DeviceInfo(id=d["id"], modality=Modality(d["modality"]), vendor=d["vendor"],
                      model=d["model"], serial=d["serial"], vendor_id=int(d["vendor_id"], 16),
                      product_id=int(d["product_id"], 16), bus=d["bus"], driver=d["driver"],
                      firmware=d.get("firmware", ""), ppi=d.get("ppi"),
                      image_size=tuple(d["image_size"]) if d.get("image_size") else None,
                      positions=tuple(d.get("positions") or ()))


def _position(modality: Modality, value: int | None):
    if value is None:
        return None
    if modality is Modality.IRIS:
        return IrisPosition(value)
    if modality is Modality.FINGERPRINT:
        return FingerPosition(value)
    return None


def encode_capture(capture: CaptureRecord) -> bytes:
    """A capture as bytes: magic, header length, JSON header, then the binary parts it lists."""
    sample = capture.sample
    ok, png = cv2.imencode(".png", sample.image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL])
    if not ok:
        raise InvalidDataError(f"capture {capture.step!r}: the image could not be encoded as PNG")
    parts: list[tuple[str, bytes]] = [("image", png.tobytes())]
    pen = None
    if sample.pen is not None:
        pen = {}
        for name in ("x", "y", "pressure", "t_ms", "pen_down", "azimuth", "altitude"):
            col = getattr(sample.pen, name)
            if col is None:
                continue
            arr = np.ascontiguousarray(col)
            if arr.dtype == object or arr.ndim != 1:
                raise InvalidDataError(f"pen column {name} must be a 1-D numeric array")
            arr = arr.astype(arr.dtype.newbyteorder("<"))
            pen[name] = arr.dtype.str
            parts.append((f"pen.{name}", arr.tobytes()))
    for fmt, blob in sorted(capture.templates.items()):
        parts.append((f"template.{fmt}", bytes(blob)))
    position = None if sample.position is None else int(sample.position)
    try:
        header = json.dumps({
            "step": capture.step, "modality": capture.modality.value, "position": capture.position,
            "quality": capture.quality, "override_reason": capture.override_reason,
            "captured_at": capture.captured_at.isoformat(),
            "sample": {"ppi": float(sample.ppi), "modality": sample.modality.value,
                       "position": position, "width": sample.width, "height": sample.height,
                       "device": sample.device.to_json() if sample.device else None,
                       "captured_at": sample.captured_at.isoformat(),
                       "device_quality": sample.device_quality, "metadata": sample.metadata,
                       "pen": pen},
            "parts": [[name, len(blob)] for name, blob in parts],
        }, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"capture {capture.step!r}: quality or metadata is not JSON-serialisable: "
                               f"{exc}") from exc
    out = bytearray(CAPTURE_MAGIC + struct.pack("<I", len(header)) + header)
    for _, blob in parts:
        out += blob
    if len(out) > MAX_CAPTURE_BYTES:
        raise InvalidDataError(f"capture {capture.step!r} encodes to {len(out)} bytes, more than "
                               f"{MAX_CAPTURE_BYTES}")
    return bytes(out)


def decode_capture(data: bytes) -> CaptureRecord:
    """The inverse of `encode_capture`; a malformed buffer raises InvalidDataError."""
    try:
        if data[:4] != CAPTURE_MAGIC or len(data) < 8:
            raise InvalidDataError("not an encoded capture (bad magic)")
        (hlen,) = struct.unpack_from("<I", data, 4)
        if 8 + hlen > len(data):
            raise InvalidDataError("encoded capture: header runs past the end")
        h = json.loads(data[8:8 + hlen])
        offset = 8 + hlen
        parts: dict[str, bytes] = {}
        for name, length in h["parts"]:
            if not isinstance(length, int) or length < 0 or offset + length > len(data):
                raise InvalidDataError(f"encoded capture: part {name!r} runs past the end")
            parts[name] = data[offset:offset + length]
            offset += length
        if offset != len(data):
            raise InvalidDataError("encoded capture: trailing bytes")
        s = h["sample"]
        if not (0 < s["width"] <= 8192 and 0 < s["height"] <= 8192):
            raise InvalidDataError("encoded capture: image size out of range")
        image = cv2.imdecode(np.frombuffer(parts["image"], np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or image.shape != (s["height"], s["width"]) or image.dtype != np.uint8:
            raise InvalidDataError("encoded capture: the image does not decode to its stated size")
        pen = None
        if s.get("pen"):
            cols = {name: np.frombuffer(parts[f"pen.{name}"], np.dtype(dt)).copy()
                    for name, dt in s["pen"].items()}
            pen = PenSeries(**cols)
        modality = Modality(s["modality"])
        sample = Sample(image=image, ppi=s["ppi"], modality=modality,
                        position=_position(modality, s["position"]),
                        device=_device_from_json(s.get("device")),
                        captured_at=datetime.fromisoformat(s["captured_at"]),
                        device_quality=s.get("device_quality"), pen=pen,
                        metadata=s.get("metadata") or {})
        templates = {name[len("template."):]: blob for name, blob in parts.items()
                     if name.startswith("template.")}
        return CaptureRecord(step=h["step"], modality=Modality(h["modality"]),
                             position=h["position"], sample=sample, quality=h.get("quality"),
                             templates=templates, override_reason=h.get("override_reason"),
                             captured_at=datetime.fromisoformat(h["captured_at"]))
    except InvalidDataError:
        raise
    except (KeyError, TypeError, ValueError, struct.error, cv2.error) as exc:
        raise InvalidDataError(f"encoded capture is malformed: {exc}") from exc
