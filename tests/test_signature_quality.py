"""Signature quality: good signatures pass, each defect gets its own operator feedback code, the
enrolment set check names the odd signature, and the provider is the registered one."""
import numpy as np
import pytest

from biocap.errors import InvalidRequest, InvalidSample
from biocap.quality.signature import SignatureQuality, assess_enrolment_set
from biocap.synthetic.signature import genuine, make_signer
from biocap.types import Modality, PenSeries, Sample

PAD = {"width": 15240, "height": 10160, "units_per_mm": 100.0}


def _pen(seed=0, signer=1):
    return genuine(make_signer(signer), np.random.default_rng(seed)).pen


def _replace(pen, **cols):
    base = {k: getattr(pen, k) for k in ("x", "y", "pressure", "t_ms", "pen_down")}
    base.update(cols)
    return PenSeries(**base)


def _codes(pen, pad=PAD):
    r = SignatureQuality().assess_pen(pen, pad)
    return r.score, {f.code for f in r.feedback}


def test_good_signatures_score_high_without_feedback():
    for seed in range(5):
        score, codes = _codes(_pen(seed, seed))
        assert score >= 80 and not codes


def test_too_short():
    pen = _pen()
    k = 30
    short = PenSeries(pen.x[:k], pen.y[:k], pen.pressure[:k], pen.t_ms[:k], pen.pen_down[:k])
    score, codes = _codes(short)
    assert "too_short" in codes and "too_few_points" in codes and score < 40


def test_pen_lifted_most_of_the_time():
    pen = _pen()
    down = pen.pen_down.copy()
    down[: int(len(down) * 0.8)] = False
    score, codes = _codes(_replace(pen, pen_down=down, pressure=np.where(down, pen.pressure, 0)))
    assert "pen_lifted" in codes and score < 40


def test_no_pressure():
    pen = _pen()
    score, codes = _codes(_replace(pen, pressure=np.zeros(len(pen))))
    assert codes == {"no_pressure"} and score < 40


def test_sampling_gaps_and_irregular_rate():
    pen = _pen()
    t = pen.t_ms.copy()
    t[len(t) // 3:] += 400  # the pad stopped for 0.4 s mid-stroke
    t[2 * len(t) // 3:] += 400
    jitter = np.cumsum(np.random.default_rng(1).uniform(1, 30, len(t)))
    _, codes = _codes(_replace(pen, t_ms=t))
    assert "sampling_gaps" in codes
    down = np.ones(len(t), bool)
    _, codes = _codes(_replace(pen, t_ms=jitter, pen_down=down))
    assert "sampling_gaps" in codes


def test_outside_the_pad_and_unknown_pad():
    pen = _pen()
    x = pen.x.copy()
    x[x > np.median(x)] += 20000  # half the signature beyond the pad's right edge
    score, codes = _codes(_replace(pen, x=x))
    assert "outside_pad" in codes
    report = SignatureQuality().assess_pen(_replace(pen, x=x), None)  # pad size unknown
    assert "outside_share" not in report.measures and "outside_pad" not in {f.code for f in report.feedback}


def test_registered_provider_reads_the_pad_from_the_sample():
    from biocap import SDK
    pen = _pen()
    sample = Sample(np.full((60, 120), 255, np.uint8), 200, Modality.SIGNATURE, pen=pen,
                    metadata={"pad": PAD})
    report = SDK().assess(sample)
    assert report.provider == SignatureQuality.name and report.score >= 80
    assert report.to_json()["measures"]["outside_share"]["value"] == 0.0
    offline = Sample(np.full((60, 120), 255, np.uint8), 200, Modality.SIGNATURE)
    assert SignatureQuality().assess(offline).score is None


def test_hostile_pen_series():
    pen = _pen()
    with pytest.raises(InvalidSample):
        SignatureQuality().assess_pen(_replace(pen, x=np.full(len(pen), np.nan)))
    with pytest.raises(InvalidSample):
        SignatureQuality().assess_pen("not a pen")
    one = PenSeries(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), np.ones(1, bool))
    score, codes = _codes(one)
    assert score == 0 and {"too_short", "too_few_points"} <= codes


def test_enrolment_set_consistent_and_the_odd_one_named():
    pens = [_pen(seed, signer=4) for seed in range(5)]
    report = assess_enrolment_set(pens)
    assert report.consistent and not report.feedback
    pens[3] = _pen(9, signer=11)  # someone else's signature slipped in
    report = assess_enrolment_set(pens)
    assert not report.consistent and report.retake == [3]
    assert report.feedback[0].code == "inconsistent" and "signature 4" in report.feedback[0].message
    with pytest.raises(InvalidRequest):
        assess_enrolment_set(pens[:1])


def test_enrolment_set_timing_outlier():
    pens = [_pen(seed, signer=2) for seed in range(4)]
    slow = pens[1]
    pens[1] = _replace(slow, t_ms=slow.t_ms * 3.5)
    report = assess_enrolment_set(pens)
    assert not report.consistent and 1 in report.retake and report.duration_ratio > 2.5


def test_svc2004_genuine_sets_pass(shared_data):
    from biocap.evaluation.datasets_signature import load_svc2004
    root = shared_data / "signature" / "svc2004_task2"
    if not root.exists():
        pytest.skip("svc2004_task2 not in the shared data")
    users = load_svc2004(root, users=[11, 12, 13])
    q = SignatureQuality()
    scores = [q.assess_pen(p, {"units_per_mm": 100.0}).score for u in users for p in u.genuine[:10]]
    assert np.median(scores) >= 80
    assert all(assess_enrolment_set(u.genuine[:5]).set_distance < 0.2 for u in users)
