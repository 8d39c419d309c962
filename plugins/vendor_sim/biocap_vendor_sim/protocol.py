"""The wire protocol of the simulated sensors (see PROTOCOL.md): framing, opcodes, status codes.

Both sides use this module: the emulated firmware to parse commands and build replies, the drivers
to build commands and parse replies. A frame is

    magic "BS" | kind u8 | opcode u8 | seq u8 | status u8 | length u32 LE | payload | CRC-32 u32 LE

with the CRC-32 (IEEE, as zlib computes it) over everything before it. Parsing never trusts the
length field beyond MAX_PAYLOAD and never raises anything but `FrameError`.
"""
from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"BS"
HEADER = struct.Struct("<2sBBBBI")
HEADER_SIZE = HEADER.size  # 10
CRC_SIZE = 4
OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_PAYLOAD = 1 << 20  # 1 MiB: a frame larger than this is refused, never allocated
CHUNK_SIZE = 64 * 1024  # image bytes per READ_CHUNK reply
PROTOCOL_VERSION = 1

#: USB endpoints of every simulated sensor (interface 0)
EP_OUT = 0x01
EP_IN = 0x82
#: a host read buffer that always holds one reply frame
READ_SIZE = OVERHEAD + MAX_PAYLOAD


class Kind(enum.IntEnum):
    COMMAND = 0x01
    REPLY = 0x02


class Op(enum.IntEnum):
    GET_INFO = 0x01     # -> JSON payload describing the sensor
    RESET = 0x02        # abort everything, back to IDLE
    ARM = 0x10          # payload: position u8, mode u8 -> ARMED (waiting for a presentation)
    POLL = 0x11         # -> presence u8 (Presence)
    GRAB = 0x12         # -> FrameInfo of a new frame of the current presentation
    READ_CHUNK = 0x13   # payload: blob u8, index u16 -> blob u8, index u16, data
    DISARM = 0x14       # -> IDLE


class Status(enum.IntEnum):
    OK = 0x00
    BAD_FRAME = 0x01        # the command frame failed its CRC or length check
    UNKNOWN_COMMAND = 0x02
    BAD_STATE = 0x03        # e.g. GRAB while not armed, READ_CHUNK before GRAB
    BAD_ARGUMENT = 0x04
    BUSY = 0x05
    NO_PRESENTATION = 0x06
    MOVED = 0x07
    OFF_CENTRE = 0x08
    INTERNAL = 0x09


class Presence(enum.IntEnum):
    NONE = 0
    READY = 1
    OFF_CENTRE = 2
    MOVING = 3


class BlobKind(enum.IntEnum):
    IMAGE = 1  # width*height bytes, 8-bit grey, row-major
    PEN = 2    # n rows of PEN_ROW (x, y, pressure, t_ms, pen_down)


#: one pen sample on the wire: x i32, y i32, pressure u16, t_ms u32, pen_down u8
PEN_ROW = struct.Struct("<iiHIB")


class FrameError(ValueError):
    """A byte string is not a valid frame (short, bad magic, bad length, CRC mismatch...)."""


@dataclass(frozen=True)
class Frame:
    kind: Kind
    op: int
    seq: int
    status: int
    payload: bytes

    def encode(self) -> bytes:
        return encode_frame(self.kind, self.op, self.seq, self.payload, self.status)


