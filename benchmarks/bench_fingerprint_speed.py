"""Fingerprint speed, before and after (issue 23): biocap-mcc comparisons/s and biocap's
extraction time, this checkout beside an earlier commit (`--baseline`), with NBIS (mindtct +
bozorth3) measured in the same run, per shared set.

For each set:
- extraction: biocap's median CPU ms per image (this checkout, and the baseline's in a child
  process), mindtct's in this process; the minutiae of both biocap versions are compared (the
  speed work must not change extraction output);
- comparison: biocap-mcc bulk comparisons/s/core (each probe against the whole set in one batch,
  as `biocap bench verify` times it) of both versions on the same templates (this checkout's
  extraction), and bozorth3's on mindtct's minutiae (all pairs); the all-pairs scores of both
  versions are compared (largest difference, EER of each, FVC all-impostors protocol).

All times are `time.process_time` (CPU time of the process, so per core whatever else runs on
the machine); ratios are of figures measured in this one run. The baseline runs in a child
process importing `git archive BASELINE biocap` (no checkout is touched).

Run one set per process (in the background on a busy machine), then merge:
    .venv/bin/python benchmarks/bench_fingerprint_speed.py --sets fvc2002_db1_b --out /tmp/speed-db1
    .venv/bin/python benchmarks/bench_fingerprint_speed.py --merge /tmp/speed-*.json \
        --out benchmarks/results/fingerprint_speed
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: (set, true resolution), as benchmarks/bench_fingerprint_cross_sensor.py lists them
SETS = (("fvc2002_db1_b", 500.0), ("fvc2002_db2_b", 569.0), ("fvc2002_db3_b", 500.0),
        ("fvc2002_db4_b", 500.0), ("fvc2000_db1_b", 500.0), ("fvc2000_db2_b", 500.0),
        ("fvc2000_db3_b", 500.0), ("fvc2000_db4_b", 500.0))
#: main before this session's speed work (issue 23)
DEFAULT_BASELINE = "b472080"
ROOT = Path(__file__).resolve().parents[1]


def _extract_all(paths: list[Path], ppi: float) -> tuple[list, list[float]]:
    from biocap.evaluation.bench_verify_fingerprint import _extract_one

    out = [_extract_one(p, ppi, "biocap") for p in paths]
    return [t for t, _ in out], [m for _, m in out]


def _compare_all(templates: list) -> tuple[np.ndarray, float]:
    """(all-pairs scores (upper triangle), bulk comparisons/s/core), as `biocap bench verify`
    computes them (`bench_verify_fingerprint._scores_ours`)."""
    from biocap.matching.fingerprint import mcc
    from biocap.matching.fingerprint.comparator import FingerprintComparator

    cmp = FingerprintComparator()
    enc = [cmp.encode(t) if t is not None else None for t in templates]
    ok = np.array([e is not None and e.enrollable for e in enc])
    stand_in = next(e for e in enc if e is not None)
    enc = [e if e is not None else stand_in for e in enc]
    prep = cmp.prepare_many(enc)
    n = len(enc)
    cmp.compare_prepared(enc[0], prep)  # first call: compiled kernels load from their cache
    scores = np.zeros((n, n), np.float32)
    for i in range(n - 1):
        if ok[i]:
            scores[i, i + 1:] = cmp.compare_prepared(enc[i], mcc._slice(prep, slice(i + 1, n)), ok[i + 1:])
    t0 = time.process_time()
    for i in range(n):
        cmp.compare_prepared(enc[i], prep)
    return scores, n * n / max(time.process_time() - t0, 1e-9)


def worker(args) -> int:
    """The baseline's side, run with the baseline's `biocap` first on the path."""
    from biocap.evaluation import template_cache

    paths = [Path(p) for p in json.loads(Path(args.worker_paths).read_text())]
    templates, ms = _extract_all(paths, args.ppi)
    template_cache.save(Path(args.worker_out + ".templates.npz"), templates, ms)
    given, _, _ = template_cache.load(Path(args.worker_templates), len(paths))
    scores, per_s = _compare_all(given)
    np.savez(args.worker_out + ".npz", scores=scores, per_s=per_s, ms=np.asarray(ms))
    return 0


def _baseline_tree(rev: str, into: Path) -> Path:
    """`git archive REV biocap` unpacked into `into` (the baseline's importable package)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "biocap"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _same_minutiae(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if (x is None) != (y is None):
            return False
        if x is not None and x.to_bytes() != y.to_bytes():
            return False
    return True


def run_set(name: str, ppi: float, baseline: str) -> dict:
    from biocap.evaluation import template_cache
    from biocap.evaluation.bench_verify_fingerprint import _rates, _scores_nbis
    from biocap.evaluation.data import data_path
    from biocap.evaluation.datasets import load_layout

    items = load_layout(data_path("fingerprint", name), "fvc")
    paths = [it.path for it in items]
    templates, ms_new = _extract_all(paths, ppi)
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        tmp = Path(tmp)
        template_cache.save(tmp / "new.npz", templates, ms_new)
        (tmp / "paths.json").write_text(json.dumps([str(p) for p in paths]))
        tree = _baseline_tree(baseline, tmp / "baseline")
        env = dict(os.environ, PYTHONPATH=str(tree))
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", "--ppi", str(ppi),
                        "--worker-paths", str(tmp / "paths.json"), "--worker-templates", str(tmp / "new.npz"),
                        "--worker-out", str(tmp / "old")], check=True, env=env, cwd=str(tmp))
        old = np.load(tmp / "old.npz")
        old_templates, _, _ = template_cache.load(tmp / "old.templates.npz", len(paths))
        old_scores, old_per_s, ms_old = old["scores"], float(old["per_s"]), old["ms"]
    new_scores, new_per_s = _compare_all(templates)
    _, rok, ms_nbis, boz_per_s, _, _ = _scores_nbis(items, ppi, False)
    old_rates, _, _ = _rates(old_scores, items)
    new_rates, _, _ = _rates(new_scores, items)
    iu = np.triu_indices(len(paths), 1)
    diff = np.abs(old_scores[iu].astype(np.float64) - new_scores[iu])
    return {
        "n_images": len(paths), "baseline": baseline,
        "extract_ms_median": {"old": float(np.median(ms_old)), "new": float(np.median(ms_new)),
                              "mindtct": float(np.median(ms_nbis))},
        "minutiae_identical": _same_minutiae(old_templates, templates),
        "compare_per_s": {"old": old_per_s, "new": new_per_s, "bozorth3": boz_per_s},
        "score_max_abs_diff": float(diff.max()), "scores_identical": bool(np.all(diff == 0)),
        "eer": {"old": old_rates["eer"], "new": new_rates["eer"]},
    }


