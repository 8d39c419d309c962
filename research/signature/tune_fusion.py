"""Tuning harness of issue 19's round 3: several DTW groups, normalisations, learned fusion.

Not installed, not the bench. On SVC2004 Task 2 it caches, per local feature set, the DTW costs
of every pair the SVC2004 protocol needs (tune_multi.py's pairs; 128 points, band 13 unless a
variant says otherwise), then scores every (reference set, questioned signature) comparison of
the bench's protocol (seed 0, 10 trials x 5 references) in two sections:

- `fixed`: sums of per-group reference-normalised terms (nearest and mean cost minus the
  reference set's own) with fixed weights, and the normalisation variants tried;
- `barycentre`: a DBA mean of each reference set as one more reference;
- `stability`: per-person group weights from how stable each group is in the references;
- `seeds`: the main candidates under other reference draws (seeds 0-3);
- `global`: each global feature alone and added to the three-group score;
- `lr`: a logistic regression genuine-vs-skilled over those terms and the per-feature global
  distances, fitted on the tuning users only.

Users 1-10 (A) are the tuning users: every choice is made on A (for the fitted models, by
leave-one-user-out: fitted on 9 users, scoring the 10th). Users 11-20 (B) are held out: shown,
never used to choose (the fitted models are fitted on all of A to score B). Usage:
    python research/signature/tune_fusion.py [--section fixed|barycentre|stability|seeds|global|lr|all] [--data DIR] [--cache DIR]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tune_multi as TM  # noqa: E402

from biocap.evaluation.data import data_path  # noqa: E402
from biocap.evaluation.datasets_signature import load_svc2004  # noqa: E402
from biocap.evaluation.metrics import equal_error_rate  # noqa: E402
from biocap.templates.signature import features as F  # noqa: E402


def columns(pp) -> dict[str, np.ndarray]:
    c = TM.columns(pp)
    c["dv"] = np.gradient(c["v"])
    c["dtheta"] = np.gradient(c["theta"])
    c["drho"] = np.gradient(c["rho"])
    return c


def series(pp, names, n=TM.N, antialias=0.0):
    c = columns(pp)
    arc = names[0] == "@arc"  # resampled evenly along the pen's path instead of in time
    names = names[1:] if arc else names
    cols = np.stack([c[k] if k in TM.NOZ else TM._z(c[k]) for k in names], 1)
    if antialias > 0 and len(cols) > n:  # low-pass before taking n of len(cols) samples
        cols = gaussian_filter1d(cols, antialias * len(cols) / n, axis=0, mode="nearest")
    src = np.arange(len(cols), dtype=float)
    if arc:
        src = np.cumsum(c["v"]) + 1e-6 * src  # path length, strictly increasing
    dst = np.linspace(src[0], src[-1], n)
    return np.ascontiguousarray(np.stack([np.interp(dst, src, cols[:, k])
                                          for k in range(cols.shape[1])], 1))


CHANNELS = ("x", "y", "v", "cos", "sin", "a", "p", "dp", "rho", "dx", "dy", "dv", "dtheta")
SETS = {"v2": ("x", "y", "v", "cos", "sin", "a", "p"),       # shipped in template version 2
        "xyp": ("x", "y", "p"),
        "dyn": ("v", "a", "p", "dp", "dv"),
        "ang": ("cos", "sin", "rho", "dtheta"),
        "vel": ("dx", "dy"),
        "all": ("x", "y", "v", "cos", "sin", "a", "p", "dp", "rho", "dx", "dy", "dv"),
        "pres": ("p", "dp"),
        "v2np": ("x", "y", "v", "cos", "sin", "a"),
        "dynnp": ("v", "a", "dp", "dv"),
        "arc_shape": ("@arc", "x", "y", "cos", "sin"),
        "arc_vp": ("@arc", "v", "p"),
        "arc_all": ("@arc", "x", "y", "cos", "sin", "v", "p")}
for ch in CHANNELS:
    SETS["c_" + ch] = (ch,)


#: the same sets at fewer points (and a band of the same 10%), for speed
LOW_RES = {"dyn": ((64, 7), (96, 10)), "ang": ((64, 7), (96, 10))}
#: the same sets low-pass filtered before resampling (Gaussian sigma = this x the decimation factor)
ANTIALIAS = {"v2": (0.5,), "dyn": (0.5,), "ang": (0.5,)}
#: the same sets at 128 points with a narrower (8 = 6%, for speed) or wider (19 = 15%) band
NARROW = {"dyn": (8, 19), "ang": (8, 19), "v2": (8, 19)}


def matrix(S, pairs, n, band):
    m = np.full((len(S), len(S)), np.nan)
    np.fill_diagonal(m, 0.0)
    for i, j in pairs:
        d = TM.dtw_ndim.distance_fast(S[i], S[j], window=band, use_pruning=False)
        m[i, j] = m[j, i] = d * d / (2 * n)
    return m


def glob_terms(G, R, qs, floor=0.1, cap=6.0):
    """Per-feature capped z-distance of each questioned signature from the references, minus the
    references' own leave-one-out value of that feature: (len(qs), k)."""
    Gr = G[R]
    mu, sd = Gr.mean(0), np.maximum(Gr.std(0, ddof=1), floor)
    z = np.minimum(np.abs(G[qs] - mu) / sd, cap)
    loo = []
    for i in range(len(R)):
        o = np.delete(Gr, i, 0)
        s2 = np.maximum(o.std(0, ddof=1), floor)
        loo.append(np.minimum(np.abs(Gr[i] - o.mean(0)) / s2, cap))
    return z - np.mean(loo, 0)


