"""Stage 1 of the fingerprint 1:N cascade, variants side by side on the 100,000-finger search runs.

For each run (`--mates`: the impression enrolled as each real finger's mate), the gallery and
probes of `biocap bench search` are rebuilt, and each stage-1 variant (probe cylinders, how many of
their similarities are summed, the cascade it feeds) gets its own cohort-centred prefilter over the
same gallery. Reported per variant: how many mates that the full comparison ranks first stage 1
ranks beyond 10%, 5% and 1% of the gallery (those are lost to the cascade whatever later stages
do), and the whole search's CPU speed, variants alternating in one process (medians of repeats;
the ratio to the first variant is what carries over between machines).

Needs the exhaustive score caches that `benchmarks/bench_fingerprint_matching.sh search` writes
(its --cache folder, default /tmp/biocap-bench); a run without one is refused with a message.

    .venv/bin/python benchmarks/bench_search_fingerprint_stage1.py --mates 1 8 7 6 5 [--cache DIR]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_search_fingerprint import _cached_scores, search_setup
from biocap.evaluation.options import BenchOptions
from biocap.matching.fingerprint.prefilter import CylinderPrefilter

OUT = Path(__file__).resolve().parent / "results"
#: name -> (probe cylinders, similarities summed, cascade fraction); the first is the reference
VARIANTS = {
    "12 spread, all summed, 10% (session 5, first change)": (12, 12, 0.10),
    "16 spread, all summed, 5%": (16, 16, 0.05),
    "16 spread, best 10 summed, 5% (shipped)": (16, 10, 0.05),
}
BEYOND = (0.10, 0.05, 0.01)


def _prefilter(gal, n_probe: int, n_best: int) -> CylinderPrefilter:
    """A cohort-centred stage 1 of these settings over the gallery's rows."""
    shipped = gal.prefilter
    pf = CylinderPrefilter(gal.comparator.params, centred=True, n_probe=n_probe, n_best=n_best)
    pf._alloc(len(gal))
    gal.prefilter = pf
    try:
        gal._set_prefilter_rows(0, len(gal))
    finally:
        gal.prefilter = shipped
    return pf


def measure(mates: int, probes: int, speed_probes: int, repeats: int, cache_dir: Path) -> dict:
    options = BenchOptions(gallery_size=100_000, probes=probes, seed=0, mate_impression=mates,
                           cache=cache_dir)
    _, gal, enc, _, _, _, _ = search_setup(options)
    cache = cache_dir / f"search-100k-mates{mates}-scores.npz"
    if not cache.exists():
        raise SystemExit(f"{cache} is missing: run benchmarks/bench_fingerprint_matching.sh search first "
                         "(it computes and caches the exhaustive scores)")
    full = _cached_scores(cache, gal, enc)
    row_of = {k: r for r, k in enumerate(gal.ids)}
    mate_rows = [row_of.get(k) for k, _ in enc]
    correct = [m is not None and int(np.argmax(f)) == m for m, f in zip(mate_rows, full)]
    prefilters = {name: _prefilter(gal, n, b) for name, (n, b, _) in VARIANTS.items()}
    out = {"mate_impression": mates, "n_probes": len(enc), "exhaustive_correct": int(sum(correct)),
           "variants": {}}
    for name, pf in prefilters.items():
        ranks = []
        for (key, e), m, ok in zip(enc, mate_rows, correct):
            if ok:
                s = pf.scores(e.cylinders, len(gal))
                ranks.append(int(np.sum(s > s[m])))
        ranks = np.array(ranks)
        out["variants"][name] = {
            f"beyond_{f:g}": int(np.sum(ranks >= f * len(gal))) for f in BEYOND}
    # whole-search speed, variants alternating in this process
    sub = [e for _, e in enc[::max(1, len(enc) // speed_probes)]][:speed_probes]
    speeds = {name: [] for name in VARIANTS}
    shipped = (gal.prefilter, gal.cascade_fraction)
    for _ in range(repeats):
        for name, (_, _, cascade) in VARIANTS.items():
            gal.prefilter, gal.cascade_fraction = prefilters[name], cascade
            t0 = time.process_time()
            for e in sub:
                gal.search(e, top_k=10)
            speeds[name].append(len(gal) * len(sub) / (time.process_time() - t0))
    gal.prefilter, gal.cascade_fraction = shipped
    ref = np.array(speeds[next(iter(VARIANTS))])
    for name, v in speeds.items():
        out["variants"][name]["fingers_per_s_per_core"] = [round(x) for x in v]
        out["variants"][name]["speed_ratio_median"] = float(np.median(np.array(v) / ref))
    return out


def report(runs: list[dict]) -> str:
    lines = ["# Fingerprint 1:N: stage-1 variants", "",
             "Reproduce: `.venv/bin/python benchmarks/bench_search_fingerprint_stage1.py` (after "
             "`benchmarks/bench_fingerprint_matching.sh search`, whose exhaustive score caches it reads). "
             "100,000-finger galleries of the search bench; per run, the mates that the full comparison ranks "
             "first and stage 1 ranks beyond 10% / 5% / 1% of the gallery (lost to any cascade of that width), "
             "and the whole search's CPU speed relative to the first variant (same gallery and process, "
             "alternating repeats, median ratio).", "",
             "| variant | " + " | ".join(f"mates {r['mate_impression']} (of {r['exhaustive_correct']})"
                                        for r in runs) + " | speed ratio by run |",
             "|---|" + "---|" * (len(runs) + 1)]
    for name in VARIANTS:
        cells = [" / ".join(str(r["variants"][name][f"beyond_{f:g}"]) for f in BEYOND) for r in runs]
        ratio = ", ".join(f"{r['variants'][name]['speed_ratio_median']:.3f}" for r in runs)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mates", type=int, nargs="+", default=[1, 8, 7, 6, 5])
    ap.add_argument("--probes", type=int, default=200, help="as the search bench (its caches hold 200)")
    ap.add_argument("--speed-probes", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/biocap-bench"),
                    help="the search bench's --cache folder (score matrices, filler galleries)")
    ap.add_argument("--json", type=Path, default=OUT / "search_fingerprint_stage1.json")
    a = ap.parse_args()
    runs = []
    for k in a.mates:
        runs.append(measure(k, a.probes, a.speed_probes, a.repeats, a.cache))
        print(json.dumps(runs[-1]), flush=True)
    a.json.write_text(json.dumps(runs, indent=2) + "\n")
    a.json.with_suffix(".md").write_text(report(runs))
    print("wrote", a.json, a.json.with_suffix(".md"))


if __name__ == "__main__":
    main()
