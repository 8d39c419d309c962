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

from conftest import shared_or_none

ALL = ["nb1010", "aes3500", "uru4000-4500", "elan-cobo"]
# the research set's recordings when present; else the one the tests record on the simulator
RECORDINGS = ALL if shared_or_none("usb") is not None else ["simulator"]


@pytest.fixture
def rec_dir(sim_recording):
    """name -> recording folder: the research set's NB-1010 / AES3500 sessions when present,
    else the simulator session recorded in `conftest.sim_recording` (same umockdev format)."""
    root = shared_or_none("usb")
    return lambda name: sim_recording[0] if root is None else root / name


def _first(transfers, is_in):
    return next(t for t in transfers if t.is_in == is_in)


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


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_recorded_transfer_is_reissued_and_answered(rec_dir, name):
    bus = open_recording(rec_dir(name))
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


def _describe(dev):
    return ((dev.idVendor, dev.idProduct), usb.util.get_string(dev, dev.iManufacturer),
            usb.util.get_string(dev, dev.iProduct),
            [e.bEndpointAddress for e in dev.get_active_configuration()[(0, 0)]])


def test_descriptors_and_strings_come_from_the_recording(rec_dir, sim_recording):
    bus = open_recording(rec_dir("nb1010"))
    dev = next(bus.find_all())
    if shared_or_none("usb") is not None:
        assert (dev.idVendor, dev.idProduct, dev.bus, dev.address) == (0x298D, 0x1010, 1, 3)
        assert _describe(dev)[1:] == ("NEXT Biometrics", "NB-1010-U", [0x81, 0x02, 0x83])
    else:  # the replayed device describes itself as the live simulated one did
        live = next(sim_recording[2]().find_all())
        assert _describe(dev) == _describe(live)
        usb.util.dispose_resources(live)
    # the string requests were answered from the descriptors, not taken from the recording
    assert replay_backend(bus).position == 0


def test_one_altered_byte_fails_with_index_expected_and_actual(rec_dir):
    bus = open_recording(rec_dir("nb1010"))
    dev = next(bus.find_all())
    transfers = replay_backend(bus).transfers
    assert not transfers[0].is_in and transfers[1].is_in and not transfers[2].is_in
    dev.write(transfers[0].endpoint, transfers[0].data, timeout=100)
    assert bytes(dev.read(transfers[1].endpoint, max(16, len(transfers[1].data)),
                          timeout=100)) == transfers[1].data
    altered = bytearray(transfers[2].data)
    altered[9] ^= 0x01
    start = time.monotonic()
    with pytest.raises(RecordingMismatch) as info:
        dev.write(transfers[2].endpoint, bytes(altered), timeout=100)
    assert time.monotonic() - start < 0.1           # an error at once, not a hang
    message = str(info.value)
    assert info.value.index == 2 and "#2" in message and "byte 9" in message
    assert transfers[2].data.hex(" ") in message and bytes(altered).hex(" ") in message


def test_altered_recording_file_fails_the_same_way(rec_dir, tmp_path):
    """A recording whose OUT transfer differs by one byte from what the driver sends."""
    src = rec_dir("nb1010")
    first = replay_backend(open_recording(src)).transfers[0]
    assert not first.is_in
    sent = first.data.hex().upper()
    shutil.copy(src / "device", tmp_path / "device")
    lines = (src / "capture.ioctl").read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if line.upper().endswith(sent))
    lines[i] = lines[i][:-1] + ("1" if lines[i][-1] != "1" else "2")  # the last byte differs
    (tmp_path / "capture.ioctl").write_text("\n".join(lines) + "\n")
    dev = next(open_recording(tmp_path).find_all())
    with pytest.raises(RecordingMismatch, match=rf"#0 .*byte {len(first.data) - 1}"):
        dev.write(first.endpoint, first.data, timeout=100)


def test_wrong_endpoint_or_direction_is_a_mismatch(rec_dir):
    dev = next(open_recording(rec_dir("nb1010")).find_all())
    with pytest.raises(RecordingMismatch, match="#0"):
        dev.ctrl_transfer(0x40, 0x01, 0, 0, b"\x00", timeout=100)


def test_exhausted_recording_goes_quiet_for_exactly_the_timeout(rec_dir):
    bus = open_recording(rec_dir("aes3500"))
    transfers = replay_backend(bus).transfers
    ep_in, ep_out = _first(transfers, True).endpoint, _first(transfers, False).endpoint
    reissue_everything(bus)
    dev = next(bus.find_all())
    for call in (lambda: dev.read(ep_in, 64, timeout=150), lambda: dev.write(ep_out, b"\x80\x01", timeout=150)):
        start = time.monotonic()
        with pytest.raises(usb.core.USBTimeoutError):
            call()
        assert 0.14 <= time.monotonic() - start < 0.4


def test_an_answer_is_not_given_before_the_host_asked(rec_dir):
    """The device answers a read only after the command recorded before it was sent."""
    bus = open_recording(rec_dir("nb1010"))
    ep_in = _first(replay_backend(bus).transfers, True).endpoint
    dev = next(bus.find_all())
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(ep_in, 16, timeout=20)


def test_unconsumed_recording_is_reported(rec_dir):
    bus = open_recording(rec_dir("nb1010"))
    n = 96 if shared_or_none("usb") is not None else len(replay_backend(bus).transfers)
    with pytest.raises(RecordingNotConsumed, match=f"{n} recorded transfer"):
        assert_consumed(bus)


@pytest.mark.parametrize("content", ["", "garbage\n", "@DEV /dev/bus/usb/001/003\nUSBDEVFS_REAPURBNDELAY 0 3 2\n",
                                     "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 8 8 0 80380Z\n",
                                     "USBDEVFS_REAPURBNDELAY 0 0 2 0 0 8 8 0 00\n"])
def test_corrupt_ioctl_files_are_refused_clearly(rec_dir, tmp_path, content):
    shutil.copy(rec_dir("nb1010") / "device", tmp_path / "device")
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
