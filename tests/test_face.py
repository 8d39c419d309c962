"""Face: detection, ISO/IEC 29794-5 quality, token image, template, comparator, bench.

Runs on scikit-image's astronaut() (a registry-shipped photograph) and images made from it;
the LFW checks run only when ../shared/data/face/lfw7x50 is present.
"""
import json
import shutil

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("dlib")

from biocap.errors import BiocapError, InvalidRequest, InvalidSample, TemplateFormatError  # noqa: E402
from biocap.evaluation.face_degrade import DEGRADATIONS  # noqa: E402
from biocap.matching.face import FaceComparator  # noqa: E402
from biocap.quality.face import FaceQuality, detect_faces  # noqa: E402
from biocap.quality.face.measures import components  # noqa: E402
from biocap.templates.face import FaceExtractor, FaceTemplate  # noqa: E402
from biocap.templates.face.token import pas_photo, token_image  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402


@pytest.fixture(scope="module")
def astro():
    from skimage import data
    rgb = np.ascontiguousarray(data.astronaut()[0:340, 60:390])  # the head and some background
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), rgb


@pytest.fixture(scope="module")
def astro_face(astro):
    faces = detect_faces(astro[0])
    assert len(faces) == 1
    return faces[0]


def test_detection_gives_one_face_with_eyes_in_the_subjects_terms(astro_face):
    f = astro_face
    assert 38 < f.inter_eye_distance < 50
    assert f.right_eye[0] < f.left_eye[0]  # the subject's right eye is on the image's left
    assert f.right_eye[1] < f.nose[1] and f.left_eye[1] < f.nose[1]
    x, y, w, h = f.box
    assert x < f.right_eye[0] < f.left_eye[0] < x + w


def test_quality_report_has_every_component_with_raw_value_and_score(astro):
    report = FaceQuality().assess(Sample(astro[0], 100, Modality.FACE))
    assert 50 <= report.score <= 100
    names = {"single_face", "inter_eye_distance", "head_size", "crop", "yaw", "pitch", "roll",
             "sharpness", "luminance_mean", "luminance_variance", "under_exposure",
             "over_exposure", "dynamic_range", "illumination_uniformity",
             "background_uniformity", "eyes_open", "mouth_closed", "eyes_not_occluded",
             "mouth_not_occluded", "compression"}
    assert names <= set(report.measures)
    for m in report.measures.values():
        assert 0 <= m.score <= 100 and np.isfinite(m.value)
    json.dumps(report.to_json(), allow_nan=False)
    # the astronaut is 43 px between the eyes, under ISO/IEC 19794-5's 90: the first hint says so
    assert report.feedback[0].code == "move_closer"


def test_every_component_falls_under_its_degradation(astro, astro_face):
    grey = astro[0]
    before = components(grey, [astro_face])
    rng = np.random.default_rng(3)
    for name, degrade in DEGRADATIONS.items():
        degraded = degrade(grey, astro_face, rng)
        after = components(degraded, detect_faces(degraded))
        assert after.get(name, None) is None or after[name].score < before[name].score, name


def test_feedback_names_what_to_fix(astro, astro_face):
    q = FaceQuality()
    two = DEGRADATIONS["single_face"](astro[0], astro_face, np.random.default_rng(0))
    r = q.assess(Sample(two, 100, Modality.FACE))
    assert r.feedback[0].code == "multiple_faces" and r.score <= 5
    shut = DEGRADATIONS["eyes_open"](astro[0], astro_face, np.random.default_rng(0))
    assert "eyes_closed" in {f.code for f in q.assess(Sample(shut, 100, Modality.FACE)).feedback}


@pytest.mark.parametrize("image", [
    np.zeros((240, 320), np.uint8),                                       # grey, nothing in it
    np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8),  # noise
])
def test_not_a_face_scores_zero_with_its_reason(image):
    r = FaceQuality().assess(Sample(image, 100, Modality.FACE))
    assert r.score == 0 and r.reason == "no face found" and r.feedback[0].code == "no_face"
    with pytest.raises(InvalidSample, match="no face"):
        FaceExtractor().extract(Sample(image, 100, Modality.FACE))


def test_tiny_huge_and_wrong_inputs_raise_clear_errors(astro):
    with pytest.raises(InvalidSample, match="too small"):
        FaceQuality().assess(Sample(np.full((20, 20), 128, np.uint8), 100, Modality.FACE))
    big = cv2.resize(astro[0], (4000, 4000))  # a huge frame: detected at a bounded working size
    assert FaceQuality().quick_assess(Sample(big, 100, Modality.FACE)).measures["single_face"].value == 1
    with pytest.raises(InvalidSample, match="does not match"):
        Sample(astro[0], 100, Modality.FACE, colour=np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InvalidSample):
        FaceQuality().assess(Sample(astro[0], 500, Modality.FINGERPRINT))


