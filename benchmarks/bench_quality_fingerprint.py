"""Fingerprint quality against NFIQ 2 on the four FVC 2002 B sets, side by side in one run.

    .venv/bin/python benchmarks/bench_quality_fingerprint.py [--matcher bozorth3|biocap|both]
        [--out benchmarks/results/quality_fingerprint] [--train-report /tmp/train.json]

Runs `biocap.evaluation.bench_quality.run` (the same as `biocap bench quality ... --reference
nfiq2`) on each set, adds the Spearman correlation pooled over the four sets, and writes
`<out>.json` and `<out>.md`. Needs the optional extra `biocap[reference]` (nbis-py) and the shared
data (`BIOCAP_DATA`, default ../shared/data). The shipped model was trained on these same sets:
the cross-validated figures (leave one set out; 5 folds grouped by finger) come from the training
report, `python -m research.quality_fingerprint.train --out /tmp/m.npz --report FILE`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from biocap.evaluation.bench_quality import run  # noqa: E402
from biocap.evaluation.options import BenchOptions  # noqa: E402
from biocap.evaluation.data import data_path  # noqa: E402
from biocap.quality.fingerprint.model import spearman  # noqa: E402

SETS = (("fvc2002_db1_b", 500.0), ("fvc2002_db2_b", 569.0), ("fvc2002_db3_b", 500.0),
        ("fvc2002_db4_b", 500.0))


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def markdown(summary: dict) -> str:
    lines = [
        "# Fingerprint quality: biocap vs NFIQ 2 (FVC 2002 B sets)", "",
        f"Command: `{summary['command']}`  ",
        f"Matcher for error-vs-reject: {summary['matcher']}. NFIQ 2 and mindtct get images "
        "resampled to 500 ppi. Times: median ms per image, single thread, measured image by "
        "image in the same run (NFIQ 2's own share = nbis-py with NFIQ 2 minus mindtct alone).", "",
        "| set | images | Spearman | biocap ms | NFIQ 2 ms | speed-up | FNMR@FMR1% | "
        "after 10% reject: biocap | after 10% reject: NFIQ 2 | biocap median | NFIQ 2 median |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in summary["sets"].items():
        lines.append(
            f"| {name} | {r['n_images']} | {r['spearman']:.3f} | {r['ms_median']:.1f} | "
            f"{r['reference_ms_median']:.1f} | {r['speed_ratio']:.1f}x | "
            f"{_pct(r['fnmr_at_fmr1'])} | {_pct(r['fnmr_at_fmr1_reject10_biocap'])} | "
            f"{_pct(r['fnmr_at_fmr1_reject10_nfiq2'])} | {r['score_median']:.0f} | "
            f"{r['reference_score_median']:.0f} |")
    p = summary["pooled"]
    lines += [
        f"| pooled | {p['n_images']} | {p['spearman']:.3f} | {p['ms_median']:.1f} | "
        f"{p['reference_ms_median']:.1f} | {p['speed_ratio']:.1f}x | | | | | |", "",
        "Error-vs-reject at other fractions (FNMR at FMR = 1%, genuine pairs dropped by the "
        "lower quality of the pair):", "",
        "| set | quality | 0% | 5% | 10% | 20% |", "|---|---|---|---|---|---|",
    ]
    for name, r in summary["sets"].items():
        for q, e in r["error_vs_reject"].items():
            lines.append(f"| {name} | {q} | {_pct(e['fnmr_at_fmr1'])} | "
                         f"{_pct(e['fnmr_at_fmr1_reject_5pct'])} | "
                         f"{_pct(e['fnmr_at_fmr1_reject_10pct'])} | "
                         f"{_pct(e['fnmr_at_fmr1_reject_20pct'])} |")
    others = [(name, b) for name, r in summary["sets"].items() for b in r["matchers"][1:]]
    if others:
        lines += ["", "The same with the other matcher(s) of this run:", "",
                  "| set | matcher | EER | FNMR@FMR1% | after 10% reject: biocap | "
                  "after 10% reject: NFIQ 2 |", "|---|---|---|---|---|---|"]
        for name, b in others:
            erc = b["error_vs_reject"]
            lines.append(f"| {name} | {b['matcher']} | {_pct(b['rates']['eer'])} | "
                         f"{_pct(b['rates']['fmr100'])} | "
                         f"{_pct(erc['biocap']['fnmr_at_fmr1_reject_10pct'])} | "
                         f"{_pct(erc['nfiq2']['fnmr_at_fmr1_reject_10pct'])} |")
    cv = summary.get("cross_validation")
    if cv:
        n = cv.get("n_images")
        lines += ["", "The model was trained on these four sets (with degraded copies, sensor-appearance "
                  "variants and synthetic prints from varied sensor profiles" + (f", {n} images in all" if n else "") +
                  "), so the Spearman above is in-sample. Cross-validated Spearman with NFIQ 2 on "
                  "the original images (from the training report; synthetic prints stay in every "
                  "training fold, each FVC set's own images, degraded copies and variants are held "
                  "out together):", "",
                  "| protocol | db1 | db2 | db3 | db4 | pooled |", "|---|---|---|---|---|---|"]
        for label, key in (("leave one set out", "leave_one_set_out_spearman"),
                           ("5 folds grouped by finger", "finger_grouped_5fold_spearman"),
                           ("in-sample (trained on all)", "train_spearman")):
            d = cv.get(key)
            if d:
                vals = [d.get(f"fvc2002_db{i}_b", float("nan")) for i in range(1, 5)]
                lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals) +
                             f" | {d['pooled_originals']:.3f} |")
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matcher", default="bozorth3", choices=("bozorth3", "biocap", "both"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/quality_fingerprint")
    ap.add_argument("--train-report", type=Path,
                    help="JSON from `research.quality_fingerprint.train --report` to quote cross-validated figures")
    ap.add_argument("--limit", type=int, help="first N fingers per set (quick runs)")
    ap.add_argument("--render", type=Path,
                    help="only re-render the .md of an existing results .json (no run)")
    args = ap.parse_args(argv)

    if args.render:
        write(json.loads(args.render.read_text()), args.render.with_suffix(""))
        return 0
    t0 = time.perf_counter()
    sets, scores, refs, ms, ref_ms = {}, [], [], [], []
    for name, ppi in SETS:
        r = run(BenchOptions(modality="fingerprint", dataset=data_path("fingerprint", name),
                             layout="fvc", ppi=ppi, reference="nfiq2", limit=args.limit,
                             matcher=args.matcher))
        print(f"{name}: spearman {r['spearman']:.3f}, {r['ms_median']:.1f} ms vs "
              f"{r['reference_ms_median']:.1f} ms", file=sys.stderr)
        names = list(r["scores"])
        scores += [r["scores"][n] for n in names]
        refs += [r["reference_scores"][n] for n in names]
        r.pop("scores")
        r.pop("reference_scores")
        sets[name] = r
        ms.append(r["ms_median"])
        ref_ms.append(r["reference_ms_median"])
    pooled = {"n_images": len(scores), "spearman": spearman(scores, refs),
              "ms_median": float(np.median(ms)), "reference_ms_median": float(np.median(ref_ms))}
    pooled["speed_ratio"] = pooled["reference_ms_median"] / pooled["ms_median"]
    first = next(iter(sets.values()))
    summary = {
        "command": "python benchmarks/bench_quality_fingerprint.py" +
                   (f" --matcher {args.matcher}" if args.matcher != "bozorth3" else "") +
                   (f" --limit {args.limit}" if args.limit else ""),
        "matcher": first["matcher"], "sets": sets, "pooled": pooled,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if args.train_report and args.train_report.exists():
        report = json.loads(args.train_report.read_text())
        summary["cross_validation"] = {k: report[k] for k in (
            "leave_one_set_out_spearman", "finger_grouped_5fold_spearman", "train_spearman",
            "params", "n_images") if k in report}
    write(summary, args.out)
    return 0


def write(summary: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    out.with_suffix(".md").write_text(markdown(summary))
    print(markdown(summary))


if __name__ == "__main__":
    raise SystemExit(main())
