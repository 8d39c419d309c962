"""Rendered synthetic fingerprints: determinism, ground truth on the ridges, sensors, CLI."""
import json

import cv2
import numpy as np
import pytest
from skimage.morphology import skeletonize

from biocap.cli import main
from biocap.errors import InvalidDataError
from biocap.synthetic.fingerprint.dataset import generate_dataset, impressions_of_finger
from biocap.synthetic.fingerprint.impression import render_impression
from biocap.synthetic.fingerprint.master import render_master
from biocap.synthetic.fingerprint.seeding import stream
from biocap.synthetic.fingerprint.sensors import sensor_profile
from biocap.synthetic.fingerprint.skeleton_minutiae import crossing_numbers


def _images(seed, finger=1, n=2, sensor="optical"):
    return [imp.image.tobytes() for _, imp in
            impressions_of_finger(seed, finger, n, sensor_profile(sensor))]


def test_same_seed_same_bytes_different_seed_differs():
    assert _images(4) == _images(4)
    assert _images(4) != _images(5)
    a, b = _images(4)
    assert a != b  # two impressions of a finger are not copies


def test_master_ground_truth_sits_on_skeleton_endings_and_bifurcations():
    master = render_master(2, 1)
    assert 25 <= len(master.minutiae) <= 120
    cn = crossing_numbers(skeletonize(master.ridge > 0))
    for x, y, _, kind in master.minutiae:
        x, y = int(x), int(y)
        assert cn[y, x] == (1 if kind == 1 else 3)


def _image_minutiae(image):
    """An independent, plain extractor: smooth, binarise locally, thin, crossing number."""
    g = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.5)
    local = cv2.GaussianBlur(g, (0, 0), 8)
    ridges = g < local - 2
    cn = crossing_numbers(skeletonize(ridges))
    ys, xs = np.nonzero((cn == 1) | (cn == 3))
    return np.stack([xs, ys], axis=1).astype(float)


@pytest.mark.parametrize("finger", [1, 2])
def test_ground_truth_lies_on_minutiae_of_the_rendered_image(finger):
    """Near most true minutiae the rendered image itself has a ridge ending or bifurcation;
    the same test at points moved by a few ridge periods finds far fewer (so it can fail)."""
    master = render_master(6, finger)
    imp = render_impression(master, sensor_profile("optical"), stream(6, finger, 1, "t"),
                            "normal")
    found = _image_minutiae(imp.image)
    gt = imp.minutiae[:, :2]
    assert len(gt) >= 20

    def hit_rate(points):
        d = np.hypot(points[:, None, 0] - found[None, :, 0], points[:, None, 1] - found[None, :, 1])
        return float((d.min(axis=1) <= 6).mean())
    true_rate = hit_rate(gt)
    rng = np.random.default_rng(0)
    offsets = rng.uniform(20, 40, (len(gt), 1)) * np.stack(
        [np.cos(a := rng.uniform(0, 2 * np.pi, len(gt))), np.sin(a)], axis=1)
    moved_rate = hit_rate(gt + offsets)
    assert true_rate >= 0.6, true_rate
    assert true_rate > moved_rate + 0.25, (true_rate, moved_rate)


@pytest.mark.parametrize("sensor,shape,ppi", [("optical", (500, 400), 500.0),
                                               ("capacitive", (300, 300), 500.0),
                                               ("thermal", (480, 300), 512.0)])
def test_sensor_profiles(sensor, shape, ppi):
    (_, imp), = impressions_of_finger(1, 3, 1, sensor_profile(sensor))
    assert imp.image.shape == shape and imp.image.dtype == np.uint8 and imp.ppi == ppi
    assert imp.image.std() > 15  # there is a print, not a blank frame
    m = imp.minutiae
    assert np.all((m[:, 0] >= 0) & (m[:, 0] < shape[1]) & (m[:, 1] >= 0) & (m[:, 1] < shape[0]))


def test_cli_writes_the_fvc_layout_with_ground_truth(tmp_path, capsys):
    out = tmp_path / "set"
    rc = main(["sim", "generate", "--modality", "fingerprint", "--fingers", "2",
               "--impressions", "2", "--seed", "9", "--out", str(out)])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["1_1.json", "1_1.png", "1_2.json", "1_2.png", "2_1.json", "2_1.png",
                     "2_2.json", "2_2.png", "dataset.json"]
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["ppi"] == 500.0 and meta["seed"] == 9
    img = cv2.imread(str(out / "2_1.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (500, 400) and img.dtype == np.uint8
    gt = json.loads((out / "2_1.json").read_text())
    assert gt["ppi"] == 500.0 and gt["finger"] == 2 and gt["impression"] == 1
    assert len(gt["minutiae"]) > 10
    assert {m["type"] for m in gt["minutiae"]} <= {"ending", "bifurcation"}
    assert "impressions_per_second_per_core" in capsys.readouterr().out
    # a second run in parallel writes the same bytes
    out2 = tmp_path / "set2"
    assert main(["sim", "generate", "--modality", "fingerprint", "--fingers", "2",
                 "--impressions", "2", "--seed", "9", "--out", str(out2), "--workers", "2"]) == 0
    for name in names:
        if name != "dataset.json":
            assert (out / name).read_bytes() == (out2 / name).read_bytes(), name


def test_cli_templates_only_writes_decodable_records(tmp_path):
    from biocap.templates import formats

    out = tmp_path / "t"
    assert main(["sim", "generate", "--modality", "fingerprint", "--fingers", "3",
                 "--impressions", "2", "--seed", "1", "--out", str(out), "--templates-only",
                 "--format", "iso19794-2:2005"]) == 0
    files = sorted(out.glob("*_*.ist"))
    assert len(files) == 6
    rec = formats.decode(files[0].read_bytes())
    assert rec.views and 15 <= len(rec.views[0].minutiae) <= 120


def test_bad_requests_fail_clearly(tmp_path, capsys):
    with pytest.raises(InvalidDataError):
        generate_dataset(tmp_path, 0, 1, 1)
    with pytest.raises(InvalidDataError):
        generate_dataset(tmp_path, 1, 1, 1, sensor="ultrasonic")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidDataError):
        generate_dataset(f, 1, 1, 1)
    assert main(["sim", "generate", "--modality", "fingerprint", "--fingers", "1",
                 "--out", str(tmp_path / "o"), "--templates-only", "--format", "nope"]) == 2
    assert "unknown template format" in capsys.readouterr().err


@pytest.mark.parametrize("finger", [-1, 1.5, "3", None])
def test_bad_finger_ids_raise_clear_errors(finger):
    with pytest.raises(InvalidDataError):
        render_master(1, finger)


def test_unknown_condition_is_refused():
    master = render_master(1, 1)
    with pytest.raises(InvalidDataError):
        render_impression(master, sensor_profile("optical"), stream(1, 1, 1, "x"), "soaked")
