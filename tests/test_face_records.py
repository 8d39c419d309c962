"""ISO/IEC 19794-5 face image records (2005, 2011): parsing, bit-exact round trips, hostile input."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocap.errors import TemplateFormatError
from biocap.templates.formats import (FACE_FORMATS, FaceImage, FaceImageRecord, decode, detect_format,
                                      encode)
from biocap.templates.formats._face_common import (FeaturePoint, QualityBlock, pose_code, pose_degrees,
                                                   payload_dimensions)

from biocap.evaluation.data import data_dir

FACE01 = data_dir() / "interchange" / "iso" / "face01.iso2005"


def _face_image(seed=0, h=48, w=40, colour=True):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (np.sin(xx / 5.0) * 60 + np.cos(yy / 7.0) * 50 + 128).astype(np.uint8)
    if not colour:
        return base
    noise = rng.integers(0, 30, (h, w, 3), dtype=np.uint8)
    return np.dstack([base, base // 2 + 40, 255 - base]) // 2 + noise


def _record(fmt, kind="jpeg2000", colour=True, points=2):
    image = _face_image(colour=colour)
    fps = [FeaturePoint(1, (12 << 4) | 1, 10 + i, 20 + i) for i in range(points)]
    img = FaceImage.from_array(image, kind, gender=1, eye_colour=3, hair_colour=2, feature_mask=0x23,
                               expression=1, pose_angle=(91, 92, 90), pose_uncertainty=(3, 4, 5),
                               feature_points=fps, face_image_type=2)
    if fmt.endswith("2011"):
        img.quality_blocks = [QualityBlock(77, 0x0101, 0x0002)]
        img.capture_datetime = (2026, 12, 7, 21, 5, 0, 123)
    return FaceImageRecord([img], format=fmt), image


# --- the NIST test record ----------------------------------------------------------------------
@pytest.mark.skipif(not FACE01.is_file(), reason=f"shared data not found at {FACE01}")
def test_nist_face01_parses_and_reencodes_bit_exactly():
    data = FACE01.read_bytes()
    record = decode(data)
    assert record.format == "iso19794-5:2005" == detect_format(data)
    (img,) = record.images
    assert (img.width, img.height, img.payload_kind) == (280, 320, "jpeg")
    assert [(p.major, p.minor, p.x, p.y) for p in img.feature_points] == [
        (3, 6, 95, 117), (3, 5, 168, 109), (9, 3, 139, 133), (11, 5, 136, 50)]
    assert img.gender == 2 and img.feature_mask == 0x00044D and img.expression == 3
    assert encode(record) == data
    pixels = img.decode_image()
    assert pixels.shape == (320, 280, 3) and pixels.dtype == np.uint8 and pixels.std() > 10
    # and into the 2011 edition and back
    again = decode(encode(record, "iso19794-5:2011"))
    assert again.images[0].image_data == img.image_data
    assert again.images[0].feature_points[0].code == 0x36


# --- generated records: both editions, bit-exact ----------------------------------------------
@pytest.mark.parametrize("fmt", FACE_FORMATS)
@pytest.mark.parametrize("colour", [True, False])
def test_jpeg2000_lossless_round_trip_is_bit_exact(fmt, colour):
    record, image = _record(fmt, colour=colour)
    data = encode(record)
    back = decode(data)
    assert back.format == fmt
    assert encode(back) == data
    assert np.array_equal(back.images[0].decode_image(), image)
    b, a = back.images[0], record.images[0]
    for name in ("gender", "eye_colour", "hair_colour", "feature_mask", "expression", "pose_angle",
                 "pose_uncertainty", "face_image_type", "width", "height", "colour_space"):
        assert getattr(b, name) == getattr(a, name), name
    assert [(p.type, p.code, p.x, p.y) for p in b.feature_points] == \
        [(p.type, p.code, p.x, p.y) for p in a.feature_points]


def test_2011_keeps_its_own_fields_and_png():
    record, image = _record("iso19794-5:2011", kind="png")
    back = decode(encode(record))
    img = back.images[0]
    assert img.capture_datetime == (2026, 12, 7, 21, 5, 0, 123)
    assert img.quality_blocks == [QualityBlock(77, 0x0101, 0x0002)]
    assert img.image_data_type == 3 and np.array_equal(img.decode_image(), image)


def test_jpeg_payload_decodes_close_to_the_original():
    record, image = _record("iso19794-5:2005", kind="jpeg")
    back = decode(encode(record))
    pixels = back.images[0].decode_image()
    assert pixels.shape == image.shape
    assert np.abs(pixels.astype(int) - image.astype(int)).mean() < 12


def test_pose_codes():
    assert pose_degrees(0) is None and pose_degrees(91) == 0 and pose_degrees(1) == -180
    assert pose_code(0) == 91 and pose_code(180) == 181 and pose_code(None) == 0


# --- decompression bombs and lying payloads ----------------------------------------------------
def test_payload_dimension_mismatch_is_refused_before_decoding():
    record, _ = _record("iso19794-5:2011")
    record.images[0].width += 1
    back = decode(encode(record))
    with pytest.raises(TemplateFormatError, match="record says"):
        back.images[0].decode_image()


def test_huge_declared_payload_is_refused_before_decoding():
    record, _ = _record("iso19794-5:2011", kind="png")
    img = record.images[0]
    data = bytearray(img.image_data)
    struct.pack_into(">II", data, 16, 60000, 60000)       # IHDR says 60000 x 60000
    img.image_data, img.width, img.height = bytes(data), 60000, 60000
    back = decode(encode(record))
    assert payload_dimensions(back.images[0].image_data, "png")[:2] == (60000, 60000)
    with pytest.raises(TemplateFormatError, match="decoding limit"):
        back.images[0].decode_image()


def test_jpeg2000_header_size_is_read_from_the_codestream():
    record, image = _record("iso19794-5:2005")
    w, h, c = record.images[0].payload_dimensions()
    assert (w, h, c) == (image.shape[1], image.shape[0], 3)


def test_corrupt_payload_gives_a_format_error():
    record, _ = _record("iso19794-5:2005", kind="jpeg")
    img = record.images[0]
    img.image_data = img.image_data[: len(img.image_data) // 3]
    with pytest.raises(TemplateFormatError):
        decode(encode(record)).images[0].decode_image()


# --- hostile records ---------------------------------------------------------------------------
def _valid_records():
    out = [encode(_record(f, kind=k, points=p)[0]) for f in FACE_FORMATS for k, p in
           (("jpeg2000", 2), ("jpeg", 0))]
    return out


VALID = _valid_records()


def _decode_all(data):
    try:
        record = decode(data)
    except TemplateFormatError as exc:
        assert exc.field is not None or "format" in str(exc)
        return
    for img in record.images:
        try:
            img.decode_image(max_pixels=1_000_000)
        except TemplateFormatError:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(VALID) - 1), cut=st.integers(0, 10_000))
def test_truncated_records_fail_cleanly(which, cut):
    data = VALID[which]
    data = data[: cut % len(data)]
    with pytest.raises(TemplateFormatError):
        decode(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(VALID) - 1),
       edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4))
def test_flipped_header_bytes_never_crash(which, edits):
    data = bytearray(VALID[which])
    for pos, value in edits:
        data[pos % min(len(data), 120)] = value
    _decode_all(bytes(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(VALID) - 1), field_at=st.sampled_from([8, 12, 14, 17, 18, 19]),
       value=st.sampled_from([0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 2 ** 31 + 7]))
def test_huge_lengths_and_wrong_counts_fail_cleanly(which, field_at, value):
    data = bytearray(VALID[which])
    size = 4 if field_at in (8, 14, 17) else 2
    data[field_at:field_at + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "big")
    _decode_all(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_after_the_magic_fail_cleanly(tail):
    for head in (b"FAC\x00010\x00", b"FAC\x00030\x00"):
        with pytest.raises(TemplateFormatError):
            decode(head + tail)


def test_errors_name_field_and_offset():
    data = bytearray(VALID[0])
    data[12:14] = b"\x00\x09"       # 9 facial images
    with pytest.raises(TemplateFormatError) as exc:
        decode(bytes(data))
    assert exc.value.field is not None and exc.value.offset is not None


def test_wrong_kind_of_record_for_the_format():
    record, _ = _record("iso19794-5:2011")
    with pytest.raises(TemplateFormatError):
        encode(record, "iso19794-2:2011")
    png, _ = _record("iso19794-5:2011", kind="png")
    with pytest.raises(TemplateFormatError, match="2011"):
        encode(png, "iso19794-5:2005")


def test_cli_template_info_shows_face_records(tmp_path, capsys):
    from biocap.cli import main

    path = tmp_path / "face.iso2011"
    path.write_bytes(VALID[2])
    assert main(["template", "info", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "iso19794-5:2011"
    assert out["images"][0]["payload"]["width"] == 40
    assert out["images"][0]["face_image_type"] == "token frontal"
    assert main(["template", "info", str(path)]) == 0
    assert "token frontal" in capsys.readouterr().out
