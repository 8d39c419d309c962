"""`biocap bench search --modality fingerprint`: 1:N speed and rank-1 identification.

Protocol: the gallery holds impression 1 (`--mate-impression K`: impression K) of every finger of
the real FVC sets (the mates) plus
synthetic fillers up to `--gallery-size` (the simulator's template-level mode,
`biocap.synthetic.fingerprint.templates`); probes are the other impressions of the real fingers
(the first `--probes` of them, spread over fingers). Each probe is searched with the cascaded
search (`rank1`: stage 1 -> stage 1.5 -> full comparison of the shortlist) and, on the same probes, exhaustively with the full 1:1 comparison of every
gallery finger (`rank1_exhaustive`). Speed is CPU time of this process (all threads), so
`per_second_per_core` = gallery fingers x probes / CPU seconds of the two-stage searches.

With `cache` (`--cache DIR`) the filler part of the gallery is kept there in the gallery file
format, keyed by size, seed and format version, and the real fingers' templates with it
(`extract_ms_from_cache` flags extraction times read back from it). `plot` draws the CMC curves
(cascade and exhaustive).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError
from ..matching.fingerprint.comparator import FingerprintComparator
from ..matching.fingerprint.gallery import (CASCADE_FRACTION, FORMAT_VERSION, READABLE_VERSIONS,
                                            SHORTLIST_FRACTION, FingerprintGallery)
from .bench_verify_fingerprint import default_sets, load_templates
from .identification import rank_k_rates
from .options import BenchOptions
from .progress import note, progress


#: shortlist sizes (fractions of the gallery) whose rank-1 rate is read off the exhaustive scores
SHORTLIST_FRACTIONS = (0.001, 0.01, 0.05, 0.2, 0.5)


def filler_gallery(n: int, seed: int, comparator: FingerprintComparator | None = None,
                   cache: Path | None = None, show: bool = True) -> FingerprintGallery:
    """A gallery of `n` synthetic fingers (one impression each); kept in and reused from the
    folder `cache` when given."""
    from ..synthetic.fingerprint.templates import iter_finger_templates

    want = (comparator or FingerprintComparator()).params
    found = []
    # any cached filler gallery of this seed with at least n fingers will do (fingers 1..n are the
    # same whatever the size generated); an older file version still loads
    for f in Path(cache).glob(f"fillers-*-seed{seed}-v*.bfg") if cache else ():
        parts = f.stem.split("-")
        try:
            size, version = int(parts[1]), int(parts[3][1:])
        except (IndexError, ValueError):
            continue
        if size >= n and version in READABLE_VERSIONS:
            found.append((size, f))
    for size, f in sorted(found):
        gal = FingerprintGallery.load(f)
        if not _same_cylinders(gal.comparator.params, want):
            continue
        for extra in reversed(gal.ids[n:]):  # drop from the end: each removal is O(1)
            gal.remove(extra)
        gal.comparator = comparator or FingerprintComparator()
        return gal
    gal = (comparator or FingerprintComparator()).gallery()
    batch = []
    for finger_id, _, template in progress(iter_finger_templates(n, 1, seed), total=n,
                                           desc="synthetic fillers", enabled=show):
        batch.append((f"synthetic/{finger_id}", template))
        if len(batch) == 1000:
            _add_enrollable(gal, batch)
            batch = []
    _add_enrollable(gal, batch)
    if cache:
        path = Path(cache) / f"fillers-{n}-seed{seed}-v{FORMAT_VERSION}.bfg"
        path.parent.mkdir(parents=True, exist_ok=True)
        gal.save(path)
        note(f"filler gallery kept in {path}", enabled=show)
    return gal


def _same_cylinders(a, b) -> bool:
    """Stored cylinders stay valid when only comparison-time parameters differ."""
    build = ("radius", "ns", "nd", "sigma_s", "sigma_d", "mu_psi", "omega", "min_vc", "min_m")
    return all(getattr(a, k) == getattr(b, k) for k in build)


def _add_enrollable(gal: FingerprintGallery, batch) -> None:
    enc = [(i, gal.comparator.encode(t)) for i, t in batch]
    gal.add_many([(i, e) for i, e in enc if e.enrollable])


def _save_scores(path: Path, full_scores, gallery_ids, probe_keys) -> None:
    """The exhaustive score matrix (probes x gallery, float32) with its row and column ids, so
    cascade settings can be re-evaluated without recomputing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # a file handle: np.savez would append .npz to a bare name
        np.savez(fh, scores=np.asarray(full_scores, dtype=np.float32),
                 gallery_ids=np.asarray(gallery_ids, dtype=str), probe_ids=np.asarray(probe_keys, dtype=str))


