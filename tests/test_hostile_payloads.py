"""Issue 17 item 5: compressed image payloads are checked against the record and a limit BEFORE
they are decoded (decompression bombs), for every payload kind an iris record can hold.

Failed before: a 64x64 record carrying a 5000x5000 PNG decoded to 25 MB without an error, a JPEG
or JPEG 2000 whose header was edited to 6000x6000 decoded to a 36 MB grey image, a payload of
another kind than declared decoded anyway (test_*_bomb_*, test_declared_kind_must_match).
"""
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap.errors import TemplateFormatError
from biocap.templates.formats import image_payload as ip
from biocap.templates.formats import iso19794_6_2011 as iso


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int, *, colour: int = 0, rows: int | None = None) -> bytes:
    """A valid PNG of zeros (`rows` rows of data only: a header-only bomb when small)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + width * {0: 1, 2: 3, 6: 4}[colour])
    idat = b"".join(comp.compress(row) for _ in range(height if rows is None else rows))
    idat += comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def _record(payload: bytes, fmt: int, width: int, height: int) -> bytes:
    rep = iso.IrisRepresentation(payload, width, height, fmt)
    return iso.encode(iso.IrisImageRecord([rep]))


def _decode(data: bytes):
    return iso.decode(data).representations[0].decode_image()


def _small(ext: str) -> bytes:
    img = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _edit_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    pos = 2
    while True:
        marker, length = out[pos + 1], struct.unpack(">H", out[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out[pos + 5:pos + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        pos += 2 + length


def _edit_jp2_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    siz = out.index(b"\xff\x4f\xff\x51")
    out[siz + 8:siz + 16] = struct.pack(">II", width, height)
    ihdr = out.index(b"ihdr")
    out[ihdr + 4:ihdr + 12] = struct.pack(">II", height, width)
    return bytes(out)


def test_png_bomb_behind_a_small_header_is_refused_before_decoding():
    bomb = png_bomb(5000, 5000)
    assert len(bomb) < 100_000
    tracemalloc.start()
    with pytest.raises(TemplateFormatError, match="64x64.*5000x5000.*before decoding"):
        _decode(_record(bomb, 14, 64, 64))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000


def test_header_only_png_bomb_is_refused_without_allocation():
    bomb = png_bomb(20000, 20000, rows=1)
    with pytest.raises(TemplateFormatError, match="outside|before decoding"):
        _decode(_record(bomb, 14, 64, 64))
    with pytest.raises(TemplateFormatError, match="20000x20000"):
        ip.check_payload(bomb, "png", width=20000, height=20000)


def test_matching_size_over_the_limit_is_refused():
    bomb = png_bomb(8000, 8000, colour=6, rows=1)  # RGBA: 256 MB decoded
    with pytest.raises(TemplateFormatError, match="limit"):
        _decode(_record(bomb, 16, 8000, 8000))


def test_jpeg_bomb_is_refused_before_decoding():
    bomb = _edit_jpeg_size(_small(".jpg"), 6000, 6000)
    with pytest.raises(TemplateFormatError, match="6000x6000"):
        _decode(_record(bomb, 6, 64, 64))
    with pytest.raises(TemplateFormatError, match="height 0"):
        ip.payload_header(_edit_jpeg_size(_small(".jpg"), 64, 0), "jpeg")


def test_jpeg2000_bomb_is_refused_before_decoding():
    jp2 = _small(".jp2")
    bomb = _edit_jp2_size(jp2, 6000, 6000)
    with pytest.raises(TemplateFormatError, match="6000x6000"):
        _decode(_record(bomb, 18, 64, 64))
    # the bare codestream (the jp2c box's content) too
    code = jp2[jp2.index(b"\xff\x4f\xff\x51"):]
    head = ip.payload_header(code, "jpeg2000")
    assert (head.width, head.height) == (64, 64)
    bad = bytearray(code)
    bad[8:16] = struct.pack(">II", 6000, 6000)
    with pytest.raises(TemplateFormatError, match="6000x6000"):
        ip.check_payload(bytes(bad), "jpeg2000", width=64, height=64)


def test_jp2_header_box_disagreeing_with_its_codestream_is_refused():
    out = bytearray(_small(".jp2"))
    ihdr = out.index(b"ihdr")
    out[ihdr + 4:ihdr + 12] = struct.pack(">II", 64, 65)
    with pytest.raises(TemplateFormatError, match="header box"):
        ip.payload_header(bytes(out), "jpeg2000")


@pytest.mark.parametrize("ext, fmt", [(".png", 14), (".jpg", 6), (".jp2", 18)])
def test_honest_payloads_still_decode(ext, fmt):
    img = _decode(_record(_small(ext), fmt, 64, 64))
    assert img.shape == (64, 64) and img.dtype == np.uint8


def test_declared_kind_must_match():
    with pytest.raises(TemplateFormatError, match="declares a jpeg2000 image, the payload is png"):
        _decode(_record(_small(".png"), 18, 64, 64))
    with pytest.raises(TemplateFormatError, match="not a png"):
        _decode(_record(b"GIF89a" + b"\x00" * 40, 14, 64, 64))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([".png", ".jpg", ".jp2"]), st.lists(st.tuples(st.integers(0, 400),
                                                                      st.integers(0, 255)), max_size=6))
def test_mutated_payload_headers_never_escape(ext, edits):
    raw = bytearray(_small(ext))
    for at, value in edits:
        raw[at % len(raw)] = value
    fmt = {".png": 14, ".jpg": 6, ".jp2": 18}[ext]
    try:
        img = _decode(_record(bytes(raw), fmt, 64, 64))
    except TemplateFormatError:
        return
    assert img.shape == (64, 64)