def set_terms(D, R, qs):
    """(len(qs), 4): nearest cost minus the references' mean nearest, mean cost minus their mean
    pair cost, and the log ratios of the same."""
    k = len(R)
    sub = D[np.ix_(R, R)]
    off = sub[~np.eye(k, dtype=bool)].reshape(k, k - 1)
    rmin, pmean = off.min(1).mean(), off.mean()
    d = D[np.ix_(qs, R)]
    return np.stack([d.min(1) - rmin, d.mean(1) - pmean,
                     np.log(d.min(1) / rmin), np.log(d.mean(1) / pmean)], 1)


def comparisons(n_users, seed=0, trials=10):
    """(user, kind, R, qs) per trial, kind per questioned: 1 genuine, 0 skilled, 2 random."""
    for u, refs, others in TM.protocol(n_users, seed, trials):
        R = [u * 40 + r for r in refs]
        qs = [u * 40 + k for k in range(10, 40)] + [v * 40 + k for v, k in others]
        kind = np.array([1] * 10 + [0] * 20 + [2] * len(others))
        yield u, kind, R, qs


def design(mats, G, n_users, sets, term_idx, glob_mode):
    """Rows of terms for every comparison of the protocol; returns X, kind, user."""
    X, K, U = [], [], []
    for u, kind, R, qs in comparisons(n_users):
        cols = [set_terms(mats[s], R, qs)[:, term_idx] for s in sets]
        if glob_mode == "per_feature":
            cols.append(glob_terms(G, R, qs))
        elif glob_mode == "mean":
            cols.append(glob_terms(G, R, qs).mean(1, keepdims=True))
        X.append(np.concatenate(cols, 1))
        K.append(kind)
        U.append(np.full(len(qs), u))
    return np.concatenate(X), np.concatenate(K), np.concatenate(U)


def fit_logistic(X, y, l2=1.0, iters=50):
    """L2-penalised logistic regression by Newton's method on standardised inputs; returns
    (weights, bias, mean, std) so that score = ((x - mean) / std) @ w + b."""
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.concatenate([(X - mu) / sd, np.ones((len(X), 1))], 1)
    w = np.zeros(Z.shape[1])
    pen = np.full(Z.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(Z @ w)))
        g = Z.T @ (p - y) + pen * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(pen)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], w[-1], mu, sd


def eers(score, kind):
    g, s, r = score[kind == 1], score[kind == 0], score[kind == 2]
    return 100 * equal_error_rate(g, s), 100 * equal_error_rate(g, r)


