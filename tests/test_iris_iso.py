"""ISO/IEC 19794-6:2011 iris image records: the NIST sample, round trips, hostile bytes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap.errors import TemplateFormatError
from biocap.templates.formats import iso19794_6_2011 as iso

from conftest import shared_or_none


@pytest.fixture(scope="module")
def sample(synthetic_eyes):
    """NIST's sample record; without the shared data a record biocap writes around a generated
    eye with the sample's layout (one left eye as PNG, two quality blocks): the byte offsets the
    tests below name are those of the fixed header, the same in both."""
    path = shared_or_none("interchange", "iso", "iris01.iso2011")
    if path is not None:
        return path.read_bytes()
    from dataclasses import replace
    rep = iso.from_image(synthetic_eyes[(0, 0)][0], eye_label=2).representations[0]
    rep = replace(rep, quality_blocks=[iso.QualityBlock(7, 1, 1), iso.QualityBlock(76, 2, 3)])
    return iso.encode(iso.IrisImageRecord([rep], number_of_eyes=1))


def test_parses_nist_sample(shared_data, sample):
    rec = iso.decode(sample)
    assert len(rec.representations) == 1
    rep = rec.representations[0]
    assert (rep.width, rep.height) == (76, 47)
    assert rep.format_name == "mono_png" and rep.eye_label == 2
    assert rep.capture_datetime[:3] == (2005, 12, 15)
    assert [q.score for q in rep.quality_blocks] == [7, 76]
    img = rep.decode_image()
    assert img.shape == (47, 76) and img.dtype == np.uint8
    assert rec.warnings  # its representation length is 5 bytes short; noted, not fatal


def test_round_trip(sample):
    rec = iso.decode(sample)
    again = iso.decode(iso.encode(rec))
    assert again.representations == rec.representations
    assert not again.warnings
    assert iso.encode(again) == iso.encode(rec)


def test_from_image_round_trip():
    img = (np.arange(64 * 80) % 251).astype(np.uint8).reshape(64, 80)
    rec = iso.from_image(img, eye_label=1)
    back = iso.decode(iso.encode(rec)).representations[0]
    assert np.array_equal(back.decode_image(), img)  # PNG is lossless
    assert back.eye_label == 1


def test_every_truncation_is_a_format_error(sample):
    for n in list(range(0, 90)) + [len(sample) - 1, len(sample) // 2]:
        with pytest.raises(TemplateFormatError) as exc:
            iso.decode(sample[:n])
        assert exc.value.field is not None


def test_named_fields_and_offsets(sample):
    bad = bytearray(sample)
    bad[49] = 99  # image format
    with pytest.raises(TemplateFormatError) as exc:
        iso.decode(bytes(bad))
    assert exc.value.field == "image format" and exc.value.offset == 49
    bad = bytearray(sample)
    bad[74:78] = (0xFFFFFFF0).to_bytes(4, "big")  # image length far past the end
    with pytest.raises(TemplateFormatError) as exc:
        iso.decode(bytes(bad))
    assert exc.value.field == "image data"
    bad = bytearray(sample)
    bad[78:90] = b"\x00" * 12  # corrupt PNG: parses, but the image does not decode
    with pytest.raises(TemplateFormatError):
        iso.decode(bytes(bad)).representations[0].decode_image()
    with pytest.raises(TemplateFormatError):
        iso.decode("not bytes")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    for blob in (data, b"IIR\x00020\x00" + data):
        try:
            iso.decode(blob)
        except TemplateFormatError:
            pass
