"""`biocap bench search --modality face`: 1:N speed per core and decisions against exhaustive float64.

Data: `biocap.synthetic.face_embeddings` (descriptor-shaped unit vectors; half the probes have a
mate in the gallery at a genuine distance, half are strangers). The threshold at `FMR` comes from
impostor scores of separate calibration probes (never the measured probes).

Three searches of the same probes, each single-threaded (threadpoolctl), CPU time of this process:
- `FaceGallery.search_many` (float32 first pass with its error bound + float64 rescoring);
- the reference: plain numpy float64 exhaustive (`rows.astype(float64) @ probes.T` by blocks, then
  the top-k and the threshold), the same batch size;
- the exact exhaustive (`kernel.exhaustive_search`: every row's float64 score, sorted, ties by row)
  which defines the decisions; `same_as_exhaustive` = for every probe the same top-k ids in the
  same order, the same float64 scores to the bit, and the same set of matches at the threshold.
Speeds are medians over `REPEATS` runs; ratios are fast / reference.
"""
from __future__ import annotations

import platform
import time
from typing import Any

import numpy as np

from ..matching.face import kernel
from ..matching.face.gallery import FaceGallery
from ..synthetic.face_embeddings import EmbeddingModel, cosine_statistics, synthetic_gallery
from .options import BenchOptions

FMR = 1e-5                 # decision threshold of the bench: a de-duplication operating point
TOP_K = 10
REPEATS = 3                # speed runs per method; the report gives medians
CALIBRATION_PROBES = 200   # stranger probes whose impostor scores set the threshold (many:
                           # a probe's false-match rate varies a lot from face to face)
CALIBRATION_ROWS = 50_000  # rows they are scored against (200 x 50k = 10M impostor scores)
SINGLE_PROBES = 8          # probes searched one at a time (the unbatched path)


def _calibration(gallery: np.ndarray, seed: int) -> tuple[Any, np.ndarray]:
    _, strangers, _ = synthetic_gallery(0, CALIBRATION_PROBES, seed=seed + 7919, mated_fraction=0.0)
    rows = gallery[:CALIBRATION_ROWS].astype(np.float64)
    scores = np.sort(((1.0 + strangers.astype(np.float64) @ rows.T) / 2.0).ravel())

    def threshold_for_fmr(fmr: float) -> float:
        index = min(scores.size - 1, int(np.ceil((1.0 - fmr) * scores.size)))
        return float(scores[index])

    return threshold_for_fmr, scores


def _reference_blas(gallery: np.ndarray, probes: np.ndarray, top_k: int, threshold: float):
    """Plain numpy float64 exhaustive: rows in float64 @ probes, then top-k and matches."""
    out = []
    for s in range(0, probes.shape[0], kernel.PROBE_BATCH):
        p64 = probes[s:s + kernel.PROBE_BATCH].astype(np.float64)
        scores = np.empty((p64.shape[0], gallery.shape[0]))
        for start in range(0, gallery.shape[0], kernel.BLOCK_ROWS):
            rows = gallery[start:start + kernel.BLOCK_ROWS].astype(np.float64)
            scores[:, start:start + rows.shape[0]] = (1.0 + p64 @ rows.T) / 2.0
        for row in scores:
            top = np.argpartition(row, row.size - top_k)[row.size - top_k:]
            top = top[np.lexsort((top, -row[top]))]
            out.append((top, row[top], set(np.flatnonzero(row >= threshold).tolist())))
    return out


