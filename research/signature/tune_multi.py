"""Tuning harness for multi-DTW fusion on SVC2004 Task 2 (not installed, not the bench).

Caches, per local feature set, the DTW costs of every pair the SVC2004 protocol needs, then
evaluates fused, reference-normalised scores on users 1-10 (A, where choices are made) and
users 11-20 (B, held out) with one pooled threshold. Usage:
    python research/signature/tune_multi.py [--data DIR] [--cache DIR]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from dtaidistance import dtw_ndim

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets_signature import load_svc2004
from biocap.evaluation.metrics import equal_error_rate
from biocap.templates.signature import features as F

N = 128
BAND = 13


def _z(c):
    sd = c.std()
    return (c - c.mean()) / sd if sd > 1e-9 else c - c.mean()


def columns(pp) -> dict[str, np.ndarray]:
    """Every candidate per-point feature, on the prepared (100 Hz, smoothed) series."""
    dx, dy = np.gradient(pp.x), np.gradient(pp.y)
    v = np.hypot(dx, dy)
    theta = np.unwrap(np.arctan2(dy, dx))
    dtheta = np.gradient(theta)
    rho = np.log((v + 1e-3) / (np.abs(dtheta) + 1e-3))
    ax, ay = np.gradient(dx), np.gradient(dy)
    a = np.hypot(ax, ay)
    c = {"x": pp.x, "y": pp.y, "dx": dx, "dy": dy, "p": pp.pressure, "v": v,
         "cos": np.where(v > 1e-9, dx / np.maximum(v, 1e-9), 0.0),
         "sin": np.where(v > 1e-9, dy / np.maximum(v, 1e-9), 0.0),
         "rho": rho, "a": a, "ax": ax, "ay": ay, "dp": np.gradient(pp.pressure),
         "theta": theta}
    xc, yc = pp.x - pp.x.mean(), pp.y - pp.y.mean()
    common = max(float(np.sqrt((xc.var() + yc.var()) / 2)), 1e-9)
    c["xj"], c["yj"] = xc / common, yc / common  # one spread for both: aspect kept
    return c


NOZ = {"cos", "sin", "xj", "yj"}


def series(pp, names, n=N):
    c = columns(pp)
    cols = np.stack([c[k] if k in NOZ else _z(c[k]) for k in names], 1)
    src = np.arange(len(cols))
    dst = np.linspace(0, len(cols) - 1, n)
    out = np.stack([np.interp(dst, src, cols[:, k]) for k in range(cols.shape[1])], 1)
    return np.ascontiguousarray(out)


SETS = {
    "base7": ("x", "y", "dx", "dy", "p", "cos", "sin"),
    "xyp": ("x", "y", "p"),
    "dyn": ("v", "cos", "sin", "rho", "a", "p"),
    "vel": ("dx", "dy", "ax", "ay"),
    "pres": ("p", "dp"),
    "ang": ("cos", "sin", "rho"),
    "xy": ("x", "y"),
    "vp": ("v", "p", "a"),
    "dyn_xy": ("x", "y", "v", "cos", "sin", "rho", "a", "p"),
    "dyn_noa": ("v", "cos", "sin", "rho", "p"),
    "dyn_norho": ("v", "cos", "sin", "a", "p"),
    "dyn_dxdy": ("dx", "dy", "v", "cos", "sin", "rho", "a", "p"),
    "dyn_dp": ("v", "cos", "sin", "rho", "a", "p", "dp"),
    "norho_dp": ("v", "cos", "sin", "a", "p", "dp"),
    "norho_xy": ("x", "y", "v", "cos", "sin", "a", "p"),  # chosen (template version 2)
    "norho_xy_dp": ("x", "y", "v", "cos", "sin", "a", "p", "dp"),
    "norho_xyj": ("xj", "yj", "v", "cos", "sin", "a", "p"),
}


FUSIONS = (("base7", "dyn"), ("base7", "vel"), ("base7", "vp"), ("base7", "ang"), ("base7", "xyp"),
           ("xyp", "dyn"), ("xyp", "vel"), ("dyn", "vel"), ("dyn", "vp"), ("dyn", "xyp", "vel"),
           ("dyn_norho", "base7"))


def needed_pairs(n_users):
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


def matrix(S, pairs):
    m = np.full((len(S), len(S)), np.nan)
    np.fill_diagonal(m, 0.0)
    for i, j in pairs:
        d = dtw_ndim.distance_fast(S[i], S[j], window=BAND, use_pruning=False)
        m[i, j] = m[j, i] = d * d / (2 * N)
    return m


def protocol(n_users, seed=0, trials=10):
    rng = np.random.default_rng(seed)
    for u in range(n_users):
        for t in range(trials):
            refs = sorted(int(i) for i in rng.choice(10, 5, replace=False))
            others = [(v, 10 + t % 10) for v in range(n_users) if v != u]
            yield u, refs, others


def ctx_of(D, R):
    sub = D[np.ix_(R, R)]
    k = len(R)
    off = sub[~np.eye(k, dtype=bool)].reshape(k, k - 1)
    return off.min(1).mean(), off.mean(), off.max(1).mean()


def score_set(D, R, qs, mode):
    rmin, pmean, rmax = ctx_of(D, R)
    d = D[np.ix_(qs, R)]
    if mode == "sub2":
        return (d.min(1) - rmin) + (d.mean(1) - pmean)
    if mode == "ratio2":
        return d.min(1) / rmin + d.mean(1) / pmean
    if mode == "sub2n":  # subtract, then divide by the set's own spread (mean pair cost)
        return ((d.min(1) - rmin) + (d.mean(1) - pmean)) / pmean
    if mode == "sub3":
        return (d.min(1) - rmin) + (d.mean(1) - pmean) + (d.max(1) - rmax)
    if mode == "sqrt":
        return ((d.min(1) - rmin) + (d.mean(1) - pmean)) / np.sqrt(pmean)
    raise ValueError(mode)


def evaluate(mats, weights, users, n_users, mode, glob=None, gw=0.0):
    gen, skl, rnd = [], [], []
    for u, refs, others in protocol(n_users):
        if u not in users:
            continue
        R = [u * 40 + r for r in refs]
        qs = [u * 40 + k for k in range(10, 40)] + [v * 40 + k for v, k in others]
        s = sum(w * score_set(mats[name], R, qs, mode) for name, w in weights.items())
        if glob is not None and gw:
            s = s + gw * glob_score(glob, R, qs)
        gen += list(-s[:10])
        skl += list(-s[10:30])
        rnd += list(-s[30:])
    return 100 * equal_error_rate(gen, skl), 100 * equal_error_rate(gen, rnd)


def glob_score(G, R, qs, floor=0.1, cap=6.0):
    Gr = G[R]
    mu, sd = Gr.mean(0), np.maximum(Gr.std(0, ddof=1), floor)
    z = np.minimum(np.abs(G[qs] - mu) / sd, cap).mean(1)
    loo = []
    for i in range(len(R)):
        o = np.delete(Gr, i, 0)
        s2 = np.maximum(o.std(0, ddof=1), floor)
        loo.append(np.minimum(np.abs(Gr[i] - o.mean(0)) / s2, cap).mean())
    return z - np.mean(loo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data_path("signature", "svc2004_task2"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sigacc"))
    ap.add_argument("--sets", nargs="*", default=list(SETS))
    args = ap.parse_args()
    users = load_svc2004(args.data)
    pens = [p for u in users for p in (u.genuine + u.skilled)]
    n_users = len(users)
    prepared = [F.prepare(p) for p in pens]
    glob = np.stack([F.global_features(pp) for pp in prepared])
    pairs = needed_pairs(n_users)
    mats = {}
    for name in args.sets:
        f = args.cache / f"{name}_{N}_{BAND}.npy"
        if f.exists():
            mats[name] = np.load(f)
            continue
        t0 = time.process_time()
        S = [series(pp, SETS[name]) for pp in prepared]
        mats[name] = matrix(S, pairs)
        np.save(f, mats[name])
        print(f"{name}: {time.process_time() - t0:.1f} s CPU", flush=True)
    A, B = set(range(10)), set(range(10, 20))

    def show(label, weights, mode="sub2", gw=0.0):
        ea = evaluate(mats, weights, A, n_users, mode, glob, gw)
        eb = evaluate(mats, weights, B, n_users, mode, glob, gw)
        print(f"{mode:6s} {label:34s} A {ea[0]:6.2f}/{ea[1]:.2f}  B {eb[0]:6.2f}/{eb[1]:.2f}", flush=True)

    for name in args.sets:
        show(name, {name: 1.0})
    for mode in ("sub2n", "sqrt", "sub3"):
        for name in ("base7", "dyn", "norho_xy"):
            if name in mats:
                show(name, {name: 1.0}, mode)
    for combo in FUSIONS:
        if all(c in mats for c in combo):
            show("+".join(combo), {c: 1.0 for c in combo})
    for name in ("norho_xy", "norho_xy_dp", "norho_xyj", "dyn_norho", "base7"):
        for gw in (0.05, 0.1, 0.2):
            if name in mats:
                show(f"{name} global {gw}", {name: 1.0}, gw=gw)

if __name__ == "__main__":
    main()
