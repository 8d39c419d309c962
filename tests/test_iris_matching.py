"""1:1 iris comparison: genuine below impostor, rotation compensation, input checks."""
import cv2
import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching.iris.comparator import IrisComparator
from biocap.templates.iris import IrisExtractor, IrisTemplate
from biocap.types import Modality, Sample

from conftest import shared_or_none


# CASIA-IrisV1 names; without the shared data, generated eyes (biocap.synthetic.iris) stand in:
# eye 0's three captures for subject 1's, eyes 1 and 2 for subjects 2 and 3. The 0.32 decision
# line holds on both (generated genuine <= 0.22, impostor >= 0.38 at seed 16)
_STAND_IN = {"1/001_1_1": (0, 0), "1/001_1_2": (0, 1), "1/001_2_1": (0, 2), "2/002_1_1": (1, 0),
             "3/003_1_1": (2, 0)}


def _image(name, synthetic_eyes):
    root = shared_or_none("iris", "casia_irisv1")
    if root is None:
        return synthetic_eyes[_STAND_IN[name]][0]
    return cv2.imread(str(root / f"{name}.jpg"), cv2.IMREAD_GRAYSCALE)


@pytest.fixture(scope="module")
def casia(synthetic_eyes):
    ex = IrisExtractor()
    return {name: ex.extract(Sample(_image(name, synthetic_eyes), ppi=500, modality=Modality.IRIS))
            for name in _STAND_IN}


def test_genuine_closer_than_impostor(casia):
    cmp = IrisComparator()
    genuine = [cmp.distance(casia["1/001_1_1"], casia[k]).distance for k in ("1/001_1_2", "1/001_2_1")]
    impostor = [cmp.distance(casia["1/001_1_1"], casia[k]).distance for k in ("2/002_1_1", "3/003_1_1")]
    assert max(genuine) < min(impostor)
    assert max(genuine) < 0.32 < min(impostor)
    assert cmp.compare(casia["1/001_1_1"], casia["1/001_1_2"]) > cmp.compare(casia["1/001_1_1"], casia["2/002_1_1"])


def test_rotated_code_matches_at_its_shift(casia):
    cmp = IrisComparator()
    t = casia["1/001_1_1"]
    for shift in (-7, -3, 0, 5, 8):
        m = cmp.distance(t, t.rotated(shift))
        assert m.distance == pytest.approx(0.5 - 0.5 * np.sqrt(m.common_bits / 911), abs=1e-9)
        assert m.raw_distance == 0.0
        assert m.shift == -shift


def test_rotated_image_matches_at_about_the_right_shift(synthetic_eyes):
    img = _image("1/001_1_1", synthetic_eyes)
    ex = IrisExtractor()
    base = ex.trace_image(img)
    p = base.segmentation.pupil
    degrees = 11.25  # 4 code columns of 2.8125 degrees
    rot = cv2.warpAffine(img, cv2.getRotationMatrix2D((p.x, p.y), degrees, 1.0), img.shape[::-1],
                         borderMode=cv2.BORDER_REFLECT)
    m = IrisComparator().distance(base.template, ex.trace_image(rot).template)
    assert abs(abs(m.shift) - 4) <= 1
    assert m.distance < 0.3


def test_checks_inputs(casia):
    cmp = IrisComparator()
    with pytest.raises(InvalidDataError):
        cmp.compare(casia["1/001_1_1"], "nope")
    with pytest.raises(InvalidDataError):
        IrisTemplate(code=np.zeros(10, np.uint8), mask=np.zeros(10, np.uint8))


def test_fully_masked_codes_never_match():
    a = IrisTemplate(code=np.zeros(256, np.uint8), mask=np.zeros(256, np.uint8))
    m = IrisComparator().distance(a, a)
    assert m.distance == 1.0 and m.common_bits == 0


def test_builtin_plugin_registers_iris():
    from biocap.plugins.manager import PluginManager
    pm = PluginManager(load_entry_points=False)
    import biocap.builtin_plugin as builtin
    pm.register(builtin, "builtin")
    names = {getattr(x, "name", None) for hook in ("biocap_extractors", "biocap_comparators",
                                                   "biocap_quality_providers") for x in pm.collect(hook)}
    assert {"biocap-iris", "biocap-iris-quality"} <= names
