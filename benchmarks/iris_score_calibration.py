"""Calibrate the iris comparator's decision thresholds (biocap/matching/iris/calibration.json).

    python benchmarks/iris_score_calibration.py [--json benchmarks/results/iris_score_calibration.json]

Fitted on MMU2 only: every impostor pair (two different eyes, both enrolled) gives a similarity
(1 - HD_norm clipped to [0, 1], the comparator's scale); for each FMR target the threshold is
the lowest one that at most that share of impostors reaches. Held out: CASIA-IrisV1, never used
in the fit, reports the FMR and FNMR each threshold actually gives there. The held-out figures
go into the shipped file too (`held_out`), so a reader sees how well the table transfers.
Needs ../shared/data (or $BIOCAP_DATA).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_iris import distance_matrix, extract_all
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import load_layout
from biocap.matching.iris.calibration import CALIBRATION_FILE, calibration_table, similarity


def pair_scores(folder: str, layout: str):
    """(genuine similarities, impostor similarities) over all pairs of enrolled images."""
    items = load_layout(data_path("iris", folder), layout)
    codes, masks, ok, _ = extract_all(items)
    sim = similarity(distance_matrix(codes, masks))
    subject = np.array([it.subject for it in items])
    iu = np.triu_indices(len(items), 1)
    both = ok[iu[0]] & ok[iu[1]]
    same = subject[iu[0]] == subject[iu[1]]
    s = sim[iu]
    return s[same & both], s[~same & both], int(ok.sum()), len(items)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--out", type=Path, default=CALIBRATION_FILE, help="the calibration file to write")
    args = ap.parse_args(argv)
    t0 = time.time()
    _, fit_imp, fit_ok, fit_n = pair_scores("mmu2", "mmu2")
    table = calibration_table(fit_imp, source=f"MMU2, {fit_ok} of {fit_n} images enrolled, all "
                              "impostor pairs (benchmarks/iris_score_calibration.py)")
    gen, imp, ok, n = pair_scores("casia_irisv1", "casia-iris")
    held = []
    for fmr, thr in table["fmr_threshold"]:
        held.append({"fmr_target": fmr, "threshold": thr, "fmr_casia": float(np.mean(imp >= thr)),
                     "fnmr_casia": float(np.mean(gen < thr))})
    table["held_out"] = {"dataset": f"CASIA-IrisV1, {ok} of {n} images enrolled", "n_impostor": len(imp),
                         "n_genuine": len(gen), "rows": held}
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(table, indent=1) + "\n")
    print(json.dumps(held, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