def _cached_scores(path: Path, gal: FingerprintGallery, enc) -> list[np.ndarray]:
    """The exhaustive scores saved by an earlier run with the same gallery and probes. Spot-checked:
    each probe's score against its mate and against one other finger is recomputed and must
    agree, so a cache from other comparison code or other data is refused, not used."""
    try:
        with np.load(path) as z:
            scores, gallery_ids, probe_ids = z["scores"], list(z["gallery_ids"]), list(z["probe_ids"])
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidDataError(f"--scores-cache {path}: not a readable score file ({exc}); delete "
                               "it to recompute") from exc
    if scores.shape != (len(enc), len(gal)) or gallery_ids != gal.ids or probe_ids != [k for k, _ in enc]:
        raise InvalidDataError(f"--scores-cache {path} holds scores of another gallery or other "
                               "probes (ids or shape differ); delete it or name another file")
    row_of = {k: r for r, k in enumerate(gal.ids)}
    for i, (key, e) in enumerate(enc):
        rows = np.array([row_of.get(key, 0), (7919 * (i + 1)) % len(gal)])
        if not np.allclose(gal.score_rows(e, rows), scores[i, rows], rtol=1e-4, atol=1e-6):
            raise InvalidDataError(f"--scores-cache {path}: scores differ from this code's for probe "
                                   f"{i} ({key}); the comparison changed: delete the file to recompute")
    return list(scores)


def _mate_impression(options: BenchOptions) -> int:
    """The impression number enrolled as each real finger's gallery mate (default 1)."""
    k = options.mate_impression
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidDataError(f"--mate-impression must be a positive impression number, got {k!r}")
    return int(k)


def _impression_number(text) -> int | None:
    """'01' and '1' name the same impression; a non-numeric label matches no number."""
    try:
        return int(str(text))
    except ValueError:
        return None


def search_setup(options: BenchOptions):
    """The benchmark's gallery and probes: (comparator, gallery, encoded probes [(finger key,
    template)], number of mates, mates enrolled, extraction times in ms). One impression of each
    real finger (`--mate-impression`) is enrolled among the synthetic fillers; the probes are the
    finger's other impressions, spread over fingers."""
    n_gallery = int(options.gallery_size)
    n_probes = int(options.probes)
    if n_gallery < 1 or n_probes < 1:
        raise InvalidDataError("--gallery-size and --probes must be positive")
    cmp = FingerprintComparator()
    sets = default_sets(options)
    mate_impression = _mate_impression(options)
    mates, probes = [], []
    extract_ms = []
    impressions_seen = set()
    from_cache = False
    for loaded in (load_templates(s, options) for s in sets):
        name = loaded.name
        extract_ms += loaded.ms
        from_cache |= loaded.cached_at is not None
        for it, t in zip(loaded.items, loaded.templates):
            number = _impression_number(it.impression)
            impressions_seen.add(number)
            if t is None:
                continue
            key = f"{name}/{it.subject}"
            (mates if number == mate_impression else probes).append((key, t))
    if mate_impression not in impressions_seen:
        have = ", ".join(str(i) for i in sorted(i for i in impressions_seen if i is not None))
        raise InvalidDataError(f"--mate-impression {mate_impression}: no image of that impression in "
                               f"the dataset (impressions found: {have or 'none'}); pick one of those")
    mate_ids = {k for k, _ in mates}
    probes = [(k, t) for k, t in probes if k in mate_ids]
    # spread the probes over fingers: the first other impression of every finger first, then the next
    by_finger: dict[str, list] = {}
    for k, t in probes:
        by_finger.setdefault(k, []).append(t)
    order = []
    for round_ in range(max((len(v) for v in by_finger.values()), default=0)):
        order += [(k, v[round_]) for k, v in by_finger.items() if round_ < len(v)]
    probes = order[:n_probes]
    n_fill = max(0, n_gallery - len(mates))
    gal = (filler_gallery(n_fill, int(options.seed), cmp, options.cache, options.progress)
           if n_fill else cmp.gallery())
    gal.comparator = cmp
    # the filler cache may be older than the shipped search settings: measure the shipped ones
    gal.shortlist_fraction, gal.cascade_fraction = SHORTLIST_FRACTION, CASCADE_FRACTION
    enrolled = [(k, e) for k, e in ((k, cmp.encode(t)) for k, t in mates) if e.enrollable]
    gal.add_many(enrolled)  # a mate that fails to enrol stays out: its probes count as misses
    gal.compact()
    enc = [(k, cmp.encode(t)) for k, t in probes]
    return cmp, gal, enc, len(mates), len(enrolled), extract_ms, from_cache


