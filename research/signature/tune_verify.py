"""Tuning harness for signature verification on SVC2004 Task 2 (not installed, not the bench).

Computes every pairwise DTW cost once (cached in /tmp), then evaluates score variants under the
SVC2004 protocol on two disjoint user halves, so a choice made on one half is reported on the
other. Usage:
    python research/signature/tune_verify.py [--data DIR] [--variant NAME ...]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets_signature import load_svc2004
from biocap.evaluation.metrics import equal_error_rate
from biocap.matching.signature.dtw import dtw
from biocap.templates.signature import features as F


def baseline_features(pen) -> np.ndarray:
    x, y, p = (np.asarray(a, float) for a in (pen.x, pen.y, pen.pressure))
    cols = [x, y, np.gradient(x), np.gradient(y), p]
    cols = [(c - c.mean()) / (c.std() + 1e-9) for c in cols]
    return np.ascontiguousarray(np.stack(cols, 1))


def full_dtw(a, b) -> float:
    from dtaidistance import dtw_ndim
    d = dtw_ndim.distance_fast(a, b, use_pruning=False)
    return float(d * d / (len(a) + len(b)))


def needed_pairs(n_users):
    """Pairs the protocol uses: each user's S1-10 against all of that user's signatures and
    against every other user's S11-20."""
    pairs = set()
    for u in range(n_users):
        for r in range(10):
            i = u * 40 + r
            for k in range(40):
                pairs.add((min(i, u * 40 + k), max(i, u * 40 + k)))
            for v in range(n_users):
                if v != u:
                    for k in range(10, 20):
                        pairs.add((min(i, v * 40 + k), max(i, v * 40 + k)))
    return sorted(p for p in pairs if p[0] != p[1])


def matrix(series, fn, n_users):
    n = len(series)
    m = np.full((n, n), np.nan)
    np.fill_diagonal(m, 0.0)
    for i, j in needed_pairs(n_users):
        m[i, j] = m[j, i] = fn(series[i], series[j])
    return m


def protocol(n_users, seed=0, trials=10):
    """[(user, refs(5 idx in 0..9), genuine idx, skilled idx, random (user, idx))] per trial."""
    rng = np.random.default_rng(seed)
    out = []
    for u in range(n_users):
        for t in range(trials):
            refs = rng.choice(10, 5, replace=False)
            others = [(v, 10 + (t % 10)) for v in range(n_users) if v != u]
            out.append((u, refs, list(range(10, 20)), list(range(20, 40)), others))
    return out


def run(dist, glob, users_eval, n_users, score_fn, seed=0):
    gen, skl, rnd = [], [], []
    def idx(u, s):
        return u * 40 + s
    for u, refs, g, s, others in protocol(n_users, seed):
        if u not in users_eval:
            continue
        R = [idx(u, r) for r in refs]
        ctx = prepare_ctx(dist, glob, R)
        gen += [score_fn(ctx, idx(u, k)) for k in g]
        skl += [score_fn(ctx, idx(u, k)) for k in s]
        rnd += [score_fn(ctx, idx(v, k)) for v, k in others]
    return (100 * equal_error_rate(gen, skl), 100 * equal_error_rate(gen, rnd))


def prepare_ctx(dist, glob, R):
    D = dist[np.ix_(R, R)]
    k = len(R)
    off = D[~np.eye(k, dtype=bool)].reshape(k, k - 1)
    G = glob[R]
    return {"R": R, "pair_mean": off.mean(), "ref_mean": off.mean(1), "ref_min": off.min(1),
            "tmpl": int(np.argmin(off.mean(1))), "gmu": G.mean(0), "gsd": G.std(0, ddof=1),
            "dist": dist, "glob": glob}


def s_mean_raw(c, q):
    return -c["dist"][q, c["R"]].mean()


def s_min_raw(c, q):
    return -c["dist"][q, c["R"]].min()


def dtw_norm(c, q):
    d = c["dist"][q, c["R"]]
    return d.mean() / c["pair_mean"] + d.min() / c["ref_min"].mean() + d[c["tmpl"]] / c["ref_mean"][c["tmpl"]]


def glob_dist(c, q, floor=0.1, cap=6.0):
    z = np.abs(c["glob"][q] - c["gmu"]) / np.maximum(c["gsd"], floor)
    return np.minimum(z, cap).mean()


VARIANTS = {
    "mean_raw": s_mean_raw,
    "min_raw": s_min_raw,
    "dtw_norm": lambda c, q: -dtw_norm(c, q),
    "glob": lambda c, q: -glob_dist(c, q),
    "fused": lambda c, q: -(dtw_norm(c, q) / 3 + glob_dist(c, q)),
    "fused_half": lambda c, q: -(dtw_norm(c, q) / 3 + 0.5 * glob_dist(c, q)),
    "fused_2": lambda c, q: -(dtw_norm(c, q) / 3 + 2 * glob_dist(c, q)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data_path("signature", "svc2004_task2"))
    ap.add_argument("--variant", nargs="*", default=list(VARIANTS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sig_dtw_cache.npz"))
    ap.add_argument("--recompute", action="store_true")
    args = ap.parse_args()
    users = load_svc2004(args.data)
    pens = [p for u in users for p in (u.genuine + u.skilled)]
    n_users = len(users)
    t0 = time.time()
    prepared = [F.prepare(p) for p in pens]
    local = [F.local_features(pp) for pp in prepared]
    glob = np.stack([F.global_features(pp) for pp in prepared])
    if args.cache.exists() and not args.recompute:
        z = np.load(args.cache)
        dist, base = z["dist"], z["base"]
    else:
        dist = matrix(local, dtw, n_users)
        t1 = time.time()
        base = matrix([baseline_features(p) for p in pens], full_dtw, n_users)
        print(f"dtw matrix {t1 - t0:.1f}s, baseline {time.time() - t1:.1f}s")
        np.savez(args.cache, dist=dist, base=base)
    halves = {"A(1-10)": set(range(10)), "B(11-20)": set(range(10, 20)), "all": set(range(n_users))}
    print("baseline plain DTW:")
    for name in ("mean_raw", "min_raw"):
        row = [f"{h}: {run(base, glob, s, n_users, VARIANTS[name])}" for h, s in halves.items()]
        print(f"  {name:12s}", *row)
    for name in args.variant:
        row = []
        for h, s in halves.items():
            e = run(dist, glob, s, n_users, VARIANTS[name])
            row.append(f"{h}: {e[0]:.2f}/{e[1]:.2f}")
        print(f"  {name:12s}", *row)


if __name__ == "__main__":
    main()
