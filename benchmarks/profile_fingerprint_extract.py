"""Where biocap's fingerprint extraction time goes, per pipeline stage, beside mindtct's time on
the same images in the same run (CPU time, `time.process_time`, medians over the images).

A stage's CPU time is the time between the pipeline's observer calls (each stage reports when it
ends), so the pipeline runs unchanged.

    .venv/bin/python benchmarks/profile_fingerprint_extract.py fvc2002_db1_b [--limit 40]
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import load_layout
from biocap.evaluation.nbis_reference import NbisReference
from biocap.templates.fingerprint.pipeline import trace_extraction
from biocap.types import Modality, Sample


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", help="e.g. fvc2002_db1_b")
    ap.add_argument("--ppi", type=float, default=None, help="default: 569 for fvc2002_db2_b, else 500")
    ap.add_argument("--limit", type=int, default=40, help="images (the first N of the set)")
    args = ap.parse_args(argv)
    ppi = args.ppi or (569.0 if args.set == "fvc2002_db2_b" else 500.0)
    items = load_layout(data_path("fingerprint", args.set), "fvc")[:args.limit]
    images = [cv2.imread(str(it.path), cv2.IMREAD_GRAYSCALE) for it in items]
    ref = NbisReference()
    trace_extraction(Sample(images[0], ppi, Modality.FINGERPRINT))  # warm-up
    stages: dict[str, list[float]] = {}
    total, mindtct = [], []
    for img in images:
        marks = [("start", time.process_time())]
        trace_extraction(Sample(img, ppi, Modality.FINGERPRINT),
                         observer=lambda name, _value: marks.append((name, time.process_time())))
        for (_, t0), (name, t1) in zip(marks, marks[1:]):
            stages.setdefault(name, []).append(1000 * (t1 - t0))
        total.append(1000 * (marks[-1][1] - marks[0][1]))
        t0 = time.process_time()
        ref.extract(img, ppi)
        mindtct.append(1000 * (time.process_time() - t0))
    med = float(np.median(total))
    print(f"{args.set}: {len(images)} images; median CPU ms: biocap {med:.1f}, mindtct "
          f"{np.median(mindtct):.1f} (ratio {med / np.median(mindtct):.2f})")
    for name, ms in sorted(stages.items(), key=lambda kv: -np.mean(kv[1])):
        print(f"  {name:16s} {np.mean(ms):6.1f} ms mean  {100 * np.sum(ms) / np.sum(total):5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
