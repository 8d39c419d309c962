"""Write biocap/matching/fingerprint/calibration.json from the impostor scores of the FVC
all-impostors protocol (the four FVC2002 B sets), with the extractor chosen by
BIOCAP_FP_EXTRACTOR (default: biocap's own). Run by bench_fingerprint_matching.sh."""
import argparse
import json
import os
from pathlib import Path

from biocap.evaluation import bench_verify_fingerprint as bench
from biocap.matching.fingerprint.matcher import CALIBRATION_FILE, calibration_table

args = argparse.Namespace(dataset=None, layout="fvc", ppi=None, reference=None, plot=None, limit=None)
bench.run(args)
extractor = os.environ.get("BIOCAP_FP_EXTRACTOR", "biocap")
table = calibration_table(bench.LAST_IMPOSTOR_SCORES, source=(
    f"FVC2002 DB1-DB4 B, all-impostors protocol, extractor {extractor}; "
    "benchmarks/fingerprint_matching_calibrate.py"))
Path(CALIBRATION_FILE).write_text(json.dumps(table, indent=1) + "\n")
print(f"wrote {CALIBRATION_FILE}: {len(table['fmr_threshold'])} rows from {table['n_impostor']} impostors")
