"""Write biocap/matching/fingerprint/calibration.json from the impostor scores of the FVC
all-impostors protocol (the four FVC2002 B sets). Run by bench_fingerprint_matching.sh.

    .venv/bin/python benchmarks/fingerprint_matching_calibrate.py [--extractor biocap|nbis] [--cache DIR]
"""
import argparse
import json
from pathlib import Path

from biocap.evaluation.bench_verify_fingerprint import run_with_impostors
from biocap.evaluation.options import BenchOptions
from biocap.matching.fingerprint.matcher import CALIBRATION_FILE, calibration_table

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--extractor", default="biocap", choices=("biocap", "nbis"))
ap.add_argument("--cache", type=Path, help="template cache folder (as biocap bench --cache)")
args = ap.parse_args()
_, impostors = run_with_impostors(BenchOptions(extractor=args.extractor, cache=args.cache))
table = calibration_table(list(impostors), source=(
    f"FVC2002 DB1-DB4 B, all-impostors protocol, extractor {args.extractor}; "
    "benchmarks/fingerprint_matching_calibrate.py"))
Path(CALIBRATION_FILE).write_text(json.dumps(table, indent=1) + "\n")
print(f"wrote {CALIBRATION_FILE}: {len(table['fmr_threshold'])} rows from {table['n_impostor']} impostors")