def evaluate(X, K, U, A, B, l2=1.0):
    """A: leave-one-user-out within A; B: fitted on all of A. Returns ((A skilled, A random),
    (B skilled, B random), model fitted on A)."""
    train = (K != 2)
    sa = np.full(len(K), np.nan)
    for u in A:
        m = train & np.isin(U, list(A)) & (U != u)
        w, b, mu, sd = fit_logistic(X[m], (K[m] == 1).astype(float), l2)
        t = U == u
        sa[t] = ((X[t] - mu) / sd) @ w + b
    m = train & np.isin(U, list(A))
    model = fit_logistic(X[m], (K[m] == 1).astype(float), l2)
    w, b, mu, sd = model
    sb = ((X - mu) / sd) @ w + b
    ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
    return eers(sa[ia], K[ia]), eers(sb[ib], K[ib]), model


def fixed(X, K, U, A, B, weights):
    s = -(X @ np.asarray(weights, float))
    ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
    return eers(s[ia], K[ia]), eers(s[ib], K[ib])


def load_all(args):
    users = load_svc2004(args.data)
    pens = [p for u in users for p in (u.genuine + u.skilled)]
    prepared = [F.prepare(p) for p in pens]
    G = np.stack([F.global_features(pp) for pp in prepared])
    pairs = TM.needed_pairs(len(users))
    mats = {}
    args.cache.mkdir(parents=True, exist_ok=True)
    for name, chans in SETS.items():
        variants = [(TM.N, TM.BAND), *LOW_RES.get(name, ())]
        if name in NARROW:
            variants += [(TM.N, b) for b in NARROW[name]]
        if name in ANTIALIAS:
            variants += [(TM.N, TM.BAND, a) for a in ANTIALIAS[name]]
        for n, band, *aa in variants:
            key = (name if n == TM.N else f"{name}@{n}") + ("" if band in (TM.BAND, 7, 10)
                                                            else f"b{band}")
            key += f"aa{aa[0]}" if aa else ""
            f = args.cache / f"{name}_{n}_{band}{'_aa%s' % aa[0] if aa else ''}.npy"
            if f.exists():
                mats[key] = np.load(f)
                continue
            t0 = time.process_time()
            S = [series(pp, chans, n, *aa) for pp in prepared]
            mats[key] = matrix(S, pairs, n, band)
            np.save(f, mats[key])
            print(f"  cached {key}: {time.process_time() - t0:.1f} s CPU", flush=True)
    return users, prepared, G, mats


