"""Calibrate `FaceComparator.threshold_for_fmr`: impostor scores -> (FMR, threshold) pairs,
written to biocap/matching/face/calibration_face.json (package data).

Data: ../shared/data/face/lfw7x50 (the only real face set this project has; also the set whose
EER is reported). The EER and FMR1000 the bench reports are threshold-free, so the calibration
does not touch them; what it does decide is how well a requested FMR is met. That is checked
leave-one-person-out here: thresholds from the pairs of 6 people, FMR measured on the impostor
pairs involving the 7th, for each person in turn (written to
benchmarks/results/face_calibration.json). See docs/face.md.

    .venv/bin/python research/face_calibrate.py [--dataset DIR]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_face import extract_all, face_items, pair_scores, read_face

FMRS = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
ROOT = Path(__file__).resolve().parents[1]


def thresholds(impostor: np.ndarray) -> list[list[float]]:
    """Lowest threshold whose share of impostors at or above it is <= fmr, per FMR."""
    s = np.sort(impostor)[::-1]
    out = []
    for fmr in FMRS:
        k = int(np.floor(fmr * s.size))  # at most k impostors may reach the threshold
        thr = float(np.nextafter(s[k], 1.0)) if k < s.size else float(s[-1])
        out.append([fmr, thr])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/face/lfw7x50")
    args = ap.parse_args()
    items = face_items(args.dataset, "lfw-folders")
    subjects = [it.subject for it in items]
    emb = extract_all([read_face(it.path) for it in items])
    scores, same, both, iu = pair_scores(emb, subjects)
    imp = ~same & both
    table = thresholds(scores[imp])
    cal = {"matcher": "biocap-face-dlib", "score": "(1 + cosine) / 2",
           "n_impostor": int(imp.sum()),
           "source": f"{args.dataset.name}: all impostor pairs of enrolled images; "
                     "research/face_calibrate.py",
           "fmr_threshold": table}
    out = ROOT / "biocap/matching/face/calibration_face.json"
    out.write_text(json.dumps(cal, indent=1) + "\n")
    subj = np.array(subjects)
    check = {}
    for person in sorted(set(subjects)):
        involves = (subj[iu[0]] == person) | (subj[iu[1]] == person)
        train = imp & ~involves
        test = imp & involves
        rows = []
        for fmr, thr in thresholds(scores[train]):
            rows.append({"fmr": fmr, "threshold": thr,
                         "held_out_fmr": float(np.mean(scores[test] >= thr)),
                         "held_out_fnmr": float(np.mean(scores[same & both & involves] < thr))})
        check[person] = rows
    report = {"n_impostor": int(imp.sum()), "fte": float(1 - emb.ok.mean()),
              "leave_one_person_out": check,
              "summary": {str(f): {"requested": f, "held_out_fmr_median": float(np.median(
                  [r[j]["held_out_fmr"] for r in check.values()])),
                  "held_out_fmr_max": float(max(r[j]["held_out_fmr"] for r in check.values()))}
                  for j, f in enumerate(FMRS)}}
    res = ROOT / "benchmarks/results/face_calibration.json"
    res.parent.mkdir(parents=True, exist_ok=True)
    res.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
