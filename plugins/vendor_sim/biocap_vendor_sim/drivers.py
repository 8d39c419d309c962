"""Drivers of the simulated sensors: ordinary biocap DeviceDrivers that speak PROTOCOL.md over
`self.transport` (plain pyusb) and nothing else, so they would run unchanged on real hardware or
against a recording of it.
"""
from __future__ import annotations

import json
import zlib
from typing import ClassVar

import numpy as np

from biocap.errors import (CentreThePresentation, FirmwareBusy, NoPresentation, PresentationMoved,
                           ProtocolError)
from biocap.plugins.driver import ImageDriver, Presence
from biocap.types import CaptureRequest, IrisPosition, Modality, PenSeries, Sample

from . import protocol as p
from .backend import VENDOR_ID

TRANSFER_TIMEOUT_MS = 500
POLL_INTERVAL_S = 0.005
#: how long the driver waits for a presentation (or for it to be centred) before telling the
#: caller, who retries; the SDK keeps retrying until the capture deadline
PRESENTATION_WINDOW_S = 0.5
CHUNK_RETRIES = 2
CHUNK_READ = p.OVERHEAD + p.CHUNK_HEAD.size + p.CHUNK_SIZE
# every read takes the largest frame the device can send: a stale image chunk left queued by an
# interrupted capture must be skipped on the next command, not overflow a small buffer
REPLY_READ = CHUNK_READ

_STATUS_ERRORS = {
    p.Status.BUSY: FirmwareBusy,  # the firmware asks for a moment (calibrating): retryable
    p.Status.NO_PRESENTATION: NoPresentation,
    p.Status.MOVED: PresentationMoved,
    p.Status.OFF_CENTRE: CentreThePresentation,
}


#: POLL reply byte -> the base class's presence
_PRESENCE = {p.Presence.NONE: Presence.NONE, p.Presence.READY: Presence.READY,
             p.Presence.OFF_CENTRE: Presence.OFF_CENTRE, p.Presence.MOVING: Presence.MOVING}


