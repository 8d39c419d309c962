"""Person-level fusion over up to ten fingers, with missing fingers."""
import math

import pytest

from biocap.errors import InvalidDataError
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.matching.fusion import ScoreEvidence, fuse_fingers, person_threshold


@pytest.fixture(scope="module")
def evidence():
    return ScoreEvidence([(0.1, 0.1), (0.01, 0.2), (0.001, 0.3)])


def test_missing_fingers_add_no_evidence(evidence):
    full = fuse_fingers({2: 0.2, 7: 0.3}, evidence=evidence)
    with_missing = fuse_fingers({2: 0.2, 7: 0.3, 3: None, 8: float("nan")}, evidence=evidence)
    assert with_missing.score == pytest.approx(full.score)
    assert with_missing.fingers_used == 2 and set(with_missing.evidence) == {2, 7}
    assert full.score == pytest.approx(2 + 3)  # -log10(0.01) + -log10(0.001)


def test_more_agreeing_fingers_give_more_evidence(evidence):
    one = fuse_fingers({2: 0.25}, evidence=evidence).score
    two = fuse_fingers({2: 0.25, 7: 0.25}, evidence=evidence).score
    assert two > one > 0


def test_evidence_is_monotone_and_bounded(evidence):
    values = [evidence(s) for s in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.9)]
    assert values == sorted(values)
    assert values[0] == 0 and values[-1] == pytest.approx(3.0)


def test_all_missing_is_no_evidence(evidence):
    r = fuse_fingers({1: None, 6: None}, evidence=evidence)
    assert r.score == 0 and r.fingers_used == 0
    assert fuse_fingers({}, evidence=evidence).fingers_used == 0


def test_other_rules(evidence):
    assert fuse_fingers({2: 0.1, 7: 0.3}, method="max").score == pytest.approx(0.3)
    assert fuse_fingers({2: 0.1, 7: 0.3, 9: None}, method="mean").score == pytest.approx(0.2)


def test_bad_inputs(evidence):
    for bad in ({0: 0.1}, {11: 0.1}, {"2": 0.1}, {True: 0.1}, {2: -1.0}, {2: float("inf")}, {2: "x"},
                {i: 0.1 for i in range(1, 12)}):
        with pytest.raises(InvalidDataError):
            fuse_fingers(bad, evidence=evidence)
    with pytest.raises(InvalidDataError):
        fuse_fingers({2: 0.1}, method="product")
    with pytest.raises(InvalidDataError):
        fuse_fingers([0.1, 0.2])
    with pytest.raises(InvalidDataError):
        person_threshold(0)


def test_shipped_calibration_drives_the_default_evidence():
    cmp = FingerprintComparator()
    thr = cmp.threshold_for_fmr(0.001)
    r = fuse_fingers({2: thr, 7: thr})
    assert r.score == pytest.approx(6.0, abs=0.3)
    assert person_threshold(1e-6) == pytest.approx(6.0)
    assert math.isfinite(fuse_fingers({2: 10.0}).score)