def encode_frame(kind: int, op: int, seq: int, payload: bytes = b"", status: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    for name, value in (("kind", kind), ("op", op), ("seq", seq), ("status", status)):
        if not 0 <= int(value) <= 0xFF:
            raise FrameError(f"{name} {value} does not fit in one byte")
    head = HEADER.pack(MAGIC, int(kind), int(op), int(seq), int(status), len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((head, payload, crc.to_bytes(4, "little")))


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Parse exactly one frame; raise FrameError on anything malformed."""
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    if len(data) < OVERHEAD:
        raise FrameError(f"frame of {len(data)} bytes is shorter than the {OVERHEAD}-byte minimum")
    magic, kind, op, seq, status, length = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise FrameError(f"bad magic {bytes(magic)!r} (expected {MAGIC!r})")
    if length > MAX_PAYLOAD:
        raise FrameError(f"length field {length} exceeds the {MAX_PAYLOAD}-byte maximum")
    if len(data) != OVERHEAD + length:
        raise FrameError(f"frame is {len(data)} bytes but its length field says {OVERHEAD + length}")
    try:
        kind = Kind(kind)
    except ValueError:
        raise FrameError(f"unknown frame kind {kind:#04x}") from None
    body_end = HEADER_SIZE + length
    crc = int.from_bytes(data[body_end:body_end + 4], "little")
    if zlib.crc32(data[:body_end]) != crc:
        raise FrameError("CRC mismatch (frame corrupted in transfer)")
    return Frame(kind, op, seq, status, bytes(data[HEADER_SIZE:body_end]))


# --- payloads -------------------------------------------------------------------------------------
ARM = struct.Struct("<BB")            # position, mode
CHUNK_REQ = struct.Struct("<BH")      # blob, index
CHUNK_HEAD = struct.Struct("<BH")     # blob, index (then the data)
FRAME_INFO = struct.Struct("<IBHB")   # frame number, device quality, ppi, blob count
BLOB_INFO = struct.Struct("<BBHHIIH")  # blob, kind, width, height, size, crc32, chunk count

MODE_CAPTURE = 0
MODE_PREVIEW = 1
#: limits a host enforces on what a device announces, so a bad frame info cannot make it allocate
MAX_BLOBS = 8
MAX_IMAGE_SIDE = 8192
MAX_PEN_BYTES = 16 << 20


@dataclass(frozen=True)
class BlobInfo:
    blob: int
    kind: BlobKind
    width: int
    height: int
    size: int
    crc32: int
    chunks: int


@dataclass(frozen=True)
class FrameInfo:
    number: int
    device_quality: int
    ppi: int
    blobs: tuple[BlobInfo, ...]

    def encode(self) -> bytes:
        parts = [FRAME_INFO.pack(self.number, self.device_quality, self.ppi, len(self.blobs))]
        parts += [BLOB_INFO.pack(b.blob, int(b.kind), b.width, b.height, b.size, b.crc32, b.chunks)
                  for b in self.blobs]
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> "FrameInfo":
        if len(payload) < FRAME_INFO.size:
            raise FrameError(f"frame info of {len(payload)} bytes is too short")
        number, quality, ppi, count = FRAME_INFO.unpack_from(payload, 0)
        if count > MAX_BLOBS:
            raise FrameError(f"frame info announces {count} blobs (at most {MAX_BLOBS})")
        if len(payload) != FRAME_INFO.size + count * BLOB_INFO.size:
            raise FrameError(f"frame info announces {count} blobs but has {len(payload)} bytes")
        blobs = []
        for i in range(count):
            blob, kind, w, h, size, crc, chunks = BLOB_INFO.unpack_from(
                payload, FRAME_INFO.size + i * BLOB_INFO.size)
            try:
                kind = BlobKind(kind)
            except ValueError:
                raise FrameError(f"blob {blob} has unknown kind {kind}") from None
            if kind is BlobKind.IMAGE and not (0 < w <= MAX_IMAGE_SIDE and 0 < h <= MAX_IMAGE_SIDE):
                raise FrameError(f"image blob {blob} of {w}x{h} is outside 1-{MAX_IMAGE_SIDE} pixels a side")
            if kind is BlobKind.IMAGE and size != w * h:
                raise FrameError(f"image blob {blob} is {w}x{h} but {size} bytes")
            if kind is BlobKind.PEN and not 0 < size <= MAX_PEN_BYTES:
                raise FrameError(f"pen blob {blob} of {size} bytes is outside 1-{MAX_PEN_BYTES}")
            if kind is BlobKind.PEN and size % PEN_ROW.size:
                raise FrameError(f"pen blob {blob} of {size} bytes is not whole rows")
            if chunks != -(-size // CHUNK_SIZE):
                raise FrameError(f"blob {blob}: {chunks} chunks cannot hold {size} bytes")
            blobs.append(BlobInfo(blob, kind, w, h, size, crc, chunks))
        if quality > 100:
            raise FrameError(f"device quality {quality} is outside 0-100")
        return cls(number, quality, ppi, tuple(blobs))
