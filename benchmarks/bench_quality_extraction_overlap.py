"""How much of fingerprint quality + extraction on one sample is the extractor's segmentation and
orientation: the most that handing them to the quality provider could save. (Quality computes its
own on NFIQ 2's 32-px block grid at 500 ppi, extraction on its grid at 570 ppi: different
algorithms on different images, so sharing them would change quality scores or minutiae.)
Medians over the first 10 images of each FVC2002 B set, both measured in one process (wall
clock, as the extractor's own stage timings are: on a loaded machine read the ratios).

    .venv/bin/python benchmarks/bench_quality_extraction_overlap.py [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.quality.fingerprint.provider import FingerprintQuality
from biocap.templates.fingerprint import trace_extraction
from biocap.types import Modality, Sample


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--per-set", type=int, default=10)
    args = ap.parse_args(argv)
    quality = FingerprintQuality()
    rows = []
    for db, ppi in (("fvc2002_db1_b", 500), ("fvc2002_db2_b", 569), ("fvc2002_db3_b", 500), ("fvc2002_db4_b", 500)):
        for path in sorted(data_path("fingerprint", db).glob("*.tif"))[:args.per_set]:
            sample = Sample(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), ppi, Modality.FINGERPRINT)
            t0 = time.perf_counter()
            quality.assess(sample)
            t_quality = time.perf_counter() - t0
            t0 = time.perf_counter()
            trace = trace_extraction(sample)
            t_extract = time.perf_counter() - t0
            rows.append({"image": f"{db}/{path.name}", "quality_ms": 1000 * t_quality,
                         "extract_ms": 1000 * t_extract,
                         "extract_segmentation_ms": trace.timings_ms.get("segmentation", 0.0),
                         "extract_orientation_ms": trace.timings_ms.get("orientation", 0.0)})
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if k != "image"}
    shared = med["extract_segmentation_ms"] + med["extract_orientation_ms"]
    out = {"n_images": len(rows), "median_ms": med,
           "extraction_share_segmentation_orientation": shared / med["extract_ms"],
           "of_quality_plus_extraction": shared / (med["extract_ms"] + med["quality_ms"])}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
