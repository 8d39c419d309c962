"""Learn the face unified quality score as a predicted utility for dlib's ResNet comparator:
the chance that an image's genuine comparisons fail at FMR 1e-3, from its ISO/IEC 29794-5
component scores. An experiment, NOT shipped: writes research/face_quality_utility_experiment.json
and a training report. biocap's unified score stays the fixed-weight geometric mean
(biocap.quality.face.measures.unified): on lfw7x50's undegraded photos this model ranked
genuine pairs worse for ERC (docs/decisions/18-face-quality-response.md).

Data: the TRAINING subjects of ../shared/data/face/lfw7x50 only (TRAIN_SUBJECTS, the same three
that tuned the eye measures); the other four are never read here and are where
`benchmarks/bench_face_quality_versions.py` reports the ERC. Each training image is padded as
in the quality bench and measured; COPIES degraded copies of it (biocap.evaluation.face_degrade,
degradations in turn, seeds apart from the bench's) are measured too, since the bench's ERC set
is originals plus degraded copies. Every image is extracted with FaceExtractor.

Target of image j: the share of its genuine comparisons (against every other image of the same
subject, originals and copies) below the threshold at FMR 1e-3 of the training impostor pairs
(a failed extraction fails every comparison). Model: logistic regression of that share on the
component scores / 100, with an L2 penalty chosen by leave-one-subject-out on the three
training subjects (criterion: FNMR at 10 % rejected on the left-out subject).

    .venv/bin/python research/face_quality_utility.py [--dataset DIR] [--copies 5]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from biocap.evaluation.bench_face import CANVAS_PAD, extract_all, face_items, pad, read_face
from biocap.evaluation.face_degrade import DEGRADATIONS
from biocap.evaluation.metrics import error_vs_reject
from biocap.quality.face.measures import UNITS
from biocap.quality.face.provider import FaceQuality

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SUBJECTS = ("Ariel_Sharon", "Colin_Powell", "Donald_Rumsfeld")
FEATURES = tuple(UNITS)  # every component, in the measures' order
LAMBDAS = (0.01, 0.1, 1.0, 10.0)
SEED = 1000  # the bench uses seed 0: training copies are other draws


def features(comps) -> np.ndarray:
    return np.array([comps[n].score / 100.0 if n in comps else 0.0 for n in FEATURES])


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float, iters: int = 50) -> np.ndarray:
    """IRLS for a logistic regression with fractional targets y in [0, 1]; L2 penalty lam on the
    weights (not the bias). Returns (bias, weights...)."""
    X = np.hstack([np.ones((x.shape[0], 1)), x])
    w = np.zeros(X.shape[1])
    reg = lam * np.eye(X.shape[1])
    reg[0, 0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        g = X.T @ (p - y) + reg @ w
        H = (X * (p * (1 - p) + 1e-9)[:, None]).T @ X + reg
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_monotone(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """fit_logistic with every weight <= 0 (active set): a better component score never raises
    the predicted failure, so the unified score never asks for a worse picture. A component whose
    free weight comes out positive (it only helps through its correlation with others) is dropped
    and the rest refitted, until none is positive."""
    active = np.ones(x.shape[1], bool)
    while True:
        w = np.zeros(x.shape[1] + 1)
        w[np.r_[True, active]] = fit_logistic(x[:, active], y, lam)
        if (w[1:] <= 0).all():
            return w
        active &= w[1:] <= 0


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(w[0] + x @ w[1:], -30, 30)))


def measure(args):
    """(features, subjects, similarity matrix with failed extractions at 0, extracted) of the
    training images: originals and their degraded copies."""
    items = [it for it in face_items(args.dataset) if it.subject in TRAIN_SUBJECTS]
    names = list(DEGRADATIONS)
    provider = FaceQuality()
    images, subjects, feats = [], [], []
    for k, it in enumerate(items):
        grey, rgb = read_face(it.path)
        canvas, canvas_rgb = pad(grey, CANVAS_PAD), pad(rgb, CANVAS_PAD)
        faces, comps = provider.measure(canvas, thorough=False)
        if not faces:
            continue
        versions = [(canvas, canvas_rgb, comps)]
        for j in range(args.copies):
            name = names[(k + j * (len(names) // args.copies)) % len(names)]
            rng = np.random.default_rng([SEED, k, j])
            degraded = DEGRADATIONS[name](canvas, faces[0], rng)
            faces2, comps2 = provider.measure(degraded, thorough=False)
            if faces2:  # no face: the unified score is 0 by rule, nothing to learn
                versions.append((degraded, None, comps2))
        for img, colour, c in versions:
            images.append((img, colour))
            subjects.append(it.subject)
            feats.append(features(c))
    emb = extract_all(images)
    x, subj = np.array(feats), np.array(subjects)
    v = np.where(emb.ok[:, None], emb.vectors, 0)
    s = (1 + v @ v.T) / 2
    s[~emb.ok, :] = 0
    s[:, ~emb.ok] = 0
    return x, subj, s, emb.ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/data/face/lfw7x50")
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "research/face_quality_utility_experiment.json")
    ap.add_argument("--cache", type=Path, default=None,
                    help="npz of the measured features and comparison scores (made if missing)")
    ap.add_argument("--report", type=Path,
                    default=ROOT / "benchmarks/results/face_quality_utility_training.json")
    args = ap.parse_args()
    t0 = time.process_time()
    if args.cache and args.cache.exists():
        c = np.load(args.cache)
        x, subj, s, ok = c["x"], c["subj"], c["s"], c["ok"]
    else:
        x, subj, s, ok = measure(args)
        if args.cache:
            np.savez_compressed(args.cache, x=x, subj=subj, s=s, ok=ok)
    same = subj[:, None] == subj[None, :]
    iu = np.triu_indices(len(subj), 1)
    imp = s[iu][~same[iu]]
    thr = float(np.sort(imp)[::-1][int(np.floor(1e-3 * imp.size))])
    thr = float(np.nextafter(thr, 1.0))
    eye = np.eye(len(subj), dtype=bool)
    fail = np.array([np.mean(s[j, same[j] & ~eye[j]] < thr) for j in range(len(subj))])

    def erc(q, keep):
        qi = q[keep]
        sk = s[np.ix_(keep, keep)]
        sm = same[np.ix_(keep, keep)]
        u = np.triu_indices(keep.sum(), 1)
        g = sk[u][sm[u]]
        pq = np.minimum(qi[u[0]], qi[u[1]])[sm[u]]
        return error_vs_reject(g, imp, pq, 0.0, 1e-3), error_vs_reject(g, imp, pq, 0.1, 1e-3)

    cv = {}
    for lam in LAMBDAS:
        cut = []
        for held in TRAIN_SUBJECTS:
            tr, te = subj != held, subj == held
            w = fit_monotone(x[tr], fail[tr], lam)
            q = 1 - predict(w, x)
            before, after = erc(q, te)
            cut.append(after)
        cv[lam] = float(np.mean(cut))
    cv_before = float(np.mean([erc(np.zeros(len(subj)), subj == h)[0] for h in TRAIN_SUBJECTS]))
    lam = min(LAMBDAS, key=lambda k: cv[k])
    w = fit_monotone(x, fail, lam)
    all_keep = np.ones(len(subj), bool)
    model = {
        "format": "biocap-face-utility/1",
        "what": "P(genuine comparison fails at FMR 1e-3) = sigmoid(bias + sum(weight * score / 100)); "
                "unified = 100 * (1 - P)",
        "features": list(FEATURES), "bias": float(w[0]),
        "weights": {n: float(c) for n, c in zip(FEATURES, w[1:]) if c < 0},
        "l2": lam, "trained_on": {"dataset": "lfw7x50", "subjects": list(TRAIN_SUBJECTS),
                                  "images": int(len(subj)), "copies_per_image": args.copies},
        "made_by": "research/face_quality_utility.py",
    }
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    report = {
        "train_subjects": list(TRAIN_SUBJECTS), "images": int(len(subj)),
        "extraction_failures": int((~ok).sum()), "threshold_fmr1e-3": thr,
        "cv_fnmr_no_reject": cv_before,
        "cv_fnmr_at_10pct_by_l2": {str(k): v for k, v in cv.items()}, "l2": lam,
        "training_erc_learned": erc(1 - predict(w, x), all_keep),
        "mean_failure_share": float(fail.mean()), "cpu_s": time.process_time() - t0,
    }
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
