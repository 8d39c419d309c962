"""The NB-1010-U driver against the recording of a real sensor."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from biocap.errors import ProtocolError, TransferTimeout
from biocap.plugins.manager import PluginManager
from biocap.plugins.recording import assert_consumed, open_recording
from biocap.types import CaptureRequest, FingerPosition

from biocap_nb1010 import Nb1010Driver, protocol  # noqa: E402


@pytest.fixture
def nb1010_dir(shared_data):
    return shared_data / "usb" / "nb1010"


def capture_once(folder, timeout_s=5.0):
    bus = open_recording(folder)
    driver = Nb1010Driver(next(bus.find_all()), bus)
    info = driver.open()
    try:
        sample = next(driver.frames(CaptureRequest("fingerprint", timeout_s=timeout_s),
                                    FingerPosition.RIGHT_INDEX, time.monotonic() + timeout_s))
    finally:
        driver.close()
    return bus, info, sample


def test_capture_equals_reference_pixel_for_pixel(nb1010_dir):
    bus, info, sample = capture_once(nb1010_dir)
    reference = cv2.imread(str(nb1010_dir / "capture.png"), cv2.IMREAD_COLOR)[:, :, 1]
    assert sample.image.shape == reference.shape == (180, 256)
    assert sample.image.dtype == np.uint8
    assert np.array_equal(sample.image, reference)
    assert sample.ppi == info.ppi == 385 and info.image_size == (256, 180)
    assert sample.position is FingerPosition.RIGHT_INDEX
    assert (info.vendor, info.model, info.vendor_id) == ("NEXT Biometrics", "NB-1010-U", 0x298D)
    assert_consumed(bus)


def test_commands_are_the_documented_frames():
    assert protocol.detect_command() == bytes.fromhex("8038010008000000")
    assert protocol.precapture_command() == bytes.fromhex("800d03000c00000000040000")
    cap = protocol.capture_command()
    assert len(cap) == 32 and cap[:5] == bytes.fromhex("8012040020") and cap[8] == 2 and cap[28] == 0x20


def test_rows_are_placed_by_their_index_and_bad_packets_refused():
    image = np.zeros((180, 256), np.uint8)
    filled = np.zeros(180, bool)
    packet = bytearray(540)
    packet[:6] = bytes.fromhex("80210000 1c02".replace(" ", ""))
    packet[16] = 5
    packet[25:25 + 512] = bytes(range(256)) * 2
    protocol.place_rows(image, bytes(packet), filled)
    assert filled[4] and filled[5] and filled.sum() == 2 and image[4, 255] == 255
    with pytest.raises(ProtocolError, match="twice"):
        protocol.place_rows(image, bytes(packet), filled)
    for at, value in ((16, 4), (16, 181), (1, 0x22), (4, 0)):
        bad = bytearray(packet)
        bad[at] = value
        with pytest.raises(ProtocolError):
            protocol.place_rows(image, bytes(bad), np.zeros(180, bool))
    with pytest.raises(ProtocolError):
        protocol.place_rows(image, bytes(packet[:100]), np.zeros(180, bool))
    with pytest.raises(ProtocolError):
        protocol.finger_present(b"")


def test_quiet_device_never_holds_frames_past_the_deadline(nb1010_dir):
    bus, _, _ = capture_once(nb1010_dir)
    driver = Nb1010Driver(next(bus.find_all()), bus)
    driver.open()
    start = time.monotonic()
    with pytest.raises(TransferTimeout):
        next(driver.frames(CaptureRequest("fingerprint"), None, start + 0.3))
    assert time.monotonic() - start < 0.45
    driver.close()


def test_registered_through_its_entry_point():
    pm = PluginManager()
    assert Nb1010Driver in pm.collect("biocap_drivers"), pm.problems


def _with_empty_polls(src, dst, polls: int, keep_capture: bool = True):
    """A copy of the recording with `polls` finger-detection rounds that find no finger first."""
    import shutil
    shutil.copy(src / "device", dst / "device")
    lines = (src / "capture.ioctl").read_text().splitlines()
    header, detect, reply, rest = lines[:2], lines[2], lines[3], lines[4:]
    no_finger = bytearray(bytes.fromhex(reply.split()[-1]))
    no_finger[protocol.FINGER_SCORE_BYTE] = 0x12
    empty = reply.rsplit(" ", 1)[0] + " " + no_finger.hex().upper()
    body = [detect, empty] * polls + ([detect, reply] + rest if keep_capture else [])
    (dst / "capture.ioctl").write_text("\n".join(header + body) + "\n")
    return dst


def test_polls_until_a_finger_is_on_the_sensor(nb1010_dir, tmp_path):
    folder = _with_empty_polls(nb1010_dir, tmp_path, polls=4)
    start = time.monotonic()
    bus, _, sample = capture_once(folder)
    elapsed = time.monotonic() - start
    assert 4 * protocol.POLL_INTERVAL_S <= elapsed < 2.0   # waited between polls, not busy-looping
    reference = cv2.imread(str(nb1010_dir / "capture.png"), cv2.IMREAD_COLOR)[:, :, 1]
    assert np.array_equal(sample.image, reference)
    assert_consumed(bus)


def test_no_finger_until_the_deadline_ends_frames_on_time(nb1010_dir, tmp_path):
    folder = _with_empty_polls(nb1010_dir, tmp_path, polls=200, keep_capture=False)
    bus = open_recording(folder)
    driver = Nb1010Driver(next(bus.find_all()), bus)
    driver.open()
    start = time.monotonic()
    frames = list(driver.frames(CaptureRequest("fingerprint"), None, start + 0.3))
    assert frames == [] and time.monotonic() - start < 0.4
    driver.close()
    assert not bus.backend.claimed
