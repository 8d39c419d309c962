"""The synthetic NIR eye generator (biocap.synthetic.iris.eye) and its simulator source."""
from __future__ import annotations

import json

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.matching.iris.comparator import IrisComparator
from biocap.synthetic.iris.eye import (CaptureParams, IrisIdentity, eye_dataset, render_eye,
                                       save_eye)
from biocap.templates.iris import IrisExtractor


def test_same_arguments_same_eye_and_identities_differ():
    a, ta = render_eye(IrisIdentity(3), CaptureParams(), seed=1)
    b, tb = render_eye(IrisIdentity(3), CaptureParams(), seed=1)
    c, _ = render_eye(IrisIdentity(4), CaptureParams(), seed=1)
    assert a.dtype == np.uint8 and a.shape == (280, 320)
    assert np.array_equal(a, b) and ta == tb
    assert not np.array_equal(a, c)


def test_looks_like_a_nir_eye(synthetic_eyes):
    # grey levels of NIR iris cameras: dark pupil, mid-grey textured iris, brighter sclera
    image, truth = synthetic_eyes[(0, 0)]
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    (px, py, pr), (_, _, ir) = truth.pupil, truth.iris
    pupil = np.hypot(xx - px, yy - py) < 0.7 * pr
    d = np.hypot(xx - px, yy - py)
    ring = (d > pr + 4) & (d < ir - 6) & (yy > py)  # lower iris, below the lashes
    assert np.median(image[pupil]) < 45
    assert 70 < np.median(image[ring]) < 170 and image[ring].std() > 8  # texture, not flat


def test_sidecar_holds_the_ground_truth(tmp_path, synthetic_eyes):
    image, truth = synthetic_eyes[(1, 2)]
    save_eye(image, truth, tmp_path / "eye")
    doc = json.loads((tmp_path / "eye.json").read_text())
    assert doc["identity"] == truth.identity and doc["pupil"] == list(truth.pupil)
    assert doc["capture"]["dilation"] == truth.capture.dilation
    assert (tmp_path / "eye.png").stat().st_size > 0


def test_genuine_distances_clearly_below_impostors(synthetic_eyes):
    """Three eyes x three captures (conftest): every genuine distance under every impostor one;
    on 20 eyes x 4 the bench (benchmarks/results/synthetic_iris.md) finds EER 0 with a margin."""
    ex, cmp = IrisExtractor(), IrisComparator()
    t = {k: ex.trace_image(v[0]).template for k, v in synthetic_eyes.items()}
    keys = sorted(t)
    gen, imp = [], []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            (gen if a[0] == b[0] else imp).append(cmp.distance(t[a], t[b]).distance)
    assert len(gen) == 9 and len(imp) == 27
    assert max(gen) < min(imp)
    assert np.median(gen) < 0.25 and np.median(imp) > 0.4  # unrelated codes sit near 0.45


@pytest.mark.parametrize("bad", [-1, 1.5, "x", True])
def test_bad_identity_seeds_are_refused(bad):
    with pytest.raises(InvalidDataError):
        IrisIdentity(bad)


def test_bad_capture_arguments_are_refused():
    with pytest.raises(InvalidDataError):
        render_eye(IrisIdentity(0), CaptureParams(dilation=3.0))
    with pytest.raises(InvalidDataError):
        eye_dataset(0, 2)


def test_simulator_iris_camera_serves_the_generator(monkeypatch):
    from biocap import CaptureRequest
    from biocap_vendor_sim.testing import sim_sdk

    monkeypatch.setenv("BIOCAP_SIM_SOURCES", "iris=iris-realistic")
    sdk, _ = sim_sdk(seed=2, modalities=("iris",))
    with sdk.open("iris") as camera:
        first = camera.capture(CaptureRequest("iris", positions=(1, 2), quality_threshold=0)).samples
        again = camera.capture(CaptureRequest("iris", positions=(1,), quality_threshold=0)).samples
    assert [s.metadata["source"] for s in first] == ["iris-realistic"] * 2
    ex, cmp = IrisExtractor(), IrisComparator()
    right, left = (ex.extract(s) for s in first)
    right2 = ex.extract(again[0])
    # the same eye twice is a match; the other eye of the same person is not
    assert cmp.distance(right, right2).distance < 0.32 < cmp.distance(right, left).distance
