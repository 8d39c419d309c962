"""Sensor-appearance variants of real prints (training data of the quality model)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from biocap.errors import InvalidSample
from research.quality_fingerprint import sensor_augment as aug
from biocap.quality.fingerprint.features import analyse
from research.quality_fingerprint.train import sensor_variants


def _print(h=320, w=288, period=9.0, full=False):
    """A clean synthetic ridge pattern: dark ridges on a light platen, a soft elliptical finger."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - w / 2, (yy - h / 2) * 0.8)
    ridges = 0.5 + 0.5 * np.cos(2 * np.pi * r / period)
    finger = 1.0 if full else np.clip((0.42 * w - np.hypot(xx - w / 2, (yy - h / 2) * 0.75)) / 10,
                                      0, 1)
    return np.clip(230 - 190 * ridges * finger, 0, 255).astype(np.uint8)


def test_variants_are_deterministic_per_seed_and_key():
    img = _print()
    a = list(sensor_variants("set/1_1.tif", img, 3, seed=7))
    b = list(sensor_variants("set/1_1.tif", img, 3, seed=7))
    assert [k for k, _ in a] == [k for k, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b))
    # variant k does not depend on how many are drawn, and other keys draw other variants
    first = list(sensor_variants("set/1_1.tif", img, 1, seed=7))
    assert first[0][0] == a[0][0] and np.array_equal(first[0][1], a[0][1])
    other = list(sensor_variants("set/1_2.tif", img, 1, seed=7))
    assert other[0][0] != a[0][0]
    # keys mark them as non-originals and name the parameters (the NFIQ 2 cache relies on it)
    assert all(k.startswith("set/1_1.tif#s") and "levels(" in k for k, _ in a)


def test_variants_keep_a_usable_uint8_print():
    img = _print()
    for _, out in sensor_variants("x", img, 8, seed=1):
        assert out.dtype == np.uint8 and out.ndim == 2
        assert 0.8 * img.shape[0] <= out.shape[0] <= 1.2 * img.shape[0]
        assert int(out.max()) - int(out.min()) > 20  # still a contrasted pattern


def test_skin_moisture_thins_or_thickens_the_ridges():
    img = _print()
    plain = analyse(img)["ridge_share_mean"]
    dry = analyse(aug.skin(img, -0.9, seed=3))["ridge_share_mean"]
    wet = analyse(aug.skin(img, 0.9))["ridge_share_mean"]
    assert dry < plain - 0.03 and wet > plain + 0.03


def test_resample_scales_the_ridge_period():
    img = _print(period=9.0)
    p0 = analyse(img)["period_p50"]
    p1 = analyse(aug.resample(img, 1.15))["period_p50"]
    assert p1 > p0 * 1.05
    assert aug.resample(img, 0.85).shape == (round(320 * 0.85), round(288 * 0.85))


def test_levels_move_platen_and_ridges():
    img = _print()
    out = aug.levels(img, black=60, white=180)
    assert abs(np.percentile(out, 99) - 180) <= 2 and abs(np.percentile(out, 1) - 60) <= 2
    assert out.std() < img.std() * 0.75
    saturated = aug.levels(img, black=0, white=320)
    assert (saturated == 255).mean() > (img >= 254).mean() + 0.1


def test_contact_keeps_only_the_centre():
    img = _print(full=True)
    out = aug.contact(img, keep=0.3)
    assert analyse(out)["fg_area_mm2"] < 0.75 * analyse(img)["fg_area_mm2"]


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((64, 64), np.float32),
                                 np.zeros((4, 64, 64), np.uint8), "image"])
def test_bad_images_raise(bad):
    with pytest.raises(InvalidSample):
        aug.random_sensor_variant(bad, np.random.default_rng(0))


def test_out_of_range_parameters_raise():
    img = _print()
    for call in (lambda: aug.levels(img, gamma=0.0), lambda: aug.resample(img, 5.0),
                 lambda: aug.skin(img, 2.0), lambda: aug.contact(img, keep=0.0)):
        with pytest.raises(InvalidSample):
            call()


@settings(max_examples=25, deadline=None)
@given(st.integers(16, 120), st.integers(16, 120), st.integers(0, 2**31 - 1),
       st.sampled_from(["zeros", "ones", "noise"]))
def test_any_small_or_flat_image_gives_a_variant(h, w, seed, kind):
    rng = np.random.default_rng(seed)
    img = {"zeros": np.zeros((h, w), np.uint8), "ones": np.full((h, w), 255, np.uint8),
           "noise": rng.integers(0, 256, (h, w), dtype=np.uint8)}[kind]
    key, out = aug.random_sensor_variant(img, rng)
    assert out.dtype == np.uint8 and out.ndim == 2 and key
