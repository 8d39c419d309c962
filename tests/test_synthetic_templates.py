"""Template-level synthetic fingerprints: deterministic, lazy, statistically sane."""
import inspect
import itertools

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.synthetic.fingerprint.templates import iter_finger_templates
from biocap.templates.fingerprint.template import FingerprintTemplate


def _as_bytes(it):
    return [(f, i, t.minutiae.tobytes()) for f, i, t in it]


def test_same_seed_same_templates_different_seed_differs():
    a = _as_bytes(iter_finger_templates(5, 3, seed=11))
    b = _as_bytes(iter_finger_templates(5, 3, seed=11))
    c = _as_bytes(iter_finger_templates(5, 3, seed=12))
    assert a == b
    assert [x[2] for x in a] != [x[2] for x in c]


def test_finger_is_independent_of_the_window_that_produced_it():
    whole = _as_bytes(iter_finger_templates(6, 2, seed=3))
    tail = _as_bytes(iter_finger_templates(2, 2, seed=3, start=5))
    assert whole[-4:] == tail


def test_lazy_generator_yields_without_building_the_whole_gallery():
    it = iter_finger_templates(10**9, 2, seed=1)  # a billion fingers: only lazy iteration works
    assert inspect.isgenerator(it)
    first = list(itertools.islice(it, 4))
    assert [(f, i) for f, i, _ in first] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(isinstance(t, FingerprintTemplate) for _, _, t in first)


def test_statistics_look_like_a_real_extractors_output():
    counts, ok_inside, angles = [], True, []
    for _, _, t in iter_finger_templates(60, 2, seed=5):
        m = t.minutiae
        counts.append(len(m))
        ok_inside &= bool(np.all((m["x"] >= 0) & (m["x"] < t.width)
                                 & (m["y"] >= 0) & (m["y"] < t.height)))
        angles.append(m["angle"])
        assert set(np.unique(m["type"])) <= {1, 2}
        assert t.ppi == 500 and (t.width, t.height) == (400, 500)
    assert ok_inside
    med = np.median(counts)
    assert 25 <= med <= 80, med
    a = np.concatenate(angles)
    assert a.min() >= 0 and a.max() < 2 * np.pi
    # directions cover the circle (no stuck orientation)
    hist, _ = np.histogram(a, bins=8, range=(0, 2 * np.pi))
    assert hist.min() > 0.03 * a.size


def test_impressions_of_one_finger_share_minutiae_and_other_fingers_do_not():
    """Genuine impressions are related by a near-rigid motion, impostors are not: count
    minutiae pairs within 12 px after aligning each pair by its best single-minutia shift."""
    ts = {(f, i): t.minutiae for f, i, t in iter_finger_templates(6, 2, seed=9)}

    def best_overlap(a, b):
        best = 0
        ta, tb = -a["angle"].astype(float), -b["angle"].astype(float)  # pixel-frame directions
        for k in range(len(a)):
            for j in range(len(b)):
                phi = tb[j] - ta[k]
                c, s = np.cos(phi), np.sin(phi)
                u, v = a["x"] - a["x"][k], a["y"] - a["y"][k]
                x, y = c * u - s * v + b["x"][j], s * u + c * v + b["y"][j]
                dist = np.hypot(x[:, None] - b["x"][None], y[:, None] - b["y"][None])
                dang = np.abs(np.mod(ta[:, None] + phi - tb[None] + np.pi, 2 * np.pi) - np.pi)
                best = max(best, int(((dist < 12) & (dang < 0.4)).any(axis=1).sum()))
        return best
    genuine = [best_overlap(ts[(f, 1)], ts[(f, 2)]) for f in range(1, 4)]
    impostor = [best_overlap(ts[(f, 1)], ts[(f + 1, 2)]) for f in range(1, 4)]
    assert min(genuine) > max(impostor), (genuine, impostor)


@pytest.mark.parametrize("kwargs", [dict(n_fingers=-1), dict(impressions=0), dict(seed=-5),
                                    dict(seed="x"), dict(ppi=0), dict(width=10),
                                    dict(height=10**6)])
def test_bad_arguments_raise_clear_errors(kwargs):
    args = dict(n_fingers=1, impressions=1, seed=0)
    args.update(kwargs)
    with pytest.raises(InvalidDataError):
        next(iter_finger_templates(**args))


def test_templates_from_rendered_masters_follow_the_image_generators_fingers():
    from biocap.synthetic.fingerprint.master import render_master
    (_, _, t), = list(iter_finger_templates(1, 1, seed=4, masters="rendered"))
    master = render_master(4, 1)
    # missed minutiae, contact area and spurious ones change the count, not its scale
    assert 0.3 * len(master.minutiae) <= len(t) <= len(master.minutiae) + 10
    with pytest.raises(InvalidDataError):
        next(iter_finger_templates(1, 1, seed=4, masters="painted"))