def test_token_image_geometry(astro):
    s = Sample(astro[0], 100, Modality.FACE, colour=astro[1])
    t = token_image(s, 320)
    assert t.image.shape == (427, 320, 3)
    assert t.right_eye == pytest.approx((0.375 * 320, 0.6 * 320), abs=0.5)
    assert t.left_eye == pytest.approx((0.625 * 320, 0.6 * 320), abs=0.5)
    grey = token_image(Sample(astro[0], 100, Modality.FACE))  # default width from the eyes
    assert grey.image.ndim == 2 and grey.image.shape[1] >= 240
    again = detect_faces(t.image)[0]  # the token's eyes are where the geometry puts them
    assert np.hypot(*(again.right_eye - t.right_eye)) < 4
    p = pas_photo(s, 30, 40, 300)
    assert p.image.shape[:2] == (472, 354) and p.ppi == 300
    with pytest.raises(InvalidRequest):
        pas_photo(s, 30, 40, 5000)
    with pytest.raises(InvalidRequest):
        token_image(s, 100)


def test_template_round_trip_and_similarity_scale(astro):
    ex = FaceExtractor()
    colour = ex.extract(Sample(astro[0], 100, Modality.FACE, colour=astro[1]))
    grey = ex.extract(Sample(astro[0], 100, Modality.FACE))
    assert colour.embedding.dtype == np.float32 and colour.embedding.shape == (128,)
    assert abs(float(np.linalg.norm(colour.embedding)) - 1) < 1e-5
    back = FaceTemplate.from_bytes(colour.to_bytes())
    assert np.array_equal(back.embedding, colour.embedding) and back.box == colour.box
    comp = FaceComparator()
    assert comp.compare(colour, back) == pytest.approx(1.0, abs=1e-6)
    assert comp.compare(colour, grey) > comp.threshold_for_fmr(1e-4)
    assert comp.compare(colour.embedding, -colour.embedding) == pytest.approx(0.0, abs=1e-6)
    t = [comp.threshold_for_fmr(f) for f in (0.1, 0.01, 1e-3, 1e-4)]
    assert t == sorted(t) and all(0 < v < 1 for v in t)
    with pytest.raises(InvalidRequest):
        comp.threshold_for_fmr(1e-9)
    gallery = comp.gallery()  # 1:N on the same scale and calibration as 1:1
    gallery.add("a", colour)
    hit = gallery.search(colour, top_k=1, fmr=1e-4)
    assert hit.best.id == "a" and hit.best.score == pytest.approx(comp.compare(colour, colour))
    assert hit.threshold == pytest.approx(comp.threshold_for_fmr(1e-4)) and hit.matches
    with pytest.raises(BiocapError):
        comp.compare(colour, "not a template")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=700))
def test_hostile_template_bytes_raise_the_format_error(data):
    try:
        FaceTemplate.from_bytes(data)
    except TemplateFormatError:
        pass


def test_damaged_template_names_the_field():
    t = FaceTemplate(np.ones(128, np.float32))
    raw = bytearray(t.to_bytes())
    raw[100] ^= 0xFF
    with pytest.raises(TemplateFormatError, match="crc32"):
        FaceTemplate.from_bytes(bytes(raw))
    with pytest.raises(TemplateFormatError, match="version"):
        FaceTemplate.from_bytes(raw[:4] + b"\x09" + raw[5:])


def test_simulated_camera_gives_faces_the_pipeline_accepts(monkeypatch):
    from biocap_vendor_sim.sources import make_source
    src = make_source("face-realistic")
    rng = np.random.default_rng(11)
    q = FaceQuality()
    scores = []
    for _ in range(6):
        s = src.next_sample(0, rng)
        assert s.image.shape == (480, 640)
        r = q.quick_assess(Sample(s.image, s.ppi, Modality.FACE))
        assert r.measures["single_face"].value == 1
        scores.append(r.score)
    assert np.median(scores) >= 60 and len(set(scores)) > 1  # accepted, and it varies


# --- on LFW (shared data) -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lfw(shared_data):
    root = shared_data / "face" / "lfw7x50"
    if not root.is_dir():
        pytest.skip(f"LFW faces not found at {root}")
    return root


