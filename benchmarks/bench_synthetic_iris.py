"""Benchmark of the synthetic iris generator through biocap's own iris pipeline.

    .venv/bin/python benchmarks/bench_synthetic_iris.py [--eyes 20] [--captures 4] [--seed 0]
                                                          [--out benchmarks/results]

On a generated set (`biocap.synthetic.iris.eye.eye_dataset`, eyes x captures under random
dilation, rotation, shift, illumination, blur, noise, lids, lashes and glints):
- segmentation against the ground truth sidecar: pupil and limbus centre / radius errors (px),
  failures to enrol;
- all-pairs verification (every genuine pair, every impostor pair) with biocap's
  segmentation -> normalisation -> encoding -> IrisComparator: EER, genuine / impostor HD_norm
  medians and the gap between the worst genuine and the best impostor;
- side by side in the same run, the same pipeline fed the TRUE circles and lids (oracle
  segmentation): what is left is the encoder's and the generator's own variability.
Writes <out>/synthetic_iris.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from biocap.errors import InvalidSample
from biocap.evaluation.metrics import equal_error_rate
from biocap.matching.iris.comparator import IrisComparator
from biocap.synthetic.iris.eye import eye_dataset
from biocap.templates.iris import IrisExtractor
from biocap.templates.iris.encoding import filter_response, quantize
from biocap.templates.iris.normalization import normalize
from biocap.templates.iris.preprocess import remove_reflections
from biocap.templates.iris.segmentation import occlusion_mask
from biocap.templates.iris.template import IrisTemplate
from biocap.templates.iris.types import Circle, Eyelid, Segmentation


def oracle_template(ex: IrisExtractor, image: np.ndarray, truth) -> IrisTemplate:
    """The pipeline after segmentation, on the generator's true circles and lids."""
    pupil, iris = Circle(*truth.pupil), Circle(*truth.iris)
    upper = Eyelid(*truth.upper_lid, upper=True)
    lower = Eyelid(*truth.lower_lid, upper=False)
    pre = remove_reflections(image)
    occ = occlusion_mask(pre.image, pre.reflections, pupil, iris, upper, lower, ex.segmentation)
    seg = Segmentation(pupil, iris, upper, lower, occ)
    code, mask = quantize(filter_response(normalize(image, seg, ex.normalization), ex.encoding),
                          ex.encoding)
    return IrisTemplate(code=code, mask=mask, rows=ex.encoding.code_rows, cols=ex.encoding.code_cols)


def scores(templates: dict, cmp: IrisComparator) -> tuple[list[float], list[float]]:
    keys = sorted(templates)
    gen, imp = [], []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            d = cmp.distance(templates[a], templates[b]).distance
            (gen if a[0] == b[0] else imp).append(d)
    return gen, imp


def summary(gen: list[float], imp: list[float]) -> dict:
    g, i = np.asarray(gen), np.asarray(imp)
    # EER on similarities (1 - HD_norm), as the comparator reports them
    return {"genuine_pairs": int(g.size), "impostor_pairs": int(i.size),
            "eer": float(equal_error_rate(1 - g, 1 - i)),
            "genuine_hd_median": float(np.median(g)), "genuine_hd_max": float(g.max()),
            "impostor_hd_median": float(np.median(i)), "impostor_hd_min": float(i.min()),
            "gap_worst_genuine_best_impostor": float(i.min() - g.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eyes", type=int, default=20)
    ap.add_argument("--captures", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = eye_dataset(args.eyes, args.captures, seed=args.seed)
    t_gen = time.perf_counter() - t0
    ex, cmp = IrisExtractor(), IrisComparator()
    ours, oracle, fte = {}, {}, []
    pupil_c, pupil_r, iris_c, iris_r = [], [], [], []
    t0 = time.perf_counter()
    for n, (eye, k, image, truth) in enumerate(data, 1):
        print(f"\r{n}/{len(data)} images", end="", file=sys.stderr, flush=True)
        try:
            trace = ex.trace_image(image)
        except InvalidSample as exc:
            fte.append(f"{eye}_{k}: {exc}")
        else:
            ours[(eye, k)] = trace.template
            s = trace.segmentation
            pupil_c.append(np.hypot(s.pupil.x - truth.pupil[0], s.pupil.y - truth.pupil[1]))
            pupil_r.append(abs(s.pupil.r - truth.pupil[2]))
            iris_c.append(np.hypot(s.iris.x - truth.iris[0], s.iris.y - truth.iris[1]))
            iris_r.append(abs(s.iris.r - truth.iris[2]))
        oracle[(eye, k)] = oracle_template(ex, image, truth)
    print(file=sys.stderr)
    t_pipe = time.perf_counter() - t0

    def err(v):
        return {"median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
                "max": float(np.max(v))}

    report = {
        "command": "benchmarks/bench_synthetic_iris.py " + " ".join(argv or sys.argv[1:]),
        "eyes": args.eyes, "captures": args.captures, "seed": args.seed,
        "generation_s_per_image": t_gen / len(data),
        "pipeline_s_per_image": t_pipe / len(data),
        "failure_to_enrol": len(fte), "failures": fte,
        "segmentation_error_px": {"pupil_centre": err(pupil_c), "pupil_radius": err(pupil_r),
                                  "iris_centre": err(iris_c), "iris_radius": err(iris_r)},
        "biocap_segmentation": summary(*scores(ours, cmp)),
        "oracle_segmentation": summary(*scores(oracle, cmp)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "synthetic_iris.json").write_text(json.dumps(report, indent=1) + "\n")
    b, o = report["biocap_segmentation"], report["oracle_segmentation"]
    se = report["segmentation_error_px"]
    md = [f"# Synthetic iris through biocap's iris pipeline ({args.eyes} eyes x {args.captures} captures, seed {args.seed})",
          "", f"`{report['command']}`", "",
          "| segmentation | EER | genuine HD median / max | impostor HD median / min | gap |",
          "|---|---|---|---|---|"]
    for name, r in (("biocap (segment())", b), ("oracle (true circles and lids)", o)):
        md.append(f"| {name} | {100 * r['eer']:.2f} % | {r['genuine_hd_median']:.3f} / "
                  f"{r['genuine_hd_max']:.3f} | {r['impostor_hd_median']:.3f} / "
                  f"{r['impostor_hd_min']:.3f} | {r['gap_worst_genuine_best_impostor']:+.3f} |")
    md += ["", f"Pairs: {b['genuine_pairs']} genuine, {b['impostor_pairs']} impostor; "
           f"failures to enrol: {len(fte)}.", "",
           "Segmentation error against the ground truth (px, median / 90th percentile / max):", ""]
    for k, v in se.items():
        md.append(f"- {k.replace('_', ' ')}: {v['median']:.1f} / {v['p90']:.1f} / {v['max']:.1f}")
    md += ["", f"Generation {report['generation_s_per_image']:.2f} s/image, pipeline "
           f"{report['pipeline_s_per_image']:.2f} s/image (one process, shared machine)."]
    (args.out / "synthetic_iris.md").write_text("\n".join(md) + "\n")
    print(json.dumps({k: report[k] for k in ("biocap_segmentation", "oracle_segmentation",
                                             "failure_to_enrol")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
