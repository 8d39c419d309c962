"""The recording bus: every recorded transfer re-issued through pyusb and answered as recorded."""
from __future__ import annotations

import shutil
import time

import pytest
import usb.core
import usb.util

from biocap.plugins.recording import (RecordingFormatError, RecordingMismatch,
                                      RecordingNotConsumed, assert_consumed, open_recording,
                                      replay_backend)
from biocap.plugins.recording.model import CONTROL

ALL = ["nb1010", "aes3500", "uru4000-4500", "elan-cobo"]


def reissue_everything(bus, timeout_ms=50):
    """Re-issue each recorded transfer through plain pyusb, in recorded order; return how many
    were answered with exactly the recorded bytes and how many timed out as recorded."""
    dev = next(bus.find_all())
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    answered = timed_out = 0
    for t in replay_backend(bus).transfers:
        try:
            if t.kind == CONTROL:
                s = t.setup
                got = dev.ctrl_transfer(s.request_type, s.request, s.value, s.index,
                                        s.length if t.is_in else t.data, timeout=timeout_ms)
                if t.is_in:
                    assert bytes(got) == t.data, t.source
                else:
                    assert got == len(t.data)
            elif t.is_in:
                got = dev.read(t.endpoint, max(t.requested, len(t.data)), timeout=timeout_ms)
                assert bytes(got) == t.data, t.source
            else:
                assert dev.write(t.endpoint, t.data, timeout=timeout_ms) == len(t.data)
            assert t.status == 0, f"{t.source} answered although it was recorded as {t.status}"
            answered += 1
        except usb.core.USBTimeoutError:
            assert t.cancelled, f"{t.source} timed out although it was recorded as answered"
            timed_out += 1
    usb.util.dispose_resources(dev)
    return answered, timed_out


@pytest.mark.parametrize("name", ALL)
def test_every_recorded_transfer_is_reissued_and_answered(shared_data, name):
    bus = open_recording(shared_data / "usb" / name)
    backend = replay_backend(bus)
    assert not backend.consumed
    answered, timed_out = reissue_everything(bus)
    assert answered + timed_out == len(backend.transfers) > 0
    assert answered >= len(backend.transfers) - 1
    assert_consumed(bus)
    assert backend.remaining() == []


def test_pcapng_filters_out_host_enumeration(shared_data):
    transfers = replay_backend(open_recording(shared_data / "usb" / "uru4000-4500")).transfers
    requests = {(t.setup.request_type, t.setup.request) for t in transfers if t.setup}
    assert (0x80, 0x06) not in requests            # the host's GET_DESCRIPTOR calls are gone
    assert (0xC0, 0x04) in requests                # the driver's vendor requests stay
    assert transfers[-1].cancelled                 # interrupt URB cancelled at close
    elan = replay_backend(open_recording(shared_data / "usb" / "elan-cobo")).transfers
    assert {t.endpoint for t in elan} == {0x01, 0x82, 0x83}
    assert len(elan) == 76


def test_descriptors_and_strings_come_from_the_recording(shared_data):
    bus = open_recording(shared_data / "usb" / "nb1010")
    dev = next(bus.find_all())
    assert (dev.idVendor, dev.idProduct, dev.bus, dev.address) == (0x298D, 0x1010, 1, 3)
    assert usb.util.get_string(dev, dev.iManufacturer) == "NEXT Biometrics"
    assert usb.util.get_string(dev, dev.iProduct) == "NB-1010-U"
    eps = [e.bEndpointAddress for e in dev.get_active_configuration()[(0, 0)]]
    assert eps == [0x81, 0x02, 0x83]
    # the string requests were answered from the descriptors, not taken from the recording
    assert replay_backend(bus).position == 0


def test_one_altered_byte_fails_with_index_expected_and_actual(shared_data):
    bus = open_recording(shared_data / "usb" / "nb1010")
    dev = next(bus.find_all())
    transfers = replay_backend(bus).transfers
    dev.write(0x02, transfers[0].data, timeout=100)
    assert bytes(dev.read(0x83, 16, timeout=100)) == transfers[1].data
    altered = bytearray(transfers[2].data)
    altered[9] ^= 0x01
    start = time.monotonic()
    with pytest.raises(RecordingMismatch) as info:
        dev.write(0x02, bytes(altered), timeout=100)
    assert time.monotonic() - start < 0.1           # an error at once, not a hang
    message = str(info.value)
    assert info.value.index == 2 and "#2" in message and "byte 9" in message
    assert transfers[2].data.hex(" ") in message and bytes(altered).hex(" ") in message


