"""`biocap bench verify|search --modality iris`: accuracy on a dataset, 1:N speed and exactness.

verify: every image is extracted (failures count towards the failure-to-enrol rate, FTE), every
pair is compared (all-pairs protocol of biocap.evaluation.datasets); EER / FMR1000 are over the
pairs whose two images enrolled (the usual convention, FTE reported beside them), and
`eer_with_failures` counts a pair with a failed image as a non-match (score 0).

search: a gallery of `--gallery-size` codes = the real codes of the dataset (minus the probes)
+ filler codes (biocap.matching.iris_synthetic: Gabor-filtered noise with real masks). Probes
are real images whose mates (the other images of the same eye) are planted in the gallery at
random rows. The fast search's decisions (top-1, and every row at or below the threshold) are
checked against exhaustive search of the same gallery, and its speed against the time needed to
stream the gallery's bytes once (the memory-bandwidth ceiling) measured in the same run.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from ..matching.iris_gallery import CODE_BYTES, IrisGallery, key_stats
from ..matching.iris_hamming import as_words, masked_distances, normalize_hd, rotations
from ..matching.iris_synthetic import filler_codes, neighbour_agreement
from ..templates.iris import IrisExtractor
from .data import data_path
from .datasets import load_layout
from .metrics import det_curve, error_rates

MAX_SHIFT = 8


def _items(args):
    dataset = args.dataset or data_path("iris", "casia_irisv1")
    layout = args.layout if args.dataset else "casia-iris"
    if layout == "fvc":  # the CLI's default layout is the fingerprint one
        layout = "casia-iris"
    items = load_layout(dataset, layout)
    if args.limit:
        keep = sorted({it.subject for it in items})[: args.limit]
        items = [it for it in items if it.subject in set(keep)]
    return Path(dataset), layout, items


def extract_all(items, extractor: IrisExtractor | None = None):
    """(codes (n, 256), masks (n, 256), enrolled (n,) bool, extraction ms (n,))."""
    extractor = extractor or IrisExtractor()
    n = len(items)
    codes = np.zeros((n, CODE_BYTES), np.uint8)
    masks = np.zeros((n, CODE_BYTES), np.uint8)
    ok = np.zeros(n, bool)
    ms = np.zeros(n)
    for i, it in enumerate(items):
        img = cv2.imread(str(it.path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        t = time.process_time()
        try:
            tpl = extractor.trace_image(img).template
            codes[i], masks[i], ok[i] = tpl.code, tpl.mask, True
        except Exception:  # noqa: BLE001 - any failure of one image is a failure to enrol
            pass
        ms[i] = (time.process_time() - t) * 1000
    return codes, masks, ok, ms


def distance_matrix(codes: np.ndarray, masks: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """HD_norm of every pair at its best rotation, (n, n)."""
    n = codes.shape[0]
    shifts = np.arange(-max_shift, max_shift + 1)
    cw, mw = as_words(codes), as_words(masks)
    out = np.ones((n, n))
    for i in range(n):
        pc = as_words(rotations(codes[i], 2, shifts))
        pm = as_words(rotations(masks[i], 2, shifts))
        raw, cnt = masked_distances(pc, pm, cw, mw)
        out[i] = normalize_hd(raw, cnt).min(axis=1)
    return out


def run_verify(args) -> dict:
    dataset, layout, items = _items(args)
    codes, masks, ok, ms = extract_all(items)
    dist = distance_matrix(codes, masks)
    subject = np.array([it.subject for it in items])
    iu = np.triu_indices(len(items), 1)
    same = subject[iu[0]] == subject[iu[1]]
    both = ok[iu[0]] & ok[iu[1]]
    sim = 1.0 - dist[iu]
    rates = error_rates(sim[same & both], sim[~same & both])
    sim_f = np.where(both, sim, 0.0)
    rates_f = error_rates(sim_f[same], sim_f[~same])
    result = {
        "modality": "iris", "dataset": str(dataset), "layout": layout, "n_images": len(items),
        "n_classes": int(len(set(subject))), "eer": rates.eer, "fmr100": rates.fmr100,
        "fmr1000": rates.fmr1000, "zero_fmr": rates.zero_fmr, "fte": float(1 - ok.mean()),
        "n_genuine": rates.n_genuine, "n_impostor": rates.n_impostor,
        "eer_with_failures": rates_f.eer, "fmr1000_with_failures": rates_f.fmr1000,
        "extract_ms_median": float(np.median(ms[ok])) if ok.any() else None,
        "extract_ms_p90": float(np.percentile(ms[ok], 90)) if ok.any() else None,
        "genuine_hd_median": float(np.median(dist[iu][same & both])),
        "impostor_hd_median": float(np.median(dist[iu][~same & both])),
        "impostor_hd_p0_1": float(np.percentile(dist[iu][~same & both], 0.1)),
        "score": "similarity = 1 - HD_norm at the best of +-8 rotations",
        "protocol": "all pairs; EER over pairs of enrolled images, FTE apart",
    }
    if getattr(args, "plot", None):
        _plot_det(sim[same & both], sim[~same & both], args.plot, f"{dataset.name} ({layout})")
        result["plot"] = str(args.plot)
    return result


def _plot_det(genuine, impostor, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    _, fmr, fnmr = det_curve(genuine, impostor)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(np.maximum(fmr, 1e-6) * 100, np.maximum(fnmr, 1e-6) * 100)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FMR (%)")
    ax.set_ylabel("FNMR (%)")
    ax.set_title(f"iris DET: {title}")
    ax.grid(True, which="both", alpha=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- search ---------------------------------------------------------------------------------
def _genuine_key_stats(codes, masks, ok, subject, threshold: float):
    """key_stats of every genuine pair whose full HD_norm is at or below the threshold."""
    shifts = np.arange(-MAX_SHIFT, MAX_SHIFT + 1)
    idx = np.nonzero(ok)[0]
    out = []
    for a in idx:
        mates = idx[(subject[idx] == subject[a]) & (idx != a)]
        if mates.size == 0:
            continue
        pc, pm = rotations(codes[a], 2, shifts), rotations(masks[a], 2, shifts)
        raw, cnt = masked_distances(as_words(pc), as_words(pm), as_words(codes[mates]), as_words(masks[mates]))
        close = mates[normalize_hd(raw, cnt).min(axis=1) <= threshold]
        if close.size:
            out.append(key_stats(codes[a], masks[a], codes[close], masks[close], MAX_SHIFT))
    return [np.concatenate([o[k] for o in out]) for k in range(4)] if out else None


def coarse_margin(codes, masks, ok, subject, gallery: IrisGallery) -> dict:
    """For every genuine pair at or below the threshold: do both pruning stages let it through,
    and by how many disagreements (the smallest slack; < 0 would be a lost match)."""
    stats = _genuine_key_stats(codes, masks, ok, subject, gallery.threshold)
    if stats is None:
        return {"genuine_pairs_at_threshold": 0}
    na, da, nab, dab = stats
    slack_a = (gallery.table_a[na].astype(int) - da).max(axis=1)
    slack_ab = (gallery.table_ab[nab].astype(int) - dab).max(axis=1)
    return {"genuine_pairs_at_threshold": int(na.shape[0]),
            "lost_by_pruning": int(((slack_a < 0) | (slack_ab < 0)).sum()),
            "smallest_slack_key_a": int(slack_a.min()), "smallest_slack_keys_ab": int(slack_ab.min())}


def run_search(args) -> dict:
    rng = np.random.default_rng(args.seed)
    dataset, layout, items = _items(args)
    codes, masks, ok, _ = extract_all(items)
    subject = np.array([it.subject for it in items])
    gallery_size = int(args.gallery_size)
    probe_classes = [s for s in sorted(set(subject[ok])) if (subject[ok] == s).sum() >= 2]
    rng.shuffle(probe_classes)
    probe_classes = probe_classes[: max(1, int(args.probes))]
    probe_rows = np.array([np.nonzero(ok & (subject == s))[0][0] for s in probe_classes])
    real_rows = np.array([i for i in np.nonzero(ok)[0] if i not in set(probe_rows)])
    if gallery_size < real_rows.size:
        raise ValueError(f"--gallery-size {gallery_size} is smaller than the {real_rows.size} real codes")
    t = time.perf_counter()
    fill_codes, fill_masks = filler_codes(gallery_size - real_rows.size, masks[real_rows], seed=args.seed)
    filler_s = time.perf_counter() - t
    g_codes = np.concatenate([codes[real_rows], fill_codes])
    g_masks = np.concatenate([masks[real_rows], fill_masks])
    source = np.concatenate([real_rows, np.full(fill_codes.shape[0], -1)])  # -1 = filler
    del fill_codes, fill_masks
    order = rng.permutation(gallery_size)
    g_codes, g_masks, source = g_codes[order], g_masks[order], source[order]
    gallery = IrisGallery(max_shift=MAX_SHIFT)
    gallery.add_codes(range(gallery_size), g_codes, g_masks)
    del g_codes, g_masks

    # memory-bandwidth ceiling: stream the gallery's bytes once with a trivial reduction
    full_bytes = [as_words(gallery.codes), as_words(gallery.masks)]
    np.bitwise_or.reduce(full_bytes[0][:1000], axis=None)
    t = time.process_time()
    for a in full_bytes:
        np.bitwise_or.reduce(a.ravel())
    t_stream = time.process_time() - t
    t = time.process_time()
    for name in ("a", "am"):  # what the coarse stage streams: key A and its mask, 64 B per eye
        np.bitwise_or.reduce(gallery._keys[name][:, :gallery_size], axis=None)
    t_stream_keys = time.process_time() - t

    p_codes, p_masks = codes[probe_rows], masks[probe_rows]
    batch = 8
    gallery.search_codes(p_codes[:1], p_masks[:1])  # warm-up
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    fast = []
    for s in range(0, probe_rows.size, batch):
        fast += gallery.search_codes(p_codes[s:s + batch], p_masks[s:s + batch])
    fast_cpu, fast_wall = time.process_time() - t_cpu, time.perf_counter() - t_wall
    t = time.process_time()
    exhaustive = gallery.exhaustive_codes(p_codes, p_masks)
    exhaustive_cpu = time.process_time() - t

    same_top1 = same_sets = 0
    found = missed = mates_over_threshold = 0
    for b, row in enumerate(probe_rows):
        f, e = fast[b], exhaustive[b]
        same_top1 += f.top1 == e.top1
        same_sets += np.array_equal(np.sort(f.indices), np.sort(e.indices))
        mate_rows = np.nonzero((source >= 0) & (subject[np.maximum(source, 0)] == subject[row]))[0]
        e_set, f_set = set(e.indices.tolist()), set(f.indices.tolist())
        for m in mate_rows:
            if m in e_set:
                found += m in f_set
                missed += m not in f_set
            else:
                mates_over_threshold += 1
    n_probes = int(probe_rows.size)
    # filler realism: probe-vs-filler distances against probe-vs-real-impostor distances
    real_imp, fill_imp = _impostor_samples(gallery, source, subject, probe_rows, rng)
    n_codes = gallery_size * n_probes
    return {
        "modality": "iris", "dataset": str(dataset), "layout": layout,
        "gallery_size": gallery_size, "real_codes_in_gallery": int(real_rows.size),
        "filler_codes": int(gallery_size - real_rows.size), "probes": n_probes,
        "rotations": 2 * MAX_SHIFT + 1, "threshold_hd_norm": gallery.threshold,
        "bytes_per_gallery_eye": gallery.bytes_per_entry,
        "per_second_per_core": n_codes / fast_cpu,
        "per_second_wall": n_codes / fast_wall,
        "exhaustive_per_second_per_core": n_codes / exhaustive_cpu,
        "ceiling_per_second_per_core": gallery_size / t_stream,
        "ceiling_note": "gallery codes+masks (512 B each) streamed once by np.bitwise_or.reduce",
        "key_stream_per_second_per_core": gallery_size / max(t_stream_keys, 1e-9),
        "key_stream_note": "key A + its mask (64 B per eye) streamed once, as the coarse stage does",
        "mean_second_stage_per_probe": float(np.mean([r.n_second for r in fast])),
        "mean_full_comparisons_per_probe": float(np.mean([r.n_full for r in fast])),
        "same_as_exhaustive": bool(same_top1 == n_probes and same_sets == n_probes),
        "same_top1": int(same_top1), "same_match_sets": int(same_sets),
        "planted_found": int(found), "planted_missed": int(missed),
        "planted_mates_over_threshold": int(mates_over_threshold),
        "coarse_stage_check": coarse_margin(codes, masks, ok, subject, gallery),
        "filler_seconds": filler_s,
        "filler_neighbour_agreement": neighbour_agreement(gallery.codes[source < 0][:20000]) if (source < 0).any() else None,
        "real_neighbour_agreement": neighbour_agreement(codes[ok]),
        "impostor_hd_real_median_p1": [float(np.median(real_imp)), float(np.percentile(real_imp, 1))],
        "impostor_hd_filler_median_p1": [float(np.median(fill_imp)), float(np.percentile(fill_imp, 1))] if fill_imp.size else None,
    }


def _impostor_samples(gallery: IrisGallery, source, subject, probe_rows, rng, n: int = 4000):
    """HD_norm of real gallery codes against real codes of other eyes, and against fillers:
    the two distributions should agree if the fillers are realistic."""
    real = np.nonzero(source >= 0)[0]
    fill = np.nonzero(source < 0)[0]
    fill = rng.choice(fill, min(n, fill.size), replace=False) if fill.size else fill
    shifts = np.arange(-gallery.max_shift, gallery.max_shift + 1)
    codes, masks = gallery.codes, gallery.masks
    out_real, out_fill = [], []
    for a in real[:20]:
        others = real[subject[source[real]] != subject[source[a]]]
        pc = as_words(rotations(codes[a], 2, shifts))
        pm = as_words(rotations(masks[a], 2, shifts))
        raw, cnt = masked_distances(pc, pm, as_words(codes[others]), as_words(masks[others]))
        out_real.append(normalize_hd(raw, cnt).min(axis=1))
        if fill.size:
            raw, cnt = masked_distances(pc, pm, as_words(codes[fill]), as_words(masks[fill]))
            out_fill.append(normalize_hd(raw, cnt).min(axis=1))
    return np.concatenate(out_real), (np.concatenate(out_fill) if out_fill else np.zeros(0))


def calibrate_coarse(codes, masks, ok, subject, threshold: float, slopes=np.arange(0.30, 0.62, 0.02),
                     margin: float = 4.0, n_impostor_probes: int = 40, seed: int = 0) -> dict:
    """Pick the two survival lines d <= slope * n + offset (key A; keys A + B): for each slope the
    offset is the smallest that keeps every genuine pair with HD_norm <= threshold (plus
    `margin` disagreements of safety), and the slope is the one under which the fewest impostor
    comparisons (real codes of other eyes) survive."""
    rng = np.random.default_rng(seed)
    gen = _genuine_key_stats(codes, masks, ok, subject, threshold)
    idx = np.nonzero(ok)[0]
    imp = []
    for a in rng.choice(idx, min(n_impostor_probes, idx.size), replace=False):
        others = idx[subject[idx] != subject[a]]
        imp.append(key_stats(codes[a], masks[a], codes[others], masks[others], MAX_SHIFT))
    imp = [np.concatenate([o[k] for o in imp]) for k in range(4)]
    result = {"threshold": threshold, "genuine_pairs": int(gen[0].shape[0]),
              "impostor_pairs": int(imp[0].shape[0]), "margin": margin}
    alive_a = None
    for stage, (gn, gd, in_, id_, min_bits) in {"a": (gen[0], gen[1], imp[0], imp[1], 32),
                                                "ab": (gen[2], gen[3], imp[2], imp[3], 64)}.items():
        best = None
        for slope in slopes:
            offset = float(np.ceil((gd - slope * gn).min(axis=1).max())) + margin
            alive = ((id_ <= slope * in_ + offset) | (in_ < min_bits)).any(axis=1)
            if alive_a is not None:
                alive = alive & alive_a
            if best is None or alive.mean() < best[2]:
                best = (round(float(slope), 3), offset, float(alive.mean()), alive)
        result[f"slope_{stage}"], result[f"offset_{stage}"] = best[0], best[1]
        result[f"impostor_survival_{stage}"] = best[2]
        alive_a = best[3]
    return result
