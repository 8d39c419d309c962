"""Slap segmentation on simulated slaps with ground truth (generated here, no shared data)."""
import numpy as np
import pytest

from biocap.errors import InvalidSample
from biocap.station.segmentation import FingerBox, segment_slap
from biocap.types import Modality, Sample

slaps = pytest.importorskip("biocap_vendor_sim.slaps")
from biocap_vendor_sim.sources import make_source  # noqa: E402


def _iou(a, b):
    import cv2
    inter, _ = cv2.intersectConvexConvex(a.corners().astype(np.float32), b.corners().astype(np.float32))
    return inter / (a.width * a.height + b.width * b.height - inter)


@pytest.mark.slow
def test_boxes_numbers_and_missing_fingers_on_simulated_slaps():
    source = make_source("fingerprint-synthetic")  # fast; the benchmark uses the realistic one
    rng = np.random.default_rng(11)
    ious, named, missing_ok = [], [], []
    for k, (slap, missing) in enumerate([(13, ()), (14, ()), (15, ()), (13, (3,)), (14, (10,)),
                                          (15, (1,))]):
        image, truth = slaps.compose_slap(source, slap, rng, missing=missing)
        seg = segment_slap(Sample(image, 500, Modality.FINGERPRINT, position=slap))
        missing_ok.append(sorted(seg.missing) == sorted(truth["missing"]))
        for f in truth["fingers"]:
            if f["present"]:
                got = seg.finger(f["position"])
                gt = FingerBox(f["cx"], f["cy"], f["width"], f["height"], f["angle"])
                ious.append(_iou(gt, got.box) if got else 0.0)
                named.append(got is not None)
                if got:
                    assert got.sample.position == f["position"] and got.sample.ppi == 500
                    assert got.sample.image.shape[0] > got.sample.image.shape[1] * 0.9
    assert all(missing_ok)
    assert all(named)
    assert np.mean(np.array(ious) >= 0.8) >= 0.8


def test_empty_glass_finds_nothing_and_bad_input_is_refused():
    blank = np.full((1000, 1600), 240, np.uint8)
    seg = segment_slap(Sample(blank, 500, Modality.FINGERPRINT, position=13))
    assert seg.fingers == [] and seg.missing == (2, 3, 4, 5)
    with pytest.raises(InvalidSample):
        segment_slap(Sample(blank, 500, Modality.FINGERPRINT, position=2))
    with pytest.raises(InvalidSample):
        segment_slap(blank)


def test_declared_exceptions_name_the_fingers_found():
    source = make_source("fingerprint-synthetic")
    image, truth = slaps.compose_slap(source, 13, np.random.default_rng(2), missing=(2,))
    seg = segment_slap(Sample(image, 500, Modality.FINGERPRINT, position=13), expected=(3, 4, 5))
    assert [f.position for f in seg.fingers] == [3, 4, 5] and seg.missing == (2,)


def test_a_faint_fingertip_is_found_and_phalanx_marks_are_not_fingers():
    """A fingertip printed at a fifth of the others' contrast (a dry or light finger) is still
    found by its ridge texture, and the middle-phalanx marks below the tips are never named."""
    source = make_source("fingerprint-synthetic")
    image, truth = slaps.compose_slap(source, 14, np.random.default_rng(6))
    faint = truth["fingers"][1]  # the left ring finger
    x0, y0, x1, y1 = faint["bbox"]
    glass = float(np.median(image))
    region = image[y0:y1, x0:x1].astype(np.float32)
    image[y0:y1, x0:x1] = np.clip(glass - (glass - region) * 0.2, 0, 255).astype(np.uint8)
    seg = segment_slap(Sample(image, 500, Modality.FINGERPRINT, position=14))
    assert seg.missing == ()
    for f in truth["fingers"]:
        got = seg.finger(f["position"])
        gt = FingerBox(f["cx"], f["cy"], f["width"], f["height"], f["angle"])
        assert got is not None and _iou(gt, got.box) >= 0.7, f["position"]


def test_a_missing_finger_is_named_by_where_the_hand_lies_on_the_glass():
    """Three alike fingertips, nearly level (index, middle, ring or their mirror): the hand lies
    about centred on the platen, so the empty slot is on the side the three leave free."""
    from types import SimpleNamespace

    from biocap.station.segmentation import _name

    def tips(xs):
        return [SimpleNamespace(box=FingerBox(x, 100.0, 60.0, 80.0, 0.0)) for x in xs]

    width = 400  # map pixels; fingertip pitch 70
    left = tips([95.0, 165.0, 235.0])  # slots 0-2 of a hand centred at 200: slot 3 empty
    right = tips([165.0, 235.0, 305.0])  # slots 1-3: slot 0 empty
    named, missing = _name(left, 13, width)
    assert missing == [5] and [p for p, _ in named] == [2, 3, 4]
    named, missing = _name(right, 14, width)
    assert missing == [10] and [p for p, _ in named] == [9, 8, 7]
    # the same three far off the glass's centre: the hand model still names them
    assert _name(tips([15.0, 85.0, 155.0]), 13, width)[1] == [5]


def test_a_phalanx_mark_joins_the_fingertip_it_lies_in_line_with():
    """A mark under an upright fingertip that also lies within reach of a round neighbour's
    (uncertain) axis belongs to the finger it is in line with."""
    import cv2

    from biocap.station.segmentation import _Blob, _chain_fit

    def ellipse(cx, cy, w, h):
        m = np.zeros((300, 300), np.uint8)
        cv2.ellipse(m, (cx, cy), (w // 2, h // 2), 0, 0, 360, 1, -1)
        ys, xs = np.nonzero(m)
        return _Blob(ys, xs)

    round_tip = ellipse(100, 110, 60, 62)  # higher up-left, round: its axis says little
    tip = ellipse(175, 95, 50, 75)  # upright, elongated
    mark = ellipse(178, 205, 44, 60)  # in line below `tip`, ~35 degrees off `round_tip`
    near, far = _chain_fit(tip, mark, 60.0, 500), _chain_fit(round_tip, mark, 60.0, 500)
    assert near < far < np.inf  # both could take it: the better fit wins
    assert _chain_fit(tip, round_tip, 60.0, 500) == np.inf  # beside it, not below
