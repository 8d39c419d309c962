"""The AES3500 driver: configure, arm the finger-triggered scan, read and assemble the image."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar, Iterator

from biocap.errors import TransferTimeout
from biocap.plugins.driver import DeviceDriver
from biocap.types import CaptureRequest, DeviceInfo, FingerPosition, Modality, Sample

from . import protocol as p

#: Resolution. AuthenTec's TruePrint press sensors image at 250 ppi: the AES2501A product
#: specification (AuthenTec doc 2317, "4 Bit 250 ppi Gray Scale Message Format") documents that
#: pitch for the family, and 128 pixels at 250 ppi give the AES3500's ~13 mm square sensing area.
#: No AES3500 datasheet was reachable to confirm it; libfprint doubles the image (x2 bilinear)
#: before NBIS, consistent with a native resolution of about half of 500 ppi.
NATIVE_PPI = 250


class Aes3500Driver(DeviceDriver):
    usb_ids: ClassVar[tuple[tuple[int, int], ...]] = ((0x08FF, 0x5731),)
    modality = Modality.FINGERPRINT
    name = "aes3500"
    interface = 0

    @classmethod
    def describe(cls, usb_device, bus) -> DeviceInfo:
        return replace(super().describe(usb_device, bus), ppi=NATIVE_PPI,
                       image_size=(p.SIDE, p.SIDE), positions=tuple(range(1, 11)))

    def initialise(self) -> None:
        self._armed_once = False

    def frames(self, request: CaptureRequest, position: int | None,
               deadline: float) -> Iterator[Sample]:
        """Arm the scan and wait for the finger-triggered image; yield it; repeat until the
        caller stops or the deadline passes."""
        while time.monotonic() < deadline:
            self._arm(deadline)
            data = self._wait_for_image(deadline)
            if data is None:
                return  # no finger before the deadline
            yield Sample(image=p.assemble(data), ppi=NATIVE_PPI, modality=self.modality,
                         position=FingerPosition(position) if position is not None
                         else FingerPosition.UNKNOWN,
                         device=getattr(self, "info", None), metadata={"driver": self.name})

    def _write(self, batches, deadline: float) -> None:
        for batch in batches:
            self.transport.write(p.EP_OUT, batch, self.remaining_ms(deadline, p.WRITE_TIMEOUT_MS))

    def _arm(self, deadline: float) -> None:
        if not getattr(self, "_armed_once", False):
            # a full start-up before the first scan of a session
            self._write(p.INIT_BATCHES, deadline)
            self._write(p.CONFIGURE_BATCHES, deadline)
            self._armed_once = True
        else:
            self._write(p.CONFIGURE_BATCHES[-1:], deadline)
        self._write(p.ARM_BATCHES, deadline)

    def _wait_for_image(self, deadline: float) -> bytes | None:
        """The image read blocks until a finger is present: re-issue it in slices, each cut to
        the deadline, and treat a slice's timeout as "no finger yet"."""
        while time.monotonic() < deadline:
            try:
                return self.transport.read(p.EP_IN, p.IMAGE_READ_SIZE,
                                           self.remaining_ms(deadline, p.READ_SLICE_MS))
            except TransferTimeout:
                continue
        return None
