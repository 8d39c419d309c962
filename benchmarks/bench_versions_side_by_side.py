"""Extraction and quality speed of this tree against another version's, side by side.

    git archive <rev> | tar -x -C /tmp/old      # the other version's source
    git archive HEAD | tar -x -C /tmp/new       # this version's, in a folder like it
    .venv/bin/python benchmarks/bench_versions_side_by_side.py --this /tmp/new --other /tmp/old \
        [--rounds 5] [--json OUT]

Each round runs one worker process per tree, alternating which goes first; a worker times
(CPU, process_time) minutiae extraction and quality assessment of the first 5 images of each
FVC2002 B set, after one warm-up image. Reported: per tree the median over rounds of the per-image
median, and their ratio (this tree / other). Both trees run with this venv's packages.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import cv2, numpy as np
from biocap.evaluation.data import data_path
from biocap.quality.fingerprint import FingerprintQuality
from biocap.templates.fingerprint import FingerprintExtractor
from biocap.types import Modality, Sample
ext, qual = FingerprintExtractor(), FingerprintQuality()
samples = []
for db, ppi in (("fvc2002_db1_b", 500), ("fvc2002_db2_b", 569), ("fvc2002_db3_b", 500), ("fvc2002_db4_b", 500)):
    for p in sorted(data_path("fingerprint", db).glob("*.tif"))[:5]:
        samples.append(Sample(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), ppi, Modality.FINGERPRINT))
ext.extract(samples[0]); qual.assess(samples[0])
te, tq = [], []
for s in samples:
    t = time.process_time(); ext.extract(s); te.append(time.process_time() - t)
    t = time.process_time(); qual.assess(s); tq.append(time.process_time() - t)
print(json.dumps({"extract_ms": 1000 * float(np.median(te)), "quality_ms": 1000 * float(np.median(tq))}))
"""


def run(tree: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               BIOCAP_DATA=os.environ.get("BIOCAP_DATA", str(HERE.parent / "shared" / "data")))
    out = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd="/", capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="source tree of the other version")
    ap.add_argument("--this", type=Path, default=HERE,
                    help="source tree of this version (default: this checkout; an archive of it in a "
                    "folder like the other's compares like with like: the same code measured from "
                    "two places differed by 7% here)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    trees = {"this": args.this.resolve(), "other": args.other.resolve()}
    got = {k: [] for k in trees}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for k in order:
            got[k].append(run(trees[k]))
    out = {"rounds": args.rounds, "this": str(args.this), "other": str(args.other)}
    for key in ("extract_ms", "quality_ms"):
        med = {k: float(np.median([g[key] for g in v])) for k, v in got.items()}
        out[key] = {**med, "ratio_this_over_other": med["this"] / med["other"]}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
