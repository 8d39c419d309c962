"""Fingerprint minutiae extraction: synthetic patterns with known minutiae, real FVC images,
resolution and rotation handling, hostile inputs, and the observable stages."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocap.errors import InvalidSample
from biocap.templates.fingerprint import (STAGES, FingerprintExtractor, extract_template,
                                          trace_extraction)
from biocap.templates.fingerprint.overlay import draw_minutiae
from biocap.templates.fingerprint.params import PERIOD_MARGIN, PERIOD_RANGE
from biocap.templates.fingerprint.resolution import WORKING_PPI
from biocap.templates.fingerprint.template import FingerprintTemplate, MinutiaType
from biocap.types import Modality, Sample

from conftest import shared_or_none

WAVELENGTH = 10


def _ridges_with_ending(size=220, x_end=None, y_end=110, wavelength=WAVELENGTH):
    """Vertical dark ridges every `wavelength` px; the ridge at the centre exists only below y_end,
    so it ends at (x_end, y_end) and its body runs downwards (ISO angle -pi/2)."""
    img = np.full((size, size), 230, np.uint8)
    k0 = size // (2 * wavelength)
    for k in range(size // wavelength + 1):
        x = k * wavelength
        top = y_end if k == k0 else 0
        cv2.line(img, (x, top), (x, size - 1), 40, max(1, wavelength // 2))
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return img, (k0 * wavelength, y_end)


def _nearest(template, x, y):
    m = template.minutiae
    assert m.size, "no minutiae found"
    d = np.hypot(m["x"] - x, m["y"] - y)
    return m[int(np.argmin(d))], float(d.min())


def _angle_diff(a, b):
    return abs((a - b + np.pi) % (2 * np.pi) - np.pi)


def test_synthetic_ridge_ending_position_type_direction():
    img, (x0, y0) = _ridges_with_ending()
    t = extract_template(Sample(img, 500, Modality.FINGERPRINT))
    m, d = _nearest(t, x0, y0)
    # within a ridge period: the ISO placement (at the valley fork, ahead of the ridge tip) and
    # enhancement move the point along the ridge (NBIS mindtct puts this one 6 px ahead)
    assert d < WAVELENGTH, f"nearest minutia {d:.1f} px from the drawn ridge ending"
    assert abs(m["x"] - x0) < 2, "the ending moved sideways off its ridge"
    assert m["type"] == MinutiaType.ENDING
    # the ridge runs downwards from the ending: on screen that is -90 degrees (ISO, counter-clockwise)
    assert _angle_diff(float(m["angle"]), 1.5 * np.pi) < np.deg2rad(20)
    assert 1 <= m["quality"] <= 100


def test_synthetic_bifurcation_is_the_inverted_ending():
    img, (x0, y0) = _ridges_with_ending()
    t = extract_template(Sample(255 - img, 500, Modality.FINGERPRINT))
    m, d = _nearest(t, x0, y0)
    # the ridge skeleton forks up to about a ridge period before the dividing valley begins
    assert d < 1.5 * WAVELENGTH, f"nearest minutia {d:.1f} px from the drawn bifurcation"
    assert abs(m["x"] - x0) < 2, "the bifurcation moved sideways off the ridge fork"
    assert m["type"] == MinutiaType.BIFURCATION
    # the valley that splits the ridge runs downwards: the branches, hence the direction, point down
    assert _angle_diff(float(m["angle"]), 1.5 * np.pi) < np.deg2rad(20)


def test_parallel_ridges_have_no_interior_minutiae():
    img = np.full((200, 200), 230, np.uint8)
    for x in range(0, 200, WAVELENGTH):
        cv2.line(img, (x, 0), (x, 199), 40, 5)
    t = extract_template(Sample(cv2.GaussianBlur(img, (0, 0), 1.2), 500, "fingerprint"))
    assert len(t) <= 2


def test_resolution_1000ppi_reports_own_pixels():
    img, (x0, y0) = _ridges_with_ending()
    big = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    t500 = extract_template(Sample(img, 500, "fingerprint"))
    t1000 = extract_template(Sample(big, 1000, "fingerprint"))
    assert (t1000.width, t1000.height, t1000.ppi) == (big.shape[1], big.shape[0], 1000)
    m5, _ = _nearest(t500, x0, y0)
    # the same ending, at twice the coordinates (pixel centres: x_1000 = 2 x_500 + 0.5)
    m, d = _nearest(t1000, 2 * m5["x"] + 0.5, 2 * m5["y"] + 0.5)
    assert d < 8, f"the 1000 ppi ending is {d:.1f} px from twice the 500 ppi one"
    assert m["type"] == m5["type"] == MinutiaType.ENDING
    assert _angle_diff(float(m["angle"]), float(m5["angle"])) < np.deg2rad(10)


_HAVE_FVC = shared_or_none("fingerprint") is not None


def _fvc(synthetic_prints, db, name, ppi):
    """An FVC2002 print; without the shared data the generated print named (finger, impression)
    by `name` (conftest.synthetic_prints, 500 ppi)."""
    if not _HAVE_FVC:
        return Sample(synthetic_prints[name], ppi, "fingerprint")
    path = shared_or_none("fingerprint", f"fvc2002_db{db}_b", f"{name}.tif")
    if path is None:
        pytest.skip(f"fvc2002_db{db}_b/{name}.tif not present")
    return Sample(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), ppi, "fingerprint")


@pytest.mark.parametrize("db,name,ppi", [(1, "101_1", 500), (2, "103_4", 569), (3, "105_2", 500),
                                         (4, "108_6", 500)] if _HAVE_FVC else
                         [(0, (3, 1), 500), (0, (3, 2), 500), (0, (6, 1), 500), (0, (6, 2), 500)])
def test_fvc_counts_and_foreground(synthetic_prints, db, name, ppi):
    sample = _fvc(synthetic_prints, db, name, ppi)
    trace = trace_extraction(sample)
    t = trace.template
    assert 12 <= len(t) <= 120, f"{len(t)} minutiae on fvc2002 db{db} {name}"
    assert set(np.unique(t.minutiae["type"])) <= {1, 2}
    assert np.all((t.minutiae["angle"] >= 0) & (t.minutiae["angle"] < 2 * np.pi))
    # every minutia lies on the foreground (mask mapped back to the sample's pixels)
    # (stages after segmentation see the foreground's bounding box: put it back in place)
    work = trace.resolution
    full = np.zeros((round(sample.height * work.scale_y), round(sample.width * work.scale_x)), np.uint8)
    fh, fw = trace.foreground.shape
    full[work.offset_y:work.offset_y + fh, work.offset_x:work.offset_x + fw] = trace.foreground
    mask = cv2.resize(full, (sample.width, sample.height), interpolation=cv2.INTER_NEAREST)
    xi = np.clip(np.round(t.minutiae["x"]).astype(int), 0, sample.width - 1)
    yi = np.clip(np.round(t.minutiae["y"]).astype(int), 0, sample.height - 1)
    assert mask[yi, xi].all()
    assert mask.mean() > 0.3  # the finger covers a good part of these images


def test_rotation_by_90_degrees_rotates_angles(synthetic_prints):
    sample = _fvc(synthetic_prints, 1, "102_3" if _HAVE_FVC else (6, 1), 500)
    t0 = extract_template(sample)
    rot = np.ascontiguousarray(np.rot90(sample.image))  # content turns 90 degrees counter-clockwise
    t1 = extract_template(Sample(rot, 500, "fingerprint"))
    w = sample.width
    # a point (x, y) of the original lands at (y, w - 1 - x) in the rotated image
    x1, y1 = t0.minutiae["y"], w - 1 - t0.minutiae["x"]
    d = np.hypot(x1[:, None] - t1.minutiae["x"][None], y1[:, None] - t1.minutiae["y"][None])
    matched = d.min(axis=1) < 6
    assert matched.mean() > 0.6, f"only {matched.mean():.0%} of minutiae found again after rotation"
    k = d.argmin(axis=1)[matched]
    diff = _angle_diff(t1.minutiae["angle"][k], t0.minutiae["angle"][matched] + np.pi / 2)
    assert np.median(diff) < np.deg2rad(10)
    assert (diff < np.deg2rad(30)).mean() > 0.8


def test_stages_are_observable_in_order():
    img, _ = _ridges_with_ending()
    seen = []
    t = extract_template(Sample(img, 500, "fingerprint"), observer=lambda n, v: seen.append((n, v)))
    assert [n for n, _ in seen] == list(STAGES)
    values = dict(seen)
    assert values["template"] is t
    field = values["orientation"]
    # vertical ridges: the ridge direction is pi/2 in the middle of the image
    assert _angle_diff(2 * float(field.angle[110, 60]), np.pi) < np.deg2rad(10)
    # stages work at the working resolution: the wavelength is in its pixels
    scale = values["resolution"].scale_x
    assert abs(values["frequency"].wavelength - WAVELENGTH * scale) < 1.0
    trace = trace_extraction(Sample(img, 500, "fingerprint"))
    assert trace.thinning.dtype == bool and trace.binarization.shape == trace.resolution.image.shape
    # 10 px at 500 ppi is 11.4 px at the working resolution: inside PERIOD_RANGE's margin, kept
    lo, hi = PERIOD_RANGE
    assert lo / (1 + PERIOD_MARGIN) <= WAVELENGTH * WORKING_PPI / 500 <= hi * (1 + PERIOD_MARGIN)
    assert trace.resolution.image.shape[1] == round(img.shape[1] * WORKING_PPI / 500)
    assert set(trace.timings_ms) == set(STAGES)


@pytest.mark.parametrize("wavelength", [5, 14])
def test_print_outside_the_period_range_is_resampled_to_it(wavelength):
    """A print whose ridges are much wider (or narrower) apart than the tuned range is extracted
    at the scale that brings its period into PERIOD_RANGE; minutiae come back in its own pixels,
    and the observer sees every stage once, in order, at the scale kept."""
    size = 22 * wavelength if wavelength > 10 else 220
    img, (x0, y0) = _ridges_with_ending(size=size, y_end=size // 2, wavelength=wavelength)
    seen = []
    trace = trace_extraction(Sample(img, 500, "fingerprint"), observer=lambda n, v: seen.append(n))
    assert seen == list(STAGES)
    lo, hi = PERIOD_RANGE
    assert lo - 0.6 <= trace.frequency.wavelength <= hi + 0.6
    native = wavelength * WORKING_PPI / 500
    assert abs(trace.resolution.scale_x - WORKING_PPI / 500 * np.clip(native, lo, hi) / native) < 0.05
    m, d = _nearest(trace.template, x0, y0)
    # ahead of the tip along the ridge by about a period (0.8 of one at 10 px, as in the test above)
    assert d < 1.2 * wavelength, f"nearest minutia {d:.1f} px from the drawn ridge ending"
    assert m["type"] == MinutiaType.ENDING


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InvalidSample):
        extract_template(np.zeros((100, 100), np.uint8))
    with pytest.raises(InvalidSample, match="iris"):
        extract_template(Sample(np.zeros((100, 100), np.uint8), 500, Modality.IRIS))
    with pytest.raises(TypeError):
        extract_template(Sample(np.zeros((100, 100), np.uint8), 500, "fingerprint"), observer=3)
    # refused before anything large is allocated: 5,000 px long at 500 ppi
    with pytest.raises(InvalidSample, match="limit"):
        extract_template(Sample(np.zeros((5000, 64), np.uint8), 500, "fingerprint"))


def test_blank_and_noise_images_give_empty_or_small_templates():
    blank = extract_template(Sample(np.full((300, 300), 255, np.uint8), 500, "fingerprint"))
    assert len(blank) == 0 and blank.width == 300
    dark = extract_template(Sample(np.zeros((300, 300), np.uint8), 500, "fingerprint"))
    assert len(dark) == 0
    rng = np.random.default_rng(1)
    noise = extract_template(Sample(rng.integers(0, 256, (300, 300), dtype=np.uint8), 500,
                                    "fingerprint"))
    assert len(noise) <= 15


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(8, 120), w=st.integers(8, 120), ppi=st.sampled_from([250, 500, 1000, 2000]),
       seed=st.integers(0, 2**16), smooth=st.booleans())
def test_arbitrary_small_images_never_crash(h, w, ppi, seed, smooth):
    img = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    if smooth:
        img = cv2.GaussianBlur(img, (0, 0), 2)
    t = extract_template(Sample(img, ppi, "fingerprint"))
    assert isinstance(t, FingerprintTemplate) and (t.width, t.height) == (w, h)
    assert np.all(np.isfinite(t.minutiae["x"])) and np.all(np.isfinite(t.minutiae["angle"]))


def test_extractor_plugin_object_and_overlay():
    ext = FingerprintExtractor()
    assert ext.name == "biocap-minutiae" and ext.modality is Modality.FINGERPRINT
    img, (x0, y0) = _ridges_with_ending()
    t = ext.extract(Sample(img, 500, "fingerprint"))
    over = draw_minutiae(img, t)
    assert over.shape == img.shape + (3,) and over.dtype == np.uint8
    # the ending is drawn in red (BGR) near its position
    patch = over[y0 - 8:y0 + 9, x0 - 8:x0 + 9].astype(int)
    assert ((patch[..., 2] > 200) & (patch[..., 0] < 80)).any()
    with pytest.raises(Exception):
        draw_minutiae(img.astype(np.float32), t)


def _pattern(phase):
    return np.clip(128 + 90 * np.cos(phase), 0, 255).astype(np.uint8)


def test_singular_points_core_and_delta_by_poincare_index():
    yy, xx = np.mgrid[0:240, 0:240].astype(np.float64) - 120
    # concentric ridges: the flow turns once around the centre (a whorl: core)
    whorl = extract_template(Sample(_pattern(2 * np.pi * np.hypot(xx, yy) / WAVELENGTH), 500,
                                    "fingerprint"))
    kinds = [(p.kind, p.x, p.y) for p in whorl.singular_points]
    assert any(k == "core" and np.hypot(x - 120, y - 120) < 20 for k, x, y in kinds), kinds
    assert not any(k == "delta" for k, _, _ in kinds)
    # hyperbolic ridges around a saddle: the flow turns backwards (delta)
    saddle = extract_template(Sample(_pattern(2 * np.pi * (xx * xx - yy * yy) / (WAVELENGTH * 120)),
                                     500, "fingerprint"))
    kinds = [(p.kind, p.x, p.y) for p in saddle.singular_points]
    assert any(k == "delta" and np.hypot(x - 120, y - 120) < 20 for k, x, y in kinds), kinds
    assert not any(k == "core" for k, _, _ in kinds)
