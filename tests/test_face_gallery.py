"""Face 1:N gallery: decisions equal to exhaustive float64, sharding, save/load, hostile files."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biocap.errors import BiocapError, InvalidDataError
from biocap.matching.face import kernel
from biocap.matching.face.gallery import HEADER_BYTES, FaceGallery, GalleryFileError
from biocap.plugins.contracts import Gallery, SearchResult
from biocap.synthetic.face_embeddings import synthetic_gallery


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # the machine is shared: a multi-threaded BLAS spinning on busy cores is 20x slower here
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@dataclass
class _Template:          # anything with an .embedding works (the FaceTemplate contract)
    embedding: np.ndarray


def _thr(fmr: float) -> float:
    return 0.95 + 0.005 * -np.log10(fmr)     # a made-up monotone calibration for the tests


def _data(n=6000, probes=24, seed=1):
    g, p, mates = synthetic_gallery(n, probes, seed=seed)
    return g, p, mates


def _exhaustive(g, p, top_k, threshold):
    return [kernel.exhaustive_search(g, x, top_k=top_k, threshold=threshold) for x in p]


def test_meets_the_gallery_contract():
    gallery = FaceGallery(_thr)
    assert isinstance(gallery, Gallery)
    g, p, _ = _data(200, 2)
    gallery.add_many((f"id{i}", _Template(e)) for i, e in enumerate(g))
    assert len(gallery) == 200 and "id7" in gallery and "nope" not in gallery
    res = gallery.search(_Template(p[0]), top_k=5, fmr=1e-4)
    assert isinstance(res, SearchResult) and len(res.candidates) >= 5
    assert res.threshold == pytest.approx(_thr(1e-4))
    assert all(0.0 <= c.score <= 1.0 for c in res.candidates)
    assert list(c.score for c in res.candidates) == sorted((c.score for c in res.candidates), reverse=True)


@pytest.mark.parametrize("top_k", [1, 10, 50])
def test_decisions_equal_exhaustive_float64(top_k):
    g, p, mates = _data()
    gallery = FaceGallery(_thr)
    gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
    thr = _thr(1e-3)
    fast = gallery.search_many(p, top_k=top_k, fmr=1e-3)
    ref = _exhaustive(g, p, top_k, thr)
    for f, e in zip(fast, ref):
        assert [c.id for c in f.candidates] == [f"s{r}" for r in e.rows]
        assert [c.score for c in f.candidates] == e.scores.tolist()   # bit-identical float64
        assert {c.id for c in f.matches} == {f"s{r}" for r, s in zip(e.rows, e.scores) if s >= thr}
    # the synthetic mates are found at rank 1
    mated = [(f, m) for f, m in zip(fast, mates) if m >= 0]
    assert mated and sum(f.candidates[0].id == f"s{m}" for f, m in mated) >= 0.9 * len(mated)


def test_ties_and_duplicates_are_ordered_like_exhaustive():
    g, p, _ = _data(3000, 8)
    g[1000:1010] = g[5]                     # ten identical rows: a ten-way tie
    p[0] = g[5]
    gallery = FaceGallery()
    gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
    for top_k in (3, 11):
        fast = gallery.search_many(p, top_k=top_k)
        ref = _exhaustive(g, p, top_k, None)
        for f, e in zip(fast, ref):
            assert [c.id for c in f.candidates] == [f"s{r}" for r in e.rows]


def test_many_matches_at_a_low_threshold_are_all_returned():
    g, p, _ = _data(4000, 4)
    gallery = FaceGallery(lambda fmr: 0.6)          # a threshold nearly every row passes
    gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
    res = gallery.search_many(p, top_k=5, fmr=0.5)
    ref = _exhaustive(g, p, 5, 0.6)
    for f, e in zip(res, ref):
        assert len(f.matches) == int(np.sum(e.scores >= 0.6)) > 5
        assert [c.id for c in f.candidates] == [f"s{r}" for r in e.rows]


def test_first_pass_error_stays_inside_the_bound():
    g, p, _ = _data(20000, 16)
    approx = (p @ g.T).astype(np.float64)
    exact = np.stack([kernel.exact_dots(g, x) for x in p])
    bound = kernel.error_bound(1.0 + 1e-3, np.ones(len(p)))
    assert np.max(np.abs(approx - exact)) < bound.min() / kernel.SAFETY


def test_shards_merge_to_the_global_answer():
    g, p, _ = _data(9000, 6)
    cuts = [0, 2500, 2501, 7000, 9000]
    for j, probe in enumerate(p):
        parts = [kernel.search_block(g[a:b], probe[None], top_k=10, threshold=0.96, base_index=a)[0]
                 for a, b in zip(cuts, cuts[1:])]
        merged = kernel.merge_hits(parts, 10, 0.96)
        ref = kernel.exhaustive_search(g, probe, top_k=10, threshold=0.96)
        assert merged.rows.tolist() == ref.rows.tolist()
        assert merged.scores.tolist() == ref.scores.tolist()


def test_add_replace_remove():
    g, p, _ = _data(50, 1)
    gallery = FaceGallery()
    for i, e in enumerate(g):
        gallery.add(f"id{i}", e)
    gallery.add("id3", g[10])                # replace: still one row for id3
    assert len(gallery) == 50
    res = gallery.search(g[10], top_k=2)
    assert {c.id for c in res.candidates} == {"id3", "id10"}
    gallery.remove("id10")
    assert "id10" not in gallery and len(gallery) == 49
    assert gallery.search(g[10], top_k=1).candidates[0].id == "id3"
    assert gallery.search(g[49], top_k=1).candidates[0].id == "id49"   # moved row still found
    with pytest.raises(KeyError):
        gallery.remove("id10")


@pytest.mark.parametrize("bad", [np.zeros(128), np.full(128, np.nan), np.ones(64), "text",
                                 np.ones(128)])
def test_bad_embeddings_are_refused(bad):
    with pytest.raises(InvalidDataError):
        FaceGallery().add("x", bad)


def test_bad_requests_are_refused():
    gallery = FaceGallery()
    g, p, _ = _data(20, 1)
    gallery.add_arrays([f"s{i}" for i in range(20)], g)
    with pytest.raises(BiocapError):
        gallery.search(p[0], fmr=1e-3)          # no calibration given
    with pytest.raises(BiocapError):
        gallery.search(p[0], top_k=0)
    with pytest.raises(BiocapError):
        gallery.add_arrays(["a", "a"], g[:2])


def test_empty_gallery_answers_nothing():
    g, p, _ = _data(5, 1)
    assert FaceGallery().search(p[0]).candidates == ()


# --- persistence -------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    g, p, _ = _data(700, 3)
    gallery = FaceGallery(_thr)
    gallery.add_arrays([f"subject-{i}-é" for i in range(len(g))], g)
    path = tmp_path / "faces.bfg"
    gallery.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = FaceGallery.load(path, _thr)
    assert loaded.ids == gallery.ids
    assert np.array_equal(loaded.embeddings, gallery.embeddings)
    assert loaded.search(p[0], fmr=1e-3) == gallery.search(p[0], fmr=1e-3)
    empty = tmp_path / "empty.bfg"
    FaceGallery().save(empty)
    assert len(FaceGallery.load(empty)) == 0


def test_truncated_or_edited_files_raise_gallery_errors(tmp_path):
    g, _, _ = _data(40, 1)
    gallery = FaceGallery()
    gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
    path = tmp_path / "g.bfg"
    gallery.save(path)
    data = path.read_bytes()
    for cut in (0, 10, HEADER_BYTES - 1, HEADER_BYTES, len(data) - 1):
        with pytest.raises(GalleryFileError):
            FaceGallery.from_bytes(data[:cut])
    for pos in (0, 9, 20, 40, 90, HEADER_BYTES + 5, len(data) - 2):
        edited = bytearray(data)
        edited[pos] ^= 0x10
        with pytest.raises(GalleryFileError):
            FaceGallery.from_bytes(bytes(edited))


SAVED = None


def _saved_bytes():
    global SAVED
    if SAVED is None:
        g, _, _ = _data(30, 1)
        gallery = FaceGallery()
        gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            gallery.save(os.path.join(d, "g"))
            with open(os.path.join(d, "g"), "rb") as fh:
                SAVED = fh.read()
    return SAVED


@settings(max_examples=200, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, HEADER_BYTES - 1), st.integers(0, 255)), min_size=1,
                      max_size=6), tail=st.integers(-50, 50))
def test_fuzzed_headers_never_load_and_never_crash(edits, tail):
    data = bytearray(_saved_bytes())
    for pos, value in edits:
        data[pos] = value
    if tail < 0:
        data = data[:tail]
    else:
        data += bytes(tail)
    if bytes(data) == _saved_bytes():
        return
    with pytest.raises(GalleryFileError):
        FaceGallery.from_bytes(bytes(data))


def test_a_forged_header_with_a_valid_checksum_cannot_claim_huge_sizes():
    import hashlib
    import struct

    data = bytearray(_saved_bytes())
    struct.pack_into("<Q", data, 16, 10 ** 15)          # count: a petabyte of faces
    data[64:96] = hashlib.sha256(bytes(data[:64])).digest()
    with pytest.raises(GalleryFileError, match="announces"):
        FaceGallery.from_bytes(bytes(data))


def test_bench_search_face_cli(tmp_path):
    import json

    from biocap.cli import main

    out = tmp_path / "face_search.json"
    assert main(["bench", "search", "--modality", "face", "--gallery-size", "3000", "--probes", "6",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["same_as_exhaustive"] is True
    assert result["probes_same_as_exhaustive"] == 6
    assert result["per_second_per_core"] > 0 and result["reference_per_second_per_core"] > 0
    assert result["rank1_of_mated_probes"] >= 0.5          # seed 0: 2 of the 3 mated probes


def test_threshold_exactly_at_a_score_and_near_ties_within_the_bound():
    g, p, _ = _data(5000, 4)
    rng = np.random.default_rng(3)
    # 300 rows that differ from row 7 by less than the float32 first pass can resolve
    near = g[7] + rng.standard_normal((300, 128)).astype(np.float32) * 2e-7
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    g[1000:1300] = near
    p[0] = g[7]
    exact = kernel.exhaustive_search(g, p[0], top_k=40)
    thr = float(exact.scores[25])                   # a threshold equal to a row's exact score
    gallery = FaceGallery(lambda fmr: thr)
    gallery.add_arrays([f"s{i}" for i in range(len(g))], g)
    res = gallery.search(p[0], top_k=20, fmr=1e-3)
    ref = kernel.exhaustive_search(g, p[0], top_k=20, threshold=thr)
    assert [c.id for c in res.candidates] == [f"s{r}" for r in ref.rows]
    assert [c.score for c in res.candidates] == ref.scores.tolist()
    assert len(res.matches) == int(np.sum(ref.scores >= thr)) >= 26
