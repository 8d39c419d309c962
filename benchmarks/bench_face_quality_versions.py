"""Face quality responses and ERC of this tree and another version, side by side in one run.

    git archive 330627e | tar -x -C /tmp/face_old      # the other version's source
    .venv/bin/python benchmarks/bench_face_quality_versions.py --other /tmp/face_old \
        [--dataset ../shared/data/face/lfw7x50] [--json OUT] [--only erc-originals]

Both trees measure the same images the same way, each in its own worker process (run at the same
time, this venv's packages): the quality bench's protocol (biocap.evaluation.bench_face
.quality_face): every lfw7x50 image padded to LFW's framing, measured, degraded once per component
(face detection and degradations are the same code in both trees) and measured again.

Per version and component:
- `response`: share of images whose component score fell under its degradation (the issue's
  measure; no face found after the degradation counts as fallen);
- `false_alarm`: share of the clean originals scoring below 50 (the component's feedback raised);
- `flagged`: share of the degraded images scoring below 50.
ERC (FNMR at FMR 1e-3, threshold from all impostor pairs of the set evaluated, pair quality = the
lower unified score; the originals plus one degraded copy each, degradations in turn): before and
after rejecting the 10 % lowest-quality genuine pairs, and the oracle (failing genuine pairs
rejected first: the most any quality score could do).

Splits: `heldout` = the subjects that did not tune the eye measures (the tuning ones are
biocap.evaluation.bench_face.TUNING_SUBJECTS); `all` = every subject (the issue's protocol;
includes the tuning subjects). Embeddings are computed once (this tree's extractor) and serve
both versions.

`--only erc-originals`: no degradations at all; each version measures only the undegraded
images' unified score and the run reports only the ERC on the originals (`erc_originals_only`
per split, the same figures as the full run's: the same embeddings, the threshold from the
originals' impostor pairs). About 1/20 of the full run's quality work.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from biocap.evaluation.bench_face import CANVAS_PAD, face_items, pad, read_face
from biocap.evaluation.face_degrade import DEGRADATIONS
from biocap.quality.face.provider import FaceQuality, report_from
dataset, seed, only = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
provider = FaceQuality()
names = list(DEGRADATIONS)
rows = []
t0 = time.process_time()
for k, it in enumerate(face_items(dataset, "lfw-folders")):
    grey, _ = read_face(it.path)
    canvas = pad(grey, CANVAS_PAD)
    faces, comps = provider.measure(canvas, thorough=False)
    if not faces:
        rows.append({"k": k, "subject": it.subject, "face": False})
        continue
    if only == "erc-originals":
        rows.append({"k": k, "subject": it.subject, "face": True,
                     "unified": float(report_from(comps).score)})
        continue
    chosen = names[k % len(names)]
    row = {"k": k, "subject": it.subject, "face": True, "chosen": chosen,
           "unified": float(report_from(comps).score),
           "before": {n: float(comps[n].score) for n in names}, "after": {}}
    for name in names:
        rng = np.random.default_rng([seed, k, names.index(name)])
        degraded = DEGRADATIONS[name](canvas, faces[0], rng)
        _, after = provider.measure(degraded, thorough=False)
        row["after"][name] = float(after[name].score) if name in after else 0.0
        if name == chosen:
            row["chosen_unified"] = float(report_from(after).score)
    rows.append(row)
print(json.dumps({"rows": rows, "cpu_s": time.process_time() - t0}))
"""


def start(tree: Path, dataset: Path, seed: int, only: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", WORKER, str(dataset), str(seed), only], env=env,
                            cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, tree: Path) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"worker for {tree} failed:\n{err[-3000:]}")
    return json.loads(out)


def erc_set(dataset: Path, seed: int, originals_only: bool = False):
    """The ERC images (original, then its chosen degraded copy, per image with a face; only the
    originals if `originals_only`) and their subjects, made here once; returns (images, subjects,
    k of each image, is original)."""
    from biocap.evaluation.bench_face import CANVAS_PAD, face_items, pad, read_face
    from biocap.evaluation.face_degrade import DEGRADATIONS
    from biocap.templates.face.detection import detect_faces
    names = list(DEGRADATIONS)
    images, subjects, ks, orig = [], [], [], []
    for k, it in enumerate(face_items(dataset, "lfw-folders")):
        grey, rgb = read_face(it.path)
        canvas, canvas_rgb = pad(grey, CANVAS_PAD), pad(rgb, CANVAS_PAD)
        faces = detect_faces(canvas, thorough=False)
        if not faces:
            continue
        if originals_only:
            images.append((canvas, canvas_rgb))
            subjects.append(it.subject)
            ks.append(k)
            orig.append(True)
            continue
        name = names[k % len(names)]
        rng = np.random.default_rng([seed, k, names.index(name)])
        degraded = DEGRADATIONS[name](canvas, faces[0], rng)
        images += [(canvas, canvas_rgb), (degraded, None)]
        subjects += [it.subject, it.subject]
        ks += [k, k]
        orig += [True, False]
    return images, np.array(subjects), np.array(ks), np.array(orig)


def erc(scores, same, iu, quality, keep) -> dict:
    from biocap.evaluation.bench_face import _threshold
    from biocap.evaluation.metrics import error_vs_reject
    both = keep[iu[0]] & keep[iu[1]]
    g, i = scores[same & both], scores[~same & both]
    pq = np.minimum(quality[iu[0]], quality[iu[1]])[same & both]
    before = error_vs_reject(g, i, pq, 0.0, 1e-3)
    after = error_vs_reject(g, i, pq, 0.1, 1e-3)
    oracle = error_vs_reject(g, i, np.where(g >= _threshold(g, i, 1e-3), 1.0, 0.0), 0.1, 1e-3)
    return {"fnmr_no_reject": before, "fnmr_at_10pct_reject": after,
            "cut": 1 - after / before if before else None,
            "oracle_fnmr_at_10pct_reject": oracle,
            "oracle_cut": 1 - oracle / before if before else None,
            "n_genuine": int(g.size), "n_impostor": int(i.size)}


