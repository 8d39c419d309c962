"""The AES3500 driver: configure, arm the finger-triggered scan, read and assemble the image."""
from __future__ import annotations

from biocap.plugins.driver import ImageDriver
from biocap.types import Modality

from . import protocol as p

#: Resolution. AuthenTec's TruePrint press sensors image at 250 ppi: the AES2501A product
#: specification (AuthenTec doc 2317, "4 Bit 250 ppi Gray Scale Message Format") documents that
#: pitch for the family, and 128 pixels at 250 ppi give the AES3500's ~13 mm square sensing area.
#: No AES3500 datasheet was reachable to confirm it; libfprint doubles the image (x2 bilinear)
#: before NBIS, consistent with a native resolution of about half of 500 ppi.
NATIVE_PPI = 250


class Aes3500Driver(ImageDriver):
    """No presence poll: the image read itself waits for the finger (`read_when_ready`)."""

    usb_ids = ((0x08FF, 0x5731),)
    modality = Modality.FINGERPRINT
    name = "aes3500"
    ppi = NATIVE_PPI
    image_size = (p.SIDE, p.SIDE)
    positions = tuple(range(1, 11))

    def initialise(self) -> None:
        self._armed_once = False

    def read_frame(self, deadline: float) -> bytes | None:
        """Arm the scan, then wait for the finger-triggered image read."""
        self._arm(deadline)
        return self.read_when_ready(p.EP_IN, p.IMAGE_READ_SIZE, deadline, p.READ_SLICE_MS)

    def frame_image(self, frame: bytes):
        return p.assemble(frame)

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
