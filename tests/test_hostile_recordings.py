"""Issue 17 item 6: hostile recordings (pcapng block lengths, edited umockdev `device` endpoints,
field fuzz of both capture formats) give RecordingFormatError or another BiocapError, never a
bare pyusb/Python error, a multi-GiB read or a hang.

Failed before: test_huge_block_length_is_refused_without_reading_it (python-pcapng read the
stated 4 GiB), test_edited_endpoint_in_device_file_is_a_clean_error (pyusb's bare ValueError
"Invalid endpoint address"), and the fuzz tests below found both.
"""
from __future__ import annotations

import struct
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from biocap.errors import BiocapError, ProtocolError
from biocap.plugins.recording import RecordingFormatError, open_recording

import recording_builders as rb

FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("kind", ["pcapng", "ioctl"])
def test_generated_recordings_replay(tmp_path, kind):
    bus = open_recording(rb.write_recording(tmp_path, kind))
    assert rb.replay_session(bus) == [rb.ANSWER, rb.ANSWER[::-1]]


def _block_offsets(data: bytes) -> list[int]:
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return offsets


@pytest.mark.parametrize("value", [0xFFFFFFFF, 0x7FFFFFFC, 0, 8, 13, 1 << 30])
def test_huge_block_length_is_refused_without_reading_it(tmp_path, value):
    data = bytearray(rb.pcapng_bytes())
    for i, at in enumerate(_block_offsets(bytes(data))):
        bad = bytearray(data)
        bad[at + 4:at + 8] = struct.pack("<I", value)
        folder = rb.write_recording(tmp_path / f"b{i}", capture=bytes(bad))
        tracemalloc.start()
        with pytest.raises(RecordingFormatError):
            open_recording(folder)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 32 * 1024 * 1024, f"block {i}: {peak} bytes allocated"


@pytest.mark.parametrize("new_ep", [0x04, 0x82, 0x03, 0x00])
def test_edited_endpoint_in_device_file_is_a_clean_error(tmp_path, new_ep):
    desc = bytearray(rb.DESCRIPTORS)
    at = desc.index(bytes([7, 5, 0x02]))  # the bulk OUT endpoint descriptor
    desc[at + 2] = new_ep
    bus = open_recording(rb.write_recording(tmp_path, descriptors=bytes(desc)))
    with pytest.raises(ProtocolError, match="descriptors"):
        rb.replay_session(bus)


def _open_and_replay(folder) -> None:
    t0 = time.monotonic()
    try:
        bus = open_recording(folder)
        rb.replay_session(bus)
    except BiocapError:
        pass
    assert time.monotonic() - t0 < 2.0


@FUZZ
@given(st.data())
def test_pcapng_field_fuzz(tmp_path_factory, data):
    raw = bytearray(rb.pcapng_bytes())
    offsets = _block_offsets(bytes(raw))
    for _ in range(data.draw(st.integers(1, 4))):
        block = data.draw(st.sampled_from(offsets))
        field = data.draw(st.integers(0, 40)) * 4  # a 32-bit field of the block (or past it)
        at = min(block + field, len(raw) - 4)
        value = data.draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000])
                          | st.integers(0, 0xFFFFFFFF))
        raw[at:at + 4] = struct.pack("<I", value)
    _open_and_replay(rb.write_recording(tmp_path_factory.mktemp("p"), capture=bytes(raw)))


@FUZZ
@given(st.integers(0, len(rb.DESCRIPTORS) - 1), st.integers(0, 255), st.booleans())
def test_device_file_descriptor_fuzz(tmp_path_factory, at, value, ioctl):
    desc = bytearray(rb.DESCRIPTORS)
    desc[at] = value
    folder = rb.write_recording(tmp_path_factory.mktemp("d"), "ioctl" if ioctl else "pcapng",
                                descriptors=bytes(desc))
    _open_and_replay(folder)


@FUZZ
@given(st.integers(1, 4), st.integers(1, 9),
       st.sampled_from(["-1", "0", "999999999999", "-99999999999", "x", "", "1e9", "0x10", "256"]))
def test_ioctl_field_fuzz(tmp_path_factory, line, field, value):
    lines = rb.ioctl_text().splitlines()
    parts = lines[line].split()
    parts[field] = value
    lines[line] = " ".join(p for p in parts if p)
    folder = rb.write_recording(tmp_path_factory.mktemp("i"), "ioctl",
                                capture="\n".join(lines).encode())
    _open_and_replay(folder)
