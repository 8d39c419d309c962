"""Diagnostic for the working-resolution stage (issue 23): biocap-mcc EER of one shared set when its
images are declared at another resolution (the extractor then resamples them to 500 ppi), e.g.
FVC2000 DB3, whose ridge period measures ~14 px against ~9-10 px on the other sets.
Run:  .venv/bin/python research/fingerprint_cross_sensor/resolution_probe.py fvc2000_db3_b 700
"""
from __future__ import annotations

import json
import sys

from biocap.evaluation.bench_verify_fingerprint import DatasetSpec, run_set
from biocap.evaluation.data import data_path
from biocap.evaluation.options import BenchOptions


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    name, ppis = args[0], [float(p) for p in args[1:]]
    for ppi in ppis:
        r = run_set(DatasetSpec(name, data_path("fingerprint", name), ppi, "fvc"),
                    BenchOptions(progress=False), None)["result"]
        print(json.dumps({"set": name, "declared_ppi": ppi, "eer": r["eer"], "fmr100": r["fmr100"],
                          "fte": r["fte"], "extract_ms_median": r["extract_ms_median"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
