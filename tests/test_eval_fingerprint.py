"""Evaluation suite pieces: rank-k, CMC, DET plot, FTE, and the fingerprint bench runners."""
import json

import numpy as np
import pytest

from biocap.evaluation.identification import cmc_curve, rank_k_rates


def test_rank_k_rates():
    ranked = [["a", "b", "c"], ["x", "a", "c"], ["q", "r", "s"], []]
    r = rank_k_rates(ranked, ["a", "a", "c", "d"], ks=(1, 2, 3))
    assert r == {1: 0.25, 2: 0.5, 3: 0.5}
    with pytest.raises(ValueError):
        rank_k_rates([["a"]], ["a", "b"])
    with pytest.raises(ValueError):
        rank_k_rates([["a"]], ["a"], ks=(0,))


def test_cmc_curve_counts_ties_against_the_mate():
    s = np.array([[0.9, 0.1, 0.2], [0.5, 0.5, 0.1], [0.1, 0.2, 0.3]])
    cmc = cmc_curve(s, [0, 1, 0], max_rank=3)
    np.testing.assert_allclose(cmc, [1 / 3, 2 / 3, 1.0])


@pytest.mark.slow
def test_det_plot_writes_a_png(tmp_path):
    from biocap.evaluation.det_plot import plot_det

    rng = np.random.default_rng(0)
    curves = {"ours set": (rng.normal(2, 1, 300), rng.normal(0, 1, 3000)),
              "ref set": (rng.normal(1, 1, 300), rng.normal(0, 1, 3000))}
    out = plot_det(curves, tmp_path / "det.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_det({}, tmp_path / "x.png")


def _args(**kw):
    from biocap.evaluation.options import BenchOptions

    base = dict(dataset=None, layout="fvc", ppi=500.0, reference=None, plot=None,
                gallery_size=100, probes=4, seed=0, limit=2, progress=False, extractor="nbis",
                cache=kw.pop("cache", None))  # mindtct: fast, stable minutiae for a smoke run
    base.update(kw)
    return BenchOptions(**base)


@pytest.fixture
def bench_env(tmp_path):
    pytest.importorskip("nbis")
    return tmp_path


@pytest.mark.slow
def test_bench_verify_on_a_tiny_subset_with_reference(fvc_db1, bench_env):
    from biocap.evaluation import bench_verify_fingerprint as bench

    db1 = fvc_db1[0]
    out = bench.run(_args(dataset=db1, reference="nbis"))  # (the PNG is tested above)
    json.dumps(out)  # serializable
    for key in ("eer", "fmr100", "fmr1000", "zero_fmr", "fte", "n_genuine", "n_impostor",
                "extract_ms_median", "compare_per_s"):
        assert key in out and key in out["reference"]
    assert out["n_genuine"] == 2 * 28 and out["n_impostor"] == 64
    assert out["compare_per_s"] > 0 and 0 <= out["eer"] <= 0.5


@pytest.mark.slow
def test_bench_verify_counts_failure_to_enrol(fvc_db1, bench_env, monkeypatch):
    from biocap.evaluation import bench_verify_fingerprint as bench

    real = bench._extract_one

    def failing(path, *a, **k):  # impression 3 of every finger fails to extract
        return (None, 1.0) if path.stem.endswith("_3") else real(path, *a, **k)

    monkeypatch.setattr(bench, "_extract_one", failing)
    db1 = fvc_db1[0]
    out = bench.run(_args(dataset=db1))
    assert out["fte_count"] == 2 and out["fte"] == pytest.approx(2 / 16)
    assert out["n_genuine"] == 56  # failures stay in the protocol with the lowest score


def test_bench_verify_reads_a_folder_of_iso_records(fvc_db1, bench_env):
    import cv2

    from biocap.templates import formats

    from biocap.evaluation import bench_verify_fingerprint as bench
    from biocap.evaluation.nbis_reference import NbisReference

    ref = NbisReference()
    folder = bench_env / "records"
    folder.mkdir()
    root, fingers = fvc_db1
    for finger in fingers:
        for imp in (1, 2, 3):
            img = cv2.imread(str(next(root.glob(f"{finger}_{imp}.[tp][in][fg]"))), 0)
            t = ref.extract(img, 500).template
            rec = formats.FingerprintRecord.from_templates([t], format="iso19794-2:2005")
            (folder / f"{finger}_{imp}.ist").write_bytes(formats.encode(rec))
    out = bench.run(_args(dataset=folder, ppi=None))
    assert out["fte"] == 0 and out["n_genuine"] == 6 and out["n_impostor"] == 9
    assert out["eer"] < 0.5


@pytest.mark.slow
def test_bench_search_on_a_tiny_gallery(fvc_db1, bench_env):
    from biocap.evaluation import bench_search_fingerprint as bench

    db1 = fvc_db1[0]
    out = bench.run(_args(dataset=db1, gallery_size=20, probes=3, limit=2))
    assert out["gallery_size"] == 20 and out["n_probes"] == 3 and out["n_mates"] == 2
    for key in ("per_second_per_core", "rank1", "rank1_exhaustive", "bytes_per_finger"):
        assert key in out
    assert out["bytes_per_finger"] <= 16 * 1024
    assert 0 <= out["rank1"] <= 1 and out["rank1_exhaustive"] >= 0.5


@pytest.mark.slow
def test_bench_search_enrols_the_chosen_impression_and_saves_the_scores(fvc_db1, bench_env):
    from biocap.errors import InvalidDataError
    from biocap.evaluation import bench_search_fingerprint as bench
    from biocap.evaluation.bench_verify_fingerprint import default_sets, load_templates
    from biocap.matching.fingerprint.comparator import FingerprintComparator

    db1 = fvc_db1[0]
    saved = bench_env / "scores.npz"
    # 2 probes spread over 2 fingers: impression 1 of each (the first impression that is not 8)
    out = bench.run(_args(dataset=db1, gallery_size=20, probes=2, limit=2, mate_impression=8,
                          scores_cache=saved))
    assert out["mate_impression"] == 8 and out["n_probes"] == 2 and out["n_mates"] == 2
    assert out["exhaustive_per_second_per_core"] > 0
    again = bench.run(_args(dataset=db1, gallery_size=20, probes=2, limit=2, mate_impression=8,
                            scores_cache=saved))  # the cached scores are reused, same figures
    assert again["exhaustive_per_second_per_core"] is None
    for key in ("rank1", "rank1_exhaustive", "rank1_by_shortlist_fraction"):
        assert again[key] == out[key]
    with np.load(saved) as z:
        scores, gallery_ids, probe_ids = z["scores"], list(z["gallery_ids"]), list(z["probe_ids"])
    assert scores.shape == (2, 20) and scores.dtype == np.float32
    # recompute one saved score independently: impression 1 searched against impression 8
    args = _args(dataset=db1, limit=2)
    loaded = load_templates(default_sets(args)[0], args)
    items, templates = loaded.items, loaded.templates
    by = {(it.subject, int(it.impression)): t for it, t in zip(items, templates)}
    subject = probe_ids[0].split("/")[1]
    cmp = FingerprintComparator()
    gal = cmp.gallery()
    gal.add_many([("mate", cmp.encode(by[(subject, 8)]))])
    expected = gal.score_rows(cmp.encode(by[(subject, 1)]), np.arange(1))[0]
    assert scores[0, gallery_ids.index(probe_ids[0])] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    # a cache of other scores is refused: a spot-checked score differs, or the ids differ
    with np.load(saved) as z:
        tampered = dict(z)
    tampered["scores"] = tampered["scores"] * 0.5 + 0.01
    np.savez(bench_env / "bad.npz", **tampered)
    with pytest.raises(InvalidDataError, match="differ"):
        bench.run(_args(dataset=db1, gallery_size=20, probes=2, limit=2, mate_impression=8,
                        scores_cache=bench_env / "bad.npz"))
    with pytest.raises(InvalidDataError, match="another gallery"):
        bench.run(_args(dataset=db1, gallery_size=21, probes=2, limit=2, mate_impression=8,
                        scores_cache=saved))
    with pytest.raises(InvalidDataError, match="mate-impression 9"):
        bench.run(_args(dataset=db1, gallery_size=20, probes=2, limit=2, mate_impression=9))
    with pytest.raises(InvalidDataError, match="positive"):
        bench.run(_args(dataset=db1, gallery_size=20, probes=2, limit=2, mate_impression=0))
