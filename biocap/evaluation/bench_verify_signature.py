"""`biocap bench verify --modality signature`: the SVC2004 protocol, with a plain-DTW reference.

Protocol (per user, `trials` times with a fixed seed): `n_refs` references drawn at random from
the first ten genuine signatures (S1-10); genuine tests = genuine 11-20; skilled forgeries = the
user's forgeries (S21-40); random forgeries = one genuine test signature (11-20, rotating with the
trial) of every other user. EERs are pooled over users with ONE threshold (what a deployment
uses); the a-posteriori per-user-threshold EER, averaged, is reported beside it as
`*_user_threshold` for comparison with papers that use it.

References in the same run: plain DTW (full, unbanded) on z-normalised x, y, dx, dy, pressure of
the raw samples, score = minus the smallest length-normalised cost to the references
(`reference`); and the previous verifier, template version 3's three DTW groups (without version
4's two derivative groups) on the same templates (`previous`, timed the same way); and the same verifier computed the way it was
before the compiled kernel, one dtaidistance call per feature group (`per_group_calls`: timed
over the same queries in its own loop, and its scores checked against it).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidSample
from ..matching.signature import SignatureComparator, SignatureReferences
from ..matching.signature.comparator import GROUP_COLUMNS, GROUPS
from ..matching.signature.dtw import dtw_many
from ..templates.signature import params as P
from ..templates.signature import template_of
from ..types import PenSeries
from .datasets_signature import SignatureUser, load_signature_layout
from .options import BenchOptions
from .metrics import equal_error_rate

#: the verifier before template version 4 (its three groups), reported beside it as `previous`
PREVIOUS_GROUPS = ("shape", "dynamics", "direction")  # v3


@dataclass
class _Scores:
    genuine: list[float] = field(default_factory=list)
    skilled: list[float] = field(default_factory=list)
    random: list[float] = field(default_factory=list)

    def eer(self) -> tuple[float | None, float | None]:
        s = equal_error_rate(self.genuine, self.skilled) if self.genuine and self.skilled else None
        r = equal_error_rate(self.genuine, self.random) if self.genuine and self.random else None
        return s, r


def baseline_features(pen: PenSeries) -> np.ndarray:
    """z-normalised x, y, dx, dy, pressure of the raw samples (the issue's plain-DTW anchor)."""
    x, y, p = (np.asarray(a, np.float64) for a in (pen.x, pen.y, pen.pressure))
    cols = [x, y, np.gradient(x) if len(x) > 1 else x * 0, np.gradient(y) if len(y) > 1 else y * 0, p]
    cols = [(c - c.mean()) / (c.std() + 1e-9) for c in cols]
    return np.ascontiguousarray(np.stack(cols, 1))


def _plain_dtw(a: np.ndarray, b: np.ndarray) -> float:
    from dtaidistance import dtw_ndim
    d = dtw_ndim.distance_fast(a, b, use_pruning=False)
    return float(d * d / (len(a) + len(b)))


def per_group_series(refs: SignatureReferences) -> dict[str, list[np.ndarray]]:
    """Each reference's columns per group, contiguous (what enrolment kept before the kernel)."""
    return {g: [np.ascontiguousarray(t.local[:, list(GROUP_COLUMNS[g])]) for t in refs.templates]
            for g in GROUPS}


def compare_per_group_calls(q, refs: SignatureReferences, series: dict[str, list[np.ndarray]]) -> float:
    """SignatureComparator().compare(q, refs) for a set of 2 or more references, computed as
    before the compiled kernel: one dtaidistance call (dtw_many) per feature group."""
    s = 0.0
    for grp in GROUPS:
        qg = np.ascontiguousarray(q.local[:, list(GROUP_COLUMNS[grp])])
        d = dtw_many(qg, series[grp])
        s += (d.min() - refs.ref_min_mean[grp]) + (d.mean() - refs.pair_mean[grp])
    g = float(np.minimum(np.abs(q.global_ - refs.g_mean) / refs.g_sd, P.GLOBAL_Z_CAP).mean())
    s = float(s + P.GLOBAL_WEIGHT * (g - refs.g_loo)) / P.SIMILARITY_SCALE
    return float(1.0 / (1.0 + math.exp(min(max(s, -700.0), 700.0))))


def trials_of(users: list[SignatureUser], *, trials: int, n_refs: int, seed: int):
    """Yield (user index, trial, reference indices, genuine tests, skilled, random (user, idx))."""
    rng = np.random.default_rng(seed)
    for u, user in enumerate(users):
        pool = min(10, len(user.genuine) // 2)
        if pool < n_refs or len(user.genuine) <= pool:
            continue
        tests = list(range(pool, len(user.genuine)))
        for t in range(trials):
            refs = sorted(int(i) for i in rng.choice(pool, n_refs, replace=False))
            rnd = []
            for v, other in enumerate(users):
                if v != u and len(other.genuine) > 10:
                    rnd.append((v, 10 + t % (len(other.genuine) - 10)))
            yield u, t, refs, tests, list(range(len(user.skilled))), rnd


def bench_verify_signature(dataset: Path, layout: str = "svc2004", *, trials: int = 10,
                           n_refs: int = 5, seed: int = 0, limit: int | None = None,
                           reference: bool = True, plot: Path | None = None,
                           halves: bool = True) -> dict[str, Any]:
    """Run the protocol over `dataset`; return the figures (see the module docstring)."""
    users = load_signature_layout(dataset, layout)
    if limit:
        users = users[:limit]
    comparator = SignatureComparator()
    previous = SignatureComparator(groups=PREVIOUS_GROUPS) if reference else None
    # templates once per signature; a failure is a failure to enrol/acquire (score = lowest)
    tmpl: dict[tuple[int, str, int], Any] = {}
    n_sig = n_fail = 0
    for u, user in enumerate(users):
        for kind in ("genuine", "skilled"):
            for i, pen in enumerate(getattr(user, kind)):
                n_sig += 1
                try:
                    tmpl[(u, kind, i)] = template_of(pen)
                except InvalidSample:
                    tmpl[(u, kind, i)] = None
                    n_fail += 1
    per_user: dict[int, _Scores] = {}
    prev_user: dict[int, _Scores] = {}
    prev_cpu = 0.0
    base_user: dict[int, _Scores] = {}
    base_feats: dict[tuple[int, int], np.ndarray] = {}
    base_cache: dict[tuple, float] = {}
    n_cmp, cpu = 0, 0.0
    ref_fail = 0
    old_cpu, old_diff = 0.0, 0.0  # the per-group dtaidistance calls, timed beside the kernel
    warm = next((t for t in tmpl.values() if t is not None), None)
    if warm is not None:  # load (or compile) the kernel outside the timed comparisons
        comparator.compare(warm, SignatureReferences.enroll([warm, warm]))

    def bfeat(u: int, kind: str, i: int) -> np.ndarray:
        key = (u, kind, i)
        if key not in base_feats:
            base_feats[key] = baseline_features(getattr(users[u], kind)[i])
        return base_feats[key]

    for u, t, refs, tests, skilled, rnd in trials_of(users, trials=trials, n_refs=n_refs, seed=seed):
        ref_t = [tmpl[(u, "genuine", i)] for i in refs]
        if any(r is None for r in ref_t):
            ref_fail += 1
            continue
        rs = SignatureReferences.enroll(ref_t)
        old_series = per_group_series(rs) if n_refs >= 2 else None
        sc = per_user.setdefault(u, _Scores())
        queries = ([("genuine", u, i, sc.genuine) for i in tests]
                   + [("skilled", u, i, sc.skilled) for i in skilled]
                   + [("genuine", v, i, sc.random) for v, i in rnd])
        # each verifier is timed over the trial's queries in its own loop (as `previous` is), so
        # one does not evict the other's code and data from the caches between calls
        new_scores = []
        for kind, v, i, out in queries:
            q = tmpl[(v, kind, i)]
            if q is None:
                out.append(0.0)
                new_scores.append(None)
                continue
            c0 = time.process_time()
            out.append(comparator.compare(q, rs))
            cpu += time.process_time() - c0
            n_cmp += 1
            new_scores.append(out[-1])
        if old_series is not None:
            for (kind, v, i, _), new in zip(queries, new_scores):
                if new is None:
                    continue
                q = tmpl[(v, kind, i)]
                c0 = time.process_time()
                old = compare_per_group_calls(q, rs, old_series)
                old_cpu += time.process_time() - c0
                old_diff = max(old_diff, abs(old - new))
        if previous is not None:
            ps = prev_user.setdefault(u, _Scores())
            pouts = {id(sc.genuine): ps.genuine, id(sc.skilled): ps.skilled, id(sc.random): ps.random}
            for kind, v, i, out in queries:
                q = tmpl[(v, kind, i)]
                if q is None:
                    pouts[id(out)].append(0.0)
                    continue
                c0 = time.process_time()
                pouts[id(out)].append(previous.compare(q, rs))
                prev_cpu += time.process_time() - c0
        if reference:
            bs = base_user.setdefault(u, _Scores())
            bouts = {id(sc.genuine): bs.genuine, id(sc.skilled): bs.skilled, id(sc.random): bs.random}
            for kind, v, i, out in queries:
                costs = []
                for r in refs:
                    key = (u, r, v, kind, i)
                    if key not in base_cache:
                        base_cache[key] = _plain_dtw(bfeat(v, kind, i), bfeat(u, "genuine", r))
                    costs.append(base_cache[key])
                bouts[id(out)].append(-min(costs))

    def summary(groups: dict[int, _Scores], keys: list[int]) -> dict[str, Any]:
        pooled = _Scores()
        for k in keys:
            for name in ("genuine", "skilled", "random"):
                getattr(pooled, name).extend(getattr(groups[k], name))
        s, r = pooled.eer()
        per = [groups[k].eer() for k in keys]
        return {"eer_skilled": s, "eer_random": r, "n_users": len(keys),
                "eer_skilled_user_threshold": float(np.mean([p[0] for p in per])) if per else None,
                "eer_random_user_threshold": float(np.mean([p[1] for p in per])) if per else None,
                "n_genuine": len(pooled.genuine), "n_skilled": len(pooled.skilled),
                "n_random": len(pooled.random)}

    keys = sorted(per_user)
    result: dict[str, Any] = {
        "dataset": str(dataset), "layout": layout, "protocol": {
            "trials": trials, "references": n_refs, "seed": seed,
            "references_from": "genuine 1-10", "genuine_tests": "genuine 11-20",
            "skilled": "all forgeries of the user", "random": "one genuine 11-20 of each other user per trial",
            "eer": "pooled over users, one threshold"},
        **summary(per_user, keys),
        "compare_per_s": n_cmp / cpu if cpu > 0 else None,
        "compare_per_s_note": "comparisons (one questioned signature vs one 5-signature reference set) per CPU second, one process",
        "n_comparisons": n_cmp,
        "per_group_calls": {
            "method": "the same verifier computed before the compiled kernel: one dtaidistance "
                      "call per feature group, timed over the same queries in its own loop",
            "compare_per_s": n_cmp / old_cpu if old_cpu > 0 else None,
            "max_abs_score_difference": old_diff},
        "fte": n_fail / n_sig if n_sig else None,
        "reference_sets_failed": ref_fail,
    }
    cal_thr = {f: comparator.threshold_for_fmr(f) for f in (0.01, 0.001)}
    if halves and len(keys) >= 4:
        mid = len(users) // 2
        a, b = [k for k in keys if k < mid], [k for k in keys if k >= mid]
        result["split"] = {"tuning": "users 1-%d (features, groups, weights, calibration chosen "
                                     "on them)" % mid,
                           "held_out": "users %d-%d (never used for a choice)" % (mid + 1, len(users))}
        result["halves"] = {"users_1_to_%d" % mid: summary(per_user, a),
                            "users_%d_to_%d" % (mid + 1, len(users)): summary(per_user, b)}
        # the shipped calibration comes from users 1-10 of SVC2004: check it on the others
        held = _Scores()
        for k in b:
            held.random.extend(per_user[k].random)
            held.genuine.extend(per_user[k].genuine)
            held.skilled.extend(per_user[k].skilled)
        result["calibration_check_users_%d_to_%d" % (mid + 1, len(users))] = {
            str(f): {"threshold": thr,
                     "fmr_random": float(np.mean(np.asarray(held.random) >= thr)),
                     "fmr_skilled": float(np.mean(np.asarray(held.skilled) >= thr)),
                     "fnmr": float(np.mean(np.asarray(held.genuine) < thr))}
            for f, thr in cal_thr.items()}
    if previous is not None:
        result["previous"] = {
            "method": "template v3 verifier: the three DTW groups shape, dynamics, direction "
                      "(without v4's two derivative groups) + 0.1 global, same templates",
            **summary(prev_user, sorted(prev_user)),
            "compare_per_s": n_cmp / prev_cpu if prev_cpu > 0 else None}
        if halves and len(keys) >= 4:
            result["previous"]["halves"] = {
                "users_1_to_%d" % mid: summary(prev_user, a),
                "users_%d_to_%d" % (mid + 1, len(users)): summary(prev_user, b)}
    if reference:
        result["reference"] = {"method": "plain DTW, z-normalised x, y, dx, dy, pressure, min cost",
                               **summary(base_user, sorted(base_user))}
        if halves and len(keys) >= 4:
            result["reference"]["halves"] = {
                "users_1_to_%d" % mid: summary(base_user, a),
                "users_%d_to_%d" % (mid + 1, len(users)): summary(base_user, b)}
    if plot is not None:
        from .det_plot import plot_det
        pooled = summary  # noqa: F841 (keeps the names below readable)
        g = [s for k in keys for s in per_user[k].genuine]
        curves = {"skilled (biocap)": (g, [s for k in keys for s in per_user[k].skilled]),
                  "random (biocap)": (g, [s for k in keys for s in per_user[k].random])}
        if reference:
            bg = [s for k in sorted(base_user) for s in base_user[k].genuine]
            curves["skilled (plain DTW)"] = (bg, [s for k in sorted(base_user) for s in base_user[k].skilled])
            pg = [s for k in sorted(prev_user) for s in prev_user[k].genuine]
            curves["skilled (previous, v3)"] = (pg, [s for k in sorted(prev_user) for s in prev_user[k].skilled])
        plot_det(curves, plot, title="signature verification, SVC2004 protocol")
        result["plot"] = str(plot)
    return result


def run(args: BenchOptions) -> dict[str, Any]:
    """CLI adapter: `biocap bench verify --modality signature --dataset DIR --layout svc2004`."""
    from .data import data_path
    dataset = args.dataset or data_path("signature", "svc2004_task2")
    layout = args.layout if args.layout in ("svc2004", "manifest") else "svc2004"
    return bench_verify_signature(Path(dataset), layout, seed=args.seed, limit=args.limit,
                                  reference=args.reference != "none", plot=args.plot)