def fixed_rows(mats, G, n):
    """Every fixed-weight (no fitted model) variant of the round-3 record, A and B side by side,
    plus the a-posteriori per-user-threshold EER (mean over users) of each half."""
    A, B = set(range(10)), set(range(10, 20))
    comps = list(comparisons(n))

    def run(label, fn):
        S, K, U = [], [], []
        for u, kind, R, qs in comps:
            S.append(fn(R, qs))
            K.append(kind)
            U.append(np.full(len(qs), u))
        S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
        ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
        ea, eb = eers(S[ia], K[ia]), eers(S[ib], K[ib])
        pu = [eers(S[U == u], K[U == u])[0] for u in range(n)]
        print(f"{label:44s} A {ea[0]:6.2f}/{ea[1]:.2f}  B {eb[0]:6.2f}/{eb[1]:.2f}  "
              f"user-threshold A {np.mean(pu[:10]):.2f} B {np.mean(pu[10:]):.2f}", flush=True)

    def sub2(D, R, qs):
        t = set_terms(D, R, qs)
        return t[:, 0] + t[:, 1]

    def glob(R, qs):
        return glob_terms(G, R, qs).mean(1)

    def groups(names, gw=0.1, w=None):
        w = w or {}
        return lambda R, qs: (sum(w.get(s, 1.0) * sub2(mats[s], R, qs) for s in names)
                              + gw * glob(R, qs))

    print("-- one or several DTW groups, each (min - nn mean) + (mean - pair mean), + 0.1 global;")
    print("   arc_*: resampled evenly along the path instead of in time")
    run("v2 (shipped before, template version 2)", groups(["v2"]))
    for combo in (["all"], ["v2", "all"], ["v2", "dyn"], ["v2", "ang"], ["dyn", "ang"],
                  ["v2", "dyn", "ang"], ["xyp", "dyn", "ang"], ["v2", "dyn", "ang", "vel"],
                  ["v2", "dyn", "ang", "xyp"], ["dyn", "ang", "vel"], ["xyp", "dyn", "ang", "vel"],
                  ["arc_shape"], ["arc_vp"], ["arc_all"], ["v2", "dyn", "ang", "arc_shape"],
                  ["v2", "dyn", "ang", "arc_vp"], ["v2", "dyn", "ang", "arc_all"],
                  ["arc_all", "dyn", "ang"], ["arc_shape", "dyn", "ang"]):
        run("+".join(combo), groups(combo))
    print("-- v2+dyn+ang: weights, global weight, resolution, band")
    for wv in (0.5, 2.0):
        run(f"v2 x{wv} + dyn + ang", groups(["v2", "dyn", "ang"], w={"v2": wv}))
    for gw in (0.0, 0.2, 0.3):
        run(f"v2+dyn+ang, global weight {gw}", groups(["v2", "dyn", "ang"], gw))
    for r in ("@96", "@64"):
        run(f"v2 + dyn{r} + ang{r}", groups(["v2", "dyn" + r, "ang" + r]))
    for b in ("b8", "b19"):
        run(f"v2 + dyn{b} + ang{b}", groups(["v2", "dyn" + b, "ang" + b]))
        run(f"v2{b} + dyn{b} + ang{b}", groups(["v2" + b, "dyn" + b, "ang" + b]))
        run(f"v2{b}", groups(["v2" + b]))
    run("v2b19 + dyn + ang", groups(["v2b19", "dyn", "ang"]))
    run("v2, low-passed before resampling", groups(["v2aa0.5"]))
    run("v2 + dyn + ang, all low-passed", groups(["v2aa0.5", "dynaa0.5", "angaa0.5"]))
    run("v2 + dyn + ang, dyn and ang low-passed", groups(["v2", "dynaa0.5", "angaa0.5"]))
    print("-- normalisation of the three groups' costs")
    three = ("v2", "dyn", "ang")

    def stats(D, R):
        k = len(R)
        off = D[np.ix_(R, R)][~np.eye(k, dtype=bool)].reshape(k, k - 1)
        return off, off.min(1).mean(), off.mean()

    def family(gamma=0.0, terms=(1, 1), c=0.0):
        def f(R, qs):
            tot, ptot = 0.0, 0.0
            for name in three:
                _, rmin, pm = stats(mats[name], R)
                d = mats[name][np.ix_(qs, R)]
                tot = tot + terms[0] * (d.min(1) - rmin) + terms[1] * (d.mean(1) - pm)
                ptot += pm
            return tot / ptot ** gamma - c * ptot + 0.1 * glob(R, qs)
        return f
    for gamma in (0.25, 0.5):
        run(f"divided by (sum of pair means)^{gamma}", family(gamma))
    for c in (-0.5, 0.5):
        run(f"minus {c} x sum of pair means", family(c=c))
    run("nearest term only", family(terms=(1, 0)))
    run("mean term only", family(terms=(0, 1)))
    run("2 x nearest + mean", family(terms=(2, 1)))

    def loo(zscore):
        base = groups(list(three))

        def f(R, qs):
            own = np.array([base([r for j, r in enumerate(R) if j != i], [R[i]])[0]
                            for i in range(len(R))])
            s = base(R, qs)
            return (s - own.mean()) / (own.std() + 0.05) if zscore else s - own.mean()
        return f
    run("minus the references' own leave-one-out score", loo(False))
    run("z-scored by the references' own l-o-o scores", loo(True))

    def cohort(scale):
        base = groups(list(three))

        def f(R, qs):
            u = R[0] // 40  # cohort: genuine 11-20 of the tuning users other than this one
            c = base(R, [v * 40 + k for v in range(10) if v != u for k in range(10, 20)])
            s = base(R, qs)
            return s / c.mean() if scale else (s - np.median(c)) / c.std()
        return f
    run("cohort (tuning users' signatures) z-norm", cohort(False))
    run("divided by the cohort's mean score", cohort(True))

    def knn(R, qs):
        off, _, pm = stats(mats["v2"], R)
        d = np.sort(mats["v2"][np.ix_(qs, R)], 1)
        return (d[:, :2].mean(1) - np.sort(off, 1)[:, :2].mean() + d.mean(1) - pm
                + 0.1 * glob(R, qs))
    run("v2: mean of 2 nearest instead of nearest", knn)
    def joint(median):
        def f(R, qs):
            D = sum(mats[name] for name in three)
            off, rmin, _ = stats(D, R)
            d = D[np.ix_(qs, R)]
            m = np.median if median else np.mean
            return d.min(1) - rmin + m(d, 1) - m(off) + 0.1 * glob(R, qs)
        return f
    run("nearest by the sum of the 3 groups' costs", joint(False))
    run("the same, median instead of mean", joint(True))

    def group_median(R, qs):
        tot = 0.0
        for name in three:
            off, rmin, _ = stats(mats[name], R)
            d = mats[name][np.ix_(qs, R)]
            tot = tot + d.min(1) - rmin + np.median(d, 1) - np.median(off)
        return tot + 0.1 * glob(R, qs)
    run("per group, median instead of mean", group_median)
    print("-- one DTW per channel (DTW-independent), all 13 channels / the 7 of v2")
    chans = ["c_" + c for c in CHANNELS]
    v2ch = ["c_" + c for c in SETS["v2"]]

    def per_channel(names, ratio):
        def f(R, qs):
            tot = 0.0
            for name in names:
                _, rmin, pm = stats(mats[name], R)
                d = mats[name][np.ix_(qs, R)]
                t = (d.min(1) - rmin) + (d.mean(1) - pm)
                tot = tot + (t / pm if ratio else t)
            return tot + (0.0 if ratio else 0.1 * glob(R, qs))
        return f
    run("13 channels, each divided by its pair mean", per_channel(chans, True))
    run("13 channels, subtracted", per_channel(chans, False))
    run("v2's 7 channels, each divided by its pair mean", per_channel(v2ch, True))
    run("v2's 7 channels, subtracted", per_channel(v2ch, False))


