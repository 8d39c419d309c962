"""The compiled MCC kernels (`biocap.matching.fingerprint.kernels`) against the numpy reference
code in `mcc` (compiled=False), on templates generated here: the local similarities and the
selected pairs bit for bit, the scores to float32 rounding."""
from __future__ import annotations

import numpy as np
import pytest

from biocap.matching.fingerprint import kernels, mcc
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.templates.fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate


def _templates(n_fingers: int = 6, n_imp: int = 4, seed: int = 0) -> list[FingerprintTemplate]:
    """Impressions of random fingers: rotated, shifted, jittered, some minutiae dropped."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_fingers):
        n = int(rng.integers(25, 75))
        base = np.stack([rng.uniform(40, 320, n), rng.uniform(40, 420, n), rng.uniform(0, 2 * np.pi, n)], 1)
        for _ in range(n_imp):
            phi = rng.normal(0, 0.2)
            c, s = np.cos(phi), np.sin(phi)
            b = base[rng.random(n) > 0.15]
            m = np.zeros(len(b), MINUTIA_DTYPE)
            m["x"] = c * (b[:, 0] - 180) - s * (b[:, 1] - 230) + 180 + rng.normal(0, 15) + rng.normal(0, 2, len(b))
            m["y"] = s * (b[:, 0] - 180) + c * (b[:, 1] - 230) + 230 + rng.normal(0, 15) + rng.normal(0, 2, len(b))
            m["angle"] = np.mod(b[:, 2] + phi + rng.normal(0, 0.1, len(b)), 2 * np.pi)
            m["type"], m["quality"] = 1, 60
            out.append(FingerprintTemplate(m, 360, 460, 500.0))
    return out


@pytest.fixture(scope="module")
def encoded():
    cmp = FingerprintComparator()
    enc = [cmp.encode(t) for t in _templates()]
    return cmp, enc, cmp.prepare_many(enc)


def test_local_similarities_are_bit_identical(encoded):
    cmp, enc, prep = encoded
    for e in enc[::3]:
        probe = e.probe_prepared(cmp.params)
        ref = mcc.local_similarities(probe, prep, cmp.params)
        new = mcc.local_similarities_compiled(probe, prep, cmp.params)
        assert new.shape == ref.shape
        assert np.array_equal(new.view(np.int32), np.ascontiguousarray(ref).view(np.int32))


@pytest.mark.parametrize("batch", [1, 24])
def test_pair_selection_is_identical(encoded, batch):
    cmp, enc, prep = encoded
    for e in enc[:6]:
        lam = mcc.local_similarities(e.probe_prepared(cmp.params), prep, cmp.params)[:batch]
        k = 40
        ref_top, ref_vals = mcc._greedy_distinct(lam, k)
        top, vals = np.zeros((batch, k), np.int64), np.zeros((batch, k), np.float32)
        kernels.greedy_distinct(np.ascontiguousarray(lam), k, batch > 1, top, vals)
        taken = ref_vals > 0  # where nothing is taken the index is never read
        assert np.array_equal(vals, ref_vals)
        assert np.array_equal(top[taken], ref_top[taken])


def test_scores_equal_the_numpy_reference(encoded):
    cmp, enc, prep = encoded
    p = cmp.params
    ref = np.stack([mcc.compare_prepared(e.probe_prepared(p), prep, p, pairing=cmp.pairing, compiled=False)
                    for e in enc])
    new = np.stack([cmp.compare_prepared(e, prep) for e in enc])
    assert np.abs(new - ref).max() <= 1e-5
    # not a vacuous comparison: a template matches itself, other fingers score low
    other = ~np.equal.outer(np.arange(len(enc)) // 4, np.arange(len(enc)) // 4)
    assert np.diag(new).min() > 0.5 and new[other].mean() < 0.1
    # one compare() call per pair (a batch of one: the unquantized pair selection)
    for a, b in [(0, 1), (0, 5), (7, 6), (12, 20)]:
        one = mcc.compare_prepared(enc[a].probe_prepared(p), mcc.prepare_sets([enc[b].cylinders], p), p,
                                   pairing=cmp.pairing, compiled=False)[0]
        assert abs(cmp.compare(enc[a], enc[b]) - one) <= 1e-5


def test_empty_and_tiny_sets_score_zero_like_the_reference():
    cmp = FingerprintComparator()
    p = cmp.params
    few = FingerprintTemplate(np.array([(100, 100, 0.5, 1, 60), (140, 120, 1.0, 1, 60)], MINUTIA_DTYPE),
                              300, 300, 500.0)
    enc = [cmp.encode(t) for t in _templates(2, 2, seed=3)] + [cmp.encode(few)]
    prep = cmp.prepare_many(enc)
    for e in enc:
        probe = e.probe_prepared(p)
        ref = mcc.compare_prepared(probe, prep, p, pairing=cmp.pairing, compiled=False)
        new = mcc.compare_prepared(probe, prep, p, pairing=cmp.pairing)
        assert np.abs(new - ref).max() <= 1e-5
    assert cmp.compare(enc[0], enc[-1]) == 0.0


def test_pairing_counts_are_identical(encoded):
    from biocap.matching.fingerprint import pairing

    cmp, enc, prep = encoded
    p = cmp.params
    for e in enc[::4]:
        probe = e.probe_prepared(p)
        details = {"n_pairs": cmp.pairing.n_anchor}
        mcc.lss_r(mcc.local_similarities(probe, prep, p), probe, prep, p, details)
        args = (probe, prep, details["ia"], details["jb"], details["w"], cmp.pairing)
        ref = pairing.paired_fraction(*args)
        assert np.array_equal(pairing.paired_fraction(*args, compiled=True), ref)
        assert ref.max() > 0.5  # the probe's own entry pairs nearly all its minutiae
