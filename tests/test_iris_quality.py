"""Iris quality (ISO/IEC 29794-6 measures) on a sharp and a blurred real image."""
import cv2
import numpy as np
import pytest

from biocap.errors import InvalidSample
from biocap.quality.iris.provider import IrisQuality
from biocap.types import Modality, Sample

from conftest import shared_or_none


def _eye(synthetic_eyes):
    """CASIA-IrisV1 001_1_1 when the shared data is there, else a generated eye."""
    path = shared_or_none("iris", "casia_irisv1", "1", "001_1_1.jpg")
    return synthetic_eyes[(0, 0)][0] if path is None else cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def test_blurred_scores_lower_than_sharp(synthetic_eyes):
    img = _eye(synthetic_eyes)
    q = IrisQuality()
    sharp = q.assess(Sample(img, ppi=500, modality=Modality.IRIS))
    blurred = q.assess(Sample(cv2.GaussianBlur(img, (0, 0), 3), ppi=500, modality=Modality.IRIS))
    expected = {"usable_iris_area", "iris_sclera_contrast", "iris_pupil_contrast",
                "pupil_boundary_circularity", "grey_scale_utilisation", "iris_radius",
                "pupil_dilation", "iris_pupil_concentricity", "margin_adequacy", "sharpness",
                "motion_blur", "gaze"}
    assert expected <= set(sharp.measures)
    assert sharp.measures["sharpness"].value > 2 * blurred.measures["sharpness"].value
    assert sharp.measures["sharpness"].ok and not blurred.measures["sharpness"].ok
    assert sharp.score >= 60 and blurred.score < sharp.score - 25
    assert "blur" in [f.code for f in blurred.feedback]
    assert all(m.limit for m in sharp.measures.values())
    assert 0 <= sharp.score <= 100
    sharp.to_json()


def test_motion_blur_is_seen(synthetic_eyes):
    img = _eye(synthetic_eyes)
    kernel = np.zeros((1, 15), np.float32)
    kernel[0, :] = 1 / 15  # a horizontal smear
    smeared = cv2.filter2D(img, -1, kernel)
    q = IrisQuality()
    assert q.assess_image(smeared).measures["motion_blur"].value < \
        q.assess_image(img).measures["motion_blur"].value


def test_no_eye_gives_zero_with_reason():
    r = IrisQuality().assess_image(np.full((240, 320), 128, np.uint8))
    assert r.score == 0 and r.reason


def test_rejects_wrong_input():
    with pytest.raises(InvalidSample):
        IrisQuality().assess("image")
