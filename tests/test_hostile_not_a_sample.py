"""Issue 17 item 7: images that are not a sample of the modality are scored low and refused by
extraction (`SDK.extract` runs the modality's quality `check_sample` first), with the reason.

Failed before: parallel stripes at ridge periods 6-12 px scored fingerprint quality 54-75
(test_stripes_are_not_fingerprints); extraction returned templates for stripes, noise, flat
frames, faces (test_fingerprint_extraction_refuses_non_fingerprints); iris extraction returned
templates for FVC fingerprints, LFW faces and rendered signatures
(test_shared_other_modalities..., test_no_iris_template_from_rendered_signatures).
Failed before the ridge-flow gates (`biocap/quality/fingerprint/ridge_flow.py`): concentric
rings and ellipses scored like prints and were extracted (test_rings_are_not_fingerprints);
generated NIR eyes and CASIA/MMU2 eyes passed as fingerprints were extracted
(test_generated_eyes_are_not_fingerprints, test_shared_eyes_are_not_fingerprints).
"""
from __future__ import annotations

import numpy as np
import pytest

from biocap.errors import NotASample
from biocap.quality.fingerprint import FingerprintQuality
from biocap.synthetic import non_samples as ns
from biocap.sdk import SDK
from biocap.types import Modality, Sample

MAX_SCORE = 20
QUALITY = FingerprintQuality()
SDK_ = SDK()  # the built-in providers, as an app gets them


def _extract(sample):
    return SDK_.extract(sample)


def _fp(img, ppi=500):
    return Sample(img, ppi, Modality.FINGERPRINT)


# ridge periods 5-14 px at 500 ppi, sine and square waves, several angles (the bench covers more)
STRIPES = [(5, 0.0, False), (6, 1.3, True), (8, 0.7, False), (9, 0.0, True), (10, 1.3, False),
           (12, 0.7, True), (14, 0.2, False)]


@pytest.mark.parametrize("period, angle, square", STRIPES)
def test_stripes_are_not_fingerprints(period, angle, square):
    img = ns.stripes(period, angle, square=square, noise_std=8, seed=period)
    report = QUALITY.assess(_fp(img))
    assert report.score <= MAX_SCORE, (period, angle, report.score)
    assert report.feedback[0].code == "not_a_fingerprint"
    assert "stripe" in report.reason or "ridge" in report.reason


# concentric rings (a whorl without cores, deltas or minutiae): centred, off-centre, centred
# outside the frame (arcs), elliptical; periods across the ridge band; with noise
RINGS = [(6, (0.5, 0.5), 1.0), (8, (0.2, 0.3), 1.0), (9, (0.5, 0.5), 1.4), (10, (0.0, 1.0), 1.0),
         (11, (1.4, 0.5), 1.0), (12, (0.4, 0.6), 2.0), (14, (0.5, 0.5), 1.0)]


@pytest.mark.parametrize("period, centre, aspect", RINGS)
def test_rings_are_not_fingerprints(period, centre, aspect):
    img = ns.rings(period, centre, aspect=aspect, noise_std=10, seed=period)
    report = QUALITY.assess(_fp(img))
    assert report.score <= MAX_SCORE, (period, centre, aspect, report.score)
    assert report.feedback[0].code == "not_a_fingerprint"
    assert "flow_deviation_deg" not in report.measures or report.measures["flow_deviation_deg"].ok is False
    with pytest.raises(NotASample, match="not a fingerprint"):
        _extract(_fp(img))


def test_generated_eyes_are_not_fingerprints(synthetic_eyes):
    """NIR eyes of `biocap.synthetic.iris` (fibres, crypts, lashes): texture, not ridges."""
    for key, (img, _) in sorted(synthetic_eyes.items())[:4]:
        report = QUALITY.assess(_fp(img))
        assert report.score <= MAX_SCORE, key
        with pytest.raises(NotASample, match="not a fingerprint"):
            _extract(_fp(img))


def test_generated_prints_pass_the_ridge_flow_gates(synthetic_prints):
    """The other side of the gates: rendered prints keep a wide periodic ridge area and bend
    away from any single quadratic field (margins in benchmarks/results/not_a_sample.md)."""
    from biocap.quality.fingerprint import ridge_flow
    for key, img in synthetic_prints.items():
        m = QUALITY.assess(_fp(img)).measures
        assert m["periodic_ridge_area_mm2"].value >= 2 * ridge_flow.MIN_PERIODIC_AREA_MM2, key
        assert m["flow_deviation_deg"].value >= 1.5 * ridge_flow.MIN_FLOW_DEVIATION_DEG, key
        QUALITY.check_sample(_fp(img))


def _others():
    """Non-fingerprint images made here (no shared data): noise, flat, other modalities' sim
    sources, a rendered signature."""
    from biocap_vendor_sim.sources import make_source
    out = {f"noise{i}": ns.noise(seed=i, blur_sigma=s) for i, s in enumerate((0, 1.5, 4))}
    out["flat0"], out["flat255"], out["flat128"] = ns.flat(0), ns.flat(255), ns.flat(128)
    rng = np.random.default_rng(0)
    out["iris-synthetic"] = make_source("iris-synthetic").next_sample(1, rng).image
    out["face-synthetic"] = make_source("face-synthetic").next_sample(0, rng).image
    pen = make_source("signature-synthetic").next_sample(0, rng).pen
    out["signature-synthetic"] = ns.rendered_pen(pen.x, pen.y, pen.pen_down)
    return out


