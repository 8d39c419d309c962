"""Where biocap-mcc's bulk comparison time goes, per stage, numpy reference code beside the
compiled kernels, on one shared FVC set (each probe against the whole set, as the speed bench
times it). CPU time (`time.process_time`), second of two passes (the first loads the kernels).

    .venv/bin/python benchmarks/profile_fingerprint_compare.py fvc2002_db2_b [--cache DIR]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from biocap.evaluation.bench_verify_fingerprint import DatasetSpec, load_templates
from biocap.evaluation.data import data_path
from biocap.evaluation.options import BenchOptions
from biocap.matching.fingerprint import mcc, pairing
from biocap.matching.fingerprint.comparator import FingerprintComparator


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", help="e.g. fvc2002_db2_b")
    ap.add_argument("--ppi", type=float, default=None, help="default: 569 for fvc2002_db2_b, else 500")
    ap.add_argument("--cache", help="template cache folder")
    args = ap.parse_args(argv)
    ppi = args.ppi or (569.0 if args.set == "fvc2002_db2_b" else 500.0)
    loaded = load_templates(DatasetSpec(args.set, data_path("fingerprint", args.set), ppi, "fvc"),
                            BenchOptions(reference=None, cache=args.cache, progress=False))
    cmp = FingerprintComparator()
    p = cmp.params
    enc = [cmp.encode(t) for t in loaded.templates if t is not None]
    prep = cmp.prepare_many(enc)
    probes = [e.probe_prepared(p) for e in enc]
    times: dict[str, float] = {}

    def timed(name, f):
        t0 = time.process_time()
        out = f()
        times[name] = times.get(name, 0.0) + time.process_time() - t0
        return out

    for _ in range(2):
        times.clear()
        for probe in probes:
            lam_ref = timed("local similarities, numpy", lambda: mcc.local_similarities(probe, prep, p))
            lam = timed("local similarities, compiled", lambda: mcc.local_similarities_compiled(probe, prep, p))
            d_ref, d = {"n_pairs": cmp.pairing.n_anchor}, {"n_pairs": cmp.pairing.n_anchor}
            timed("LSS-R, numpy", lambda: mcc.lss_r(lam_ref, probe, prep, p, d_ref))
            timed("LSS-R, compiled", lambda: mcc.lss_r(lam, probe, prep, p, d, compiled=True))
            a = timed("pairing, numpy", lambda: pairing.paired_fraction(probe, prep, d["ia"], d["jb"], d["w"],
                                                                        cmp.pairing))
            b = timed("pairing, compiled", lambda: pairing.paired_fraction(probe, prep, d["ia"], d["jb"], d["w"],
                                                                           cmp.pairing, compiled=True))
            assert np.array_equal(a, b)
    n = len(enc) ** 2
    print(f"{args.set}: {len(enc)} templates, {n} comparisons; CPU s per stage (and us per comparison)")
    for name, s in times.items():
        print(f"  {name:32s} {s:7.3f} s  {1e6 * s / n:7.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