def summarise(rows: list[dict], heldout: set[str], erc_data, only: str = "all") -> dict:
    face_rows = [r for r in rows if r["face"]]
    out: dict = {"no_face_in_original": sum(not r["face"] for r in rows)}
    scores, same, iu, ks, orig, subjects = erc_data
    by_k = {r["k"]: r for r in face_rows}
    held = np.isin(subjects, sorted(heldout))
    if only == "erc-originals":
        quality = np.array([by_k[k]["unified"] for k in ks])
        for split, keep in (("all", orig), ("heldout", held & orig)):
            out[split] = {"images": int(keep.sum()),
                          "erc_originals_only": erc(scores, same, iu, quality, keep)}
        return out
    names = list(face_rows[0]["before"])
    for split, pick in (("all", lambda r: True), ("heldout", lambda r: r["subject"] in heldout)):
        sel = [r for r in face_rows if pick(r)]
        comp = {}
        for n in names:
            b = np.array([r["before"][n] for r in sel])
            a = np.array([r["after"][n] for r in sel])
            comp[n] = {"response": float(np.mean(a < b)), "false_alarm": float(np.mean(b < 50)),
                       "flagged": float(np.mean(a < 50))}
        out[split] = {"images": len(sel), "components": comp}
    quality = np.array([by_k[k]["unified"] if o else by_k[k]["chosen_unified"]
                        for k, o in zip(ks, orig)])
    everyone = np.ones(len(ks), bool)
    out["all"]["erc"] = erc(scores, same, iu, quality, everyone)
    out["all"]["erc_originals_only"] = erc(scores, same, iu, quality, orig)
    out["heldout"]["erc"] = erc(scores, same, iu, quality, held)
    out["heldout"]["erc_originals_only"] = erc(scores, same, iu, quality, held & orig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the other version's source tree")
    ap.add_argument("--dataset", type=Path, default=HERE.parent / "shared/data/face/lfw7x50")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path,
                    default=None, help="default benchmarks/results/bench_face_quality_versions"
                    "[_erc_originals].json")
    ap.add_argument("--only", choices=("all", "erc-originals"), default="all",
                    help="erc-originals: only the ERC on the undegraded images (no degradations)")
    args = ap.parse_args()
    if args.json is None:
        suffix = "_erc_originals" if args.only == "erc-originals" else ""
        args.json = HERE / f"benchmarks/results/bench_face_quality_versions{suffix}.json"
    dataset = args.dataset.resolve()
    t0 = time.time()
    procs = {"this": start(HERE, dataset, args.seed, args.only),
             "other": start(args.other.resolve(), dataset, args.seed, args.only)}
    sys.path.insert(0, str(HERE))
    from biocap.evaluation.bench_face import TUNING_SUBJECTS, extract_all, pair_scores
    training = set(TUNING_SUBJECTS)
    images, subjects, ks, orig = erc_set(dataset, args.seed, args.only == "erc-originals")
    emb = extract_all(images)
    scores, same, both, iu = pair_scores(emb, list(subjects))
    scores = np.where(both, scores, 0.0)  # a failed extraction is a non-match
    heldout = set(subjects) - training
    erc_data = (scores, same, iu, ks, orig, subjects)
    result = {"dataset": str(args.dataset), "seed": args.seed, "only": args.only,
              "tuning_subjects": sorted(training),
              "heldout_subjects": sorted(heldout), "erc_fmr": 1e-3,
              "erc_fte": float(1 - emb.ok.mean()), "other_tree": str(args.other)}
    for label, proc in procs.items():
        data = finish(proc, HERE if label == "this" else args.other)
        result[label] = summarise(data["rows"], heldout, erc_data, args.only)
        result[label]["worker_cpu_s"] = data["cpu_s"]
    result["wall_s"] = time.time() - t0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wall {result['wall_s']:.0f} s; worker CPU this {result['this']['worker_cpu_s']:.0f} s, "
          f"other {result['other']['worker_cpu_s']:.0f} s; embeddings of {len(images)} images")
    for split in ("heldout", "all"):
        print(f"== {split} ({result['this'][split]['images']} images)")
        if args.only == "erc-originals":
            keys = ("erc_originals_only",)
        else:
            keys = ("erc", "erc_originals_only")
        for n in () if args.only == "erc-originals" else ("eyes_open", "eyes_not_occluded"):
            t, o = result["this"][split]["components"][n], result["other"][split]["components"][n]
            print(f"{n:20s} response {o['response']:.3f} -> {t['response']:.3f}   false alarm "
                  f"{o['false_alarm']:.3f} -> {t['false_alarm']:.3f}   flagged {o['flagged']:.3f} -> "
                  f"{t['flagged']:.3f}")
        for key in keys:
            t, o = result["this"][split][key], result["other"][split][key]
            print(f"{key:20s} FNMR {t['fnmr_no_reject']:.4f}; at 10 % rejected: other "
                  f"{o['fnmr_at_10pct_reject']:.4f} (cut {o['cut']:.2f}), this "
                  f"{t['fnmr_at_10pct_reject']:.4f} (cut {t['cut']:.2f}), oracle "
                  f"{t['oracle_fnmr_at_10pct_reject']:.4f} (cut {t['oracle_cut']:.2f})")


if __name__ == "__main__":
    main()
