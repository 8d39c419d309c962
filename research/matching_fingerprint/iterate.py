"""Fast matcher-only iteration loop: cached templates of the four FVC2002 B sets (extract once
with `biocap bench verify`), all-impostors EER per set for matcher parameter overrides.

    BIOCAP_FP_EXTRACTOR=nbis .venv/bin/python -m research.matching_fingerprint.iterate n_rel=5 w_r=0.5

Overrides are MccParams fields (`name=value`, Python literals); `max_cyl=N` sets the cylinder cap.
Speed is CPU seconds of the scoring loop (each probe against the whole set), for comparisons only.
"""
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

from biocap.evaluation import bench_verify_fingerprint as bench  # noqa: E402
from biocap.evaluation.metrics import error_rates  # noqa: E402
from biocap.matching.fingerprint import matcher as fp  # noqa: E402
from biocap.evaluation.datasets import all_pairs  # noqa: E402
from biocap.evaluation.options import BenchOptions  # noqa: E402


def main(argv):
    over, max_cyl, sets = {}, fp.MAX_CYLINDERS, None
    for a in argv:
        k, v = a.split("=", 1)
        if k == "max_cyl":
            max_cyl = int(v)
        elif k == "sets":
            sets = v.split(",")
        else:
            over[k] = eval(v, {"pi": np.pi, "np": np})
    import dataclasses
    params = dataclasses.replace(fp.MATCHER_PARAMS, **over)
    cmp = fp.FingerprintComparator(params, max_cyl)
    options = BenchOptions(extractor=os.environ.get("BIOCAP_FP_EXTRACTOR", "biocap"),
                           cache=Path(os.environ.get("BIOCAP_BENCH_CACHE", "/tmp/biocap-bench")))
    eers, rates = [], []
    for spec in bench.default_sets(options):
        if sets and not any(s in spec.name for s in sets):
            continue
        loaded = bench.load_templates(spec, options)
        name, items, templates = loaded.name, loaded.items, loaded.templates
        enc = [cmp.encode(t) for t in templates]
        ok = np.array([e.enrollable for e in enc])
        prep = cmp.prepare_many(enc)
        n = len(enc)
        S = np.zeros((n, n), np.float32)
        t0 = time.process_time()
        for i in range(n):
            S[i] = cmp.compare_prepared(enc[i], prep, ok)
        dt = time.process_time() - t0
        S = np.maximum(S, S.T) if os.environ.get("SYM") == "max" else S
        gen, imp = all_pairs(items)
        g = np.array([S[a, b] for a, b in gen])
        im = np.array([S[a, b] for a, b in imp])
        r = error_rates(g, im).to_json()
        eers.append(r["eer"])
        rates.append(n * n / dt)
        print(f"{name}: EER {100*r['eer']:.2f}% FMR100 {100*r['fmr100']:.2f}% FMR1000 {100*r['fmr1000']:.2f}% "
              f"{n*n/dt:.0f}/s", flush=True)
    print(f"mean EER {100*np.mean(eers):.3f}%  median speed {np.median(rates):.0f}/s  {over} max_cyl={max_cyl}")


if __name__ == "__main__":
    main(sys.argv[1:])
