"""`biocap bench verify|search --modality iris`: accuracy on a dataset, 1:N speed and exactness.

verify: every image is extracted (failures count towards the failure-to-enrol rate, FTE), every
pair is compared (all-pairs protocol of biocap.evaluation.datasets); EER / FMR1000 are over the
pairs whose two images enrolled (the usual convention, FTE reported beside them), and
`eer_with_failures` counts a pair with a failed image as a non-match (score 0).

search: a gallery of `--gallery-size` codes = the real codes of the dataset (minus the probes)
+ filler codes (biocap.synthetic.iris.codes: Gabor-filtered noise with real masks). Probes
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

from ..matching.iris.gallery import CODE_BYTES, IrisGallery
from ..matching.iris.hamming import as_words, masked_distances, normalize_hd, rotations
from ..synthetic.iris.codes import filler_codes, neighbour_agreement
from ..templates.iris import IrisExtractor
from .data import data_path
from .datasets import load_layout
from .iris_stages import stage_stats
from .metrics import error_rates
from .options import BenchOptions
from .progress import progress

MAX_SHIFT = 8


def _items(options: BenchOptions):
    dataset = options.dataset or data_path("iris", "casia_irisv1")
    layout = (options.layout or "casia-iris") if options.dataset else "casia-iris"
    if layout == "fvc":  # the CLI's default layout is the fingerprint one
        layout = "casia-iris"
    items = load_layout(dataset, layout)
    if options.limit:
        keep = sorted({it.subject for it in items})[: options.limit]
        items = [it for it in items if it.subject in set(keep)]
    return Path(dataset), layout, items


def extract_all(items, extractor: IrisExtractor | None = None, show: bool = False):
    """(codes (n, 256), masks (n, 256), enrolled (n,) bool, extraction ms (n,))."""
    extractor = extractor or IrisExtractor()
    n = len(items)
    codes = np.zeros((n, CODE_BYTES), np.uint8)
    masks = np.zeros((n, CODE_BYTES), np.uint8)
    ok = np.zeros(n, bool)
    ms = np.zeros(n)
    for i, it in enumerate(progress(items, desc="iris extraction", enabled=show)):
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


def run_verify(options: BenchOptions) -> dict:
    """The figures of `biocap bench verify --modality iris`."""
    dataset, layout, items = _items(options)
    codes, masks, ok, ms = extract_all(items, show=options.progress)
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
    if options.plot:
        from .det_plot import plot_det

        plot_det({f"biocap-iris {dataset.name}": (sim[same & both], sim[~same & both])},
                 options.plot, title=f"iris DET: {dataset.name} ({layout})")
        result["plot"] = str(options.plot)
    return result


# --- search ---------------------------------------------------------------------------------
def _genuine_key_stats(codes, masks, ok, subject, threshold: float):
    """stage_stats of every genuine pair whose full HD_norm is at or below the threshold, one
    dict per probe image (rows = its close mates)."""
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
            out.append(stage_stats(codes[a], masks[a], codes[close], masks[close], MAX_SHIFT))
    return out


def coarse_margin(codes, masks, ok, subject, gallery: IrisGallery) -> dict:
    """For every genuine pair at or below the threshold: do both pruning stages let it through,
    and by how many disagreements (the smallest slack; < 0 would be a lost match)."""
    stats = _genuine_key_stats(codes, masks, ok, subject, gallery.threshold)
    if not stats:
        return {"genuine_pairs_at_threshold": 0}
    slack1 = np.concatenate([gallery.stage1_slack(st).max(axis=1) for st in stats])
    both = np.concatenate([gallery.joint_slack(st) for st in stats])
    return {"genuine_pairs_at_threshold": int(slack1.size),
            "lost_by_pruning": int((both < 0).sum()),
            "smallest_slack_stage1": int(slack1.min()), "smallest_slack_both": int(both.min())}


def stage1_survival(gallery: IrisGallery, probe_codes, probe_masks, codes, masks) -> float:
    """Fraction of (probe, gallery code) pairs that pass the first stage: run on real impostor
    codes and on fillers, it shows whether the fillers are as hard to prune as real codes."""
    alive = [(gallery.stage1_slack(stage_stats(pc, pm, codes, masks, gallery.max_shift)) >= 0).any(axis=1)
             for pc, pm in zip(probe_codes, probe_masks)]
    return float(np.mean(np.concatenate(alive))) if alive else float("nan")


def run_search(options: BenchOptions) -> dict:
    """The figures of `biocap bench search --modality iris`."""
    rng = np.random.default_rng(options.seed)
    dataset, layout, items = _items(options)
    codes, masks, ok, _ = extract_all(items, show=options.progress)
    subject = np.array([it.subject for it in items])
    gallery_size = int(options.gallery_size)
    probe_classes = [s for s in sorted(set(subject[ok])) if (subject[ok] == s).sum() >= 2]
    rng.shuffle(probe_classes)
    probe_classes = probe_classes[: max(1, int(options.probes))]
    probe_rows = np.array([np.nonzero(ok & (subject == s))[0][0] for s in probe_classes])
    real_rows = np.array([i for i in np.nonzero(ok)[0] if i not in set(probe_rows)])
    if gallery_size < real_rows.size:
        raise ValueError(f"--gallery-size {gallery_size} is smaller than the {real_rows.size} real codes")
    t = time.perf_counter()
    fill_codes, fill_masks = filler_codes(gallery_size - real_rows.size, masks[real_rows], seed=options.seed,
                                          real_codes=codes[real_rows])
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
    # what the first stage streams: key words 0-5 (48 B per eye) and the eye term (1 B)
    np.bitwise_or.reduce(gallery._key1[:, :gallery_size], axis=None)
    np.bitwise_or.reduce(gallery._eye_term[:gallery_size])
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
    if options.plot:
        from .det_plot import plot_histograms

        plot_histograms({"probe vs real impostor": real_imp, "probe vs filler": fill_imp},
                        options.plot, xlabel="HD_norm (best of the rotations)",
                        title=f"iris 1:N: impostor distances, {gallery_size:,} codes")
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
        "key_stream_note": (f"first-stage key words + eye term ({gallery.first_stage_bytes} B per eye) "
                            "streamed once, as the first stage does"),
        "mean_second_stage_per_probe": float(np.mean([r.n_second for r in fast])),
        "mean_full_comparisons_per_probe": float(np.mean([r.n_full for r in fast])),
        "same_as_exhaustive": bool(same_top1 == n_probes and same_sets == n_probes),
        "same_top1": int(same_top1), "same_match_sets": int(same_sets),
        "planted_found": int(found), "planted_missed": int(missed),
        "planted_mates_over_threshold": int(mates_over_threshold),
        "coarse_stage_check": coarse_margin(codes, masks, ok, subject, gallery),
        "stage1_survival_real_impostors": stage1_survival(gallery, p_codes, p_masks, *_real_impostors(gallery, source, subject, probe_rows)),
        "stage1_survival_fillers": stage1_survival(gallery, p_codes, p_masks, *_some_fillers(gallery, source, rng)),
        "unmasked_per_16_columns_real": _mask_profile(gallery.masks[source >= 0]),
        "unmasked_per_16_columns_filler": _mask_profile(gallery.masks[source < 0][:20000]),
        "filler_seconds": filler_s,
        "filler_neighbour_agreement": neighbour_agreement(gallery.codes[source < 0][:20000]) if (source < 0).any() else None,
        "real_neighbour_agreement": neighbour_agreement(codes[ok]),
        "impostor_hd_real_median_p1": [float(np.median(real_imp)), float(np.percentile(real_imp, 1))],
        "impostor_hd_filler_median_p1": [float(np.median(fill_imp)), float(np.percentile(fill_imp, 1))] if fill_imp.size else None,
    }


def _real_impostors(gallery: IrisGallery, source, subject, probe_rows):
    """Real gallery codes of eyes none of the probes belongs to."""
    real = np.nonzero(source >= 0)[0]
    keep = real[~np.isin(subject[source[real]], subject[probe_rows])]
    return gallery.codes[keep], gallery.masks[keep]


def _some_fillers(gallery: IrisGallery, source, rng, n: int = 4000):
    fill = np.nonzero(source < 0)[0]
    fill = rng.choice(fill, min(n, fill.size), replace=False) if fill.size else fill
    return gallery.codes[fill], gallery.masks[fill]


def _mask_profile(masks: np.ndarray) -> list[float]:
    """Fraction of unmasked bits in each block of 16 code columns (the upper-lid sector shows)."""
    if masks.shape[0] == 0:
        return []
    bits = np.unpackbits(masks, axis=1).reshape(masks.shape[0], 8, 16 * 16)
    return [round(float(v), 3) for v in bits.mean(axis=(0, 2))]


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


def calibrate_coarse(codes, masks, ok, subject, threshold: float, margin1: float = 8.0,
                     margin2: float = 8.0, slopes1=np.arange(0.0, 0.161, 0.02),
                     slopes2=np.arange(0.30, 0.57, 0.02), min_key_bits: int = 64,
                     n_impostor_probes: int = 40, seed: int = 0) -> dict:
    """Pick the gallery's two survival lines (biocap.matching.iris.gallery): for each slope the
    offset is the smallest that keeps every genuine pair with HD_norm <= threshold at some
    rotation, plus a margin of disagreements (the second line: at some rotation where the first
    line passes with its margin to spare, as the search tries it only there); the slope is the
    one under which the fewest real impostor comparisons (codes of other eyes) survive."""
    rng = np.random.default_rng(seed)
    gen = _genuine_key_stats(codes, masks, ok, subject, threshold)
    idx = np.nonzero(ok)[0]
    imp = []
    for a in rng.choice(idx, min(n_impostor_probes, idx.size), replace=False):
        others = idx[subject[idx] != subject[a]]
        imp.append(stage_stats(codes[a], masks[a], codes[others], masks[others], MAX_SHIFT))

    def first(st, slope):  # X + round(slope * gallery bits seen) + round(slope * probe bits seen)
        return st["x"] + np.round(slope * st["seen_gallery"])[:, None] + np.round(slope * st["seen_probe"])[None, :]

    best1 = None
    for slope in slopes1:
        offset = float(max(first(st, slope).min(axis=1).max() for st in gen)) + margin1
        alive = np.concatenate([(first(st, slope) <= offset).any(axis=1) for st in imp])
        if best1 is None or alive.mean() < best1[2]:
            best1 = (round(float(slope), 3), offset, float(alive.mean()), alive)
    # the search tries the second line only at rotations that pass the first: each genuine pair
    # is judged at its rotations passing the first line with margin1 to spare
    first_line = IrisGallery(threshold=threshold, slope1=best1[0], offset1=best1[1])
    g_pass1 = np.concatenate([first_line.stage1_slack(st) >= margin1 for st in gen])
    i_pass1 = np.concatenate([first_line.stage1_slack(st) >= 0 for st in imp])
    gn = np.concatenate([st["n"] for st in gen])
    gd = np.concatenate([st["d"] for st in gen])
    i_n = np.concatenate([st["n"] for st in imp])
    i_d = np.concatenate([st["d"] for st in imp])
    best2 = None
    for slope in slopes2:
        e = np.where(gn >= min_key_bits, gd - slope * gn, -np.inf)
        e = np.where(g_pass1, e, np.inf)
        offset = float(np.ceil(e.min(axis=1).max())) + margin2
        alive = (i_pass1 & ((i_d <= np.floor(slope * i_n + offset)) | (i_n < min_key_bits))).any(axis=1)
        if best2 is None or alive.mean() < best2[2]:
            best2 = (round(float(slope), 3), offset, float(alive.mean()))
    return {"threshold": threshold, "genuine_pairs": int(gn.shape[0]), "impostor_pairs": int(i_n.shape[0]),
            "margin1": margin1, "margin2": margin2, "min_key_bits": min_key_bits,
            "slope1": best1[0], "offset1": best1[1], "impostor_survival_stage1": best1[2],
            "slope2": best2[0], "offset2": best2[1], "impostor_survival_both": best2[2]}
