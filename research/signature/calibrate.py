"""Writes biocap/matching/signature/calibration.json from SVC2004 Task 2 users 1-10 ONLY.

Users 11-20 are never read here, so the bench can check the shipped thresholds on them.
    python research/signature/calibrate.py [--data DIR]
Contents: population statistics (stand-ins for a one-signature reference set) and, per requested
FMR, the similarity threshold on random-forgery (zero-effort) impostor scores, plus the skilled
FMR that threshold gave on those users, under the SVC2004 protocol (10 trials x 5 references).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_verify_signature import trials_of
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets_signature import load_svc2004
from biocap.matching.signature import SignatureComparator, SignatureReferences
from biocap.templates.signature import template_of

OUT = Path(__file__).resolve().parents[2] / "biocap/matching/signature/calibration.json"
FMRS = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data_path("signature", "svc2004_task2"))
    args = ap.parse_args()
    users = load_svc2004(args.data, users=list(range(1, 11)))
    assert [u.user for u in users] == [str(i) for i in range(1, 11)], "users 1-10 only"
    T = {(u, k, i): template_of(p) for u, user in enumerate(users)
         for k in ("genuine", "skilled") for i, p in enumerate(getattr(user, k))}
    sets = []
    for u, t, refs, tests, skilled, rnd in trials_of(users, trials=10, n_refs=5, seed=1):
        sets.append((u, refs, tests, skilled, rnd,
                     SignatureReferences.enroll([T[(u, "genuine", i)] for i in refs])))
    groups = list(sets[0][5].pair_mean)
    pop = {"ref_min_mean": {g: float(np.mean([s[5].ref_min_mean[g] for s in sets])) for g in groups},
           "pair_mean": {g: float(np.mean([s[5].pair_mean[g] for s in sets])) for g in groups},
           "global_sd": np.mean([s[5].g_sd for s in sets], 0).tolist(),
           "global_loo": float(np.mean([s[5].g_loo for s in sets]))}
    OUT.write_text(json.dumps({"population": pop, "thresholds": {"random": [[0.5, 0.5]]}}))
    cmp_ = SignatureComparator()
    gen, skl, rnd_s = [], [], []
    for u, refs, tests, skilled, rnd, rs in sets:
        gen += [cmp_.compare(T[(u, "genuine", i)], rs) for i in tests]
        skl += [cmp_.compare(T[(u, "skilled", i)], rs) for i in skilled]
        rnd_s += [cmp_.compare(T[(v, "genuine", i)], rs) for v, i in rnd]
    rnd_s, skl, gen = np.sort(rnd_s), np.sort(skl), np.asarray(gen)

    def threshold(imp: np.ndarray, f: float) -> float:
        """Smallest threshold (accept when score >= threshold) with impostor acceptance <= f."""
        allowed = int(np.floor(f * len(imp)))  # impostors that may score at or above it
        return float(np.nextafter(imp[len(imp) - allowed - 1], np.inf))

    table, table_s, notes = [], [], {}
    for f in FMRS:
        thr = threshold(rnd_s, f)
        table.append([f, thr])
        if f * len(skl) >= 1:
            table_s.append([f, threshold(skl, f)])
        notes[str(f)] = {"fmr_random": float(np.mean(rnd_s >= thr)),
                         "fmr_skilled": float(np.mean(skl >= thr)),
                         "fnmr": float(np.mean(gen < thr))}
    cal = {"source": "SVC2004 Task 2 users 1-10, 10 trials x 5 references (seed 1), "
                     "research/signature/calibrate.py",
           "n_impostor_random": int(len(rnd_s)), "n_skilled": int(len(skl)),
           "n_genuine": int(len(gen)), "population": pop,
           "thresholds": {"random": table, "skilled": table_s}, "at_thresholds_users_1_10": notes}
    OUT.write_text(json.dumps(cal, indent=1) + "\n")
    print(json.dumps(notes, indent=1))


if __name__ == "__main__":
    main()
