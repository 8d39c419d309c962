"""The firmware state machines of the simulated sensors (the device side of PROTOCOL.md).

    IDLE --ARM--> ARMED --(presentation arrives, seen by POLL)--> PRESENTED --GRAB--> FRAME_READY
      ^                                                                 ^              |
      +------------------------- DISARM / RESET (any state) ------------+-- GRAB -------+
A firmware object turns one command frame into one reply frame (`handle`); it never raises.
"""
from __future__ import annotations

import enum
import json
import os
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from . import protocol as p
from .slaps import compose_slap
from .sources import SampleSource, SourceSample, fit_to_window, vary_presentation


class State(enum.Enum):
    IDLE = "idle"
    ARMED = "armed"
    PRESENTED = "presented"
    FRAME_READY = "frame_ready"


class Reject(Exception):
    """Raised inside a command handler: becomes an error reply with this status and message."""

    def __init__(self, status: p.Status, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Presentation:
    """What the subject is doing for one ARM: when it arrives, whether it is off-centre, its look."""

    position: int
    polls_until_present: int  # -1: never arrives (no-presentation fault)
    off_centre_polls: int
    poor: bool
    base: list[np.ndarray] | None = None  # per-blob base image, made lazily on the first GRAB
    pen: object = None
    labels: tuple[str, ...] = ()
    frames: int = 0
    polls: int = 0


class Firmware:
    """Common state machine; subclasses say which positions exist and what a frame looks like."""

    modality: str
    ppi: int
    background: int = 255
    firmware_version = "1.0"
    #: the subject arrives after a number of polls drawn from this range (end exclusive), and is
    #: off-centre for one poll first at this rate; benchmarks set (0, 1) and 0 for no waiting
    presentation_delay_polls: tuple[int, int] = (0, 3)
    border: int = cv2.BORDER_CONSTANT
    off_centre_rate: float = 0.2

    def __init__(self, source: SampleSource, rng: np.random.Generator, serial: str,
                 fault_hook=None):
        self.source = source
        self.rng = rng
        self.serial = serial
        #: `fault_hook(kind) -> bool` asks the device whether a presentation fault is due now
        self.fault_hook = fault_hook or (lambda kind: False)
        self.reset()

    # --- state machine ------------------------------------------------------------------------
    def reset(self) -> None:
        self.state = State.IDLE
        self.presentation: Presentation | None = None
        self.blobs: list[bytes] = []
        self.frame_number = 0

    def handle(self, data: bytes) -> bytes:
        try:
            frame = p.decode_frame(data)
        except p.FrameError as exc:
            seq = data[4] if len(data) > 4 else 0
            return p.encode_frame(p.Kind.REPLY, 0, seq, str(exc).encode(), p.Status.BAD_FRAME)
        if frame.kind is not p.Kind.COMMAND:
            return self._error(frame, p.Status.BAD_FRAME, "expected a command frame")
        handler = self._HANDLERS.get(frame.op)
        if handler is None:
            return self._error(frame, p.Status.UNKNOWN_COMMAND, f"unknown command {frame.op:#04x}")
        try:
            payload = handler(self, frame.payload)
        except Reject as exc:
            return self._error(frame, exc.status, str(exc))
        except Exception as exc:  # a firmware bug must still answer, never hang the host
            return self._error(frame, p.Status.INTERNAL, f"{type(exc).__name__}: {exc}")
        return p.encode_frame(p.Kind.REPLY, frame.op, frame.seq, payload, p.Status.OK)

    @staticmethod
    def _error(frame: p.Frame, status: p.Status, message: str) -> bytes:
        return p.encode_frame(p.Kind.REPLY, frame.op, frame.seq, message.encode()[:512], status)

    def busy_reply(self, data: bytes) -> bytes:
        try:
            frame = p.decode_frame(data)
            op, seq = frame.op, frame.seq
        except p.FrameError:
            op, seq = 0, data[4] if len(data) > 4 else 0
        return p.encode_frame(p.Kind.REPLY, op, seq, b"firmware busy (calibrating)", p.Status.BUSY)

    # --- commands -----------------------------------------------------------------------------
    def _get_info(self, payload: bytes) -> bytes:
        return json.dumps(self.info()).encode()

    def _reset(self, payload: bytes) -> bytes:
        self.reset()
        return b""

    def _arm(self, payload: bytes) -> bytes:
        if len(payload) != p.ARM.size:
            raise Reject(p.Status.BAD_ARGUMENT, f"ARM takes {p.ARM.size} bytes, got {len(payload)}")
        position, mode = p.ARM.unpack(payload)
        if position not in self.positions:
            raise Reject(p.Status.BAD_ARGUMENT, f"position {position} is not supported by this "
                         f"{self.modality} sensor (supported: {sorted(self.positions)})")
        if mode not in (p.MODE_CAPTURE, p.MODE_PREVIEW):
            raise Reject(p.Status.BAD_ARGUMENT, f"unknown mode {mode}")
        never = self.fault_hook("nopresent") or self.absent(position)
        self.presentation = Presentation(
            position=position,
            polls_until_present=-1 if never else int(self.rng.integers(*self.presentation_delay_polls)),
            off_centre_polls=int(self.rng.random() < self.off_centre_rate),
            poor=self.fault_hook("poor"))
        self.blobs = []
        self.state = State.ARMED
        return b""

    def _poll(self, payload: bytes) -> bytes:
        if self.state is State.IDLE or self.presentation is None:
            raise Reject(p.Status.BAD_STATE, "POLL needs ARM first")
        pres = self.presentation
        pres.polls += 1
        if pres.polls_until_present < 0 or pres.polls <= pres.polls_until_present:
            return bytes([p.Presence.NONE])
        if pres.polls <= pres.polls_until_present + pres.off_centre_polls:
            return bytes([p.Presence.OFF_CENTRE])
        if self.state is State.ARMED:
            self.state = State.PRESENTED
        return bytes([p.Presence.READY])

    def _grab(self, payload: bytes) -> bytes:
        if self.state not in (State.PRESENTED, State.FRAME_READY):
            if self.state is State.ARMED:
                raise Reject(p.Status.NO_PRESENTATION, "nothing is presented to the sensor yet")
            raise Reject(p.Status.BAD_STATE, f"GRAB in state {self.state.value}")
        pres = self.presentation
        if pres.base is None:
            self._start_presentation(pres)
        images = [self.frame_image(base, pres) for base in pres.base]
        pres.frames += 1
        self.frame_number += 1
        blobs, infos = [], []
        for i, image in enumerate(images):
            data = np.ascontiguousarray(image).tobytes()
            blobs.append(data)
            infos.append(p.BlobInfo(i, p.BlobKind.IMAGE, image.shape[1], image.shape[0], len(data),
                                    zlib.crc32(data), -(-len(data) // p.CHUNK_SIZE)))
        if pres.pen is not None:
            data = encode_pen(pres.pen)
            blobs.append(data)
            infos.append(p.BlobInfo(len(infos), p.BlobKind.PEN, 0, 0, len(data), zlib.crc32(data),
                                    -(-len(data) // p.CHUNK_SIZE)))
        self.blobs = blobs
        self.state = State.FRAME_READY
        quality = self.device_quality(images, pres)
        return p.FrameInfo(self.frame_number, quality, self.ppi, tuple(infos)).encode()

    def _read_chunk(self, payload: bytes) -> bytes:
        if self.state is not State.FRAME_READY:
            raise Reject(p.Status.BAD_STATE, "READ_CHUNK needs a GRAB first")
        if len(payload) != p.CHUNK_REQ.size:
            raise Reject(p.Status.BAD_ARGUMENT, f"READ_CHUNK takes {p.CHUNK_REQ.size} bytes")
        blob, index = p.CHUNK_REQ.unpack(payload)
        if blob >= len(self.blobs):
            raise Reject(p.Status.BAD_ARGUMENT, f"no blob {blob} in this frame")
        data = self.blobs[blob]
        start = index * p.CHUNK_SIZE
        if start >= len(data):
            raise Reject(p.Status.BAD_ARGUMENT, f"blob {blob} has no chunk {index}")
        return p.CHUNK_HEAD.pack(blob, index) + data[start:start + p.CHUNK_SIZE]

    def _disarm(self, payload: bytes) -> bytes:
        self.state = State.IDLE
        self.presentation = None
        self.blobs = []
        return b""

    _HANDLERS = {p.Op.GET_INFO: _get_info, p.Op.RESET: _reset, p.Op.ARM: _arm, p.Op.POLL: _poll,
                 p.Op.GRAB: _grab, p.Op.READ_CHUNK: _read_chunk, p.Op.DISARM: _disarm}

    # --- what subclasses define ---------------------------------------------------------------
    positions: frozenset[int] = frozenset({0})

    def info(self) -> dict:
        return {"protocol": p.PROTOCOL_VERSION, "modality": self.modality, "ppi": self.ppi,
                "firmware": self.firmware_version, "serial": self.serial,
                "chunk_size": p.CHUNK_SIZE, "positions": sorted(self.positions),
                "source": getattr(self.source, "name", "?")}

    def _start_presentation(self, pres: Presentation) -> None:
        """Ask the source for this presentation and fix its base look (varied once per ARM)."""
        images, labels = self.compose(pres.position)
        pres.labels = tuple(labels)
        pres.base = [self.degrade(img) if pres.poor else img for img in images]

    def compose(self, position: int) -> tuple[list[np.ndarray], list[str]]:
        sample = self.source.next_sample(position, self.rng)
        window = fit_to_window(_checked(sample), sample.ppi, self.ppi, self.window(position),
                               self.background)
        return [vary_presentation(window, self.rng, background=self.background,
                                  border=self.border)], [sample.label]

    def window(self, position: int) -> tuple[int, int]:
        raise NotImplementedError

    def absent(self, position: int) -> bool:
        """The subject cannot present this position at all (e.g. a missing finger)."""
        return False

    def frame_image(self, base: np.ndarray, pres: Presentation) -> np.ndarray:
        """One live frame: the presentation settles (contrast rises over the first frames)."""
        settle = min(1.0, 0.55 + 0.15 * pres.frames)
        if settle >= 1.0:
            return base
        out = (base.astype(np.float32) - self.background) * settle + self.background
        return np.clip(out, 0, 255).astype(np.uint8)

    def degrade(self, image: np.ndarray) -> np.ndarray:
        """A poor presentation: blurred, faint and partial."""
        out = cv2.GaussianBlur(image, (0, 0), 3.0).astype(np.float32)
        out = (out - self.background) * 0.3 + self.background
        h = out.shape[0]
        out[: h // 2] = self.background  # only the lower half touches the sensor
        return np.clip(out, 0, 255).astype(np.uint8)

    def device_quality(self, images: list[np.ndarray], pres: Presentation) -> int:
        """The device's own quick score (0-100): contrast where something is presented."""
        scores = []
        for image in images:
            small = image[::4, ::4].astype(np.float32)
            fg = np.abs(small - self.background) > 12
            coverage = min(1.0, fg.mean() / 0.35)
            contrast = min(1.0, float(small[fg].std()) / 45.0) if fg.any() else 0.0
            scores.append(100.0 * coverage * contrast)
        return int(round(min(scores))) if scores else 0


def _checked(sample: SourceSample) -> np.ndarray:
    image = sample.image
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8 or min(image.shape) < 8:
        raise ValueError("sample source returned no usable 2-D uint8 image")
    return image


def encode_pen(pen) -> bytes:
    rows = np.zeros(len(pen.x), dtype=np.dtype([("x", "<i4"), ("y", "<i4"), ("p", "<u2"),
                                                ("t", "<u4"), ("d", "u1")]))
    rows["x"], rows["y"] = pen.x, pen.y
    rows["p"] = np.clip(pen.pressure, 0, 65535)
    rows["t"] = np.clip(pen.t_ms, 0, 2**32 - 1)
    rows["d"] = pen.pen_down
    assert rows.dtype.itemsize == p.PEN_ROW.size
    return rows.tobytes()


class FingerprintFirmware(Firmware):
    """Single fingers (400x500 at 500 ppi) and 4-4-2 slaps (1600x1000 at 500 ppi)."""

    modality = "fingerprint"
    ppi = 500
    SINGLE = (400, 500)
    SLAP = (1600, 1000)
    positions = frozenset(range(0, 11)) | {13, 14, 15}
    SLAP_FINGERS = {13: (2, 3, 4, 5), 14: (10, 9, 8, 7), 15: (6, 1)}

    def window(self, position: int) -> tuple[int, int]:
        return self.SLAP if position in self.SLAP_FINGERS else self.SINGLE

    def absent(self, position: int) -> bool:
        return position in missing_fingers()

    def compose(self, position: int):
        fingers = self.SLAP_FINGERS.get(position)
        if fingers is None:
            return super().compose(position)
        # a hand-like slap (slaps.py); the subject's missing fingers never print
        image, truth = compose_slap(self.source, position, self.rng, missing=missing_fingers(),
                                    size=self.SLAP)
        self.last_slap_truth = truth
        return [image], [f.get("label", "") for f in truth["fingers"] if f["present"]]


def missing_fingers() -> tuple[int, ...]:
    """The simulated subject's missing fingers: `BIOCAP_SIM_MISSING="5,10"` (ISO codes)."""
    raw = os.environ.get("BIOCAP_SIM_MISSING", "").strip()
    if not raw:
        return ()
    try:
        codes = tuple(int(p) for p in raw.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"BIOCAP_SIM_MISSING={raw!r}: expected finger codes like 5,10") from None
    if any(not 1 <= c <= 10 for c in codes):
        raise ValueError(f"BIOCAP_SIM_MISSING={raw!r}: finger codes are 1-10")
    return codes


class IrisFirmware(Firmware):
    """A dual iris camera: both eyes in one shot (320x280 each at 420 ppi), or one eye."""

    modality = "iris"
    ppi = 420
    background = 170
    positions = frozenset({0, 1, 2})  # 0 = both eyes

    def window(self, position: int) -> tuple[int, int]:
        return (320, 280)

    def compose(self, position: int):
        eyes = (1, 2) if position == 0 else (position,)
        images, labels = [], []
        for eye in eyes:
            sample = self.source.next_sample(eye, self.rng)
            img = fit_to_window(_checked(sample), sample.ppi, self.ppi, (320, 280), self.background)
            images.append(vary_presentation(img, self.rng, background=self.background,
                                            max_shift=0.03, max_angle_deg=4))
            labels.append(sample.label)
        return images, labels

    def device_quality(self, images, pres) -> int:
        scores = [min(100.0, float(img[::4, ::4].std()) * 2.2) for img in images]
        return int(round(min(scores)))


class FaceFirmware(Firmware):
    """A face camera: 640x480 grey frames (a desk webcam); sources are resampled to its ppi."""

    modality = "face"
    ppi = 200
    background = 70
    border = cv2.BORDER_REPLICATE

    def window(self, position: int) -> tuple[int, int]:
        return (640, 480)

    def compose(self, position: int):
        # a camera sees the whole scene: fill the frame around the source picture by replication
        sample = self.source.next_sample(position, self.rng)
        image = _checked(sample)
        scale = self.ppi / sample.ppi
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        w, h = self.window(position)
        ih, iw = image.shape
        top, left = max(0, (h - ih) // 2), max(0, (w - iw) // 2)
        image = cv2.copyMakeBorder(image, top, max(0, h - ih - top), left, max(0, w - iw - left),
                                   cv2.BORDER_REPLICATE)
        y0, x0 = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
        frame = np.ascontiguousarray(image[y0:y0 + h, x0:x0 + w])
        return [vary_presentation(frame, self.rng, background=self.background,
                                  border=self.border)], [sample.label]

    def device_quality(self, images, pres) -> int:
        return int(round(min(100.0, float(images[0][::4, ::4].std()) * 2.0)))


class SignatureFirmware(Firmware):
    """A signature pad: the pen series plus a 600x300 rendering (200 ppi), sent as two blobs."""

    modality = "signature"
    ppi = 200
    SIZE = (600, 300)

    def window(self, position: int) -> tuple[int, int]:
        return self.SIZE

    def _start_presentation(self, pres: Presentation) -> None:
        sample = self.source.next_sample(pres.position, self.rng)
        if sample.pen is None:
            raise ValueError("signature source returned no pen data")
        pen = sample.pen
        if pres.poor:  # a hurried, cut-short signature: a third of it, jittered
            keep = max(2, len(pen.x) // 3)
            jitter = self.rng.normal(0, 60, (2, keep)).astype(np.int64)
            pen = type(pen)(x=pen.x[:keep] + jitter[0], y=pen.y[:keep] + jitter[1],
                            pressure=pen.pressure[:keep] // 3, t_ms=pen.t_ms[:keep],
                            pen_down=pen.pen_down[:keep])
        pres.pen = pen
        pres.labels = (sample.label,)
        pres.base = [render_pen(pen, self.SIZE)]

    def frame_image(self, base, pres):
        return base  # the pad's rendering does not change between frames

    def device_quality(self, images, pres) -> int:
        pen = pres.pen
        down = int(np.count_nonzero(pen.pen_down))
        return int(min(100, down * 100 // 150))


def render_pen(pen, size: tuple[int, int]) -> np.ndarray:
    """Draw the pen-down strokes, scaled to fit the image, thickness from pressure."""
    w, h = size
    image = np.full((h, w), 255, np.uint8)
    x, y = pen.x.astype(np.float64), pen.y.astype(np.float64)
    span = max(np.ptp(x), np.ptp(y) * w / h, 1.0)
    scale = (w - 40) / span
    px = (x - x.min()) * scale + 20
    py = (y - y.min()) * scale + 20
    if py.max() > h - 10:  # tall signature: fit the height instead
        scale2 = (h - 40) / max(np.ptp(y), 1.0)
        px = (x - x.min()) * scale2 + 20
        py = (y - y.min()) * scale2 + 20
    # SVC2004 y grows upwards; images grow downwards
    py = h - py
    pts = np.stack([px, py], 1).astype(np.int32)
    down = pen.pen_down.astype(bool)
    pmax = max(int(pen.pressure.max()), 1)
    for i in range(1, len(pts)):
        if down[i] and down[i - 1]:
            thick = 1 + int(2 * pen.pressure[i] / pmax)
            cv2.line(image, tuple(pts[i - 1]), tuple(pts[i]), 0, thick, cv2.LINE_AA)
    return image


FIRMWARES = {"fingerprint": FingerprintFirmware, "iris": IrisFirmware, "face": FaceFirmware,
             "signature": SignatureFirmware}