class SimProtocol:
    """The protocol client of PROTOCOL.md, mixed into a driver (`self.transport`, `self.name`):
    one command and its reply, the start-up and wind-down, a GRAB with its chunk reads."""

    def __init__(self, usb_device, bus):
        super().__init__(usb_device, bus)
        self._seq = 0
        self.device_info: dict = {}

    # --- protocol client ----------------------------------------------------------------------
    def command(self, op: p.Op, payload: bytes = b"", *, deadline: float | None = None,
                read_size: int = REPLY_READ) -> bytes:
        """Send one command and return the payload of its reply (errors mapped to biocap's)."""
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        timeout = self._timeout(deadline)
        self.transport.write(p.EP_OUT, p.encode_frame(p.Kind.COMMAND, op, seq, payload), timeout)
        for _ in range(8):  # skip stale replies (a slow device answering an earlier command)
            raw = self.transport.read(p.EP_IN, read_size, self._timeout(deadline))
            try:
                frame = p.decode_frame(raw)
            except p.FrameError as exc:
                raise ProtocolError(f"{self.name}: unreadable reply to {op.name}: {exc}") from None
            if frame.seq != seq or frame.kind is not p.Kind.REPLY or frame.op != op:
                # stale: the late answer to an earlier command (of this handle, or of one closed
                # before it whose sequence numbers it shares)
                continue
            if frame.status != p.Status.OK:
                message = frame.payload.decode("utf-8", "replace")
                error = _STATUS_ERRORS.get(frame.status)
                if error is not None:
                    raise error(f"{self.name}: {message}")
                try:
                    name = p.Status(frame.status).name
                except ValueError:
                    name = f"status {frame.status:#04x}"
                raise ProtocolError(f"{self.name}: device refused {op.name}: {name}: {message}")
            return frame.payload
        raise ProtocolError(f"{self.name}: no reply to {op.name} among the device's answers")

    @staticmethod
    def _timeout(deadline: float | None) -> int:
        if deadline is None:
            return TRANSFER_TIMEOUT_MS
        return ImageDriver.remaining_ms(deadline, TRANSFER_TIMEOUT_MS)

    def initialise(self) -> None:
        try:
            info = json.loads(self.command(p.Op.GET_INFO))
        except ValueError as exc:
            raise ProtocolError(f"{self.name}: GET_INFO reply is not JSON: {exc}") from None
        if not isinstance(info, dict) or info.get("protocol") != p.PROTOCOL_VERSION:
            raise ProtocolError(f"{self.name}: unsupported protocol version {info!r}")
        self.device_info = info
        self.command(p.Op.RESET)

    def shutdown(self) -> None:
        self.command(p.Op.DISARM)

    def grab(self, deadline: float) -> tuple[p.FrameInfo, list[bytes]]:
        """GRAB one frame and read all its blobs chunk by chunk, checking every CRC."""
        try:
            info = p.FrameInfo.decode(self.command(p.Op.GRAB, deadline=deadline))
        except p.FrameError as exc:
            raise ProtocolError(f"{self.name}: bad frame info: {exc}") from None
        blobs = []
        for blob in info.blobs:
            data = bytearray(blob.size)
            for index in range(blob.chunks):
                chunk = self._read_chunk(blob.blob, index, deadline)
                start = index * p.CHUNK_SIZE
                expected = min(p.CHUNK_SIZE, blob.size - start)
                if len(chunk) != expected:
                    raise ProtocolError(f"{self.name}: chunk {index} of blob {blob.blob} has "
                                        f"{len(chunk)} bytes, expected {expected}")
                data[start:start + expected] = chunk
            if zlib.crc32(data) != blob.crc32:
                raise ProtocolError(f"{self.name}: blob {blob.blob} failed its CRC after assembly")
            blobs.append(bytes(data))
        return info, blobs

    def _read_chunk(self, blob: int, index: int, deadline: float) -> bytes:
        last: Exception | None = None
        for _ in range(1 + CHUNK_RETRIES):  # a corrupted chunk is asked for again
            try:
                reply = self.command(p.Op.READ_CHUNK, p.CHUNK_REQ.pack(blob, index),
                                     deadline=deadline, read_size=CHUNK_READ)
            except ProtocolError as exc:
                if "unreadable reply" not in str(exc):
                    raise
                last = exc
                continue
            if len(reply) < p.CHUNK_HEAD.size or p.CHUNK_HEAD.unpack_from(reply) != (blob, index):
                raise ProtocolError(f"{self.name}: got the wrong chunk for blob {blob} #{index}")
            return reply[p.CHUNK_HEAD.size:]
        raise ProtocolError(f"{self.name}: chunk {index} of blob {blob} stayed corrupted after "
                            f"{CHUNK_RETRIES} retries ({last})", hint="check the cable; retry")


class SimDriver(SimProtocol, ImageDriver):
    """ARM activates a run, POLL is the presence, GRAB plus the chunk reads are a frame, DISARM
    ends the run; subclasses turn a frame's blobs into Samples."""

    usb_ids: ClassVar[tuple[tuple[int, int], ...]] = ()
    poll_interval_s = POLL_INTERVAL_S
    presence_window_s = PRESENTATION_WINDOW_S
    presence_per_frame = False  # the subject stays; frames stream until the caller stops

    def presence(self, deadline: float) -> Presence:
        reply = self.command(p.Op.POLL, deadline=deadline)[:1]
        if len(reply) != 1 or reply[0] not in p.Presence._value2member_map_:
            raise ProtocolError(f"{self.name}: unreadable POLL reply {reply!r}")
        return _PRESENCE[p.Presence(reply[0])]

    def activate(self, request: CaptureRequest, position: int | None, deadline: float) -> None:
        self.command(p.Op.ARM, p.ARM.pack(self.arm_position(request, position), p.MODE_CAPTURE),
                     deadline=deadline)

    def deactivate(self) -> None:
        self.command(p.Op.DISARM)

    def read_frame(self, deadline: float) -> tuple[p.FrameInfo, list[bytes]]:
        return self.grab(deadline)

    def arm_position(self, request: CaptureRequest, position: int | None) -> int:
        return int(position or 0)

    def image_from(self, blob_info: p.BlobInfo, data: bytes) -> np.ndarray:
        return np.frombuffer(data, np.uint8).reshape(blob_info.height, blob_info.width).copy()

    def frame_sample(self, image, info: p.FrameInfo, position, **extra) -> Sample:
        """A Sample of one image of the frame, at the resolution the frame states."""
        return self.make_sample(image, position, ppi=float(info.ppi),
                                device_quality=info.device_quality,
                                metadata={"frame": info.number,
                                          "source": self.device_info.get("source")}, **extra)

    def to_samples(self, frame, request, position):
        info, blobs = frame
        return self.frame_sample(self.image_from(info.blobs[0], blobs[0]), info,
                                 self.sample_position(position))


