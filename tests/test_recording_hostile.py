"""Hostile recordings: corrupt descriptors, ioctl lines and pcapng files never crash or hang."""
from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from biocap.plugins.recording import RecordingFormatError, open_recording, replay_backend
from biocap.plugins.recording.descriptors import parse_descriptors

NB_DESCRIPTORS = bytes.fromhex(
    "12010002000000408D29101001000102000109022700010100A032090400000300000000070581034000050705"
    "020240000007058302400000")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_descriptor_bytes_parse_or_are_refused(raw):
    try:
        parse_descriptors(raw)
    except RecordingFormatError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(NB_DESCRIPTORS) - 1), st.integers(0, 255))
def test_mutated_real_descriptors_parse_or_are_refused(at, value):
    raw = bytearray(NB_DESCRIPTORS)
    raw[at] = value
    try:
        parse_descriptors(bytes(raw))
    except RecordingFormatError:
        pass


def test_truncated_descriptors_are_refused():
    whole = parse_descriptors(NB_DESCRIPTORS)  # the untruncated set parses ...
    assert whole.device.idVendor == 0x298D and len(whole.configurations) == 1
    for n in range(len(NB_DESCRIPTORS)):  # ... and every cut of it is refused, none half-read
        with pytest.raises(RecordingFormatError):
            parse_descriptors(NB_DESCRIPTORS[:n])


@pytest.fixture(scope="module")
def pcapng_bytes(shared_data):
    return (shared_data / "usb" / "uru4000-4500" / "capture.pcapng").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_pcapng_is_refused_or_replays(shared_data, tmp_path_factory, pcapng_bytes, data):
    folder = tmp_path_factory.mktemp("rec")
    shutil.copy(shared_data / "usb" / "uru4000-4500" / "device", folder / "device")
    raw = bytearray(pcapng_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    (folder / "capture.pcapng").write_bytes(bytes(raw[:cut]))
    try:
        bus = open_recording(folder)
    except RecordingFormatError:
        return
    assert isinstance(replay_backend(bus).transfers, list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet="USBDEVFS_REAPURBNDELAY 0123456789abcdefABCDEF@/-\t", max_size=80),
                max_size=6))
def test_garbled_ioctl_lines_are_refused_or_read(sim_recording, tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("rec")
    shutil.copy(sim_recording[0] / "device", folder / "device")  # the simulator's descriptors
    (folder / "capture.ioctl").write_text("\n".join(lines))
    try:
        open_recording(folder)
    except RecordingFormatError:
        pass
