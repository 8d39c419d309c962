"""Per-shard figures of the person gallery, for sizing (docs/scale.md): CPU time per probe and
memory per resident at several shard sizes, probes searched in batches of 16 as the centre does.

    python benchmarks/bench_person_shard.py --sizes 2500 5000 10000 --json benchmarks/results/person_shard.json

The gallery comes from the load test's cached population (`biocap bench dedup` builds it under
--cache); probes: new residents (unique), fresh captures of gallery residents (duplicates) and
duplicates without irises (searched on face and fingers). CPU time (process_time) of this
process, one thread: comparable across loads of a shared machine, unlike wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from biocap.centre.loadtest import _population_rows, ensure_population  # noqa: E402
from biocap.matching.person import PersonGallery, PersonTemplates, person_parts  # noqa: E402
from biocap.synthetic.population import resident  # noqa: E402


def probes(seed: int, n: int, kind: str, count: int, rng) -> list[PersonTemplates]:
    out = []
    for k in range(count):
        if kind == "unique":
            r = resident(seed, n + 1 + k, 1)
        elif kind == "duplicate":
            r = resident(seed, int(rng.integers(1, n + 1)), 2)
        else:
            r = resident(seed, int(rng.integers(1, n + 1)), 2, missing_irises=(1, 2))
        out.append(PersonTemplates(r.fingers, r.irises, r.face))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000])
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/biocap-dedup-cache"))
    ap.add_argument("--probes", type=int, default=32, help="probes of each kind")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    chunks = ensure_population(args.cache, args.seed, max(args.sizes))
    rows = list(_population_rows(chunks, max(args.sizes)))
    rng = np.random.default_rng(args.seed)
    result = {"command": "python benchmarks/bench_person_shard.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "sizes": []}
    for size in args.sizes:
        g = PersonGallery()
        t = time.process_time()
        g.add_encoded([(s,) + person_parts(b) for s, b in rows[:size]])
        load_cpu = time.process_time() - t
        entry = {"residents": size, "bytes_per_resident": round(g.bytes_per_resident, 1),
                 "load_cpu_s": round(load_cpu, 2)}
        for kind in ("unique", "duplicate", "duplicate_no_iris"):
            ps = probes(args.seed, max(args.sizes), kind, args.probes, rng)
            g._enc_cache.clear()
            t = time.process_time()
            res = []
            for b in range(0, len(ps), 16):
                res += g.search_many(ps[b:b + 16])
            cpu = time.process_time() - t
            entry[kind] = {"cpu_ms_per_probe": round(1000 * cpu / len(ps), 2),
                           "decisions": {d: sum(r.decision == d for r in res) for d in ("unique", "duplicate", "adjudication")},
                           "finger_comparisons_per_probe": round(np.mean([r.stats["finger_comparisons"] for r in res]), 2)}
        print(json.dumps(entry), flush=True)
        result["sizes"].append(entry)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
