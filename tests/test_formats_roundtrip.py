"""Round trips through every format and conversions between every pair, within quantization."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from biocap.errors import TemplateFormatError
from biocap.templates import FingerprintTemplate
from biocap.templates.fingerprint.template import MINUTIA_DTYPE, SingularPoint
from biocap.templates.formats import FORMATS, FingerprintRecord, decode, detect_format, encode

# half of each format's angle step, in degrees: the most one encoding can move a direction
ANGLE_HALF_STEP = {"ansi378:2004": 1.0, "ansi378:2007": 1.0, "ansi378:2009": 1.0,
                   "ansi378:2009am1": 1.0, "iso19794-2:2005": 180 / 256,
                   "iso19794-2:2011": 180 / 256, "iso19794-2:card": 180 / 64}
CARD = "iso19794-2:card"
RECORD_FORMATS = [f for f in FORMATS if f != CARD]


def _view(rng, position, view_number, n=40, width=400, height=420, ppi=500.0, extras=True):
    m = np.zeros(n, dtype=MINUTIA_DTYPE)
    m["x"] = rng.integers(0, width, n)
    m["y"] = rng.integers(0, height, n)
    m["angle"] = rng.uniform(0, 2 * math.pi, n)
    m["type"] = rng.integers(1, 3, n)
    m["quality"] = rng.integers(0, 101, n)
    singular, extended = [], {}
    if extras:
        singular = [SingularPoint("core", 200.0, 180.0, 1.0, (1.0,)),
                    SingularPoint("delta", 120.0, 300.0, 2.0, (2.0, 3.0, 4.0))]
        extended = {"ridge_counts": {"method": 1, "edges": [(0, 1, 5), (0, 2, 7)]},
                    "vendor_blocks": [{"type": 0x0221, "data": b"\x01\x02vendor"}]}
    return FingerprintTemplate(m, width, height, ppi, position=position, view=view_number,
                               quality=int(rng.integers(0, 101)), singular_points=singular,
                               extended=extended)


def _record(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    views = [_view(rng, 2, 0, **kwargs), _view(rng, 7, 0, **kwargs), _view(rng, 7, 1, **kwargs)]
    return FingerprintRecord.from_templates(views, cbeff_owner=0x42, cbeff_type=0x11,
                                            equipment_id=181)


def _angle_error_deg(a, b):
    return np.degrees(np.abs(np.angle(np.exp(1j * (a.astype(np.float64) - b)))))


def _assert_same_minutiae(got, want, half_step_deg, mm_tolerance=None):
    """Pixel formats keep whole-pixel coordinates exactly; with a card hop, positions are
    compared in millimetres within the card's 0.1 mm steps plus the pixel formats' own
    quantization (whole pixels, whole pixels per centimetre)."""
    assert len(got) == len(want)
    if mm_tolerance is None:
        np.testing.assert_array_equal(got.minutiae[["x", "y"]], want.minutiae[["x", "y"]])
    else:
        to_mm_got, to_mm_want = 25.4 / got.ppi, 25.4 / want.ppi
        for axis in ("x", "y"):
            err = np.abs(got.minutiae[axis] * to_mm_got - want.minutiae[axis] * to_mm_want)
            assert err.max() <= mm_tolerance + 1e-4
    assert _angle_error_deg(got.minutiae["angle"], want.minutiae["angle"]).max() \
        <= half_step_deg + 1e-3
    np.testing.assert_array_equal(got.minutiae["type"], want.minutiae["type"])


@pytest.mark.parametrize("fmt", RECORD_FORMATS)
def test_multi_view_round_trip(fmt):
    record = _record()
    data = encode(record, fmt)
    assert detect_format(data) == fmt
    back = decode(data)
    assert back.format == fmt and not back.notes
    assert [(v.position, v.view) for v in back.views] == [(2, 0), (7, 0), (7, 1)]
    for got, want in zip(back.views, record.views):
        _assert_same_minutiae(got, want, ANGLE_HALF_STEP[fmt])
        np.testing.assert_array_equal(got.minutiae["quality"], want.minutiae["quality"])
        assert got.quality == want.quality
        assert got.extended["ridge_counts"]["edges"] == want.extended["ridge_counts"]["edges"]
        assert got.extended["vendor_blocks"] == want.extended["vendor_blocks"]
        assert [(p.kind, p.x, p.y) for p in got.singular_points] == \
            [(p.kind, p.x, p.y) for p in want.singular_points]
        delta = got.singular_points[1]
        assert len(delta.angles) == 3
        assert _angle_error_deg(np.array(delta.angles), np.array([2.0, 3.0, 4.0])).max() \
            <= ANGLE_HALF_STEP[fmt] + 1e-3
    assert encode(back, fmt) == data   # decoding then encoding again is exact
    assert (back.cbeff_owner, back.equipment_id) == (
        (0x42, 181) if fmt.startswith("ansi") else (0, 181))


def test_card_round_trip_is_within_card_quantization():
    rng = np.random.default_rng(3)
    view = _view(rng, 2, 0, extras=False)
    data = encode(FingerprintRecord.from_templates([view]), CARD)
    assert data[:2] == b"\x7f\x2e" and detect_format(data) == CARD
    back = decode(data)
    _assert_same_minutiae(back.views[0], view, ANGLE_HALF_STEP[CARD], mm_tolerance=0.05)
    assert encode(back, CARD) == data
    bare = data[data.index(b"\x81") + 2:]
    assert len(bare) == 3 * len(view)
    np.testing.assert_array_equal(decode(bare, CARD).views[0].minutiae, back.views[0].minutiae)


@pytest.mark.parametrize("src,dst", list(itertools.permutations(FORMATS, 2)))
def test_conversion_keeps_every_minutia_within_quantization(src, dst):
    rng = np.random.default_rng(hash((src, dst)) % 2**32)
    view = _view(rng, 7, 0, extras=False)
    original = FingerprintRecord.from_templates([view])
    via = decode(encode(original, src))
    converted = decode(encode(via, dst))
    assert converted.format == dst
    card_hops = (src == CARD) + (dst == CARD)
    half_steps = ANGLE_HALF_STEP[src] + ANGLE_HALF_STEP[dst]
    # a card hop moves a point by at most 0.05 mm; a later pixel format rounds to a whole pixel
    # (0.025 mm) and its resolution to a whole pixel per cm (0.08% of <=25 mm, 0.02 mm)
    tolerance = 0.05 * card_hops + 0.05 if card_hops else None
    _assert_same_minutiae(converted.views[0], view, half_steps, mm_tolerance=tolerance)
    if CARD not in (src, dst):
        np.testing.assert_array_equal(converted.views[0].minutiae[["x", "y"]],
                                      view.minutiae[["x", "y"]])
        np.testing.assert_array_equal(converted.views[0].minutiae["quality"],
                                      view.minutiae["quality"])


def test_formats_with_one_geometry_refuse_views_that_differ():
    rng = np.random.default_rng(1)
    record = FingerprintRecord.from_templates([_view(rng, 2, 0), _view(rng, 3, 0, width=300)])
    for fmt in ("ansi378:2009", "iso19794-2:2011"):
        assert len(decode(encode(record, fmt)).views) == 2
    for fmt in ("ansi378:2004", "iso19794-2:2005"):
        with pytest.raises(TemplateFormatError, match="per view"):
            encode(record, fmt)


def test_card_refuses_minutiae_beyond_its_reach_and_multiple_views():
    rng = np.random.default_rng(2)
    wide = _view(rng, 2, 0, width=700, height=420, extras=False)   # 35 mm wide at 500 ppi
    wide.minutiae["x"][0] = 650
    with pytest.raises(TemplateFormatError, match="25.5 mm"):
        encode(FingerprintRecord.from_templates([wide]), CARD)
    with pytest.raises(TemplateFormatError, match="one finger view"):
        encode(_record(), CARD)


def test_encoder_names_the_minutia_that_does_not_fit():
    rng = np.random.default_rng(4)
    view = _view(rng, 2, 0, extras=False)
    view.minutiae["x"][5] = 400        # == width: outside the image
    with pytest.raises(TemplateFormatError, match=r"minutiae\[5\]\.x"):
        encode(FingerprintRecord.from_templates([view]), "iso19794-2:2005")


def test_card_preparation_removes_by_quality_then_distance_and_sorts():
    from biocap.templates.formats.iso19794_2_card import prepare_for_card

    m = np.zeros(6, dtype=MINUTIA_DTYPE)
    m["x"] = [100, 110, 120, 300, 10, 105]
    m["y"] = [100, 100, 100, 100, 100, 300]
    m["type"] = 1
    m["quality"] = [90, 20, 90, 90, 90, 90]
    view = FingerprintTemplate(m, 400, 400, 500.0)
    kept = prepare_for_card(view, max_minutiae=4, sort="x_descending")
    # the low-quality one goes first, then the farthest from the centre of mass (x=300)
    assert kept.minutiae["x"].tolist() == [120, 105, 100, 10]
    assert kept.minutiae["x"].tolist() == sorted(kept.minutiae["x"].tolist(), reverse=True)
    data = encode(FingerprintRecord.from_templates([kept]), CARD)
    assert len(decode(data).views[0]) == 4
    with pytest.raises(TemplateFormatError):
        prepare_for_card(view, sort="spiral")


def test_iso2005_reads_both_extended_block_length_conventions():
    rng = np.random.default_rng(5)
    view = _view(rng, 2, 0)
    for convention in ("data", "block"):
        view.extended["block_length_convention"] = convention
        data = encode(FingerprintRecord.from_templates([view]), "iso19794-2:2005")
        back = decode(data)
        assert back.views[0].extended["block_length_convention"] == convention
        assert back.views[0].extended["vendor_blocks"] == view.extended["vendor_blocks"]
        assert len(back.views[0].singular_points) == 2
        assert encode(back) == data


def test_points_just_inside_the_border_stay_inside():
    m = np.zeros(2, dtype=MINUTIA_DTYPE)
    m["x"], m["y"], m["type"] = [399.7, 0.2], [419.6, -0.3], 1
    view = FingerprintTemplate(m, 400, 420, 500.0)
    back = decode(encode(FingerprintRecord.from_templates([view]), "ansi378:2009")).views[0]
    assert back.minutiae["x"].tolist() == [399, 0] and back.minutiae["y"].tolist() == [419, 0]