def run_search_face(gallery_size: int, probes: int, *, seed: int = 0, top_k: int = TOP_K,
                    fmr: float = FMR, repeats: int = REPEATS, log=print) -> dict[str, Any]:
    from threadpoolctl import threadpool_info, threadpool_limits

    if gallery_size < max(top_k, 1) or probes < 1:
        raise ValueError("--gallery-size must be >= top-k and --probes >= 1")
    with threadpool_limits(1):
        t = time.process_time()
        g, p, mates = synthetic_gallery(gallery_size, probes, seed=seed)
        gen_s = time.process_time() - t
        threshold_for_fmr, _ = _calibration(g, seed)
        threshold = threshold_for_fmr(fmr)
        gallery = FaceGallery(threshold_for_fmr)
        gallery.add_arrays([f"g{i}" for i in range(gallery_size)], g)
        gallery.search_many(p[:2], top_k=top_k, fmr=fmr)            # warm-up
        fast_cpu, results = [], None
        for _ in range(repeats):
            t = time.process_time()
            results = gallery.search_many(p, top_k=top_k, fmr=fmr)
            fast_cpu.append(time.process_time() - t)
        t = time.process_time()
        for x in p[:SINGLE_PROBES]:
            gallery.search(x, top_k=top_k, fmr=fmr)
        single_cpu = time.process_time() - t
        ref_cpu, ref = [], None
        for _ in range(repeats):
            t = time.process_time()
            ref = _reference_blas(g, p, top_k, threshold)
            ref_cpu.append(time.process_time() - t)
        t = time.process_time()
        exact = [kernel.exhaustive_search(g, x, top_k=top_k, threshold=threshold) for x in p]
        exact_cpu = time.process_time() - t
        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]

    same = same_ids = same_blas = 0
    max_diff_blas = 0.0
    rank1 = mated = 0
    false_matches: list[int] = []
    rescored = []
    best_mated, best_unmated = [], []  # the top candidate's similarity (for --plot)
    for j, (res, e, (rtop, rscores, rmatch)) in enumerate(zip(results, exact, ref)):
        ids = [c.id for c in res.candidates]
        want_ids = [f"g{r}" for r in e.rows]
        scores = [c.score for c in res.candidates]
        same_ids += ids[:top_k] == want_ids[:top_k]
        same += (ids == want_ids and scores == e.scores.tolist()
                 and {c.id for c in res.matches} == {f"g{r}" for r, s in zip(e.rows, e.scores) if s >= threshold})
        same_blas += (ids[:top_k] == [f"g{r}" for r in rtop]
                      and {c.id for c in res.matches} == {f"g{r}" for r in rmatch})
        max_diff_blas = max(max_diff_blas, float(np.max(np.abs(np.array(scores[:top_k]) - rscores))))
        rescored.append(res.extra["rescored"])
        if res.candidates:
            (best_mated if mates[j] >= 0 else best_unmated).append(res.candidates[0].score)
        if mates[j] >= 0:
            mated += 1
            rank1 += ids[0] == f"g{mates[j]}"
        false_matches.append(sum(c.id != f"g{mates[j]}" for c in res.matches))
    comparisons = gallery_size * probes
    fast_med, ref_med = float(np.median(fast_cpu)), float(np.median(ref_cpu))
    return {
        "_plot_scores": {"probes with a mate": best_mated, "probes without": best_unmated},
        "modality": "face",
        "gallery_size": gallery_size,
        "probes": probes,
        "top_k": top_k,
        "fmr": fmr,
        "threshold": threshold,
        "per_second_per_core": comparisons / fast_med,
        "same_as_exhaustive": same == probes,
        "probes_same_as_exhaustive": same,
        "probes_same_top_k_ids": same_ids,
        "probes_same_as_reference_blas": same_blas,
        "max_score_diff_vs_reference_blas": max_diff_blas,
        "reference_per_second_per_core": comparisons / ref_med,
        "exact_exhaustive_per_second_per_core": comparisons / exact_cpu,
        "speedup_vs_reference": ref_med / fast_med,
        "per_second_per_core_single_probe": gallery_size * min(SINGLE_PROBES, probes) / single_cpu,
        "search_cpu_s_runs": fast_cpu,
        "reference_cpu_s_runs": ref_cpu,
        "exact_exhaustive_cpu_s": exact_cpu,
        "rescored_per_probe_median": float(np.median(rescored)),
        "rescored_per_probe_max": int(np.max(rescored)),
        "rank1_of_mated_probes": rank1 / mated if mated else None,
        "non_mate_matches_per_probe": float(np.mean(false_matches)),
        "non_mate_matches_per_probe_median": float(np.median(false_matches)),
        "non_mate_match_rate": float(np.sum(false_matches)) / comparisons,
        "bytes_per_face_embeddings": gallery.bytes_per_face,
        "synthetic": {**EmbeddingModel().__dict__, "seed": seed, "generate_s": gen_s,
                      **cosine_statistics(g, p, mates)},
        "machine": {"processor": platform.processor() or platform.machine(),
                    "blas": [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in blas],
                    "threads": 1},
    }


def run(options: BenchOptions) -> dict[str, Any]:
    """The figures of `biocap bench search --modality face`."""
    result = run_search_face(int(options.gallery_size), int(options.probes), seed=int(options.seed))
    plot_scores = result.pop("_plot_scores")
    if options.plot:
        from .det_plot import plot_histograms

        plot_histograms(plot_scores, options.plot, xlabel="similarity of the best candidate",
                        title=f"face 1:N, {options.gallery_size:,} faces")
        result["plot"] = str(options.plot)
    return result
