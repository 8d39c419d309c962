"""The NB-1010-U driver: poll for a finger, then capture one 256 x 180 image."""
from __future__ import annotations

import time

import numpy as np

from biocap.errors import TransferTimeout
from biocap.plugins.driver import ImageDriver, Presence
from biocap.types import Modality

from . import protocol as p

#: Native resolution. Source: NEXT Biometrics' own SDK header (NBDevicesTypes.h, NBDeviceScanFormat):
#: "12 mm x 17 mm format, width 180 pixels, height 256 pixels, 385 dpi" for the NB-1010/NB-2020
#: family (the 500 dpi formats there are upscaled copies). 256 px / 385 ppi = 16.9 mm, which fits.
NATIVE_PPI = 385


class Nb1010Driver(ImageDriver):
    """Asks for the finger every 50 ms before each frame; a frame is pre-capture, capture and 90
    row packets."""

    usb_ids = ((0x298D, 0x1010),)
    modality = Modality.FINGERPRINT
    name = "nb1010"
    ppi = NATIVE_PPI
    image_size = (p.WIDTH, p.HEIGHT)
    positions = tuple(range(1, 11))  # a single-finger press sensor: any finger, one at a time
    poll_interval_s = p.POLL_INTERVAL_S

    def _exchange(self, frame: bytes, deadline: float, reply_size: int) -> bytes:
        self.transport.write(p.EP_OUT, frame, self.remaining_ms(deadline, p.TRANSFER_TIMEOUT_MS))
        return self.transport.read(p.EP_IN, reply_size,
                                   self.remaining_ms(deadline, p.TRANSFER_TIMEOUT_MS))

    def presence(self, deadline: float) -> Presence:
        reply = self._exchange(p.detect_command(), deadline, p.REPLY_SIZE)
        return Presence.READY if p.finger_present(reply) else Presence.NONE

    def read_frame(self, deadline: float) -> np.ndarray:
        p.check_reply(self._exchange(p.precapture_command(), deadline, p.REPLY_SIZE),
                      p.REPLY_ACK, p.SEQ_PRECAPTURE, "pre-capture")
        p.check_reply(self._exchange(p.capture_command(), deadline, p.REPLY_SIZE),
                      p.REPLY_ACK, p.SEQ_CAPTURE, "capture")
        image = np.zeros((p.HEIGHT, p.WIDTH), np.uint8)
        filled = np.zeros(p.HEIGHT, bool)
        for _ in range(p.PACKETS):
            if time.monotonic() >= deadline:
                raise TransferTimeout("NB-1010: the capture did not finish before the request's "
                                      "deadline")
            packet = self.transport.read(p.EP_IN, p.PACKET_SIZE,
                                         self.remaining_ms(deadline, p.TRANSFER_TIMEOUT_MS))
            p.place_rows(image, packet, filled)
        return image
