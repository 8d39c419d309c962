"""Hostile input: every broken record raises TemplateFormatError naming a field and byte offset,
quickly and without allocating by what a length field claims."""
from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocap.errors import BiocapError, TemplateFormatError
from biocap.templates.fingerprint.template import MINUTIA_DTYPE
from biocap.templates import FingerprintTemplate
from biocap.templates.formats import FORMATS, FingerprintRecord, decode, detect_format, encode


def _sample_records() -> dict[str, bytes]:
    """One small clean record per format, written by biocap itself (no shared data needed)."""
    rng = np.random.default_rng(7)
    m = np.zeros(12, dtype=MINUTIA_DTYPE)
    m["x"], m["y"] = rng.integers(0, 300, 12), rng.integers(0, 300, 12)
    m["angle"], m["type"], m["quality"] = rng.uniform(0, 6.28, 12), 1, 60
    views = [FingerprintTemplate(m, 300, 300, 500.0, position=p,
                                 extended={"ridge_counts": {"method": 1, "edges": [(0, 1, 3)]}})
             for p in (2, 7)]
    out = {}
    for fmt in FORMATS:
        chosen = views[:1] if fmt == "iso19794-2:card" else views
        out[fmt] = encode(FingerprintRecord.from_templates(chosen), fmt)
    return out


SAMPLES = _sample_records()
pytestmark = pytest.mark.timeout(60)   # a decoder that hangs fails instead of stalling the suite


def _raises_format_error(data: bytes, **kwargs) -> TemplateFormatError:
    with pytest.raises(TemplateFormatError) as info:
        decode(data, **kwargs)
    exc = info.value
    assert exc.field and exc.offset is not None, f"error without field/offset: {exc}"
    assert f"byte offset {exc.offset}" in str(exc)
    return exc


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_truncation_is_reported(fmt):
    data = SAMPLES[fmt]
    for n in range(1, len(data)):
        _raises_format_error(data[:n])


@pytest.mark.parametrize("fmt", ["iso19794-2:2005", "iso19794-2:2011", "ansi378:2009",
                                 "ansi378:2009am1"])
def test_record_length_that_lies(fmt):
    data = bytearray(SAMPLES[fmt])
    data[8:12] = struct.pack(">I", len(data) + 1)
    assert _raises_format_error(bytes(data)).field == "record_length"
    data[8:12] = struct.pack(">I", 0x7FFF_FFFF)   # 2 GB
    assert _raises_format_error(bytes(data)).field == "record_length"
    start = time.perf_counter()
    exc = _raises_format_error(bytes(data), format=fmt)
    assert time.perf_counter() - start < 0.5
    assert exc.field == "record_length" and exc.offset == 8 and "2147483647" in str(exc)
    data[8:12] = struct.pack(">I", len(data) - 30)   # claims less than the views need
    _raises_format_error(bytes(data), format=fmt)


def test_ansi2004_long_length_that_lies():
    data = bytearray(SAMPLES["ansi378:2004"])
    data[8:10] = b"\x00\x00"
    data[10:10] = struct.pack(">I", 0xFFFF_FFFF)
    exc = _raises_format_error(bytes(data), format="ansi378:2004")
    assert exc.field == "record_length"


def test_view_and_block_lengths_that_lie():
    data = bytearray(SAMPLES["iso19794-2:2011"])
    data[15:19] = struct.pack(">I", 0xFFFF_FFF0)   # first view's length
    assert _raises_format_error(bytes(data)).field.startswith("views[0]")
    data = bytearray(SAMPLES["iso19794-2:2005"])
    ext = 24 + 4 + 12 * 6                          # first view's extended-data length
    data[ext:ext + 2] = struct.pack(">H", 60000)
    assert "extended" in _raises_format_error(bytes(data)).field


def test_counts_larger_than_the_data():
    data = bytearray(SAMPLES["iso19794-2:2005"])
    data[24 + 3] = 255                             # minutiae count of view 0
    assert "minutiae" in _raises_format_error(bytes(data)).field
    data = bytearray(SAMPLES["ansi378:2004"])
    data[24] = 200                                 # view count
    assert "views" in _raises_format_error(bytes(data)).field


def test_zero_minutiae():
    data = bytearray(SAMPLES["iso19794-2:2005"])
    body = data[:24] + bytes([2, 0, 60, 0]) + b"\x00\x00"
    body[8:12] = struct.pack(">I", len(body))
    body[22] = 1
    exc = _raises_format_error(bytes(body))
    assert exc.field == "minutiae_count" and exc.offset == 27
    lenient = decode(bytes(body), strict=False)
    assert len(lenient.views) == 1 and len(lenient.views[0]) == 0


def test_coordinates_outside_the_image():
    data = bytearray(SAMPLES["ansi378:2004"])
    first = 26 + 4
    data[first:first + 2] = struct.pack(">H", (1 << 14) | 0x3FFF)
    exc = _raises_format_error(bytes(data))
    assert exc.field == "minutiae[0].x" and exc.offset == first
    assert len(decode(bytes(data), strict=False).views) == 2


def test_reserved_minutia_type():
    data = bytearray(SAMPLES["iso19794-2:2005"])
    data[28] |= 0xC0
    assert _raises_format_error(bytes(data)).field == "minutiae[0].type"


@pytest.mark.parametrize("data", [b"", b"FMR", b"FMR\x00 99\x00\x00\x00", b"\x00" * 64,
                                  b"GIF89a" + b"\x00" * 30, b"\x7f\x2e\x05\x81\x03\x01\x02",
                                  b"\x7f\x2e\x84\xff\xff\xff\xff"])
def test_garbage_is_refused(data):
    with pytest.raises(TemplateFormatError):
        decode(data)
    with pytest.raises(TemplateFormatError):
        detect_format(data)


def test_random_bytes_are_refused():
    rng = np.random.default_rng(11)
    for _ in range(300):
        data = rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes()
        with pytest.raises(TemplateFormatError):
            decode(data)


def test_non_bytes_and_unknown_format_names():
    with pytest.raises(TemplateFormatError, match="binary"):
        decode("FMR")  # type: ignore[arg-type]
    with pytest.raises(TemplateFormatError, match="unknown template format"):
        encode(decode(SAMPLES["iso19794-2:2005"]), "iso19794-2:1999")


def _decode_or_refuse(data: bytes) -> None:
    try:
        record = decode(data)
    except TemplateFormatError as exc:
        assert exc.field is not None and exc.offset is not None
        return
    # whatever decodes must encode again (or refuse cleanly)
    try:
        encode(record)
    except BiocapError:
        pass


_FUZZ = settings(max_examples=150, deadline=500, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_fuzz_mutated_records(fmt, data):
    raw = bytearray(SAMPLES[fmt])
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + data.draw(st.binary(max_size=8)) + raw[cut:]
    _decode_or_refuse(bytes(raw))


@_FUZZ
@given(st.sampled_from([b"FMR\x00 20\x00", b"FMR\x00020\x00", b"FMR\x00030\x00",
                        b"FMR\x00035\x00", b"\x7f\x2e"]), st.binary(max_size=300))
def test_fuzz_random_bodies_behind_valid_magic(magic, body):
    _decode_or_refuse(magic + body)
