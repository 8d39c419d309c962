"""The quality model's numpy trees and ridge, its file format, and the imaging helpers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap.errors import InvalidDataError, InvalidSample
from biocap.imaging import (bounded_downscale, check_ppi, normalize_mean_std, resampled_size,
                            stretch_contrast, to_working_resolution)
from biocap.quality.fingerprint.provider import FingerprintQuality
from biocap.quality.fingerprint.model import GradientBoostedTrees, QualityModel, rank, spearman


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = 3 * (x[:, 0] > 0.3) + np.sin(x[:, 1]) * 2 + 0.5 * x[:, 2] + rng.normal(0, 0.1, n)
    return x, y


def test_spearman_and_rank():
    assert rank([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 10, 50), rng.integers(0, 10, 50)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)


def test_boosted_trees_learn_a_nonlinear_function():
    x, y = _toy()
    model = GradientBoostedTrees(n_trees=80, depth=3, learning_rate=0.2).fit(x[:300], y[:300])
    pred = model.predict(x[300:])
    assert np.corrcoef(pred, y[300:])[0, 1] > 0.9
    constant = GradientBoostedTrees(n_trees=5).fit(x[:300], np.full(300, 7.0))
    assert np.allclose(constant.predict(x[300:]), 7.0)


def test_model_file_round_trip(tmp_path):
    x, y = _toy()
    model = QualityModel(n_trees=20, depth=2).fit(x, y)
    path = tmp_path / "m.npz"
    model.save(path, feature_names=[f"f{i}" for i in range(5)], meta={"k": 1})
    loaded = QualityModel.load(path)
    assert np.allclose(loaded.predict(x), model.predict(x))
    assert loaded.feature_names == tuple(f"f{i}" for i in range(5)) and loaded.meta == {"k": 1}
    with pytest.raises(InvalidDataError):
        loaded.predict(x[:, :4])


def test_feature_mask_ignores_masked_columns_and_survives_saving(tmp_path):
    x, y = _toy()
    used = np.array([True, True, True, False, False])
    model = QualityModel(n_trees=20, depth=2, used=used).fit(x, y)
    shuffled = x.copy()
    shuffled[:, 3:] = np.random.default_rng(5).normal(size=(len(x), 2)) * 50
    assert np.allclose(model.predict(shuffled), model.predict(x))
    # the masked model still learns from the columns it uses, and an unmasked one differs
    assert np.corrcoef(model.predict(x), y)[0, 1] > 0.9
    path = tmp_path / "masked.npz"
    model.save(path, feature_names=[f"f{i}" for i in range(5)])
    loaded = QualityModel.load(path)
    assert loaded.used.tolist() == used.tolist()
    assert np.allclose(loaded.predict(shuffled), model.predict(x))


def test_shipped_model_uses_the_training_feature_subset():
    from biocap.quality.fingerprint.provider import load_model
    from research.quality_fingerprint.train import feature_mask

    assert load_model().used.tolist() == feature_mask().tolist()


def test_shipped_model_was_trained_with_the_current_training_data_settings():
    # a model left over from other settings would not match the figures the report quotes
    from biocap.quality.fingerprint.provider import load_model
    from research.quality_fingerprint import train as tf

    meta = load_model().meta
    assert meta["seed"] == tf.SEED and meta["degraded_per_image"] == tf.DEGRADED_PER_IMAGE
    assert meta["sensor_variants_per_image"] == tf.SENSOR_VARIANTS_PER_IMAGE
    assert meta["original_weight"] == tf.ORIGINAL_WEIGHT


def test_training_weights_real_originals_by_repetition():
    from research.quality_fingerprint.train import SYNTHETIC, fit_model, original_repeats

    keys = ["db1/1_1.tif", "db1/1_1.tif#0:blur(sigma=2)", "db1/1_1.tif#s0:levels(gamma=1)",
            "synthetic/1/1_1:normal:x"]
    sets = ["db1", "db1", "db1", SYNTHETIC]
    assert original_repeats(keys, sets, 3).tolist() == [3, 1, 1, 1]
    x, y = _toy(200)
    repeats = np.where(np.arange(200) % 2 == 0, 3, 1)
    params = dict(n_trees=10, depth=2, linear_weight=1.0)
    weighted = fit_model(x, y, repeats, params)
    rows = np.repeat(np.arange(200), repeats)
    assert np.allclose(weighted.predict(x), QualityModel(**params).fit(x[rows], y[rows]).predict(x))
    plain = fit_model(x, y, np.ones(200, int), params)
    assert not np.allclose(weighted.predict(x), plain.predict(x))


def test_model_does_not_extrapolate_beyond_its_training_range():
    x, y = _toy()
    model = QualityModel(n_trees=20, depth=2, linear_weight=1.0).fit(x, y)
    far = x[:5] * 1000.0  # far outside anything seen in training
    assert np.allclose(model.predict(far), model.predict(np.clip(far, x.min(0), x.max(0))))
    assert model.predict(far).max() <= y.max() + 3 * y.std()


def test_corrupt_model_file_is_reported(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InvalidDataError):
        QualityModel.load(bad)
    with pytest.raises(InvalidDataError):
        QualityModel.load(tmp_path / "missing.npz")
    with pytest.raises(InvalidDataError):
        stripes = (127 + 100 * np.sin(np.indices((200, 200))[1] * 0.7)).astype(np.uint8)
        FingerprintQuality(model_path=bad).assess(stripes, ppi=500)


def test_shipped_model_is_small_and_packaged():
    from biocap.quality.fingerprint.provider import MODEL_PATH

    assert MODEL_PATH.exists() and MODEL_PATH.stat().st_size < 200_000
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["*"]
    assert "*.npz" in patterns


# --- imaging ---------------------------------------------------------------------------------------
def test_resampling_sizes_and_interpolation():
    image = (np.indices((569, 300)).sum(0) % 2 * 255).astype(np.uint8)
    out = to_working_resolution(image, 569)
    assert out.shape == (500, round(300 * 500 / 569))
    assert to_working_resolution(image, 503) is image  # within 1%: unchanged
    up = to_working_resolution(image[:250, :150], 250)
    assert up.shape == (500, 300)
    with pytest.raises(InvalidSample, match="limit"):
        resampled_size((8000, 8000), 250)  # would be 16,000 px at 500 ppi


@pytest.mark.parametrize("ppi", [0, 10, 249, 2001, float("inf"), "x", None])
def test_check_ppi_refuses(ppi):
    with pytest.raises(InvalidSample):
        check_ppi(ppi)


def test_normalisation_helpers():
    image = np.random.default_rng(0).integers(50, 100, (64, 64)).astype(np.uint8)
    norm = normalize_mean_std(image, 128, 40)
    assert abs(norm.mean() - 128) < 1e-3 and abs(norm.std() - 40) < 1e-2
    assert np.all(normalize_mean_std(np.full((9, 9), 7, np.uint8)) == 128)
    stretched = stretch_contrast(image)
    assert stretched.min() == 0 and stretched.max() == 255
    small, factor = bounded_downscale(np.zeros((1000, 500), np.uint8), 100)
    assert small.shape == (100, 50) and factor == pytest.approx(0.1)


# --- no crash on arbitrary well-formed images -----------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(h=st.integers(8, 300), w=st.integers(8, 300), seed=st.integers(0, 2**31),
       kind=st.sampled_from(["noise", "stripes", "blocks", "gradient"]),
       ppi=st.sampled_from([300, 500, 569, 1000]))
def test_any_image_gives_a_report_or_a_clear_error(h, w, seed, kind, ppi):
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((h, w))
    if kind == "noise":
        image = rng.integers(0, 256, (h, w), dtype=np.uint8)
    elif kind == "stripes":
        period = rng.uniform(3, 30)
        image = (127 + 120 * np.sin(2 * np.pi * (xx * rng.uniform(-1, 1) + yy) / period)).astype(np.uint8)
    elif kind == "blocks":
        image = (rng.integers(0, 2, (h // 8 + 1, w // 8 + 1)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)[:h, :w]
    else:
        image = ((xx + yy) * 255 // max(h + w - 2, 1)).astype(np.uint8)
    try:
        report = FingerprintQuality().assess(image, ppi=ppi)
    except InvalidSample:
        return
    assert report.score is not None and 0 <= report.score <= 100
    assert report.score > 40 or report.feedback or report.reason is None
