"""Unified-score variants tried for the face ERC (docs/decisions/18-face-erc-pipeline.md), on the
images and embeddings of research/face_erc_analysis.py (its --out JSON and --cache npz).

Chosen on lfw7x50's tuning subjects (biocap.evaluation.bench_face.TUNING_SUBJECTS), reported on
the other four ("held out"), and on the originals alone as well as with the degraded copies:

- the shipped weighted geometric mean (params.UNIFIED_WEIGHTS), two-face cap at 5;
- a weighted power mean with p < 0 (a soft minimum: one bad component weighs more);
- the same without the two-face cap;
- "cost weights": each component's weight from the rise in FNMR its degradation causes on the
  tuning subjects (copies of that kind against the originals' pairs), scaled to a maximum of 3.

    .venv/bin/python research/face_erc_ranking.py --analysis benchmarks/results/face_erc_analysis.json \\
        --cache /tmp/face_erc_cache.npz --out benchmarks/results/face_erc_ranking.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_face import TUNING_SUBJECTS, _threshold
from biocap.evaluation.metrics import error_vs_reject
from biocap.templates.face import params as P


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--analysis", type=Path, default=Path("benchmarks/results/face_erc_analysis.json"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/face_erc_cache.npz"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = json.loads(args.analysis.read_text())["rows"]
    c = np.load(args.cache)
    n = len(rows)
    v, ok = np.empty((n, 128), np.float32), np.empty(n, bool)
    v[0::2], ok[0::2] = c["original_v"], c["original_ok"]
    v[1::2], ok[1::2] = c["colour_v"], c["colour_ok"]
    subj = np.array([x["subject"] for x in rows])
    kind = np.array([x["kind"] for x in rows])
    names = list(P.UNIFIED_WEIGHTS)
    comp = np.array([[x["components"].get(k, 0.0) for k in names] for x in rows])
    noface = np.array([x.get("quality_colour", x["quality"]) == 0 for x in rows])

    def split(sel):
        idx = np.flatnonzero(sel)
        iu = np.triu_indices(len(idx), 1)
        s = np.clip((1 + v[idx] @ v[idx].T) / 2, 0, 1)[iu]
        s = np.where(ok[idx][iu[0]] & ok[idx][iu[1]], s, 0)
        return idx, iu, s, subj[idx][iu[0]] == subj[idx][iu[1]]

    tuning = np.isin(subj, TUNING_SUBJECTS)
    masks = {"tuning": tuning, "held_out": ~tuning, "all": np.ones(n, bool)}

    def unified(weights, p=0.0, cap=True):
        w = np.array([weights[k] for k in names])
        x = np.maximum(comp, 1) / 100
        u = 100 * (np.exp((np.log(x) * w).sum(1) / w.sum()) if p == 0 else
                   (((x ** p) * w).sum(1) / w.sum()) ** (1 / p))
        u = np.where(noface, 0, u)
        multi = (comp[:, names.index("single_face")] == 0) & ~noface
        return np.where(multi & cap, np.minimum(u, 5), u)

    # cost weights, from the tuning subjects only
    idx, iu, s, same = split(tuning)
    g = s[same]
    fail = g < _threshold(g, s[~same], 1e-3)
    a, b = idx[iu[0][same]], idx[iu[1][same]]
    base = fail[(kind[a] == "original") & (kind[b] == "original")].mean()
    cost = {k: max(float(fail[(kind[a] == k) | (kind[b] == k)].mean() - base), 0.0) for k in names}
    top = max(cost.values())
    cost_w = {k: max(3 * cost[k] / top, 0.1) for k in names}
    cost_w["single_face"] = P.UNIFIED_WEIGHTS["single_face"]

    variants = {"shipped geometric mean": unified(P.UNIFIED_WEIGHTS),
                "power mean p=-1": unified(P.UNIFIED_WEIGHTS, -1),
                "power mean p=-2": unified(P.UNIFIED_WEIGHTS, -2),
                "geometric mean, no two-face cap": unified(P.UNIFIED_WEIGHTS, cap=False),
                "cost weights": unified(cost_w),
                "cost weights, no two-face cap": unified(cost_w, cap=False),
                "cost weights, power mean p=-2": unified(cost_w, -2)}
    result = {"cost_weights": cost_w, "fnmr_rise_by_degradation_tuning": cost, "variants": {}}
    for protocol, only_orig in (("with_copies", False), ("originals_only", True)):
        for label, q in variants.items():
            entry = result["variants"].setdefault(label, {}).setdefault(protocol, {})
            for split_name, m in masks.items():
                idx, iu, s, same = split(m & (kind == "original") if only_orig else m)
                pq = np.minimum(q[idx][iu[0]], q[idx][iu[1]])[same]
                g, i = s[same], s[~same]
                before = error_vs_reject(g, i, pq, 0.0, 1e-3)
                after = error_vs_reject(g, i, pq, 0.1, 1e-3)
                oracle = error_vs_reject(g, i, (g >= _threshold(g, i, 1e-3)).astype(float), 0.1, 1e-3)
                entry[split_name] = {"fnmr_no_reject": before, "fnmr_at_10pct_reject": after,
                                     "cut": 1 - after / before if before else None,
                                     "oracle": oracle}
                print(f"{protocol:15s} {label:34s} {split_name:8s} {before:.4f} -> {after:.4f} "
                      f"(cut {1 - after / max(before, 1e-12):.2f}; oracle {oracle:.4f})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
