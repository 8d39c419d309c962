"""The NB-1010-U driver: poll for a finger, then capture one 256 x 180 image."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar, Iterator

import numpy as np

from biocap.errors import TransferTimeout
from biocap.plugins.driver import DeviceDriver
from biocap.types import CaptureRequest, DeviceInfo, FingerPosition, Modality, Sample

from . import protocol as p

#: Native resolution. Source: NEXT Biometrics' own SDK header (NBDevicesTypes.h, NBDeviceScanFormat):
#: "12 mm x 17 mm format, width 180 pixels, height 256 pixels, 385 dpi" for the NB-1010/NB-2020
#: family (the 500 dpi formats there are upscaled copies). 256 px / 385 ppi = 16.9 mm, which fits.
NATIVE_PPI = 385


class Nb1010Driver(DeviceDriver):
    usb_ids: ClassVar[tuple[tuple[int, int], ...]] = ((0x298D, 0x1010),)
    modality = Modality.FINGERPRINT
    name = "nb1010"
    interface = 0

    @classmethod
    def describe(cls, usb_device, bus) -> DeviceInfo:
        # a single-finger press sensor: any of the ten fingers, one at a time
        return replace(super().describe(usb_device, bus), ppi=NATIVE_PPI,
                       image_size=(p.WIDTH, p.HEIGHT), positions=tuple(range(1, 11)))

    # --- capture ----------------------------------------------------------------------------
    def frames(self, request: CaptureRequest, position: int | None,
               deadline: float) -> Iterator[Sample]:
        """Poll every 50 ms until a finger is on the sensor, capture, yield; repeat until the
        caller stops or the deadline passes. Each transfer's timeout is cut to the deadline."""
        while time.monotonic() < deadline:
            if not self._finger_on(deadline):
                time.sleep(max(0.0, min(p.POLL_INTERVAL_S, deadline - time.monotonic())))
                continue
            image = self._capture(deadline)
            yield Sample(image=image, ppi=NATIVE_PPI, modality=self.modality,
                         position=_position(position), device=getattr(self, "info", None),
                         metadata={"driver": self.name})

    def _exchange(self, frame: bytes, deadline: float, reply_size: int) -> bytes:
        self.transport.write(p.EP_OUT, frame, self.remaining_ms(deadline, p.TRANSFER_TIMEOUT_MS))
        return self.transport.read(p.EP_IN, reply_size,
                                   self.remaining_ms(deadline, p.TRANSFER_TIMEOUT_MS))

    def _finger_on(self, deadline: float) -> bool:
        return p.finger_present(self._exchange(p.detect_command(), deadline, p.REPLY_SIZE))

    def _capture(self, deadline: float) -> np.ndarray:
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


def _position(position: int | None) -> FingerPosition:
    return FingerPosition(position) if position is not None else FingerPosition.UNKNOWN