def test_altered_recording_file_fails_the_same_way(shared_data, tmp_path):
    """A recording whose OUT transfer differs by one byte from what the driver sends."""
    src = shared_data / "usb" / "nb1010"
    shutil.copy(src / "device", tmp_path / "device")
    lines = (src / "capture.ioctl").read_text().splitlines()
    assert lines[2].endswith("8038010008000000")
    lines[2] = lines[2][:-1] + "1"
    (tmp_path / "capture.ioctl").write_text("\n".join(lines) + "\n")
    dev = next(open_recording(tmp_path).find_all())
    with pytest.raises(RecordingMismatch, match=r"#0 .*byte 7"):
        dev.write(0x02, bytes.fromhex("8038010008000000"), timeout=100)


def test_wrong_endpoint_or_direction_is_a_mismatch(shared_data):
    dev = next(open_recording(shared_data / "usb" / "nb1010").find_all())
    with pytest.raises(RecordingMismatch, match="#0"):
        dev.ctrl_transfer(0x40, 0x01, 0, 0, b"\x00", timeout=100)


def test_exhausted_recording_goes_quiet_for_exactly_the_timeout(shared_data):
    bus = open_recording(shared_data / "usb" / "aes3500")
    reissue_everything(bus)
    dev = next(bus.find_all())
    for call in (lambda: dev.read(0x81, 64, timeout=150), lambda: dev.write(0x02, b"\x80\x01", timeout=150)):
        start = time.monotonic()
        with pytest.raises(usb.core.USBTimeoutError):
            call()
        assert 0.14 <= time.monotonic() - start < 0.4


def test_an_answer_is_not_given_before_the_host_asked(shared_data):
    """The device answers a read only after the command recorded before it was sent."""
    dev = next(open_recording(shared_data / "usb" / "nb1010").find_all())
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(0x83, 16, timeout=20)


def test_unconsumed_recording_is_reported(shared_data):
    bus = open_recording(shared_data / "usb" / "nb1010")
    with pytest.raises(RecordingNotConsumed, match="96 recorded transfer"):
        assert_consumed(bus)


@pytest.mark.parametrize("content", ["", "garbage\n", "@DEV /dev/bus/usb/001/003\nUSBDEVFS_REAPURBNDELAY 0 3 2\n",
                                     "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 8 8 0 80380Z\n",
                                     "USBDEVFS_REAPURBNDELAY 0 0 2 0 0 8 8 0 00\n"])
def test_corrupt_ioctl_files_are_refused_clearly(shared_data, tmp_path, content):
    shutil.copy(shared_data / "usb" / "nb1010" / "device", tmp_path / "device")
    (tmp_path / "capture.ioctl").write_text(content)
    try:
        bus = open_recording(tmp_path)
    except RecordingFormatError:
        return
    assert replay_backend(bus).transfers == []  # an empty recording is a quiet device


def test_corrupt_and_missing_inputs(shared_data, tmp_path):
    with pytest.raises(RecordingFormatError, match="does not exist"):
        open_recording(tmp_path / "nope")
    with pytest.raises(RecordingFormatError, match="device"):
        open_recording(tmp_path)
    shutil.copy(shared_data / "usb" / "uru4000-4500" / "device", tmp_path / "device")
    data = (shared_data / "usb" / "uru4000-4500" / "capture.pcapng").read_bytes()
    (tmp_path / "capture.pcapng").write_bytes(data[:len(data) // 3])
    with pytest.raises(RecordingFormatError):
        open_recording(tmp_path)
    (tmp_path / "capture.pcapng").write_bytes(b"\x00" * 64)
    with pytest.raises(RecordingFormatError):
        open_recording(tmp_path)
    (tmp_path / "device").write_text("P: /devices/x\nN: bus/usb/001/050=1201\n")
    (tmp_path / "capture.pcapng").write_bytes(data)
    with pytest.raises(RecordingFormatError, match="descriptor"):
        open_recording(tmp_path)
