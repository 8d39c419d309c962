"""Drivers of the simulated sensors: ordinary biocap DeviceDrivers that speak PROTOCOL.md over
`self.transport` (plain pyusb) and nothing else, so they would run unchanged on real hardware or
against a recording of it.
"""
from __future__ import annotations

import json
import time
import zlib
from typing import ClassVar, Iterator

import numpy as np

from biocap.errors import (CentreThePresentation, DeviceBusy, NoPresentation, PresentationMoved,
                           ProtocolError)
from biocap.plugins.driver import DeviceDriver
from biocap.types import (CaptureRequest, DeviceInfo, FingerPosition, IrisPosition, Modality,
                          PenSeries, Sample)

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
    p.Status.BUSY: DeviceBusy,
    p.Status.NO_PRESENTATION: NoPresentation,
    p.Status.MOVED: PresentationMoved,
    p.Status.OFF_CENTRE: CentreThePresentation,
}


class SimDriver(DeviceDriver):
    """Common protocol client; subclasses turn a frame's blobs into Samples."""

    usb_ids: ClassVar[tuple[tuple[int, int], ...]] = ()
    product_id: ClassVar[int]
    ppi: ClassVar[int]
    image_size: ClassVar[tuple[int, int]]
    supported_positions: ClassVar[tuple[int, ...]] = ()

    def __init__(self, usb_device, bus):
        super().__init__(usb_device, bus)
        self._seq = 0
        self.device_info: dict = {}

    @classmethod
    def describe(cls, usb_device, bus) -> DeviceInfo:
        base = super().describe(usb_device, bus)
        return DeviceInfo(**{**base.__dict__, "ppi": cls.ppi, "image_size": cls.image_size,
                             "positions": cls.supported_positions})

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
            if frame.seq != seq or frame.kind is not p.Kind.REPLY:
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
            if frame.op != op:
                raise ProtocolError(f"{self.name}: reply to opcode {frame.op:#04x} where "
                                    f"{op.name} was expected")
            return frame.payload
        raise ProtocolError(f"{self.name}: no reply to {op.name} among the device's answers")

    @staticmethod
    def _timeout(deadline: float | None) -> int:
        if deadline is None:
            return TRANSFER_TIMEOUT_MS
        return DeviceDriver.remaining_ms(deadline, TRANSFER_TIMEOUT_MS)

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

    def wait_for_presentation(self, deadline: float) -> None:
        """Poll until the subject's presentation is ready, or raise a retryable error."""
        window_end = min(deadline, time.monotonic() + PRESENTATION_WINDOW_S)
        presence = p.Presence.NONE
        while True:
            presence = self.command(p.Op.POLL, deadline=deadline)[:1]
            if len(presence) != 1 or presence[0] not in p.Presence._value2member_map_:
                raise ProtocolError(f"{self.name}: unreadable POLL reply {presence!r}")
            presence = p.Presence(presence[0])
            if presence is p.Presence.READY:
                return
            if time.monotonic() >= window_end:
                break
            time.sleep(POLL_INTERVAL_S)
        if presence is p.Presence.OFF_CENTRE:
            raise CentreThePresentation(f"{self.name}: the presentation is off-centre")
        if presence is p.Presence.MOVING:
            raise PresentationMoved(f"{self.name}: the presentation keeps moving")
        raise NoPresentation(f"{self.name}: nothing presented to the sensor")

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

    def frames(self, request: CaptureRequest, position: int | None,
               deadline: float) -> Iterator[Sample]:
        self.command(p.Op.ARM, p.ARM.pack(self.arm_position(request, position), p.MODE_CAPTURE),
                     deadline=deadline)
        try:
            self.wait_for_presentation(deadline)
            while time.monotonic() < deadline:
                info, blobs = self.grab(deadline)
                yield self.to_samples(info, blobs, request, position)
        finally:
            try:
                self.command(p.Op.DISARM)
            except Exception:  # unplugged or timing out: nothing more to tell the device
                pass

    def arm_position(self, request: CaptureRequest, position: int | None) -> int:
        return int(position or 0)

    def image_from(self, blob_info: p.BlobInfo, data: bytes) -> np.ndarray:
        return np.frombuffer(data, np.uint8).reshape(blob_info.height, blob_info.width).copy()

    def make_sample(self, image, info: p.FrameInfo, position, **extra) -> Sample:
        return Sample(image=image, ppi=float(info.ppi), modality=self.modality, position=position,
                      device=getattr(self, "info", None), device_quality=info.device_quality,
                      metadata={"frame": info.number, "source": self.device_info.get("source")},
                      **extra)

    def to_samples(self, info: p.FrameInfo, blobs: list[bytes], request, position):
        raise NotImplementedError


def _ids(pid: int) -> tuple[tuple[int, int], ...]:
    return ((VENDOR_ID, pid),)


class SimFingerprintDriver(SimDriver):
    name = "sim-fingerprint"
    modality = Modality.FINGERPRINT
    usb_ids = _ids(0x0001)
    ppi = 500
    image_size = (400, 500)
    supported_positions = tuple(range(0, 11)) + (13, 14, 15)

    def to_samples(self, info, blobs, request, position):
        pos = FingerPosition(int(position or 0))
        return self.make_sample(self.image_from(info.blobs[0], blobs[0]), info, pos)


class SimIrisDriver(SimDriver):
    """Dual camera: both eyes are captured together when both are wanted."""

    name = "sim-iris"
    modality = Modality.IRIS
    usb_ids = _ids(0x0002)
    ppi = 420
    image_size = (320, 280)
    supported_positions = (1, 2)

    def position_groups(self, positions):
        wanted = tuple(p_ for p_ in positions if p_ in (1, 2))
        return [wanted] if wanted else [(1, 2)]

    def arm_position(self, request, position):
        return int(position) if position in (1, 2) else 0

    def to_samples(self, info, blobs, request, position):
        eyes = (int(position),) if position in (1, 2) else (1, 2)
        samples = tuple(self.make_sample(self.image_from(b, data), info, IrisPosition(eye))
                        for eye, b, data in zip(eyes, info.blobs, blobs))
        return samples[0] if len(samples) == 1 else samples


class SimFaceDriver(SimDriver):
    name = "sim-face"
    modality = Modality.FACE
    usb_ids = _ids(0x0003)
    ppi = 200
    image_size = (320, 320)

    def to_samples(self, info, blobs, request, position):
        return self.make_sample(self.image_from(info.blobs[0], blobs[0]), info, None)


class SimSignatureDriver(SimDriver):
    name = "sim-signature"
    modality = Modality.SIGNATURE
    usb_ids = _ids(0x0004)
    ppi = 200
    image_size = (600, 300)
    #: the pad's signing area and units (a 6 x 4 inch pad at 0.01 mm), y growing upwards
    pad = {"width": 15240, "height": 10160, "units_per_mm": 100.0, "y_up": True}

    def to_samples(self, info, blobs, request, position):
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
        sample = self.make_sample(self.image_from(info.blobs[image_blob], blobs[image_blob]), info,
                                  None, pen=pen)
        sample.metadata["pad"] = dict(self.pad)
        return sample


DRIVERS = (SimFingerprintDriver, SimIrisDriver, SimFaceDriver, SimSignatureDriver)