def run(options: BenchOptions) -> dict:
    """The figures of `biocap bench search --modality fingerprint`."""
    _, gal, enc, n_mates, n_enrolled, extract_ms, from_cache = search_setup(options)
    mate_impression = _mate_impression(options)
    t0 = time.process_time()
    ranked = [[(c.id, c.score) for c in gal.search(e, top_k=10).candidates]
              for _, e in progress(enc, desc="cascaded search", enabled=options.progress)]
    cpu = time.process_time() - t0
    # exhaustive: the full comparison of every gallery finger (what search(exhaustive=True)
    # ranks), kept whole so that the rank-1 rate of any shortlist size can be read off too
    ids = np.array(gal.ids)
    all_rows = np.arange(len(gal))
    ranked_ex, by_shortlist = [], {f: 0 for f in SHORTLIST_FRACTIONS}
    row_of = {k: r for r, k in enumerate(gal.ids)}
    # a mate left out of the final shortlist (stages 1 and 1.5) is lost to the two-stage rank-1
    outside = sum(k not in row_of or row_of[k] not in set(gal.shortlist_rows(e).tolist())
                  for k, e in enc)
    cache = options.scores_cache
    if cache and Path(cache).exists():
        full_scores, cpu_ex = _cached_scores(Path(cache), gal, enc), None
    else:
        t0 = time.process_time()
        full_scores = [gal.score_rows(e, all_rows)
                       for _, e in progress(enc, desc="exhaustive search", enabled=options.progress)]
        cpu_ex = time.process_time() - t0
        if cache:
            _save_scores(Path(cache), full_scores, gal.ids, [k for k, _ in enc])
    for (key, e), full in zip(enc, full_scores):
        order = np.argsort(-full, kind="stable")[:10]
        ranked_ex.append([(ids[r], float(full[r])) for r in order])
        pre = gal.prefilter_scores(e)
        pre_rank = np.argsort(-pre, kind="stable")
        for f in SHORTLIST_FRACTIONS:
            s = int(min(len(gal), max(1, round(f * len(gal)))))
            rows = pre_rank[:s]
            by_shortlist[f] += ids[rows[np.argmax(full[rows])]] == key
    truth = [k for k, _ in enc]
    r = rank_k_rates([[i for i, _ in h] for h in ranked], truth, ks=(1, 5, 10))
    rx = rank_k_rates([[i for i, _ in h] for h in ranked_ex], truth, ks=(1, 5, 10))
    n = len(gal)
    if options.plot:
        from .det_plot import plot_cmc

        plot_cmc({"cascaded search": _ranks(ranked, truth),
                  "exhaustive": _ranks(ranked_ex, truth)}, options.plot,
                 title=f"CMC, {n:,} fingers, {len(enc)} probes")
    return {
        "gallery_size": n, "n_probes": len(enc), "n_mates": n_enrolled,
        "mate_impression": mate_impression,
        "mates_failed_to_enrol": n_mates - n_enrolled,
        "fillers": "biocap.synthetic.fingerprint.templates (seed %d)" % int(options.seed),
        "extractor": options.extractor,
        "per_second_per_core": n * len(enc) / cpu if cpu > 0 else None,
        "search_ms_median_cpu": 1000 * cpu / len(enc),
        # None when the exhaustive scores came from --scores-cache (not timed in this run)
        "exhaustive_per_second_per_core": n * len(enc) / cpu_ex if cpu_ex else None,
        "rank1": r[1], "rank5": r[5], "rank10": r[10],
        "rank1_exhaustive": rx[1], "rank5_exhaustive": rx[5], "rank10_exhaustive": rx[10],
        "shortlist": gal.shortlist_size(), "cascade": gal.cascade_size(),
        "mates_outside_shortlist": outside / len(enc),
        "rank1_by_shortlist_fraction": {str(f): v / len(enc) for f, v in by_shortlist.items()},
        "bytes_per_finger": gal.bytes_per_finger(),
        "array_bytes_per_finger_allocated": gal.allocated_bytes() / max(len(gal), 1),
        "extract_ms_median": float(np.median(extract_ms)) if extract_ms else None,
        "extract_ms_from_cache": from_cache,
        "exhaustive_scores_from_cache": cpu_ex is None,
        **({"plot": str(options.plot)} if options.plot else {}),
    }


def _ranks(hit_lists, truth) -> list[int | None]:
    """1-based rank of each probe's mate in its candidate list (None: not in the list)."""
    out = []
    for hits, key in zip(hit_lists, truth):
        ids = [i for i, _ in hits]
        out.append(ids.index(key) + 1 if key in ids else None)
    return out
