"""Tuning harness of issue 19's round 5: derivative groups, histogram features, other terms.

Not installed, not the bench. On SVC2004 Task 2 it builds the shipped templates (template_of),
computes with the shipped kernel every DTW cost the protocol needs (each signature against
every user's S1-10, per group), and scores the bench's protocol (10 trials x 5 references,
genuine S11-20, skilled S21-40, random = one S11-20 of every other user) for the variants
below. Users 1-10 (A) choose, users 11-20 (B) are held out; seeds 0 and 1 are both shown.

    python research/signature/tune_round5.py [--section terms|groups|groups4|groups5|steps|stability] [--data DIR]

Sections: terms (v3/v4 rows, Kholmatov-style terms, normalisations, histogram features),
groups (candidate fourth groups, weight grids), groups4 / groups5 (variants of the fourth group,
second derivatives), steps (DTW step rules), stability (local stability weights).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets_signature import load_svc2004
from biocap.evaluation.metrics import equal_error_rate
from biocap.matching.signature.comparator import GROUP_BOUNDS, GROUPS, _laid_out
from biocap.matching.signature.dtw import group_costs, stack_references
from biocap.templates.signature import features as F
from biocap.templates.signature.extractor import template_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_multi import protocol  # noqa: E402  (the SVC2004 trial draw, shared with round 4)


def comparisons(n_users, seed):
    """(user, kind, R, qs): R = pool indices (user*10 + r), qs = signature indices (user*40+k);
    kind per questioned: 1 genuine, 0 skilled, 2 random."""
    for u, refs, others in protocol(n_users, seed):
        R = [u * 10 + r for r in refs]
        qs = [u * 40 + k for k in range(10, 40)] + [v * 40 + k for v, k in others]
        yield u, np.array([1] * 10 + [0] * 20 + [2] * len(others)), R, qs


def pool_index(n_users):
    return [u * 40 + r for u in range(n_users) for r in range(10)]


def costs(laid, pool, bounds):
    """(groups, n_sig, n_pool) DTW costs of every signature against every pool signature."""
    out = np.empty((len(bounds), len(laid), len(pool)))
    st = stack_references([laid[i] for i in pool])
    for q in range(len(laid)):
        out[:, q, :] = group_costs(laid[q], st, len(pool), bounds)
    return out


def ref_stats(D, R, P2S):
    """Per group: nearest-other mean, pair mean, max-other mean of the reference set."""
    sub = D[:, [P2S[r] for r in R]][:, :, R]   # (g, k, k): reference i queried against j
    k = len(R)
    sub = (sub + sub.transpose(0, 2, 1)) / 2
    off = sub[:, ~np.eye(k, dtype=bool)].reshape(len(D), k, k - 1)
    return off.min(2).mean(1), off.mean((1, 2)), off.max(2).mean(1), off


def eers(score, kind):
    g, s, r = score[kind == 1], score[kind == 0], score[kind == 2]
    return 100 * equal_error_rate(g, s), 100 * equal_error_rate(g, r)


def run(label, fn, n, seeds=(0, 1)):
    A, B = np.arange(10), np.arange(10, 20)
    out = []
    for seed in seeds:
        S, K, U = [], [], []
        for u, kind, R, qs in comparisons(n, seed):
            S.append(fn(u, R, qs))
            K.append(kind)
            U.append(np.full(len(qs), u))
        S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
        ia, ib = np.isin(U, A), np.isin(U, B)
        out.append((eers(S[ia], K[ia]), eers(S[ib], K[ib]), eers(S, K)))
    txt = "  ".join(f"s{seed} A {a[0]:5.2f} B {b[0]:5.2f} all {c[0]:5.2f} r {c[1]:.2f}"
                    for seed, (a, b, c) in zip(seeds, out))
    print(f"{label:52s} {txt}  meanA {np.mean([o[0][0] for o in out]):.2f}", flush=True)
    return out


# --- histogram features (after Sae-Bae & Memon 2014) --------------------------------------

def _hist(v, edges, w=None):
    h = np.histogram(v, bins=edges, weights=w)[0].astype(float)
    return h / max(h.sum(), 1e-9)


def histograms(pp, sets=("ang", "dang", "vpolar", "apolar", "speed", "pres", "xy")):
    d = pp.down
    x, y = pp.x, pp.y
    dx, dy = np.gradient(x), np.gradient(y)
    v = np.hypot(dx, dy)
    th = np.arctan2(dy, dx)
    ax, ay = np.gradient(dx), np.gradient(dy)
    a = np.hypot(ax, ay)
    tha = np.arctan2(ay, ax)
    m = d & (v > 1e-6)
    if m.sum() < 3:
        m = np.ones_like(d)
    dth = np.angle(np.exp(1j * np.diff(th[m])))
    pi = np.pi
    feats = []
    if "ang" in sets:
        feats += [_hist(th[m], np.linspace(-pi, pi, 9)), _hist(th[m], np.linspace(-pi, pi, 17))]
    if "dang" in sets:
        feats += [_hist(dth, np.linspace(-pi, pi, 9)), _hist(dth, np.linspace(-pi / 4, pi / 4, 9))]
    if "vpolar" in sets:
        r = v[m] / max(v[m].mean(), 1e-9)
        ri = np.digitize(r, [0.5, 1.0, 1.5])
        ti = np.clip(((th[m] + pi) / (2 * pi) * 8).astype(int), 0, 7)
        feats.append(_hist(ri * 8 + ti, np.arange(33) - 0.5))
    if "apolar" in sets:
        r = a[m] / max(a[m].mean(), 1e-9)
        ri = np.digitize(r, [0.5, 1.0, 1.5])
        ti = np.clip(((tha[m] + pi) / (2 * pi) * 8).astype(int), 0, 7)
        feats.append(_hist(ri * 8 + ti, np.arange(33) - 0.5))
    if "speed" in sets:
        feats.append(_hist(v[m] / max(v[m].mean(), 1e-9), np.array([0, .25, .5, .75, 1, 1.25, 1.5, 2, 3, 1e9])))
    if "pres" in sets:
        feats.append(_hist(pp.pressure[m], np.linspace(0, 1.0001, 9)))
        dp = np.gradient(pp.pressure)[m]
        feats.append(_hist(dp / max(np.abs(dp).mean(), 1e-9), np.array([-1e9, -2, -1, -.5, 0, .5, 1, 2, 1e9])))
    if "xy" in sets:
        xn = (x[m] - x[m].min()) / max(np.ptp(x[m]), 1e-9)
        yn = (y[m] - y[m].min()) / max(np.ptp(y[m]), 1e-9)
        feats += [_hist(xn, np.linspace(0, 1.0001, 9)), _hist(yn, np.linspace(0, 1.0001, 9))]
    return np.concatenate(feats)


def hist_term(H, R40, qs, mode, floor):
    """Distance of each questioned histogram vector from the references, minus the references'
    own leave-one-out value."""
    Hr = H[R40]
    if mode == "l1":      # mean Manhattan distance to the references
        dq = np.abs(H[qs][:, None, :] - Hr[None]).sum(2).mean(1)
        dr = np.abs(Hr[:, None, :] - Hr[None]).sum(2)
        k = len(R40)
        dref = dr.sum(1) / (k - 1)
        return dq - dref.mean()
    mu, sd = Hr.mean(0), np.maximum(Hr.std(0, ddof=1), floor)
    dq = (np.abs(H[qs] - mu) / sd).mean(1)
    loo = []
    for i in range(len(R40)):
        o = np.delete(Hr, i, 0)
        loo.append((np.abs(Hr[i] - o.mean(0)) / np.maximum(o.std(0, ddof=1), floor)).mean())
    return dq - np.mean(loo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(data_path("signature/svc2004_task2")))
    ap.add_argument("--section", default="all", choices=("all", "terms", "groups", "groups4", "groups5", "steps", "stability"))
    args = ap.parse_args()
    t0 = time.process_time()
    users = load_svc2004(args.data)
    n = len(users)
    pens = [p for u in users for p in (u.genuine + u.skilled)]
    prepared = [F.prepare(p) for p in pens]
    T = [template_of(p) for p in pens]
    if args.section == "stability":
        return stability_section(T, len(users))
    laid = [_laid_out(t) for t in T]
    G = np.stack([t.global_ for t in T])
    pool = pool_index(n)
    bounds = np.array([GROUP_BOUNDS[g] for g in GROUPS], np.int64)
    D = costs(laid, pool, bounds)  # (groups, 800, 200)
    D_sig = D  # rows: signatures; columns: pool
    # reference rows of D indexed by pool: D[:, pool[r], :]
    print(f"costs: {time.process_time() - t0:.1f} s CPU", flush=True)
    Dp = D_sig  # alias

    def R40(u, R):
        return [pool[r] for r in R]

    def dtw_terms(u, R, qs, groups=(0, 1, 2), terms=("min", "mean")):
        rows = R40(u, R)
        sub = Dp[:, rows][:, :, R]
        k = len(R)
        sub = (sub + sub.transpose(0, 2, 1)) / 2
        off = sub[:, ~np.eye(k, dtype=bool)].reshape(len(Dp), k, k - 1)
        d = Dp[:, qs][:, :, R]  # (g, q, k)
        s = np.zeros(len(qs))
        for g in groups:
            if "min" in terms:
                s += d[g].min(1) - off[g].min(1).mean()
            if "mean" in terms:
                s += d[g].mean(1) - off[g].mean()
            if "max" in terms:
                s += d[g].max(1) - off[g].max(1).mean()
            if "rmin" in terms:
                s += d[g].min(1) / off[g].min(1).mean()
            if "rmean" in terms:
                s += d[g].mean(1) / off[g].mean()
            if "rmax" in terms:
                s += d[g].max(1) / off[g].max(1).mean()
        return s

    def glob(u, R, qs, floor=0.1, cap=6.0):
        Gr = G[R40(u, R)]
        mu, sd = Gr.mean(0), np.maximum(Gr.std(0, ddof=1), floor)
        z = np.minimum(np.abs(G[qs] - mu) / sd, cap).mean(1)
        loo = []
        for i in range(len(R)):
            o = np.delete(Gr, i, 0)
            loo.append(np.minimum(np.abs(Gr[i] - o.mean(0)) / np.maximum(o.std(0, ddof=1), floor),
                                  cap).mean())
        return z - np.mean(loo)

    run("v3 (3 groups + 0.1 global)", lambda u, R, qs: dtw_terms(u, R, qs) + 0.1 * glob(u, R, qs), n)
    run("3 groups, no global", lambda u, R, qs: dtw_terms(u, R, qs), n)
    run("3 groups + derivatives (4) + 0.1 global", lambda u, R, qs: dtw_terms(u, R, qs, (0, 1, 2, 3))
        + 0.1 * glob(u, R, qs), n)
    run("4 groups, no global", lambda u, R, qs: dtw_terms(u, R, qs, (0, 1, 2, 3)), n)
    run("v4 (5 groups + 0.1 global, shipped)", lambda u, R, qs: dtw_terms(u, R, qs, range(5))
        + 0.1 * glob(u, R, qs), n)
    run("5 groups, no global", lambda u, R, qs: dtw_terms(u, R, qs, range(5)), n)
    if args.section in ("groups", "groups4", "groups5"):
        return groups_section(prepared, D, n, variants_only=args.section != "groups",
                              second_only=args.section == "groups5")
    if args.section == "steps":
        return steps_section(laid, pool, bounds, glob, n)
    for terms in (("min", "mean", "max"), ("min", "max"), ("rmin", "rmean", "rmax"), ("mean", "max")):
        run(f"terms {terms} + 0.1 global",
            lambda u, R, qs, t=terms: dtw_terms(u, R, qs, terms=t) + 0.1 * glob(u, R, qs), n)

    # other ways to normalise the three v3 groups' costs by the reference set (no global term)
    def variant(fn):
        def f(u, R, qs):
            rows, k = R40(u, R), len(R)
            sub = Dp[:3, rows][:, :, R]
            sub = (sub + sub.transpose(0, 2, 1)) / 2
            off = sub[:, ~np.eye(k, dtype=bool)].reshape(3, k, k - 1)
            d = Dp[:3, qs][:, :, R]
            return sum(fn(d[g], off[g]) for g in range(3))
        return f
    V = {
        "subtract the largest nearest-other (not the mean)":
            lambda d, o: d.min(1) - o.min(1).max() + d.mean(1) - o.mean(),
        "subtract pair mean + 0.5 sd": lambda d, o: d.min(1) - o.min(1).mean() + d.mean(1)
            - o.mean() - 0.5 * o.std(),
        "per reference: d_i minus r_i's own nearest / mean": lambda d, o: (d - o.min(1)).min(1)
            + (d - o.mean(1)).mean(1),
        "per reference ratio d_i / r_i's own nearest / mean": lambda d, o: (d / o.min(1)).min(1)
            + (d / o.mean(1)).mean(1),
        "2nd nearest instead of nearest": lambda d, o: np.sort(d, 1)[:, 1]
            - np.sort(o, 1)[:, 0].mean() + d.mean(1) - o.mean(),
        "soft minimum (T = 0.1)": lambda d, o: -0.1 * np.log(np.exp(-d / 0.1).mean(1))
            - o.min(1).mean() + d.mean(1) - o.mean(),
        "log costs": lambda d, o: np.log(d.min(1)) - np.log(o.min(1).mean()) + np.log(d.mean(1))
            - np.log(o.mean()),
        "sqrt costs": lambda d, o: np.sqrt(d.min(1)) - np.sqrt(o.min(1)).mean()
            + np.sqrt(d).mean(1) - np.sqrt(o).mean(),
        "squared costs": lambda d, o: d.min(1) ** 2 - (o.min(1) ** 2).mean() + (d ** 2).mean(1)
            - (o ** 2).mean(),
    }
    for name, fn in V.items():
        run(name, variant(fn), n)

    def largest_again(u, R, qs):
        terms = [variant(lambda d, o: d.min(1) - o.min(1).mean() + d.mean(1) - o.mean())(u, R, qs)]
        per = []
        for g in range(3):
            rows, k = R40(u, R), len(R)
            sub = Dp[g][rows][:, R]
            sub = (sub + sub.T) / 2
            o = sub[~np.eye(k, dtype=bool)].reshape(k, k - 1)
            d = Dp[g][qs][:, R]
            per.append(d.min(1) - o.min(1).mean() + d.mean(1) - o.mean())
        return terms[0] + np.max(per, 0)
    run("+ the largest group term again", largest_again, n)

    H_all = {}
    for sets in (("ang",), ("dang",), ("vpolar",), ("apolar",), ("speed",), ("pres",), ("xy",),
                 ("ang", "dang", "vpolar", "apolar", "speed", "pres", "xy")):
        H_all[sets] = np.stack([histograms(pp, sets) for pp in prepared])
    print(f"histograms: {time.process_time() - t0:.1f} s CPU", flush=True)
    full = ("ang", "dang", "vpolar", "apolar", "speed", "pres", "xy")
    for mode, floor in (("l1", 0), ("z", 0.01), ("z", 0.03)):
        H = H_all[full]
        run(f"hist all alone {mode} {floor}", lambda u, R, qs, H=H, m=mode, f=floor:
            hist_term(H, R40(u, R), qs, m, f), n)
    for sets, H in H_all.items():
        for w in (0.5, 1.0, 2.0):
            run(f"v3 + {w} x hist l1 {'+'.join(sets)}", lambda u, R, qs, H=H, w=w:
                dtw_terms(u, R, qs) + 0.1 * glob(u, R, qs) + w * hist_term(H, R40(u, R), qs, "l1", 0), n)
    for w in (0.05, 0.1, 0.2, 0.4):
        H = H_all[full]
        run(f"v3 + {w} x hist z(0.01) all", lambda u, R, qs, H=H, w=w:
            dtw_terms(u, R, qs) + 0.1 * glob(u, R, qs) + w * hist_term(H, R40(u, R), qs, "z", 0.01), n)


# --- local stability weights (LS-DTW / SM-DTW family) ---------------------------------------
from numba import njit  # noqa: E402


@njit(cache=True)
def _path_costs(a, b, window):
    """DTW of a (n, c) and b (m, c) in the band; per point of a, the mean local cost of the
    cells of the best path that hold it."""
    n, m = a.shape[0], b.shape[0]
    inf = np.inf
    C = np.full((n + 1, m + 1), inf)
    C[0, 0] = 0.0
    L = np.zeros((n, m))
    for i in range(n):
        lo = max(0, i - window + 1 - max(0, n - m))
        hi = min(m, i + window + max(0, m - n))
        for j in range(lo, hi):
            d = 0.0
            for c in range(a.shape[1]):
                e = a[i, c] - b[j, c]
                d += e * e
            L[i, j] = d
            C[i + 1, j + 1] = d + min(C[i, j], C[i, j + 1], C[i + 1, j])
    acc = np.zeros(n)
    cnt = np.zeros(n)
    i, j = n, m
    while i > 0 and j > 0:
        acc[i - 1] += L[i - 1, j - 1]
        cnt[i - 1] += 1
        d, u, lft = C[i - 1, j - 1], C[i - 1, j], C[i, j - 1]
        if d <= u and d <= lft:
            i, j = i - 1, j - 1
        elif u <= lft:
            i -= 1
        else:
            j -= 1
    return acc / np.maximum(cnt, 1)


@njit(cache=True)
def _wdtw(q, r, w, window):
    n, m = q.shape[0], r.shape[0]
    inf = np.inf
    prev = np.full(m + 1, inf)
    cur = np.full(m + 1, inf)
    prev[0] = 0.0
    for i in range(n):
        lo = max(0, i - window + 1 - max(0, n - m))
        hi = min(m, i + window + max(0, m - n))
        for j in range(m + 1):
            cur[j] = inf
        for j in range(lo, hi):
            d = 0.0
            for c in range(q.shape[1]):
                e = q[i, c] - r[j, c]
                d += e * e
            cur[j + 1] = w[j] * d + min(prev[j], prev[j + 1], cur[j])
        prev, cur = cur, prev
    return prev[m] / (n + m)


def stability_weights(refs, window, mode, alpha):
    """Per reference, per point weights from the mean aligned cost to the other references."""
    k = len(refs)
    out = []
    for i in range(k):
        c = np.mean([_path_costs(refs[i], refs[j], window) for j in range(k) if j != i], 0)
        if mode == "inv":
            w = 1.0 / (c + alpha * c.mean())
        elif mode == "exp":
            w = np.exp(-c / (alpha * c.mean()))
        w = w / w.mean()
        out.append(np.ascontiguousarray(w))
    return out


def stability_section(T, n, seeds=(0, 1), variants=(("none", 0), ("inv", 1.0), ("inv", 0.5),
                                                       ("exp", 1.0), ("exp", 2.0))):
    cols = {g: list(range(*GROUP_BOUNDS[g])) for g in GROUPS}
    laid = [_laid_out(t) for t in T]
    per_group = {g: [np.ascontiguousarray(s[:, cols[g]]) for s in laid] for g in GROUPS}
    window = 13
    for mode, alpha in variants:
        res = []
        for seed in seeds:
            S, K, U = [], [], []
            for u, kind, R, qs in comparisons(n, seed):
                R40 = [u * 40 + (r - u * 10) for r in R]
                s = np.zeros(len(qs))
                for g in GROUPS:
                    refs = [per_group[g][i] for i in R40]
                    if mode == "none":
                        ws = [np.ones(len(r)) for r in refs]
                    else:
                        ws = stability_weights(refs, window, mode, alpha)
                    k = len(refs)
                    Dr = np.zeros((k, k))
                    for i in range(k):
                        for j in range(k):
                            if i != j:
                                Dr[i, j] = _wdtw(refs[i], refs[j], ws[j], window)
                    Dr = (Dr + Dr.T) / 2
                    off = Dr[~np.eye(k, dtype=bool)].reshape(k, k - 1)
                    d = np.array([[_wdtw(per_group[g][q], refs[j], ws[j], window) for j in range(k)]
                                  for q in qs])
                    s += (d.min(1) - off.min(1).mean()) + (d.mean(1) - off.mean())
                S.append(s)
                K.append(kind)
                U.append(np.full(len(qs), u))
            S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
            ia, ib = U < 10, U >= 10
            res.append((eers(S[ia], K[ia]), eers(S[ib], K[ib]), eers(S, K)))
        txt = "  ".join(f"s{seed} A {a[0]:5.2f} B {b[0]:5.2f} all {c[0]:5.2f} r {c[1]:.2f}"
                        for seed, (a, b, c) in zip(seeds, res))
        print(f"stability {mode} {alpha} ({len(GROUPS)} groups, no global)".ljust(52) + f" {txt}  "
              f"meanA {np.mean([o[0][0] for o in res]):.2f}", flush=True)



# --- a fourth DTW group: candidates from Fierrez et al.'s functions and derivatives ---------

def _zc(c):
    sd = c.std()
    return (c - c.mean()) / sd if sd > 1e-9 else c - c.mean()


def _function_columns(pp):
    dx, dy = np.gradient(pp.x), np.gradient(pp.y)
    v = np.hypot(dx, dy)
    th = np.unwrap(np.arctan2(dy, dx))
    dth = np.gradient(th)
    a = np.hypot(np.gradient(dx), np.gradient(dy))
    rho = np.log((v + 1e-3) / (np.abs(dth) + 1e-3))
    return dict(dx=dx, dy=dy, ddx=np.gradient(dx), ddy=np.gradient(dy), v=v, th=th, dth=dth,
                a=a, rho=rho, dv=np.gradient(v), drho=np.gradient(rho), da=np.gradient(a),
                p=pp.pressure, dp=np.gradient(pp.pressure), ddp=np.gradient(np.gradient(pp.pressure)),
                x=pp.x, y=pp.y)


def groups_section(prepared, D, n, npts=128, variants_only=False, second_only=False):
    """Each candidate fourth group alone and added (weight 0.5, 1) to the three v3 groups; then
    a grid of group weights (shape fixed at 1), chosen by the mean over seeds 0, 1 of users 1-10."""
    import itertools
    pool = pool_index(n)
    C = [_function_columns(pp) for pp in prepared]

    def d_of(names):
        S = []
        for c in C:
            m = np.stack([_zc(c[k]) for k in names], 1)
            src, dst = np.arange(len(m)), np.linspace(0, len(m) - 1, npts)
            S.append(np.ascontiguousarray(np.stack([np.interp(dst, src, m[:, k])
                                                    for k in range(m.shape[1])], 1)))
        return costs(S, pool, np.array([[0, len(names)]], np.int64))

    def term(Dx, g, R, qs):
        rows, k = [pool[r] for r in R], len(R)
        sub = Dx[g][rows][:, R]
        sub = (sub + sub.T) / 2
        off = sub[~np.eye(k, dtype=bool)].reshape(k, k - 1)
        d = Dx[g][qs][:, R]
        return d.min(1) - off.min(1).mean() + d.mean(1) - off.mean()

    def v3(u, R, qs):
        return sum(term(D, g, R, qs) for g in range(3))

    Dc4 = D[3:4]  # the shipped fourth group

    if variants_only:
        from scipy.ndimage import gaussian_filter1d as gf
        for sig in (1.0, 2.0) if not second_only else ():
            for c in C:
                for k, src in (("dv_s", "v"), ("drho_s", "rho"), ("da_s", "a")):
                    c[k] = np.gradient(gf(c[src], sig, mode="nearest"))
            Dx = d_of(["dv_s", "drho_s", "da_s"])
            run(f"3 groups + dv drho da smoothed sigma {sig}", lambda u, R, qs, Dx=Dx: v3(u, R, qs)
                + term(Dx, 0, R, qs), n)
        for extra in (["dp"], ["ddx", "ddy"], ["dth"]) if not second_only else ():
            Dx = d_of(["dv", "drho", "da", *extra])
            run(f"3 groups + dv drho da {' '.join(extra)}", lambda u, R, qs, Dx=Dx: v3(u, R, qs)
                + term(Dx, 0, R, qs), n)
        for c in C:
            c["ddv"], c["ddrho"], c["dda"] = (np.gradient(c[k]) for k in ("dv", "drho", "da"))
        Dx = d_of(["ddv", "ddrho", "dda"])
        run("3 groups + dv drho da + second derivatives (5th group)", lambda u, R, qs, Dx=Dx:
            v3(u, R, qs) + term(Dc4, 0, R, qs) + term(Dx, 0, R, qs), n)
        run("shape, dynamics, dv drho da, second derivatives (no direction)", lambda u, R, qs,
            Dx=Dx: term(D, 0, R, qs) + term(D, 1, R, qs) + term(Dc4, 0, R, qs) + term(Dx, 0, R, qs), n)
        D6 = d_of(["dv", "drho", "da", "ddv", "ddrho", "dda"])
        run("3 groups + one group of dv drho da ddv ddrho dda", lambda u, R, qs, D6=D6:
            v3(u, R, qs) + term(D6, 0, R, qs), n)
        for c in C:
            c["dddv"], c["dddrho"], c["ddda"] = (np.gradient(c[k]) for k in ("ddv", "ddrho", "dda"))
        D3 = d_of(["dddv", "dddrho", "ddda"])
        run("3 groups + first + second + third derivatives (6 groups)", lambda u, R, qs, Dx=Dx,
            D3=D3: v3(u, R, qs) + term(Dc4, 0, R, qs) + term(Dx, 0, R, qs) + term(D3, 0, R, qs), n)
        return
    cands = {"dx dy ddx ddy (DDTW-like)": ["dx", "dy", "ddx", "ddy"],
             "th v rho a (Fierrez functions)": ["th", "v", "rho", "a"],
             "dth dv drho da (their derivatives)": ["dth", "dv", "drho", "da"],
             "dv drho da (v4's fourth group)": ["dv", "drho", "da"],
             "p dp ddp": ["p", "dp", "ddp"], "dx dy p": ["dx", "dy", "p"], "x y": ["x", "y"],
             "dx dy v": ["dx", "dy", "v"]}
    Dc = {}
    for name, names in cands.items():
        Dx = Dc[name] = d_of(names)
        run(f"{name} alone", lambda u, R, qs, Dx=Dx: term(Dx, 0, R, qs), n)
        for w in (0.5, 1.0):
            run(f"3 groups + {w} x {name}", lambda u, R, qs, w=w, Dx=Dx: v3(u, R, qs)
                + w * term(Dx, 0, R, qs), n)
    for name in ("dth dv drho da (their derivatives)", "dv drho da (v4's fourth group)"):
        DD = np.concatenate([D[:3], Dc[name]], 0)
        data = {}
        for seed in (0, 1):
            Tm, K, U = [], [], []
            for u, kind, R, qs in comparisons(n, seed):
                Tm.append(np.stack([term(DD, g, R, qs) for g in range(4)], 1))
                K.append(kind)
                U.append(np.full(len(qs), u))
            data[seed] = np.concatenate(Tm), np.concatenate(K), np.concatenate(U)

        def ev(w):
            out = []
            for seed in (0, 1):
                Tm, K, U = data[seed]
                S = -(Tm @ w)
                out.append([100 * equal_error_rate(S[m & (K == 1)], S[m & (K == 0)])
                            for m in (U < 10, U >= 10, U >= 0)])
            return np.array(out)
        res = sorted(((ev(np.array(w, float))[:, 0].mean(), w) for w in
                      itertools.product((1,), (0.5, 1, 1.5, 2), (0, 0.5, 1, 1.5), (0.5, 1, 1.5))),
                     key=lambda r: r[0])
        print(f"-- weights (shape, dynamics, direction, {name}), no global; [seed][A, B, all]")
        for w in [(1, 1, 1, 1)] + [w for _, w in res[:5]]:
            e = ev(np.array(w, float))
            print(f"   {w} meanA {e[:, 0].mean():.2f} {e.round(2).tolist()}", flush=True)



# --- DTW step rules: diagonal weight, a penalty on non-diagonal steps --------------------------

@njit(cache=True)
def _dtw_steps_all(Q, P, c0, c1, window, wd, pen, out):
    """out[q, p] = DTW cost of Q[q] against P[p] over columns c0:c1 with local cost d, steps
    diagonal wd * d, horizontal/vertical d + pen, normalised by (n + m)."""
    nq, n = Q.shape[0], Q.shape[1]
    npool, m = P.shape[0], P.shape[1]
    inf = np.inf
    prev = np.empty(m + 1)
    cur = np.empty(m + 1)
    for a in range(nq):
        for b in range(npool):
            prev[:] = inf
            prev[0] = 0.0
            for i in range(n):
                lo = max(0, i - window + 1)
                hi = min(m, i + window)
                cur[:] = inf
                for j in range(lo, hi):
                    d = 0.0
                    for c in range(c0, c1):
                        e = Q[a, i, c] - P[b, j, c]
                        d += e * e
                    best = prev[j] + wd * d
                    up = prev[j + 1] + d + pen
                    if up < best:
                        best = up
                    left = cur[j] + d + pen
                    if left < best:
                        best = left
                    cur[j + 1] = best
                prev, cur = cur, prev
            out[a, b] = prev[m] / (n + m)


def steps_section(laid, pool, bounds, glob, n):
    """The shipped groups + 0.1 global with other step rules (same band, 128 points)."""
    Q = np.stack(laid)
    Pp = Q[pool]
    for wd, pen in ((1.0, 0.0), (2.0, 0.0), (1.0, 0.1), (1.0, 0.3), (1.0, 1.0), (2.0, 0.3)):
        Dg = np.empty((len(bounds), len(Q), len(Pp)))
        for g, (c0, c1) in enumerate(bounds):
            _dtw_steps_all(Q, Pp, int(c0), int(c1), 13, wd, pen * (c1 - c0), Dg[g])

        def f(u, R, qs, Dg=Dg):
            rows, k = [pool[r] for r in R], len(R)
            s = np.zeros(len(qs))
            for g in range(len(Dg)):
                sub = Dg[g][rows][:, R]
                sub = (sub + sub.T) / 2
                off = sub[~np.eye(k, dtype=bool)].reshape(k, k - 1)
                d = Dg[g][qs][:, R]
                s += d.min(1) - off.min(1).mean() + d.mean(1) - off.mean()
            return s + 0.1 * glob(u, R, qs)
        run(f"{len(bounds)} groups + 0.1 global, diagonal x{wd}, step penalty {pen}/column", f, n)


if __name__ == "__main__":
    sys.exit(main())
