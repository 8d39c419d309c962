"""`biocap bench quality --modality fingerprint`: the runner on a small slice of a real set."""
from __future__ import annotations

import pytest

from biocap.errors import InvalidSample, NoProvider


def _args(dataset, **kw):
    base = dict(modality="fingerprint", dataset=dataset, layout="fvc", ppi=569.0,
                reference="nfiq2", limit=2, matcher="bozorth3")
    base.update(kw)
    from biocap.evaluation.options import BenchOptions

    return BenchOptions(progress=False, **base)


@pytest.mark.slow
def test_runner_reports_the_agreed_figures(fvc_db1):
    pytest.importorskip("nbis", reason="the NFIQ 2 reference needs the optional extra nbis-py")
    from biocap.evaluation.bench_quality import run
    from conftest import shared_or_none

    # FVC2002 DB2_B (569 ppi), else the generated 2 fingers x 8 impressions at 500 ppi
    db2 = shared_or_none("fingerprint", "fvc2002_db2_b")
    result = run(_args(db2) if db2 is not None else _args(fvc_db1[0], ppi=500.0))
    assert result["n_images"] == 16 and result["n_genuine"] == 56 and result["n_impostor"] == 64
    for key in ("ms_median", "reference_ms_median", "spearman", "fnmr_at_fmr1",
                "fnmr_at_fmr1_reject10_biocap", "fnmr_at_fmr1_reject10_nfiq2", "matcher"):
        assert key in result, key
    assert "bozorth3" in result["matcher"]
    assert -1.0 <= result["spearman"] <= 1.0
    assert result["ms_median"] > 0 and result["reference_ms_median"] >= 0
    erc = result["error_vs_reject"]
    assert set(erc) == {"biocap", "nfiq2"}
    assert all(0.0 <= v <= 1.0 for e in erc.values() for v in e.values())
    assert set(result["scores"]) == set(result["reference_scores"])


def test_runner_refuses_missing_arguments(tmp_path):
    from biocap.evaluation.bench_quality import run

    with pytest.raises(InvalidSample, match="resolution"):
        run(_args(tmp_path, ppi=None))
    with pytest.raises(InvalidSample, match="dataset"):
        run(_args(None))
    with pytest.raises(NoProvider):
        run(_args(tmp_path, reference="nfiq9"))
    with pytest.raises(NoProvider):
        run(_args(tmp_path, matcher="guess"))
    with pytest.raises(FileNotFoundError):
        run(_args(tmp_path))  # no files of the layout
