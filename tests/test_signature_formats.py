"""ISO/IEC 19794-7:2007 full and compact codecs: round trips, an independent producer's record,
hostile records (one clean TemplateFormatError naming field and offset), fuzz."""
import base64
import functools
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocap.errors import TemplateFormatError
from biocap.synthetic.signature import genuine, make_signer, skilled_forgery
from biocap.templates.formats import decode, detect_format, encode
from biocap.templates.formats import iso19794_7_2007 as F7
from biocap.templates.formats import iso19794_7_compact as C7

# The first bytes of the ISO/IEC 19794-7 sample a pad vendor publishes in its developer docs
# (Wacom signature SDK, "ISO Format" page): header, channel descriptions and 7 sample points.
WACOM_PREFIX = ("U0RJACAxMADBYOC0gIAAp7/gtICAAJ3PgOnEYAAAAf8AAAAAAOqjQ5A6AAAAagGjQ5A6ADIApwGjQ5A6AGQA"
                "5gGjQ5A6AJYBDQGjQ5A6AMgBJwGjQ5A6APoBPQGjQ5A6ASwBUQ")


def _pens(n=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s = make_signer(i)
        out.append(genuine(s, rng).pen)
        out.append(skilled_forgery(s, rng).pen)
    return out


@functools.lru_cache(maxsize=None)
def _valid(seed=0) -> bytes:
    return encode(F7.SignatureRecord.from_pen(_pens(1, seed)[0]))


def test_full_record_round_trips_what_the_pad_gave():
    for pen in _pens():
        rec = F7.SignatureRecord.from_pen(pen, units_per_mm=100)
        data = encode(rec)
        assert detect_format(data) == F7.NAME
        back = decode(data)
        assert isinstance(back, F7.SignatureRecord)
        assert np.array_equal(back.samples, rec.samples)
        assert encode(back) == data  # byte-identical re-encoding
        p = back.to_pen()
        assert np.array_equal(p.x, pen.x) and np.array_equal(p.y, pen.y)
        assert np.array_equal(p.pressure, pen.pressure)
        assert np.array_equal(p.pen_down, pen.pen_down)
        assert np.allclose(p.t_ms, pen.t_ms - pen.t_ms[0])
        assert back.channels["x"].scaling == 100.0 and back.channels["t"].scaling == 1000.0


def test_svc2004_records_round_trip(shared_data):
    from biocap.evaluation.datasets_signature import read_svc2004
    root = shared_data / "signature" / "svc2004_task2"
    if not root.exists():
        pytest.skip("svc2004_task2 not in the shared data")
    for name in ("U1S1.TXT", "U7S25.TXT", "U20S40.TXT"):
        pen = read_svc2004(root / name)
        back = decode(encode(F7.SignatureRecord.from_pen(pen))).to_pen()
        for col in ("x", "y", "pressure", "azimuth", "altitude"):
            assert np.array_equal(getattr(back, col), getattr(pen, col)), col
        assert np.array_equal(back.t_ms, pen.t_ms - pen.t_ms[0])


def test_an_independent_producers_record_reads_as_the_layout_says():
    prefix = base64.b64decode(WACOM_PREFIX[:len(WACOM_PREFIX) // 4 * 4])
    # the published record holds 234 points; keep the 7 complete ones of the excerpt
    pos = prefix.index(b"\x00\x00\xea")  # the 3-byte count (234)
    n = (len(prefix) - pos - 3) // 9
    data = prefix[:pos] + bytes([0, 0, n]) + prefix[pos + 3:pos + 3 + 9 * n]
    rec = decode(data)
    assert rec.names == ("x", "y", "t", "f", "s")
    assert rec.channels["x"].scaling == pytest.approx(100.0)      # 0.01 mm units
    assert rec.channels["t"].scaling == pytest.approx(10000.0, rel=1e-3)
    assert (rec.channels["x"].minimum, rec.channels["x"].maximum) == (0, 10175)
    assert (rec.channels["f"].minimum, rec.channels["f"].maximum) == (0, 511)
    assert list(rec.column("t")[:3]) == [0, 50, 100]               # 200 Hz at 0.1 ms units
    assert set(rec.column("s")) <= {0, 1} and rec.column("x")[0] == 9027


@pytest.mark.parametrize("value", [1.0, 100.0, 1000.0, 2.0 ** -16, 65000.0, 0.3, 2540 / 25.4])
def test_scaling_value_codes_within_one_part_in_4096(value):
    code = F7.encode_scaling(value)
    assert 0 <= code < 65536
    assert F7.decode_scaling(code) == pytest.approx(value, rel=1 / 4096)


def test_channel_descriptions_and_extended_data_round_trip():
    pen = _pens(1)[0]
    rec = F7.SignatureRecord.from_pen(pen)
    rec.channels["x"] = F7.ChannelDescription(scaling=50.0, minimum=-5, maximum=30000, mean=7000,
                                              std=1200, constant=False, linear_component_removed=True)
    rec.channels["s"] = F7.ChannelDescription(constant=True)
    rec.extended_data = b"vendor block"
    back = decode(encode(rec))
    assert back.channels["x"] == rec.channels["x"]
    assert back.channels["s"].constant and back.extended_data == b"vendor block"


def test_compact_format_round_trips_within_half_a_step():
    for pen in _pens(2):
        rec = F7.SignatureRecord.from_pen(pen)
        data, layout = C7.encode(rec)
        assert len(data) == len(rec.samples) * len(layout.channels)
        back = C7.decode(data, C7.CompactLayout.from_json(layout.to_json()))
        for c, step in zip(layout.channels, layout.steps):
            want = rec.column(c) if c != "dt" else np.concatenate([[0], np.diff(rec.column("t"))])
            assert np.abs(back.column(c) - want).max() <= step / 2, c
        assert np.array_equal(back.column("s"), rec.column("s"))  # 0/1 fits a byte exactly


def test_compact_hostile_inputs():
    rec = F7.SignatureRecord.from_pen(_pens(1)[0])
    data, layout = C7.encode(rec)
    with pytest.raises(TemplateFormatError, match="whole number"):
        C7.decode(data[:-1], layout)
    with pytest.raises(TemplateFormatError):
        C7.decode(b"", layout)
    with pytest.raises(TemplateFormatError):
        C7.decode(data, None)
    with pytest.raises(TemplateFormatError):
        C7.CompactLayout.from_json({"channels": ["y", "x"], "offsets": [0, 0], "steps": [1, 1],
                                    "scalings": [None, None]})


def test_every_truncation_is_one_clean_error_naming_field_and_offset():
    data = _valid()
    for cut in range(len(data) - 1):
        with pytest.raises(TemplateFormatError) as err:
            F7.decode(data[:cut])
        assert err.value.field and err.value.offset is not None and err.value.offset <= cut


def test_lying_fields_are_named():
    data = bytearray(_valid())
    with pytest.raises(TemplateFormatError, match="format_identifier"):
        F7.decode(b"SDX\x00" + bytes(data[4:]))
    with pytest.raises(TemplateFormatError, match="version"):
        F7.decode(bytes(data[:4]) + b" 20\x00" + bytes(data[8:]))
    bad = bytearray(data)
    bad[8:10] = struct.pack(">H", 0x4000)  # y without x
    with pytest.raises(TemplateFormatError, match="channel_inclusion"):
        F7.decode(bytes(bad))
    with pytest.raises(TemplateFormatError, match="record_end"):
        F7.decode(bytes(data) + b"\x00")
    # a count far beyond the bytes present is refused before any allocation
    rec = F7.decode(bytes(data))
    count_at = len(data) - len(rec.samples) * F7._point_dtype(rec.names).itemsize - 3
    bad = bytearray(data)
    bad[count_at:count_at + 3] = b"\xff\xff\xff"
    with pytest.raises(TemplateFormatError, match="sample_points") as err:
        F7.decode(bytes(bad))
    assert err.value.offset == count_at + 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(blob):
    for data in (blob, b"SDI\x00 10\x00" + blob):
        try:
            F7.decode(data)
        except TemplateFormatError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_records(data):
    rec = bytearray(_valid(1)[:400])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(rec) - 1))
        rec[i] = data.draw(st.integers(0, 255))
    try:
        out = F7.decode(bytes(rec), strict=data.draw(st.booleans()))
        assert isinstance(out, F7.SignatureRecord)
    except TemplateFormatError:
        pass


def test_writer_refuses_values_that_do_not_fit():
    rec = F7.SignatureRecord.from_pen(_pens(1)[0])
    rec.samples[0, 0] = 40000  # x beyond a signed 16-bit channel
    with pytest.raises(TemplateFormatError, match="sample_points.x"):
        encode(rec)
    with pytest.raises(TemplateFormatError):
        F7.encode_scaling(-1.0)
    with pytest.raises(TemplateFormatError):
        F7.encode_scaling(1e9)
    with pytest.raises(TemplateFormatError, match="mandatory"):
        F7.SignatureRecord({"x": F7.ChannelDescription()}, np.zeros((3, 1)))
