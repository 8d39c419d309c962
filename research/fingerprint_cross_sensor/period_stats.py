"""Ridge period of every print of the shared FVC sets at the working resolution, as the extractor
measures it before deciding whether to resample the print (issue 23; `params.PERIOD_RANGE` is the
pooled 5th-95th percentile of the tuned-on FVC2002 sets). Only the first stages run: cheap.
Run:  .venv/bin/python research/fingerprint_cross_sensor/period_stats.py [SET ...] [--json OUT]
"""
from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.templates.fingerprint.frequency import ridge_frequency
from biocap.templates.fingerprint.normalization import normalize
from biocap.templates.fingerprint.orientation import orientation_field
from biocap.templates.fingerprint.params import PERIOD_RANGE
from biocap.templates.fingerprint.resolution import to_working_resolution
from biocap.templates.fingerprint.segmentation import refine_with_flow, segment

PPI = {"fvc2002_db2_b": 569.0}
SETS = ("fvc2002_db1_b", "fvc2002_db2_b", "fvc2002_db3_b", "fvc2002_db4_b",
        "fvc2000_db1_b", "fvc2000_db2_b", "fvc2000_db3_b", "fvc2000_db4_b")


def periods(name: str) -> list[float]:
    out = []
    for path in sorted(data_path("fingerprint", name).glob("*.tif")):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        work = to_working_resolution(img, PPI.get(name, 500.0)).image
        mask = segment(work)
        norm = normalize(work, mask)
        flow = orientation_field(norm, mask)
        out.append(ridge_frequency(norm, refine_with_flow(mask, flow.coherence)).wavelength)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", default=list(SETS))
    ap.add_argument("--json", help="write every print's period here")
    args = ap.parse_args(argv)
    lo, hi = PERIOD_RANGE
    found = {}
    print("| set | p5 | median | p95 | above range | below range |\n|---|---|---|---|---|---|")
    for name in args.sets:
        wl = np.array(periods(name))
        found[name] = wl.tolist()
        p5, p50, p95 = np.percentile(wl, [5, 50, 95])
        print(f"| {name} | {p5:.2f} | {p50:.2f} | {p95:.2f} | {(wl > hi).sum()} | {(wl < lo).sum()} |",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(found, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