def barycentre_rows(prepared, mats, G, n):
    """A DBA barycentre of each reference set (per group; dtaidistance's dba_loop from the medoid,
    5 iterations, same band) as one more reference: d(q, mean) - mean_i d(r_i, mean)."""
    from dtaidistance import dtw_barycenter
    A, B = set(range(10)), set(range(10, 20))
    three = ("v2", "dyn", "ang")
    ser = {g: [series(pp, SETS[g]) for pp in prepared] for g in three}
    comps = list(comparisons(n))
    bt = {}
    for ti, (u, kind, R, qs) in enumerate(comps):
        for g in three:
            refs = [ser[g][r] for r in R]
            c = refs[int(np.argmin(mats[g][np.ix_(R, R)].sum(1)))]
            m = np.ascontiguousarray(dtw_barycenter.dba_loop(refs, c=c, max_it=5, use_c=True,
                                                             window=TM.BAND))

            def f(x, m=m):
                return TM.dtw_ndim.distance_fast(x, m, window=TM.BAND, use_pruning=False) ** 2 / (2 * TM.N)
            bt[(ti, g)] = np.array([f(ser[g][q]) for q in qs]) - np.mean([f(r) for r in refs])

    def run(label, fn):
        S, K, U = [], [], []
        for ti, (u, kind, R, qs) in enumerate(comps):
            S.append(fn(ti, R, qs))
            K.append(kind)
            U.append(np.full(len(qs), u))
        S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
        ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
        ea, eb = eers(S[ia], K[ia]), eers(S[ib], K[ib])
        print(f"{label:44s} A {ea[0]:6.2f}/{ea[1]:.2f}  B {eb[0]:6.2f}/{eb[1]:.2f}", flush=True)

    def glob(R, qs):
        return 0.1 * glob_terms(G, R, qs).mean(1)

    def term(g, R, qs, which):
        return set_terms(mats[g], R, qs)[:, which].sum(1)
    run("v2+dyn+ang (shipped, template v3)", lambda ti, R, qs: sum(term(g, R, qs, [0, 1]) for g in three) + glob(R, qs))
    run("... + barycentre term", lambda ti, R, qs: sum(term(g, R, qs, [0, 1]) + bt[(ti, g)] for g in three) + glob(R, qs))
    run("nearest + barycentre (no mean term)", lambda ti, R, qs: sum(term(g, R, qs, [0]) + bt[(ti, g)] for g in three) + glob(R, qs))
    run("barycentre only", lambda ti, R, qs: sum(bt[(ti, g)] for g in three) + glob(R, qs))


