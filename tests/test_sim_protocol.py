"""Wire framing of the simulated sensors: round trip, and hostile bytes rejected cleanly."""
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap_vendor_sim import protocol as p
from biocap_vendor_sim.firmware import FingerprintFirmware
from biocap_vendor_sim.sources import make_source

payloads = st.binary(max_size=2048)
bytes8 = st.integers(0, 255)


@settings(deadline=None)
@given(kind=st.sampled_from(list(p.Kind)), op=bytes8, seq=bytes8, status=bytes8, payload=payloads)
def test_frame_round_trip(kind, op, seq, status, payload):
    frame = p.decode_frame(p.encode_frame(kind, op, seq, payload, status))
    assert (frame.kind, frame.op, frame.seq, frame.status, frame.payload) == (kind, op, seq, status, payload)


@settings(deadline=None)
@given(payload=payloads, cut=st.integers(1, 50))
def test_truncated_frames_are_rejected(payload, cut):
    data = p.encode_frame(p.Kind.REPLY, p.Op.GRAB, 7, payload)
    with pytest.raises(p.FrameError):
        p.decode_frame(data[:max(0, len(data) - cut)])


@settings(deadline=None)
@given(payload=payloads, extra=st.binary(min_size=1, max_size=16))
def test_trailing_bytes_are_rejected(payload, extra):
    with pytest.raises(p.FrameError):
        p.decode_frame(p.encode_frame(p.Kind.REPLY, 1, 1, payload) + extra)


@settings(deadline=None)
@given(payload=payloads, data=st.data())
def test_any_single_bit_flip_is_detected(payload, data):
    frame = bytearray(p.encode_frame(p.Kind.COMMAND, p.Op.ARM, 3, payload))
    bit = data.draw(st.integers(0, len(frame) * 8 - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(p.FrameError):
        p.decode_frame(bytes(frame))


@settings(deadline=None)
@given(garbage=st.binary(max_size=4096))
def test_garbage_never_raises_anything_but_frame_error(garbage):
    try:
        frame = p.decode_frame(garbage)
    except p.FrameError:
        return
    # the only way through is a well-formed frame with a valid CRC
    assert zlib.crc32(garbage[:-4]) == int.from_bytes(garbage[-4:], "little")
    assert frame.payload == garbage[10:-4]


def test_huge_length_field_is_refused_without_allocating():
    head = p.HEADER.pack(p.MAGIC, p.Kind.REPLY, 1, 1, 0, 0xFFFFFFFF)
    with pytest.raises(p.FrameError, match="exceeds"):
        p.decode_frame(head + b"\0" * 4)
    with pytest.raises(p.FrameError):
        p.encode_frame(p.Kind.REPLY, 1, 1, b"\0" * (p.MAX_PAYLOAD + 1))


@settings(deadline=None)
@given(payload=st.binary(max_size=200))
def test_frame_info_decode_rejects_garbage_cleanly(payload):
    try:
        info = p.FrameInfo.decode(payload)
    except p.FrameError:
        return
    assert info.encode() == payload


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(max_size=64))
def test_firmware_answers_garbage_with_an_error_reply(garbage):
    fw = FingerprintFirmware(make_source("fingerprint-synthetic"), np.random.default_rng(0), "X")
    reply = p.decode_frame(fw.handle(garbage))
    assert reply.kind is p.Kind.REPLY
    assert reply.status == p.Status.BAD_FRAME


@settings(max_examples=60, deadline=None)
@given(op=bytes8, payload=st.binary(max_size=8))
def test_firmware_never_raises_on_any_command(op, payload):
    fw = FingerprintFirmware(make_source("fingerprint-synthetic"), np.random.default_rng(0), "X")
    reply = p.decode_frame(fw.handle(p.encode_frame(p.Kind.COMMAND, op, 9, payload)))
    assert reply.seq == 9
    if op not in p.Op._value2member_map_:
        assert reply.status == p.Status.UNKNOWN_COMMAND


def test_state_machine_refuses_out_of_order_commands():
    fw = FingerprintFirmware(make_source("fingerprint-synthetic"), np.random.default_rng(0), "X")

    def send(op, payload=b""):
        return p.decode_frame(fw.handle(p.encode_frame(p.Kind.COMMAND, op, 1, payload)))

    assert send(p.Op.READ_CHUNK, p.CHUNK_REQ.pack(0, 0)).status == p.Status.BAD_STATE
    assert send(p.Op.POLL).status == p.Status.BAD_STATE
    assert send(p.Op.ARM, p.ARM.pack(11, 0)).status == p.Status.BAD_ARGUMENT  # no position 11
    assert send(p.Op.ARM, p.ARM.pack(2, 0)).status == p.Status.OK
    polls = 0
    while send(p.Op.POLL).payload[0] != p.Presence.READY:
        polls += 1
        assert polls < 10
    grab = send(p.Op.GRAB)
    info = p.FrameInfo.decode(grab.payload)
    assert (info.blobs[0].width, info.blobs[0].height) == (400, 500)
    assert send(p.Op.READ_CHUNK, p.CHUNK_REQ.pack(0, info.blobs[0].chunks)).status == p.Status.BAD_ARGUMENT
    assert send(p.Op.DISARM).status == p.Status.OK
    assert send(p.Op.GRAB).status == p.Status.BAD_STATE


def test_frame_info_announcing_huge_blobs_is_refused():
    huge = p.FrameInfo(1, 50, 500, (p.BlobInfo(0, p.BlobKind.IMAGE, 65535, 65535, 65535 * 65535, 0,
                                               -(-65535 * 65535 // p.CHUNK_SIZE)),))
    with pytest.raises(p.FrameError, match="outside"):
        p.FrameInfo.decode(huge.encode())
    many = p.FRAME_INFO.pack(1, 50, 500, 255) + b"\0" * (255 * p.BLOB_INFO.size)
    with pytest.raises(p.FrameError, match="blobs"):
        p.FrameInfo.decode(many)
