"""The AES3500 driver against the recording of a real sensor."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from biocap.errors import ProtocolError
from biocap.plugins.manager import PluginManager
from biocap.plugins.recording import assert_consumed, open_recording
from biocap.types import CaptureRequest

from biocap_aes3500 import Aes3500Driver, protocol  # noqa: E402


def libfprint_postprocess(image: np.ndarray) -> np.ndarray:
    """What libfprint did to the sensor image before saving capture.png (not the sensor's doing):
    invert, flip both ways, upscale x2 bilinearly."""
    flipped = cv2.flip(255 - image, -1)
    return cv2.resize(flipped, (image.shape[1] * 2, image.shape[0] * 2),
                      interpolation=cv2.INTER_LINEAR)


def test_capture_correlates_with_reference(shared_data):
    folder = shared_data / "usb" / "aes3500"
    bus = open_recording(folder)
    driver = Aes3500Driver(next(bus.find_all()), bus)
    info = driver.open()
    try:
        sample = next(driver.frames(CaptureRequest("fingerprint"), 7, time.monotonic() + 5))
    finally:
        driver.close()
    assert_consumed(bus)
    assert sample.image.shape == (128, 128) and sample.ppi == info.ppi == 250
    assert set(np.unique(sample.image) % 17) == {0}  # 4-bit pixels scaled by 17
    reference = cv2.imread(str(folder / "capture.png"), cv2.IMREAD_COLOR)[:, :, 1]
    ours = libfprint_postprocess(sample.image)
    r = np.corrcoef(ours.ravel().astype(float), reference.ravel().astype(float))[0, 1]
    assert r >= 0.99, r
    # and the raw sensor image is not what the reference shows without the post-processing
    plain = cv2.resize(sample.image, (256, 256), interpolation=cv2.INTER_LINEAR)
    assert abs(np.corrcoef(plain.ravel().astype(float), reference.ravel().astype(float))[0, 1]) < 0.5


def test_assemble_unpacks_nibbles_column_by_column():
    data = bytearray(protocol.IMAGE_READ_SIZE)
    for f in range(8):
        data[f * 1025] = 0xE0 + (7 - f)          # frames may come in any order
    data[1] = 0x21                                # frame 7 (first), column 0: row 0 = 1, row 1 = 2
    image = protocol.assemble(bytes(data))
    assert image[7 * 16, 0] == 17 and image[7 * 16 + 1, 0] == 34 and image.sum() == 51
    data[0] = 0xE1
    with pytest.raises(ProtocolError, match="frame headers"):
        protocol.assemble(bytes(data))
    with pytest.raises(ProtocolError, match="8329"):
        protocol.assemble(bytes(100))


def test_registered_through_its_entry_point():
    assert Aes3500Driver in PluginManager().collect("biocap_drivers")