def stability_rows(mats, G, n):
    """Per-person group weights from stability: w_g = (population pair mean of g / the person's
    pair mean of g) ^ e, scaled to sum to 3 (population = tuning users' reference sets)."""
    A, B = set(range(10)), set(range(10, 20))
    three = ("v2", "dyn", "ang")
    comps = list(comparisons(n))

    def pm(D, R):
        k = len(R)
        return D[np.ix_(R, R)][~np.eye(k, dtype=bool)].mean()
    pop = {g: np.mean([pm(mats[g], R) for u, kind, R, qs in comps if u in A]) for g in three}
    for e in (0.0, 0.5, 1.0, 2.0):
        S, K, U = [], [], []
        for u, kind, R, qs in comps:
            w = np.array([(pop[g] / pm(mats[g], R)) ** e for g in three])
            w = 3 * w / w.sum()
            S.append(sum(wi * set_terms(mats[g], R, qs)[:, :2].sum(1) for wi, g in zip(w, three))
                     + 0.1 * glob_terms(G, R, qs).mean(1))
            K.append(kind)
            U.append(np.full(len(qs), u))
        S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
        ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
        ea, eb = eers(S[ia], K[ia]), eers(S[ib], K[ib])
        print(f"{'stability weights, exponent %.1f' % e:44s} A {ea[0]:6.2f}/{ea[1]:.2f}  "
              f"B {eb[0]:6.2f}/{eb[1]:.2f}", flush=True)


def seed_rows(mats, G, n, seeds=(0, 1, 2, 3)):
    """The main candidates under other reference draws (the bench and every other section use
    seed 0): A, B and all 20 users per seed, and A's mean over the seeds."""
    A, B = set(range(10)), set(range(10, 20))
    cands = {"v2 (previous)": (["v2"], 0.1, (1, 1)), "v2+dyn+ang (chosen)": (["v2", "dyn", "ang"], 0.1, (1, 1)),
             "v2+dyn+ang, global 0": (["v2", "dyn", "ang"], 0.0, (1, 1)),
             "v2+dyn+ang, 2 x nearest + mean": (["v2", "dyn", "ang"], 0.1, (2, 1)),
             "v2+dyn": (["v2", "dyn"], 0.1, (1, 1)), "dyn+ang": (["dyn", "ang"], 0.1, (1, 1)),
             "v2+dyn+ang+vel": (["v2", "dyn", "ang", "vel"], 0.1, (1, 1)),
             "v2b19+dynb19+angb19": (["v2b19", "dynb19", "angb19"], 0.1, (1, 1)),
             "all (one DTW)": (["all"], 0.1, (1, 1)),
             "v2+dyn+ang+(p, dp)": (["v2", "dyn", "ang", "pres"], 0.1, (1, 1)),
             "v2 without p + dyn + ang": (["v2np", "dyn", "ang"], 0.1, (1, 1)),
             "v2 + dyn without p + ang": (["v2", "dynnp", "ang"], 0.1, (1, 1)),
             "v2 w/o p + dyn w/o p + ang + (p, dp)": (["v2np", "dynnp", "ang", "pres"], 0.1, (1, 1))}
    for label, (names, gw, (wmin, wmean)) in cands.items():
        cells, a_mean = [], []
        for seed in seeds:
            S, K, U = [], [], []
            for u, kind, R, qs in comparisons(n, seed=seed):
                t = sum(set_terms(mats[g], R, qs)[:, :2] for g in names)
                S.append(wmin * t[:, 0] + wmean * t[:, 1] + gw * glob_terms(G, R, qs).mean(1))
                K.append(kind)
                U.append(np.full(len(qs), u))
            S, K, U = -np.concatenate(S), np.concatenate(K), np.concatenate(U)
            ia, ib = np.isin(U, list(A)), np.isin(U, list(B))
            ea, eb, e = eers(S[ia], K[ia])[0], eers(S[ib], K[ib])[0], eers(S, K)[0]
            a_mean.append(ea)
            cells.append(f"{ea:5.2f} {eb:5.2f} {e:5.2f}")
        print(f"{label:32s} " + " | ".join(cells) + f" | A mean {np.mean(a_mean):5.2f}", flush=True)