def _ids(pid: int) -> tuple[tuple[int, int], ...]:
    return ((VENDOR_ID, pid),)


class SimFingerprintDriver(SimDriver):
    name = "sim-fingerprint"
    modality = Modality.FINGERPRINT
    usb_ids = _ids(0x0001)
    ppi = 500
    image_size = (400, 500)
    positions = tuple(range(0, 11)) + (13, 14, 15)


class SimIrisDriver(SimDriver):
    """Dual camera: both eyes are captured together when both are wanted."""

    name = "sim-iris"
    modality = Modality.IRIS
    usb_ids = _ids(0x0002)
    ppi = 420
    image_size = (320, 280)
    positions = (1, 2)

    def position_groups(self, positions):
        wanted = tuple(p_ for p_ in positions if p_ in (1, 2))
        return [wanted] if wanted else [(1, 2)]

    def arm_position(self, request, position):
        return int(position) if position in (1, 2) else 0

    def to_samples(self, frame, request, position):
        info, blobs = frame
        eyes = (int(position),) if position in (1, 2) else (1, 2)
        samples = tuple(self.frame_sample(self.image_from(b, data), info, IrisPosition(eye))
                        for eye, b, data in zip(eyes, info.blobs, blobs))
        return samples[0] if len(samples) == 1 else samples


class SimFaceDriver(SimDriver):
    name = "sim-face"
    modality = Modality.FACE
    usb_ids = _ids(0x0003)
    ppi = 200
    image_size = (640, 480)


class SimSignatureDriver(SimDriver):
    name = "sim-signature"
    modality = Modality.SIGNATURE
    usb_ids = _ids(0x0004)
    ppi = 200
    image_size = (600, 300)
    #: the pad's signing area and units (a 6 x 4 inch pad at 0.01 mm), y growing upwards
    pad = {"width": 15240, "height": 10160, "units_per_mm": 100.0, "y_up": True}

    def to_samples(self, frame, request, position):
        info, blobs = frame
        image_blob = next(i for i, b in enumerate(info.blobs) if b.kind is p.BlobKind.IMAGE)
        pen_blob = next((i for i, b in enumerate(info.blobs) if b.kind is p.BlobKind.PEN), None)
        pen = None
        if pen_blob is not None:
            rows = np.frombuffer(blobs[pen_blob], dtype=np.dtype(
                [("x", "<i4"), ("y", "<i4"), ("p", "<u2"), ("t", "<u4"), ("d", "u1")]))
            if len(rows) == 0:
                raise ProtocolError(f"{self.name}: the pad sent an empty pen series")
            pen = PenSeries(x=rows["x"].astype(np.float64), y=rows["y"].astype(np.float64),
                            pressure=rows["p"].astype(np.float64), t_ms=rows["t"].astype(np.float64),
                            pen_down=rows["d"].astype(bool))
        sample = self.frame_sample(self.image_from(info.blobs[image_blob], blobs[image_blob]),
                                   info, None, pen=pen)
        sample.metadata["pad"] = dict(self.pad)
        return sample


DRIVERS = (SimFingerprintDriver, SimIrisDriver, SimFaceDriver, SimSignatureDriver)
