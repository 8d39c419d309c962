"""Per-shard figures of the person gallery, for sizing (docs/scale.md): CPU time per probe and
memory per resident at several shard sizes, probes searched in batches of 16 as the centre does.

    python benchmarks/bench_person_shard.py --sizes 2500 5000 10000 --json benchmarks/results/person_shard.json

The gallery comes from the load test's cached population (`biocap bench dedup` builds it under
--cache). `--base B` takes its first B residents and, for sizes above B, TILES them (a timing
estimate, not a population: copy j of a resident keeps its finger records, rolls its iris codes
by 21 j code columns, beyond the search's +-8, and permutes its face embedding's dimensions, so
the copy's eyes and face meet every probe as a stranger's do; its fingers are its original's,
which only matters for the rare copy the bound lets through):

    python benchmarks/bench_person_shard.py --base 16000 --sizes 25000 --probes 16 --tile \
        --json benchmarks/results/person_shard_25k_tiled.json

probes: new residents (unique), fresh captures of gallery residents (duplicates) and
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


def tiled(rows: list, n: int) -> list:
    """`rows` (subject, person bytes) extended to n by copies (module docstring)."""
    from biocap.centre.loadtest import _person_bytes

    parts = [(s,) + person_parts(b) for s, b in rows]
    rng = np.random.default_rng(2022)
    out = list(rows)
    j = 0
    while len(out) < n:
        j += 1
        perm = rng.permutation(128)
        for s, f, ir, face in parts[:n - len(out)]:
            irises = {e: (np.roll(c, 2 * 21 * j), m) for e, (c, m) in ir.items()}
            out.append((f"{s}-copy{j}", _person_bytes(f, irises, face[perm])))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000])
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/biocap-dedup-cache"))
    ap.add_argument("--probes", type=int, default=32, help="probes of each kind")
    ap.add_argument("--base", type=int, default=0, help="population residents to use (default: the largest size)")
    ap.add_argument("--tile", action="store_true", help="tile the base population up to each size (see above)")
    ap.add_argument("--finger-order", nargs="+", default=["cheapest", "probe"],
                    help="person gallery finger orders measured side by side (the first is the default's)")
    ap.add_argument("--pin", action="store_true",
                    help="also measure the shard with its iris-less residents' cylinders kept (pinned)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    base = args.base or max(args.sizes)
    chunks = ensure_population(args.cache, args.seed, base)
    rows = list(_population_rows(chunks, base))
    if max(args.sizes) > base:
        if not args.tile:
            ap.error("sizes above --base need --tile")
        rows = tiled(rows, max(args.sizes))
    rng = np.random.default_rng(args.seed)
    result = {"command": "python benchmarks/bench_person_shard.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "sizes": []}
    for size in args.sizes:
        g = PersonGallery()
        t = time.process_time()
        g.add_encoded([(s,) + person_parts(b) for s, b in rows[:size]])
        load_cpu = time.process_time() - t
        pinned = None
        if args.pin:  # the same shard with the iris-less residents' cylinders kept (dedup.PIN_IRISLESS_FINGERS)
            pinned = PersonGallery()
            pinned.add_encoded([(s,) + person_parts(b) for s, b in rows[:size]])
            t = time.process_time()
            n_pinned = pinned.pin_irisless_fingers()
            pin_cpu = time.process_time() - t
        entry = {"residents": size, "tiled_from": base if size > base else None, "bytes_per_resident": round(g.bytes_per_resident, 1),
                 "load_cpu_s": round(load_cpu, 2)}
        for kind in ("unique", "duplicate", "duplicate_no_iris"):
            ps = probes(args.seed, base, kind, args.probes, rng)
            first = None
            variants = [(order, g) for order in args.finger_order] + ([("pinned", pinned)] if pinned else [])
            for order, gal in variants:  # side by side on the same probes
                gal.finger_order = args.finger_order[0] if order == "pinned" else order
                gal._enc_cache.clear()
                for p in ps:
                    p.__dict__.pop("_encoded", None)
                t = time.process_time()
                res = []
                tm: dict[str, float] = {}
                for b in range(0, len(ps), 16):
                    res += gal.search_many(ps[b:b + 16], timings=tm)
                cpu = time.process_time() - t
                name = kind if order == args.finger_order[0] else \
                    f"{kind}_pinned" if order == "pinned" else f"{kind}_{order}_order"
                entry[name] = {"finger_order": order, "cpu_ms_per_probe": round(1000 * cpu / len(ps), 2),
                               "cpu_ms_per_probe_by_stage": {k: round(1000 * v / len(ps), 2) for k, v in tm.items()},
                               "finger_bound_needed_per_probe": round(np.mean([r.stats["finger_bound_needed"] for r in res]), 2),
                               "decisions": {d: sum(r.decision == d for r in res) for d in ("unique", "duplicate", "adjudication")},
                               "finger_comparisons_per_probe": round(np.mean([r.stats["finger_comparisons"] for r in res]), 2)}
                got = [(r.decision, r.matched) for r in res]
                first = got if first is None else first
                entry[name]["same_decisions_as_" + args.finger_order[0]] = sum(a == b for a, b in zip(got, first))
        if pinned is not None:
            entry["pinned_fingers"] = n_pinned
            entry["pin_cpu_s"] = round(pin_cpu, 1)
        print(json.dumps(entry), flush=True)
        result["sizes"].append(entry)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