def to_markdown(results: dict, command: str) -> str:
    lines = [
        "# Fingerprint speed: before and after (issue 23), beside NBIS in the same run", "",
        f"Command: `{command}`", "",
        "CPU time (`time.process_time`) per process, so per core; every figure of a row is from one "
        "run (the baseline in a child process of it). `compare/s` = biocap-mcc bulk comparisons/s "
        "(each probe against the whole set in one batch), bozorth3's on mindtct minutiae over all "
        "pairs; `extract ms` = median CPU ms per image; extract ratio = biocap / mindtct (< 1 = "
        "faster). Scores: all-pairs biocap-mcc scores of the two versions on the same templates.", "",
        "| set | compare/s old | compare/s new | new / old | bozorth3 /s | mcc/boz old | mcc/boz new | "
        "extract ms old | extract ms new | mindtct ms | extract ratio new | minutiae identical | "
        "max score diff | EER old | EER new |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        c, e = r["compare_per_s"], r["extract_ms_median"]
        lines.append(
            f"| {name} | {c['old']:.0f} | {c['new']:.0f} | {c['new'] / c['old']:.2f}x | {c['bozorth3']:.0f} | "
            f"{c['old'] / c['bozorth3']:.1f}x | {c['new'] / c['bozorth3']:.1f}x | {e['old']:.1f} | "
            f"{e['new']:.1f} | {e['mindtct']:.1f} | {e['new'] / e['mindtct']:.2f} | "
            f"{'yes' if r['minutiae_identical'] else 'NO'} | {r['score_max_abs_diff']:.1e} | "
            f"{100 * r['eer']['old']:.2f}% | {100 * r['eer']['new']:.2f}% |")
    lines += ["", f"Baseline: {next(iter(results.values()))['baseline'] if results else '-'}. Targets "
              "(issue 23): mcc/boz >= 10x and extract ratio <= 1 on every set.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="*", default=[s for s, _ in SETS])
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    ap.add_argument("--out", default="benchmarks/results/fingerprint_speed", help="write OUT.json (and .md)")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="JSON", help="merge per-set runs' JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ppi", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--worker-paths", help=argparse.SUPPRESS)
    ap.add_argument("--worker-templates", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        merged = {name: r for part in parts for name, r in part["sets"].items()}
        results = {s: merged[s] for s, _ in SETS if s in merged}
        command = "; ".join(part["command"] for part in parts)
    else:
        ppis = dict(SETS)
        unknown = [s for s in args.sets if s not in ppis]
        if unknown:
            print(f"unknown set(s) {unknown}; choose from {', '.join(ppis)}", file=sys.stderr)
            return 2
        results = {}
        for name in args.sets:
            t0 = time.time()
            results[name] = r = run_set(name, ppis[name], args.baseline)
            c = r["compare_per_s"]
            print(f"{name}: compare/s {c['old']:.0f} -> {c['new']:.0f}, mcc/boz {c['new'] / c['bozorth3']:.1f}x, "
                  f"max diff {r['score_max_abs_diff']:.1e} [{time.time() - t0:.0f} s]", file=sys.stderr, flush=True)
        command = "python benchmarks/bench_fingerprint_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "sets": results}, indent=2))
    out.with_suffix(".md").write_text(to_markdown(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