def global_rows(mats, G, n):
    """Each global feature alone (capped z minus the references' leave-one-out value), and added
    with weight 0.1 to the three-group score (which already holds 0.1 x their mean)."""
    from biocap.templates.signature.features import GLOBAL_NAMES
    A, B = set(range(10)), set(range(10, 20))
    base, gt, K, U = [], [], [], []
    for u, kind, R, qs in comparisons(n):
        base.append(sum(set_terms(mats[g], R, qs)[:, :2].sum(1) for g in ("v2", "dyn", "ang")))
        gt.append(glob_terms(G, R, qs))
        K.append(kind)
        U.append(np.full(len(qs), u))
    base, gt, K, U = np.concatenate(base), np.concatenate(gt), np.concatenate(K), np.concatenate(U)
    ia, ib = np.isin(U, list(A)), np.isin(U, list(B))

    def show(label, s):
        ea, eb = eers(-s[ia], K[ia]), eers(-s[ib], K[ib])
        print(f"{label:44s} A {ea[0]:6.2f}/{ea[1]:.2f}  B {eb[0]:6.2f}/{eb[1]:.2f}", flush=True)
    show("v2+dyn+ang (shipped, template v3)", base + 0.1 * gt.mean(1))
    for k, name in enumerate(GLOBAL_NAMES):
        show(f"alone: {name}", gt[:, k])
    for k, name in enumerate(GLOBAL_NAMES):
        show(f"v3 + 0.1 x {name}", base + 0.1 * gt.mean(1) + 0.1 * gt[:, k])


def lr_rows(mats, G, n):
    """Logistic-regression fusions (fitted on A; A by leave-one-user-out, B held out)."""
    A, B = set(range(10)), set(range(10, 20))

    def row(label, ea, eb):
        print(f"{label:52s} A {ea[0]:6.2f}/{ea[1]:.2f}  B {eb[0]:6.2f}/{eb[1]:.2f}", flush=True)

    X, K, U = design(mats, G, n, ["v2"], [0, 1], "mean")
    row("shipped v2 (fixed 1, 1, 0.1)", *fixed(X, K, U, A, B, [1, 1, 0.1]))
    for ti, tl in (([0, 1], "sub"), ([2, 3], "log"), ([0, 1, 2, 3], "sub+log")):
        for gm in ("none", "mean", "per_feature"):
            X, K, U = design(mats, G, n, ["v2"], ti, gm)
            row(f"LR  v2 {tl} glob={gm}", *evaluate(X, K, U, A, B)[:2])
    chans = ["c_" + c for c in CHANNELS]
    for extra in (["xyp"], ["dyn"], ["ang"], ["vel"], ["all"], ["dyn", "ang"], chans):
        for ti in ([0, 1], [0, 1, 2, 3]):
            X, K, U = design(mats, G, n, ["v2", *extra], ti, "per_feature")
            row(f"LR  v2+{'+'.join(extra) if len(extra) < 4 else 'per-channel'} "
                f"{len(ti)} terms glob", *evaluate(X, K, U, A, B)[:2])
    X, K, U = design(mats, G, n, chans, [0, 1], "per_feature")
    row("LR  per-channel only 2 terms glob", *evaluate(X, K, U, A, B)[:2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=data_path("signature", "svc2004_task2"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sig19fusion"))
    ap.add_argument("--section", choices=("fixed", "barycentre", "stability", "seeds", "global", "lr",
                                          "all"),
                    default="all")
    args = ap.parse_args()
    users, prepared, G, mats = load_all(args)
    if args.section in ("fixed", "all"):
        fixed_rows(mats, G, len(users))
    if args.section in ("barycentre", "all"):
        barycentre_rows(prepared, mats, G, len(users))
    if args.section in ("stability", "all"):
        stability_rows(mats, G, len(users))
    if args.section in ("seeds", "all"):
        seed_rows(mats, G, len(users))
    if args.section in ("global", "all"):
        global_rows(mats, G, len(users))
    if args.section in ("lr", "all"):
        lr_rows(mats, G, len(users))


if __name__ == "__main__":
    main()
