"""Signature templates, verification against a reference set, calibration, the card image."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biocap.errors import InvalidRequest, InvalidSample, NoProvider, TemplateFormatError
from biocap.matching.signature import SignatureComparator, SignatureReferences
from biocap.synthetic.signature import genuine, make_signer, skilled_forgery
from biocap.templates.signature import (SignatureExtractor, SignatureTemplate, render_signature,
                                        template_of)
from biocap.templates.signature.features import LOCAL_NAMES
from biocap.types import Modality, PenSeries, Sample

CMP = SignatureComparator()


def _set(signer_id, n, seed):
    rng = np.random.default_rng(seed)
    s = make_signer(signer_id)
    return [template_of(genuine(s, rng).pen) for _ in range(n)]


def test_template_bytes_round_trip_and_compare_identically():
    refs = _set(1, 6, 0)
    t = refs[5]
    back = SignatureTemplate.from_bytes(t.to_bytes())
    assert back.modality is Modality.SIGNATURE
    assert np.array_equal(back.local, t.local) and np.array_equal(back.global_, t.global_)
    rs = SignatureReferences.enroll(refs[:5])
    rs2 = SignatureReferences.from_bytes(rs.to_bytes())
    assert CMP.compare(t, rs) == CMP.compare(back, rs2)


def test_hostile_template_bytes():
    data = _set(2, 1, 0)[0].to_bytes()
    for bad in (b"", data[:10], data[:-1], b"XXXX" + data[4:], data[:20] + b"\x00" + data[21:]):
        with pytest.raises(TemplateFormatError):
            SignatureTemplate.from_bytes(bad)
    with pytest.raises(TemplateFormatError):
        SignatureTemplate.from_bytes("text")
    refs = SignatureReferences.enroll(_set(2, 3, 1)).to_bytes()
    for bad in (refs[:-1], refs[:30], b"BSGR" + b"\x00" * 20):
        with pytest.raises(TemplateFormatError):
            SignatureReferences.from_bytes(bad)


def _v3_bytes(t: SignatureTemplate) -> bytes:
    """A template as version 3 wrote it: the first 11 local columns."""
    import struct
    import zlib
    n = len(t)
    head = struct.pack("<4sHIHHIH", b"BSGT", 3, n, 11, len(t.global_), t.duration_ms, t.strokes)
    body = head + t.local[:, :11].astype("<f4").tobytes() + t.global_.astype("<f8").tobytes()
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_3_templates_still_read_other_versions_refused():
    refs = _set(4, 6, 2)
    old = [SignatureTemplate.from_bytes(_v3_bytes(t)) for t in refs]
    for o, t in zip(old, refs):
        assert o.local.shape == t.local.shape and np.array_equal(o.local[:, :11], t.local[:, :11])
        assert np.all(np.isfinite(o.local)) and np.array_equal(o.global_, t.global_)
        # the two derived columns follow the extracted ones loosely (derivative after resampling)
        for c in range(11, len(LOCAL_NAMES)):
            assert np.corrcoef(o.local[:, c], t.local[:, c])[0, 1] > 0.2
    s_new = CMP.compare(refs[5], SignatureReferences.enroll(refs[:5]))
    s_old = CMP.compare(old[5], SignatureReferences.enroll(old[:5]))
    assert 0 < s_old < 1 and abs(s_old - s_new) < 0.25
    bad = bytearray(_v3_bytes(refs[0]))
    bad[4:6] = (2).to_bytes(2, "little")
    with pytest.raises(TemplateFormatError, match="version 2"):
        SignatureTemplate.from_bytes(bytes(bad))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_template_bytes(blob):
    for data in (blob, b"BSGT" + blob):
        try:
            SignatureTemplate.from_bytes(data)
        except TemplateFormatError:
            pass


def test_genuine_above_skilled_above_random():
    rng = np.random.default_rng(5)
    gen, skl, rnd = [], [], []
    signers = [make_signer(i) for i in range(6)]
    for s in signers:
        refs = SignatureReferences.enroll([template_of(genuine(s, rng).pen) for _ in range(5)])
        gen += [CMP.compare(template_of(genuine(s, rng).pen), refs) for _ in range(3)]
        skl += [CMP.compare(template_of(skilled_forgery(s, rng).pen), refs) for _ in range(3)]
        rnd += [CMP.compare(template_of(genuine(o, rng).pen), refs) for o in signers if o is not s]
    assert all(0 < v < 1 for v in gen + skl + rnd)
    assert np.median(gen) > np.median(skl) > np.median(rnd)
    gen, rnd = np.asarray(gen), np.asarray(rnd)
    assert np.mean(gen >= CMP.threshold_for_fmr(0.01)) >= 0.9
    # the generated signers share one motion model, so their strangers are closer than SVC2004's
    # (whose 1% point lies deep in the gap between genuine and stranger scores): the shipped
    # thresholds must still keep them out at the 0.1% point and accept the genuine ones
    thr = CMP.threshold_for_fmr(0.001)
    assert np.mean(gen >= thr) >= 0.9 and np.mean(rnd >= thr) <= 0.05
    assert gen.min() > rnd.max()  # generated strangers never outscore a genuine signature


def test_compare_either_order_and_single_reference():
    refs = _set(3, 6, 2)
    rs = SignatureReferences.enroll(refs[:5])
    assert CMP.compare(refs[5], rs) == CMP.compare(rs, refs[5])
    single = CMP.compare(refs[5], refs[0])  # a bare template is a set of one
    assert 0 < single < 1
    with pytest.raises(InvalidRequest):
        CMP.compare(refs[0], "nope")
    with pytest.raises(InvalidRequest):
        SignatureReferences.enroll([])
    with pytest.raises(InvalidRequest):
        SignatureReferences.enroll(refs * 3)


def test_thresholds_from_the_shipped_calibration():
    t = [CMP.threshold_for_fmr(f) for f in (0.1, 0.01, 0.001, 1e-6)]
    assert t == sorted(t) and all(0 <= v <= 1 for v in t)
    assert CMP.threshold_for_fmr(0.01, attack="skilled") > CMP.threshold_for_fmr(0.01)
    for bad in (0, 1, -0.1, float("nan"), "0.1"):
        with pytest.raises(InvalidRequest):
            CMP.threshold_for_fmr(bad)
    with pytest.raises(NoProvider):
        CMP.gallery()


def test_extractor_contract_and_bad_samples():
    ex = SignatureExtractor()
    pen = genuine(make_signer(0), np.random.default_rng(0)).pen
    img = np.full((60, 120), 255, np.uint8)
    t = ex.extract(Sample(img, 200, Modality.SIGNATURE, pen=pen))
    assert t.local.shape == (128, len(LOCAL_NAMES))
    with pytest.raises(InvalidSample):
        ex.extract(Sample(img, 200, Modality.SIGNATURE))  # offline: no pen series
    with pytest.raises(InvalidSample):
        ex.extract(Sample(img, 500, Modality.FINGERPRINT))
    n = len(pen)
    for bad in (PenSeries(pen.x, pen.y, pen.pressure, np.zeros(n), pen.pen_down),      # no time
                PenSeries(pen.x, pen.y, pen.pressure, pen.t_ms * 1000, pen.pen_down),  # 17 minutes
                PenSeries(pen.x, pen.y, pen.pressure, pen.t_ms, np.zeros(n, bool)),    # no ink
                PenSeries(pen.x * np.nan, pen.y, pen.pressure, pen.t_ms, pen.pen_down)):
        with pytest.raises(InvalidSample):
            template_of(bad)


def test_speed_sanity():
    import time
    refs = SignatureReferences.enroll(_set(4, 5, 3))
    qs = _set(4, 20, 4)
    t0 = time.process_time()
    for q in qs * 5:
        CMP.compare(q, refs)
    per_s = 100 / max(time.process_time() - t0, 1e-9)
    assert per_s > 300  # the bench measures the real figure; this only catches a collapse


def test_svc2004_user_separates(shared_data):
    from biocap.evaluation.datasets_signature import load_svc2004
    root = shared_data / "signature" / "svc2004_task2"
    if not root.exists():
        pytest.skip("svc2004_task2 not in the shared data")
    (u,) = load_svc2004(root, users=[15])
    rs = SignatureReferences.enroll([template_of(p) for p in u.genuine[:5]])
    gen = [CMP.compare(template_of(p), rs) for p in u.genuine[10:]]
    skl = [CMP.compare(template_of(p), rs) for p in u.skilled[:10]]
    assert np.median(gen) > np.median(skl)


def test_card_image_size_crop_and_pressure():
    pen = genuine(make_signer(2), np.random.default_rng(1)).pen
    img = render_signature(pen, width_mm=40, height_mm=15, dpi=300, y_up=True)
    w, h = round(40 * 300 / 25.4), round(15 * 300 / 25.4)
    assert img.dtype == np.uint8 and img.shape[0] <= h and img.shape[1] <= w
    assert img.shape[0] == h or img.shape[1] == w  # fitted to the box in one direction
    ink = img < 128
    rows, cols = np.where(ink)
    margin = 0.6 * 300 / 25.4
    assert rows.min() <= margin + 2 and cols.min() <= margin + 2  # cropped to the ink
    assert img.shape[0] - rows.max() <= margin + 3 and img.shape[1] - cols.max() <= margin + 3
    box = render_signature(pen, width_mm=40, height_mm=15, dpi=300, crop=False)
    assert box.shape == (h, w)
    light = PenSeries(pen.x, pen.y, pen.pressure * 0.2 + 1, pen.t_ms, pen.pen_down)
    heavy = PenSeries(pen.x, pen.y, np.where(pen.pen_down, 1000.0, 0.0), pen.t_ms, pen.pen_down)
    # width follows relative pressure: a pen pressed evenly hard draws more ink than a varied one
    assert (render_signature(heavy) < 128).sum() > (render_signature(pen) < 128).sum()
    assert (render_signature(light) < 255).sum() > 0
    for bad in ({"dpi": 0}, {"width_mm": -1}, {"dpi": 1e6}, {"min_width_mm": 2.0}):
        with pytest.raises(InvalidRequest):
            render_signature(pen, **bad)
    with pytest.raises(InvalidSample):
        render_signature(PenSeries(pen.x, pen.y, pen.pressure, pen.t_ms, np.zeros(len(pen), bool)))


def test_feature_groups_are_warped_and_normalised_separately():
    refs = SignatureReferences.enroll(_set(6, 5, 7))
    q = _set(6, 1, 8)[0]
    assert set(refs.pair_mean) == {"shape", "dynamics", "direction", "derivatives", "second_derivatives"}

    def d(*groups):
        return SignatureComparator(groups=groups).distance(q, refs)

    # each group adds its own (min, mean) terms; the global term is counted once per comparator
    assert d("shape", "dynamics") + d("direction") == pytest.approx(d("dynamics", "direction") + d("shape"))
    assert CMP.distance(q, refs) == pytest.approx(d("shape", "dynamics", "direction", "derivatives",
                                                   "second_derivatives"))
    assert d("shape") != pytest.approx(CMP.distance(q, refs))
    bare = dataclasses.replace(refs, stacks=())  # built without enroll(): columns sliced on demand
    assert CMP.distance(q, bare) == CMP.distance(q, refs)
    with pytest.raises(InvalidRequest):
        SignatureComparator(groups=("shape", "nope"))
    with pytest.raises(InvalidRequest):
        SignatureComparator(groups=())
    with pytest.raises(InvalidRequest):  # thresholds are calibrated for the default groups only
        SignatureComparator(groups=("shape",)).threshold_for_fmr(0.01)


def test_local_features_finite_on_straight_strokes_and_pauses():
    n = 300
    t = np.arange(n) * 10.0
    x = np.where(np.arange(n) < 150, np.arange(n) * 20.0, 3000.0)  # a straight line, then a pause
    pen = PenSeries(x, np.full(n, 500.0), np.full(n, 300.0), t, np.ones(n, bool))
    loc = template_of(pen).local
    assert loc.shape == (128, len(LOCAL_NAMES)) and np.all(np.isfinite(loc))
    rho = loc[:, LOCAL_NAMES.index("log_curvature_radius")]
    assert rho[:40].mean() > rho[-40:].mean()  # a moving straight stroke is flatter than a pause


@pytest.mark.parametrize("n, lengths", [(128, (128,) * 5), (100, (128, 128, 90)),
                                        (128, (40, 128, 60, 128)), (30, (200,)), (2, (3, 2))])
def test_compiled_kernel_equals_dtaidistance_per_group(n, lengths):
    from biocap.matching.signature.comparator import (_ALL_BOUNDS, GROUP_COLUMNS, GROUPS, _costs,
                                                      _LAYOUT, _stacks)
    from biocap.matching.signature.dtw import dtw_many
    rng = np.random.default_rng(n + len(lengths))
    q = rng.standard_normal((n, len(LOCAL_NAMES)))
    refs = [rng.standard_normal((m, len(LOCAL_NAMES))) for m in lengths]
    got = _costs(np.ascontiguousarray(q[:, _LAYOUT]),
                 _stacks([np.ascontiguousarray(r[:, _LAYOUT]) for r in refs]), len(refs), _ALL_BOUNDS)
    for gi, g in enumerate(GROUPS):
        cols = list(GROUP_COLUMNS[g])
        want = dtw_many(np.ascontiguousarray(q[:, cols]), [np.ascontiguousarray(r[:, cols]) for r in refs])
        np.testing.assert_array_equal(got[gi], want)  # same band, cost and summation order