def test_bench_verify_cli_on_a_small_lfw_subset(lfw, tmp_path):
    from biocap.cli import main
    people = sorted(p for p in lfw.iterdir() if p.is_dir())[:2]
    for person in people:
        (tmp_path / "set" / person.name).mkdir(parents=True)
        for f in sorted(person.glob("*.jpg"))[:4]:
            shutil.copy(f, tmp_path / "set" / person.name / f.name)
    out = tmp_path / "verify.json"
    assert main(["bench", "verify", "--modality", "face", "--dataset", str(tmp_path / "set"),
                 "--layout", "lfw-folders", "--json", str(out), "--reference", "none"]) == 0
    r = json.loads(out.read_text())
    assert {"eer", "fmr1000", "fte", "n_genuine", "n_impostor", "extract_ms_median",
            "compare_per_s"} <= set(r)
    assert r["n_genuine"] == 12 and r["n_impostor"] == 16 and r["fte"] == 0
    assert r["eer"] <= 0.1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(8, 300), st.integers(8, 300), st.integers(0, 2**32 - 1))
def test_quality_and_extraction_never_crash_on_arbitrary_images(h, w, seed):
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 256, (h, w), dtype=np.uint8), (0, 0), rng.uniform(0.5, 4))
    sample = Sample(image, 100, Modality.FACE)
    try:
        r = FaceQuality().assess(sample)
        assert r.score is not None and 0 <= r.score <= 100
        json.dumps(r.to_json(), allow_nan=False)
    except InvalidSample:
        assert min(h, w) < 32
    try:  # noise rarely holds a face; either way a template or the clear error
        assert isinstance(FaceExtractor().extract(sample), FaceTemplate)
    except InvalidSample:
        pass


def test_bench_quality_erc_on_generated_people(astro, tmp_path):
    """The quality bench's ERC on a set made here: two 'people' (the astronaut and a bright,
    mirrored, rescaled copy of her), two views each; every ERC copy is a colour image."""
    from biocap.evaluation.bench_face import quality_face
    rgb = astro[1]
    people = {"a": rgb, "b": cv2.convertScaleAbs(np.fliplr(rgb), alpha=0.8, beta=40)}
    for name, base in people.items():
        (tmp_path / name).mkdir()
        for k, (dx, s) in enumerate(((0, 1.0), (12, 0.9))):
            view = cv2.resize(np.roll(base, dx, axis=1), None, fx=s, fy=s)
            cv2.imwrite(str(tmp_path / name / f"{name}_{k}.jpg"), cv2.cvtColor(view, cv2.COLOR_RGB2BGR))
    r = quality_face(tmp_path, "lfw-folders")
    assert r["erc_images"] == 8 and r["erc_n_genuine"] == 2 * 6
    by = r["erc_by_degradation"]
    assert by["original"]["images"] == 4 and sum(d["images"] for d in by.values()) == 8
    assert all(0 <= d["fnmr"] <= 1 for d in by.values() if d["fnmr"] is not None)
    assert 0 <= r["erc_fnmr_at_10pct_reject_best_possible"] <= r["erc_fnmr_no_reject"] <= 1
    assert set(r["responses"]) == set(DEGRADATIONS)


def test_chip_normalisation_restores_exposure_and_leaves_good_chips_alone():
    from biocap.templates.face.extractor import CHIP_MEAN_RANGE, normalise_chip
    rng = np.random.default_rng(3)
    good = np.repeat(np.clip(rng.normal(120, 40, (150, 150, 1)), 0, 255).astype(np.uint8), 3, axis=2)
    assert normalise_chip(good) is good  # well exposed: untouched
    for dark in (good // 4, (good.astype(np.float32) * 0.3 + 80).astype(np.uint8)):
        fixed = normalise_chip(dark)
        inner = cv2.cvtColor(fixed, cv2.COLOR_RGB2GRAY)[45:120, 37:112] / 255.0
        assert CHIP_MEAN_RANGE[0] - 0.02 <= inner.mean() <= CHIP_MEAN_RANGE[1] + 0.02
        assert inner.std() > cv2.cvtColor(dark, cv2.COLOR_RGB2GRAY)[45:120, 37:112].std() / 255.0


def test_extractor_finds_a_strongly_tilted_head(astro):
    grey, rgb = astro
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 50, 1.0)
    tilted = cv2.warpAffine(grey, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    tilted_rgb = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    assert not detect_faces(tilted)  # the upright detector alone misses it
    ex, comp = FaceExtractor(), FaceComparator()
    upright = ex.extract(Sample(grey, 100, Modality.FACE, colour=rgb))
    turned = ex.extract(Sample(tilted, 100, Modality.FACE, colour=tilted_rgb))
    assert comp.compare(upright, turned) >= comp.threshold_for_fmr(1e-3)
