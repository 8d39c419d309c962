"""Face quality: the eye measures (open, not occluded) and the unified score.

On images the tests make (canonical crops drawn here) and scikit-image's astronaut(); nothing
from ../shared.
"""
import dataclasses

import cv2
import numpy as np
import pytest

pytest.importorskip("dlib")

from biocap.evaluation.face_degrade import DEGRADATIONS  # noqa: E402
from biocap.quality.face import FaceQuality, detect_faces  # noqa: E402
from biocap.quality.face.measures import (  # noqa: E402
    _grad_energy, components, eye_openness, eyes_visible, unified)
from biocap.templates.face import params as P  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402

K = P.CANON_IED
CX, EY = P.CANON_SIZE[0] // 2, P.CANON_EYES_Y
EYES = ((CX - K // 2, EY), (CX + K // 2, EY))


def skin(seed=0, level=150.0, texture=6.0):
    """A canonical crop of textured skin (blurred noise), no features."""
    rng = np.random.default_rng(seed)
    h, w = P.CANON_SIZE[1], P.CANON_SIZE[0]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    return np.clip(level + texture * noise / noise.std(), 0, 255).astype(np.uint8)


def test_an_iris_reads_open_a_lash_line_over_skin_reads_closed():
    open_eyes, shut = skin(), skin()
    for x, y in EYES:
        cv2.circle(open_eyes, (x, y), int(0.09 * K), 40, -1)  # iris + pupil: 12 px tall
        cv2.line(shut, (x - int(0.22 * K), y + 1), (x + int(0.22 * K), y + 1), 40, 2)  # lashes
    assert eye_openness(open_eyes) > P.EYE_OPEN_LIMIT
    assert eye_openness(shut) < 0.1  # the thin line does not pass for an open eye
    assert eye_openness(skin()) < 0.1


def test_eyes_visible_when_structured_and_not_when_a_cover_sits_off_the_landmarks():
    face = skin(texture=4.0)
    for x, y in EYES:  # lids, iris, brows: strong structure around each eye
        cv2.ellipse(face, (x, y), (int(0.25 * K), int(0.1 * K)), 0, 0, 360, 90, 2)
        cv2.circle(face, (x, y), int(0.09 * K), 50, -1)
        cv2.line(face, (x - int(0.25 * K), y - int(0.25 * K)), (x + int(0.25 * K), y - int(0.25 * K)), 70, 3)
    assert eyes_visible(_grad_energy(face)) >= P.EYES_VISIBLE_LIMIT
    covered = face.copy()
    # a plain band whose top edge is where the landmarks ended up (they follow the cover's edge)
    covered[EY:EY + int(0.6 * K), CX - K:CX + K] = 120
    assert eyes_visible(_grad_energy(covered)) < 0.7  # far under EYES_VISIBLE_LIMIT: flagged
    below = face.copy()
    below[EY - int(0.6 * K):EY, CX - K:CX + K] = 120  # the landmarks on its bottom edge
    assert eyes_visible(_grad_energy(below)) < 0.7


@pytest.fixture(scope="module")
def astro():
    from skimage import data
    rgb = np.ascontiguousarray(data.astronaut()[0:340, 60:390])
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return grey, detect_faces(grey)[0]


def test_a_clean_face_raises_no_eye_feedback_covered_eyes_do(astro):
    grey, face = astro
    clean = components(grey, [face])
    assert clean["eyes_open"].score >= P.FEEDBACK_BELOW
    assert clean["eyes_not_occluded"].score >= P.FEEDBACK_BELOW
    for seed in range(3):
        covered = DEGRADATIONS["eyes_not_occluded"](grey, face, np.random.default_rng(seed))
        r = FaceQuality().assess(Sample(covered, 100, Modality.FACE))
        assert r.measures["eyes_not_occluded"].score < P.FEEDBACK_BELOW
        assert "eyes_covered" in {f.code for f in r.feedback}


def test_unified_score_is_the_weighted_geometric_mean_and_falls_with_what_hurts_matching(astro):
    grey, face = astro
    q = FaceQuality()
    clean = q.assess(Sample(grey, 100, Modality.FACE)).score
    rng = np.random.default_rng(0)
    for name in ("sharpness", "yaw", "eyes_not_occluded"):
        degraded = DEGRADATIONS[name](grey, face, rng)
        assert q.assess(Sample(degraded, 100, Modality.FACE)).score < clean, name
    comps = components(grey, [face])
    w = P.UNIFIED_WEIGHTS
    assert set(w) == set(comps) and all(v > 0 for v in w.values())
    expected = 100 * np.exp(sum(w[n] * np.log(max(comps[n].score, 1.0) / 100) for n in w)
                            / sum(w.values()))
    assert unified(comps) == pytest.approx(expected, rel=1e-9)
    assert 0 < unified(comps) <= 100
    # a better component never lowers it (no operator is asked for a worse picture)
    for name in w:
        better = dict(comps)
        better[name] = dataclasses.replace(comps[name], score=100.0)
        assert unified(better) >= unified(comps) - 1e-9, name
    none = components(grey, [])
    assert unified(none) == 0
