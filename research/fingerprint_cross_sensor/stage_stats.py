"""Per-stage statistics of biocap's extractor on a few prints of each shared FVC set (issue 23):
foreground share, ridge wavelength, orientation coherence, candidates and what filtering removed.
Cheap (no matching): a first look at where a sensor differs from the tuned-on ones.
Run:  .venv/bin/python research/fingerprint_cross_sensor/stage_stats.py [--per-set 16] [SET ...]
"""
from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.templates.fingerprint.pipeline import trace_extraction
from biocap.types import Sample

PPI = {"fvc2002_db2_b": 569.0}
SETS = ("fvc2002_db1_b", "fvc2002_db2_b", "fvc2002_db3_b", "fvc2002_db4_b",
        "fvc2000_db1_b", "fvc2000_db2_b", "fvc2000_db3_b", "fvc2000_db4_b")


def stats(name: str, per_set: int) -> dict:
    root = data_path("fingerprint", name)
    paths = sorted(root.glob("*.tif"))[::max(1, 80 // per_set)][:per_set]
    rows = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        tr = trace_extraction(Sample(img, PPI.get(name, 500.0), "fingerprint"))
        if tr.filtering is None:
            rows.append({"failed": True})
            continue
        fg = tr.foreground
        counts = tr.filtering.counts()
        rows.append({"fg_share": float(fg.sum()) / (img.shape[0] * img.shape[1] * tr.resolution.scale_x * tr.resolution.scale_y),
                     "wavelength": float(tr.frequency.wavelength),
                     "coherence": float(np.median(tr.orientation.coherence[fg])),
                     "candidates": int(len(tr.minutiae)), "kept": int(tr.filtering.kept.sum()),
                     "record": int(len(tr.template)), **{f"drop_{k}": v for k, v in counts.items()}})
    ok = [r for r in rows if not r.get("failed")]
    return {"set": name, "images": len(rows), "failed": len(rows) - len(ok),
            **{k: float(np.median([r[k] for r in ok])) for k in ok[0]}} if ok else {"set": name}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", default=list(SETS))
    ap.add_argument("--per-set", type=int, default=16)
    args = ap.parse_args(argv)
    out = [stats(s, args.per_set) for s in args.sets]
    keys = [k for k in out[0] if k != "set"]
    print("| set | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for r in out:
        print(f"| {r['set']} | " + " | ".join(f"{r.get(k, float('nan')):.3g}" for k in keys) + " |")
    json.dump(out, sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
