"""The NB-1010-U wire protocol: command frames out on bulk 0x02, replies and rows in on bulk 0x83.

Every command is `80 <cmd> <seq> 00 <len> 00 00 00 <body>`, `len` being the whole frame's length;
the device echoes `seq` in its reply. The facts come from the recorded traffic of a real sensor
(libfprint's test recording, see ../shared/reference/usb_protocols.md); nothing here is guessed.
"""
from __future__ import annotations

import numpy as np

from biocap.errors import ProtocolError

EP_OUT, EP_IN = 0x02, 0x83
TRANSFER_TIMEOUT_MS = 500
POLL_INTERVAL_S = 0.050

WIDTH, HEIGHT = 256, 180            # pixels per row, rows per image
ROWS_PER_PACKET = 2
PACKETS = HEIGHT // ROWS_PER_PACKET  # 90
PACKET_SIZE = 540
HEADER_SIZE = 25                     # then 512 pixels (2 rows), then 3 trailer bytes
ROW_INDEX_BYTE = 16                  # the odd (second) row index of the packet's two rows

REPLY_SIZE = 16
FINGER_SCORE_BYTE = 12
FINGER_PRESENT_ABOVE = 0x30

CMD_DETECT, SEQ_DETECT = 0x38, 0x01
CMD_PRECAPTURE, SEQ_PRECAPTURE = 0x0D, 0x03
CMD_CAPTURE, SEQ_CAPTURE = 0x12, 0x04
REPLY_DETECT = 0x37
REPLY_ACK = 0x20
DATA_PACKET = 0x21


def command(cmd: int, seq: int, body: bytes = b"") -> bytes:
    frame_len = 8 + len(body)
    return bytes([0x80, cmd, seq, 0x00, frame_len, 0, 0, 0]) + body


def detect_command() -> bytes:
    return command(CMD_DETECT, SEQ_DETECT)


def precapture_command() -> bytes:
    return command(CMD_PRECAPTURE, SEQ_PRECAPTURE, bytes([0x00, 0x04, 0x00, 0x00]))


def capture_command() -> bytes:
    body = bytearray(24)
    body[0] = 0x02    # frame byte 8
    body[20] = 0x20   # frame byte 28
    return command(CMD_CAPTURE, SEQ_CAPTURE, bytes(body))


def check_reply(reply: bytes, kind: int, seq: int, what: str) -> bytes:
    if len(reply) < 3 or reply[0] != 0x80 or reply[1] != kind or reply[2] != seq:
        raise ProtocolError(f"NB-1010 {what}: expected a reply starting 80 {kind:02x} {seq:02x}, "
                            f"got {reply[:8].hex(' ') or 'nothing'}")
    return reply


def finger_present(reply: bytes) -> bool:
    check_reply(reply, REPLY_DETECT, SEQ_DETECT, "finger detection")
    if len(reply) <= FINGER_SCORE_BYTE:
        raise ProtocolError(f"NB-1010 finger detection: reply of {len(reply)} bytes has no score")
    return reply[FINGER_SCORE_BYTE] > FINGER_PRESENT_ABOVE


def place_rows(image: np.ndarray, packet: bytes, filled: np.ndarray) -> None:
    """Copy one data packet's two rows into `image` (rows are addressed by the packet itself)."""
    if len(packet) != PACKET_SIZE or packet[0] != 0x80 or packet[1] != DATA_PACKET:
        raise ProtocolError(f"NB-1010 image data: expected a {PACKET_SIZE}-byte packet starting "
                            f"80 21, got {len(packet)} bytes starting {packet[:4].hex(' ')}")
    declared = packet[4] | (packet[5] << 8)
    if declared != PACKET_SIZE:
        raise ProtocolError(f"NB-1010 image data: packet declares {declared} bytes, not {PACKET_SIZE}")
    last_row = packet[ROW_INDEX_BYTE]
    if last_row % 2 != 1 or last_row >= HEIGHT:
        raise ProtocolError(f"NB-1010 image data: row index {last_row} is not an odd row below "
                            f"{HEIGHT}")
    first = last_row - 1
    if filled[first]:
        raise ProtocolError(f"NB-1010 image data: rows {first}-{last_row} arrived twice")
    pixels = np.frombuffer(packet, np.uint8, WIDTH * ROWS_PER_PACKET, HEADER_SIZE)
    image[first:first + ROWS_PER_PACKET] = pixels.reshape(ROWS_PER_PACKET, WIDTH)
    filled[first:first + ROWS_PER_PACKET] = True
