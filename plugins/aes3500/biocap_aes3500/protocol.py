"""The AES3500 wire protocol: register writes out on bulk 0x02, one image read in on bulk 0x81.

Register writes are (register, value) byte pairs sent in batches. The register values are those
of the recorded session of a real sensor (../shared/reference/usb_protocols.md): a master reset,
the analog settings 0x82-0x9F, then arming the scan. The device answers the arming with a single
8,329-byte read once a finger is on the sensor: 8 frames of 1 header byte (0xE0 + frame number)
and 1,024 bytes, then a 129-byte tail. A frame is 128 columns x 16 rows of 4-bit pixels stored
column by column, two rows per byte (low nibble = even row); a pixel's value is the nibble x 17.
"""
from __future__ import annotations

import numpy as np

from biocap.errors import ProtocolError

EP_OUT, EP_IN = 0x02, 0x81
WRITE_TIMEOUT_MS = 500
#: the image read waits for a finger; it is re-issued in slices so a deadline is never overrun
READ_SLICE_MS = 1000

SIDE = 128
FRAMES = 8
ROWS_PER_FRAME = 16
FRAME_BYTES = SIDE * ROWS_PER_FRAME // 2   # 1024
FRAME_HEADER_BASE = 0xE0
TAIL_BYTES = 129
IMAGE_READ_SIZE = FRAMES * (1 + FRAME_BYTES) + TAIL_BYTES   # 8329


def regs(*pairs: tuple[int, int]) -> bytes:
    return bytes(b for pair in pairs for b in pair)


#: start-up: master reset, release, clear the scan control, then the two reset pulses
INIT_BATCHES = (
    regs((0x80, 0x01)),
    regs((0x80, 0x00)),
    regs((0x81, 0x00), (0x80, 0x00)),
    regs((0x80, 0x02)),
    regs((0x80, 0x04)),
    regs((0x81, 0x00)),
)
#: analog front-end settings 0x82-0x9F, as the recorded session wrote them
ANALOG_SETTINGS = {
    0x82: 0x04, 0x83: 0x13, 0x84: 0x07, 0x85: 0x3D, 0x86: 0x03, 0x87: 0x01, 0x88: 0x02,
    0x89: 0x02, 0x8A: 0x33, 0x8B: 0x33, 0x8C: 0x0F, 0x8D: 0x04, 0x8E: 0x23, 0x8F: 0x07,
    0x90: 0x00, 0x91: 0x1C, 0x92: 0x08, 0x93: 0x00, 0x94: 0x07, 0x95: 0x00, 0x96: 0x1F,
    0x97: 0x04, 0x98: 0x28, 0x99: 0x00, 0x9A: 0x0B, 0x9B: 0x00, 0x9C: 0x00, 0x9D: 0x09,
    0x9E: 0x53, 0x9F: 0x6B,
}
CONFIGURE_BATCHES = (
    regs((0x80, 0x00), (0x81, 0x00), *[(r, v) for r, v in ANALOG_SETTINGS.items() if r < 0x90]),
    regs(*[(r, v) for r, v in ANALOG_SETTINGS.items() if r >= 0x90]),
    regs((0x80, 0x00), (0x81, 0x00)),
)
#: arm the finger-triggered scan: the device answers with the image read
ARM_BATCHES = (regs((0x81, 0x04)),)


def assemble(data: bytes) -> np.ndarray:
    """The 128 x 128 sensor image from one image read."""
    if len(data) != IMAGE_READ_SIZE:
        raise ProtocolError(f"AES3500 image read: expected {IMAGE_READ_SIZE} bytes, got {len(data)}",
                            hint="the read was cut short; retry the capture")
    body = np.frombuffer(data, np.uint8, FRAMES * (1 + FRAME_BYTES)).reshape(FRAMES, 1 + FRAME_BYTES)
    numbers = body[:, 0].astype(int) - FRAME_HEADER_BASE
    if sorted(numbers.tolist()) != list(range(FRAMES)):
        raise ProtocolError(f"AES3500 image read: frame headers {body[:, 0].tolist()} are not "
                            f"{FRAME_HEADER_BASE:#x}..{FRAME_HEADER_BASE + FRAMES - 1:#x} once each")
    packed = body[:, 1:].reshape(FRAMES, SIDE, ROWS_PER_FRAME // 2)   # frame, column, row pair
    nibbles = np.empty((FRAMES, SIDE, ROWS_PER_FRAME), np.uint8)
    nibbles[:, :, 0::2] = packed & 0x0F
    nibbles[:, :, 1::2] = packed >> 4
    image = np.empty((SIDE, SIDE), np.uint8)
    for frame, number in enumerate(numbers):
        image[number * ROWS_PER_FRAME:(number + 1) * ROWS_PER_FRAME] = nibbles[frame].T * 17
    return image
