"""NFIQ 2-style ridge-valley signature measures (FDA, LCS, RVU) and the synthetic training prints."""
from __future__ import annotations

import numpy as np
import pytest

from biocap.quality.fingerprint import ridge_signature as sig


def _ridges(period: float, angle: float, size: int = 96, noise: float = 0.0, seed: int = 0):
    """Sinusoidal ridges whose normal points along `angle`, centred on the image."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period
    img = 128 + 90 * np.cos(phase)
    img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 0.6, np.pi / 2, 2.4])
def test_clean_ridges_score_high_whatever_their_direction(angle):
    # 8 px: exactly four periods across the 32-px window, so the spectrum has one clean peak
    img = _ridges(8.0, angle)
    centre = np.array([[47.5, 47.5]])
    windows, signature = sig.signatures(img, centre, np.array([angle]))
    assert windows.shape == (1, sig.ALONG, sig.ACROSS) and signature.shape == (1, sig.ACROSS)
    assert sig.fda(signature)[0] > 0.5
    assert sig.lcs(windows, signature)[0] > 0.85
    ratios = sig.rvu(signature)
    assert ratios.size >= 2 and np.all((ratios > 0.5) & (ratios < 2.0))


def test_wrong_direction_or_noise_lowers_clarity():
    clean = _ridges(9.0, 0.3)
    centre = np.array([[47.5, 47.5]])
    w, s = sig.signatures(clean, centre, np.array([0.3]))
    good = sig.lcs(w, s)[0]
    # sampled along the ridges instead of across them: no ridge-valley structure
    w2, s2 = sig.signatures(clean, centre, np.array([0.3 + np.pi / 2]))
    assert sig.lcs(w2, s2)[0] < good - 0.3
    noisy = _ridges(9.0, 0.3, noise=120, seed=3)
    w3, s3 = sig.signatures(noisy, centre, np.array([0.3]))
    assert sig.lcs(w3, s3)[0] < good
    assert sig.fda(s3)[0] < sig.fda(s)[0]
    flat = np.full((96, 96), 120, np.float32)
    w4, s4 = sig.signatures(flat, centre, np.array([0.0]))
    assert sig.lcs(w4, s4)[0] == 0.0


def test_histogram_counts_values_like_nfiq2():
    values = np.array([0.0, 0.69, 0.70, 0.86, 0.87, 0.99])
    h = sig.histogram(values, sig.LCS_LIMITS)
    assert h[:10] == [0, 2, 1, 0, 0, 0, 0, 0, 1, 2]
    assert h[10] == pytest.approx(values.mean()) and h[11] == pytest.approx(values.std())
    assert sig.histogram(np.zeros(0), sig.LCS_LIMITS) == [0.0] * 12
    assert len(sig.histogram_names("x")) == 12


def test_empty_block_lists():
    img = np.zeros((64, 64), np.float32)
    w, s = sig.signatures(img, np.zeros((0, 2)), np.zeros(0))
    assert w.shape[0] == 0 and sig.fda(s).size == 0 and sig.lcs(w, s).size == 0
    assert sig.rvu(s).size == 0


def test_synthetic_training_prints_are_reproducible():
    from research.quality_fingerprint.synthetic_training import (IMPRESSIONS_PER_MASTER,
                                                                 synthetic_images)

    a = list(synthetic_images(1, 11))
    b = list(synthetic_images(1, 11))
    assert len(a) == IMPRESSIONS_PER_MASTER
    assert [k for k, _ in a] == [k for k, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    assert len({k for k, _ in a}) == len(a)
    assert all(img.dtype == np.uint8 and img.ndim == 2 and img.std() > 5 for _, img in a)


def test_feature_vector_carries_the_nfiq2_histograms():
    from biocap.quality.fingerprint.features import analyse

    yy, xx = np.mgrid[0:320, 0:320].astype(np.float64)
    # concentric ridges (period 9 px) on a bright platen, like an optical print
    r = np.hypot(xx - 160, yy - 170)
    img = np.where(r < 140, 128 + 100 * np.cos(2 * np.pi * r / 9), 235).astype(np.uint8)
    a = analyse(img)
    blocks = a["nfiq_blocks"]
    assert blocks > 40
    # every block NFIQ 2 measures lands in exactly one bin of its LCS histogram; OCL counts every
    # full block of the image with any gradient (the ridged background blocks too, not the flat
    # platen corners), so more; FDA and flow count our own foreground blocks
    assert sum(a[f"nfiq_lcs_bin{i}"] for i in range(10)) == blocks
    assert blocks < sum(a[f"nfiq_ocl_bin{i}"] for i in range(10)) < (320 // 32) ** 2
    assert sum(a[f"nfiq_fda_bin{i}"] for i in range(10)) > 40
    assert a["nfiq_lcs_mean"] > 0.6 and a["nfiq_ocl_mean"] > 0.6
    noise = np.random.default_rng(1).integers(0, 256, (320, 320), dtype=np.uint8)
    b = analyse(noise)
    assert b["nfiq_lcs_mean"] < a["nfiq_lcs_mean"] - 0.3


def test_many_blocks_go_through_remap_in_slices():
    # cv2.remap refuses maps of 32,767 rows or more (2,048 blocks of 16 rows): a 2,048-px
    # image has 4,096 blocks
    img = _ridges(8.0, 0.0, size=64)
    n = 4100
    centres = np.tile([[31.5, 31.5]], (n, 1))
    windows, signature = sig.signatures(img, centres, np.zeros(n))
    assert windows.shape == (n, sig.ALONG, sig.ACROSS)
    assert np.allclose(signature, signature[0])
