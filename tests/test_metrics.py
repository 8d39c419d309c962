import numpy as np
import pytest

from biocap.evaluation.datasets import Item, all_pairs
from biocap.evaluation.metrics import error_rates, error_vs_reject, fnmr_at_fmr


def test_separable_scores_have_zero_error():
    r = error_rates([0.9, 0.8, 0.95], [0.1, 0.2, 0.3, 0.05])
    assert r.eer == 0 and r.fmr100 == 0 and r.zero_fmr == 0


def test_known_overlap():
    rng = np.random.default_rng(1)
    g = rng.normal(2.0, 1.0, 20000)
    i = rng.normal(0.0, 1.0, 20000)
    # two unit normals 2 sigma apart cross at 1: EER = P(N(0,1) > 1) = 0.1587
    assert error_rates(g, i).eer == pytest.approx(0.1587, abs=0.01)
    # FMR 1% threshold = 2.326 -> FNMR = P(N(2,1) < 2.326) = 0.628
    assert fnmr_at_fmr(g, i, 0.01) == pytest.approx(0.628, abs=0.02)


def test_error_vs_reject_drops_low_quality_failures():
    g = np.array([0.9, 0.9, 0.9, 0.1])
    i = np.array([0.2, 0.3, 0.4, 0.5] * 50)
    q = np.array([80, 70, 60, 5])  # the failing pair has the lowest quality
    assert error_vs_reject(g, i, q, 0.0) == 0.25
    assert error_vs_reject(g, i, q, 0.25) == 0.0


def test_non_finite_scores_are_refused():
    with pytest.raises(ValueError):
        error_rates([np.nan], [0.1])


def test_fvc_all_pairs_counts():
    items = [Item(path=None, subject=str(f), impression=str(k)) for f in range(10) for k in range(8)]
    genuine, impostor = all_pairs(items)
    assert len(genuine) == 280 and len(impostor) == 2880
