"""NFIQ 2's own block grid, orientation and sampling (`nfiq_blocks`), and that the
histograms built on them reproduce NFIQ 2's values on real prints."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biocap.imaging import to_working_resolution
from biocap.quality.fingerprint import nfiq_blocks as nb
from biocap.quality.fingerprint import ridge_signature as sig
from biocap.quality.fingerprint.model import spearman


def _ridges(period: float, angle: float, shape=(300, 280)) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
    return np.clip(128 + 90 * np.cos(phase), 0, 255).astype(np.uint8)


def test_near_white_frame_is_cropped():
    img = np.full((200, 150), 255, np.uint8)
    img[30:170, 20:120] = _ridges(9, 0.4, (140, 100))
    out = nb.crop_near_white(img)
    assert out.shape == (140, 100)
    assert nb.crop_near_white(np.full((50, 50), 252, np.uint8)).size == 0
    # a bright but not near-white frame stays
    grey = np.full((60, 60), 240, np.uint8)
    assert nb.crop_near_white(grey).shape == (60, 60)


@pytest.mark.parametrize("true_deg", [0.0, 90.0, 135.0, 30.0, 60.0, 110.0])
def test_orientation_keeps_nfiq2s_missing_factor_two(true_deg):
    block = _ridges(8.0, np.deg2rad(true_deg), (32, 32)).astype(np.float64)[None]
    got = np.rad2deg(nb._orientation(block)[0])
    a, b, c = (v[0] for v in nb._gradient_moments(block))
    expected = np.rad2deg(np.arctan2(c, a - b) / 2)
    assert got == pytest.approx(expected, abs=1e-6)
    # the textbook angle (with the factor 2) is the true ridge normal; NFIQ 2's differs from it
    # except on the axes and the diagonals
    textbook = np.rad2deg(np.arctan2(2 * c, a - b) / 2) % 180
    assert min(abs(textbook - true_deg % 180), 180 - abs(textbook - true_deg % 180)) < 3
    if true_deg % 45 == 0:
        assert min(abs(got % 180 - true_deg % 180), 180 - abs(got % 180 - true_deg % 180)) < 1
    else:
        assert min(abs(got % 180 - true_deg % 180), 180 - abs(got % 180 - true_deg % 180)) > 4


def test_clean_ridges_give_clear_windows_and_a_smooth_flow():
    img = _ridges(9.0, 0.0)
    m = nb.nfiq_block_measures(img)
    n = len(m["lcs"])
    # 300 x 280 px: blocks start at 2, 34, ... while start < size - 33: 9 x 8 blocks
    assert n == 9 * 8
    assert all(m[k].shape == (n, 16, 32) for k in ("lcs", "rvu", "fda"))
    assert sig.lcs(m["lcs"], m["lcs"].mean(axis=1)).min() > 0.8
    assert sig.fda(m["fda"].mean(axis=1)).mean() > 0.3
    # uniform ridges: neighbouring ridge and valley widths alike
    ratios = sig.rvu(m["rvu"].mean(axis=1))
    assert ratios.size > n and np.median(ratios) == pytest.approx(1.0, abs=0.35)
    assert m["ocl"].size == (300 // 32) * (280 // 32) and m["ocl"].min() > 0.9
    # one orientation everywhere: no block's angle differs from its neighbours by 4 degrees
    assert m["of"].size == 0


def test_background_and_degenerate_images():
    img = np.full((300, 300), 200, np.uint8)
    img[100:200, 100:200] = _ridges(9.0, 0.3, (100, 100))
    m = nb.nfiq_block_measures(img)
    # foreground cells (32 px from the corner) are 3..6 in both directions (the partly covered
    # edge cells have a high std too); a shifted block needs cells k and k + 1: 3 x 3 blocks
    assert len(m["lcs"]) == 9
    # a flat image: no foreground, no gradient
    flat = nb.nfiq_block_measures(np.full((200, 200), 90, np.uint8))
    assert len(flat["lcs"]) == 0 and flat["ocl"].size == 0 and flat["of"].size == 0
    tiny = nb.nfiq_block_measures(np.zeros((20, 300), np.uint8))
    assert len(tiny["fda"]) == 0 and tiny["ocl"].size == 0


def test_bad_input_raises():
    from biocap.errors import InvalidRequest, InvalidSample

    for bad in (np.zeros((100, 100), np.float32), np.zeros(100, np.uint8), [[1, 2], [3, 4]]):
        with pytest.raises(InvalidSample):
            nb.nfiq_block_measures(bad)
    with pytest.raises(InvalidSample):  # refused before anything is allocated
        nb.nfiq_block_measures(np.broadcast_to(np.uint8(0), (5000, 100)))
    for shape in ((0, 0), (0, 50), (1, 1)):
        empty = np.zeros(shape, np.uint8)
        m = nb.nfiq_block_measures(empty)
        assert len(m["lcs"]) == 0 and m["ocl"].size == 0 and m["of"].size == 0
    with pytest.raises(InvalidRequest):
        nb.nfiq_block_measures(_ridges(9.0, 0.2), windows=("lcs", "nope"))
    only = nb.nfiq_block_measures(_ridges(9.0, 0.2), windows=("lcs",))
    assert set(only) == {"lcs", "ocl", "of"}


@settings(max_examples=25, deadline=None)
@given(h=st.integers(0, 140), w=st.integers(0, 140), seed=st.integers(0, 2**16),
       levels=st.sampled_from([(0, 256), (250, 256), (0, 2), (100, 101)]))
def test_any_small_image_gives_finite_measures(h, w, seed, levels):
    img = np.random.default_rng(seed).integers(*levels, (h, w), dtype=np.uint8)
    m = nb.nfiq_block_measures(img)
    n = len(m["lcs"])
    assert all(m[k].shape == (n, 16, 32) for k in ("lcs", "rvu", "fda"))
    for values in (m["ocl"], m["of"], sig.lcs(m["lcs"], m["lcs"].mean(axis=1)),
                   sig.rvu(m["rvu"].mean(axis=1)), sig.fda(m["fda"].mean(axis=1))):
        assert np.all(np.isfinite(values))


def test_rvu_follows_nfiq2s_run_order():
    # ridge (1) / valley (0) columns: runs 3 V, 4 R, 2 V, 6 R, 3 V, 5 R, 4 V, then 5 R
    pattern = [0] * 3 + [1] * 4 + [0] * 2 + [1] * 6 + [0] * 3 + [1] * 5 + [0] * 4 + [1] * 5
    signature = np.where(np.array(pattern) == 1, 50.0, 200.0)[None, :]
    # NFIQ 2: complete runs between the first and last change of columns 0..30 are R4 V2 R6 V3
    # R5 V4; the first complete one is dropped, the rest taken backwards (V4 R5 V3 R6 V2), each
    # over the next, every second inverted starting at index 1 (the first complete run is a ridge)
    expected = [4 / 5, 3 / 5, 3 / 6, 2 / 6]
    assert sig.rvu(signature) == pytest.approx(expected)


@pytest.fixture(scope="module")
def nfiq2_reference():
    from biocap.evaluation import nbis_reference

    if not nbis_reference.available():
        pytest.skip("nbis-py (NFIQ 2) is not installed")
    return nbis_reference.NbisReference()


def _prints(fvc_db1):
    """16 prints: 8 of FVC2002 DB1_B and 8 of DB4_B, else the 16 generated ones of
    conftest.fvc_db1 (2 fingers x 8 impressions: normal, displaced, dry and wet)."""
    from conftest import shared_or_none

    root = shared_or_none("fingerprint")
    if root is None:
        return [cv2.imread(str(p), 0) for p in sorted(fvc_db1[0].glob("*_*.png"))]
    names = ["101_1.tif", "102_3.tif", "104_5.tif", "105_8.tif", "107_2.tif", "108_6.tif",
             "110_4.tif", "103_4.tif"]
    return [cv2.imread(str(root / f"fvc2002_db{db}_b" / name), 0) for db in (1, 4) for name in names]


@pytest.mark.slow
def test_histograms_reproduce_nfiq2s_own_values(fvc_db1, nfiq2_reference):
    ours, theirs = {}, {}
    prints = _prints(fvc_db1)
    assert len(prints) == 16
    for raw in prints:  # all at 500 ppi
        image = to_working_resolution(raw, 500.0)
        m = nb.nfiq_block_measures(image)
        values = {"OCL": m["ocl"], "OF": m["of"],
                  "LCS": sig.lcs(m["lcs"], m["lcs"].mean(axis=1)),
                  "RVUP": sig.rvu(m["rvu"].mean(axis=1)), "FDA": sig.fda(m["fda"].mean(axis=1))}
        ref = nfiq2_reference.analyse(image, 500.0).nfiq2_features
        for key, v in values.items():
            ours.setdefault(key, []).append(float(v.mean()) if v.size else 0.0)
            theirs.setdefault(key, []).append(ref[f"{key}_Bin10_Mean"])
    # OCL and orientation flow match exactly on nearly every print
    for key in ("OCL", "OF"):
        close = np.isclose(ours[key], theirs[key], atol=1e-6)
        assert close.mean() >= 0.8, (key, ours[key], theirs[key])
    # the signature measures: same ranking of prints (rounding of the rotation differs)
    for key in ("LCS", "RVUP", "FDA"):
        assert spearman(ours[key], theirs[key]) > 0.85, (key, ours[key], theirs[key])
        assert np.allclose(ours[key], theirs[key], rtol=0.1), (key, ours[key], theirs[key])