OTHERS = _others()


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_other_images_score_low_as_fingerprints(name):
    assert QUALITY.assess(_fp(OTHERS[name])).score <= MAX_SCORE


@pytest.mark.parametrize("name", ["flat0", "flat255", "noise0", "face-synthetic", "iris-synthetic",
                                  "signature-synthetic", "stripes9", "stripes12"])
def test_fingerprint_extraction_refuses_non_fingerprints(name):
    img = {"stripes9": ns.stripes(9, 0.4), "stripes12": ns.stripes(12, 0.0, square=True)}.get(name)
    img = OTHERS[name] if img is None else img
    with pytest.raises(NotASample, match="not a fingerprint|too small"):
        _extract(_fp(img))


def test_real_shaped_synthetic_print_is_still_extracted():
    from biocap_vendor_sim.sources import make_source
    img = make_source("fingerprint-synthetic").next_sample(2, np.random.default_rng(1)).image
    assert QUALITY.assess(_fp(img)).score > MAX_SCORE
    assert len(_extract(_fp(img)).minutiae) > 10


def _iris_sample(img):
    return Sample(img, 420, Modality.IRIS)


@pytest.mark.parametrize("name", ["face-synthetic", "flat0", "flat255", "noise0", "signature-synthetic"])
def test_no_iris_template_from_non_eyes(name):
    from biocap.quality.iris.provider import IrisQuality
    img = OTHERS[name]
    assert IrisQuality().assess(_iris_sample(img)).score <= MAX_SCORE
    with pytest.raises(NotASample):
        _extract(_iris_sample(img))


def test_no_iris_template_from_rendered_signatures():
    from biocap_vendor_sim.sources import make_source
    src = make_source("signature-synthetic")
    for seed in range(4):
        pen = src.next_sample(0, np.random.default_rng(seed)).pen
        with pytest.raises(NotASample):
            _extract(_iris_sample(ns.rendered_pen(pen.x, pen.y, pen.pen_down)))


def test_no_iris_template_from_a_fingerprint_or_stripes():
    from biocap_vendor_sim.sources import make_source
    fp = make_source("fingerprint-synthetic").next_sample(2, np.random.default_rng(1)).image
    for img in (fp, ns.stripes(9, 0.4)):
        with pytest.raises(NotASample):
            _extract(_iris_sample(img))


def test_synthetic_iris_is_still_extracted():
    assert _extract(_iris_sample(OTHERS["iris-synthetic"])).usable_bits > 500


# --- on the shared research data, when present -----------------------------------------------
def _files(root, pattern, step):
    return sorted(root.glob(pattern))[::step]


@pytest.mark.slow
def test_shared_other_modalities_score_low_and_are_refused(shared_data):
    import cv2
    iris = _files(shared_data, "iris/casia_irisv1/*/*.jpg", 150)
    faces = _files(shared_data, "face/lfw7x50/*/*.jpg", 70)
    prints = _files(shared_data, "fingerprint/fvc2002_db*_b/*.tif", 64)
    assert iris and faces and prints
    for path in iris + faces:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert QUALITY.assess(_fp(img)).score <= MAX_SCORE, path
    for path in iris + faces:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        with pytest.raises(NotASample):
            _extract(_fp(img))
    for path in prints + faces:
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        with pytest.raises(NotASample):
            _extract(_iris_sample(img))


@pytest.mark.slow
def test_shared_eyes_are_not_fingerprints(shared_data):
    """Every 25th CASIA-IrisV1 and MMU2 eye is refused by fingerprint extraction (before: 67 of
    76 CASIA eyes extracted), and every 16th FVC 2000/2002 B print still passes."""
    import cv2
    eyes = _files(shared_data, "iris/casia_irisv1/*/*.jpg", 25) + _files(shared_data, "iris/mmu2/*/*.png", 25)
    prints = _files(shared_data, "fingerprint/fvc200*_db*_b/*.tif", 16)
    assert len(eyes) > 40 and len(prints) == 40
    for path in eyes:
        with pytest.raises(NotASample, match="not a fingerprint"):
            _extract(_fp(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)))
    for path in prints:
        QUALITY.check_sample(_fp(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)))


@pytest.mark.parametrize("name", ["flat0", "flat255", "stripes9"])
def test_cli_template_extract_refuses_with_the_reason(name, tmp_path, capsys):
    import cv2
    from biocap.cli import main
    img = ns.stripes(9, 0.4) if name == "stripes9" else OTHERS[name]
    path = tmp_path / f"{name}.png"
    cv2.imwrite(str(path), img)
    assert main(["template", "extract", str(path), "--ppi", "500", "--out", str(tmp_path / "t.ist")]) == 2
    err = capsys.readouterr().err
    assert "not a fingerprint" in err and not (tmp_path / "t.ist").exists()
