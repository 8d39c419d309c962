"""Fingerprint accuracy across sensors (issue 23): the eight shared FVC B sets, each measured as
`biocap bench verify --modality fingerprint --reference nbis` measures one set (FVC all-impostors
protocol: 280 genuine, 2,880 impostor comparisons), all in one run:

- biocap (biocap's extractor + biocap-mcc) EER, beside NBIS (mindtct + bozorth3) in the same run;
- bozorth3 on biocap's ISO/IEC 19794-2 records (written by biocap's encoder, read by NBIS), beside
  bozorth3 on mindtct's minutiae: the interoperability of biocap's records;
- speed as CPU-time ratios measured in the same run: biocap-mcc bulk comparisons/s over
  bozorth3's, and biocap's median extraction time over mindtct's.

Each set is listed as tuned-on (the pipeline's parameters were chosen on it) or held-out.
Run:  .venv/bin/python benchmarks/bench_fingerprint_cross_sensor.py --cache /tmp/fp-cache
      [--sets fvc2000_db3_b ...] [--out benchmarks/results/fingerprint_cross_sensor]
With `--cache`, templates are reused when the extractor's code is unchanged (then extraction
times are those of the run that wrote the cache, and the table says so).
`--records-only --nbis-from BEFORE.json` (for a machine too busy for the full run): only biocap's
EER and bozorth3 on biocap's records are measured; NBIS's EER (deterministic: same nbis-py, same
images) is taken from the named earlier run and the speed columns are left out.
`--merge A.json B.json ...` writes one table from the JSON of runs made on disjoint sets (e.g. the
tuned-on and the held-out sets run as two processes at once on a busy machine); every row is
still measured side by side with NBIS in its own run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from biocap.evaluation.bench_verify_fingerprint import (DatasetSpec, _rates, _scores_bozorth3_on_records,
                                                        _scores_ours, load_templates, run_set)
from biocap.evaluation.data import data_path
from biocap.evaluation.options import BenchOptions

#: (set, true resolution, role): "tuned-on" = the pipeline's parameters were chosen on it
SETS = (("fvc2002_db1_b", 500.0, "tuned-on"), ("fvc2002_db2_b", 569.0, "tuned-on"),
        ("fvc2002_db3_b", 500.0, "tuned-on"), ("fvc2002_db4_b", 500.0, "tuned-on"),
        ("fvc2000_db1_b", 500.0, "held-out"), ("fvc2000_db2_b", 500.0, "held-out"),
        ("fvc2000_db3_b", 500.0, "held-out"), ("fvc2000_db4_b", 500.0, "held-out"))


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def to_markdown(results: dict, command: str, roles: dict) -> str:
    lines = [
        "# Fingerprint accuracy across sensors: biocap vs NBIS, and bozorth3 on biocap's records",
        "", f"Command: `{command}`", "",
        "FVC all-impostors protocol (280 genuine, 2,880 impostor comparisons per set), every figure "
        "of a row from the same run. Speed ratios are CPU time (`time.process_time`) of this "
        "process, so per core: `mcc/boz` = biocap-mcc bulk comparisons/s over bozorth3's on "
        "mindtct minutiae; `extract` = biocap's median extraction ms over mindtct's (< 1 = faster).",
        "",
        "| set | role | biocap EER | NBIS EER | biocap / NBIS | bozorth3 on biocap records | "
        "bozorth3 on mindtct | records / mindtct | mcc/boz speed | extract ratio | "
        "biocap FTE |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        ref, boz = r["reference"], r.get("bozorth3_on_biocap_records", {})
        ratio = r["eer"] / ref["eer"] if ref.get("eer") else None
        bratio = boz.get("eer", 0) / ref["eer"] if ref.get("eer") and boz else None
        speed = f"{r['speedup_vs_reference']:.1f}x" if "speedup_vs_reference" in r else "-"
        extract = (f"{r['extract_ratio_vs_reference']:.2f}" if "extract_ratio_vs_reference" in r
                   else "-")
        cached = " (cached)" if r.get("extract_ms_from_cache") else ""
        lines.append(
            f"| {name} | {roles.get(name, '?')} | {_pct(r['eer'])} | {_pct(ref['eer'])} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} | {_pct(boz.get('eer'))} | "
            f"{_pct(ref.get('eer'))} | {'-' if bratio is None else f'{bratio:.2f}'} | "
            f"{speed} | {extract}{cached} | "
            f"{r['fte_count']} |")
    lines += ["", "Targets (issue 23): biocap / NBIS <= 0.5 on every set; bozorth3 on biocap "
              "records <= bozorth3 on mindtct (records / mindtct <= 1); mcc/boz >= 10x; extract "
              "ratio <= 1.", ""]
    return "\n".join(lines)


def _records_only(args, known, options) -> int:
    from biocap.matching.fingerprint.comparator import FingerprintComparator

    before = json.loads(args.nbis_from.read_text())["sets"] if args.nbis_from else {}
    results = {}
    for name in args.sets:
        ppi, role = known[name]
        loaded = load_templates(DatasetSpec(name, data_path("fingerprint", name), ppi, "fvc"), options)
        scores, ok, *_ = _scores_ours(FingerprintComparator(), loaded.templates, loaded.items, False)
        ours, _, _ = _rates(scores, loaded.items)
        bs, bok, bper_s = _scores_bozorth3_on_records(loaded.templates, False)
        boz, _, _ = _rates(bs, loaded.items)
        ref = before.get(name, {}).get("reference", {})
        results[name] = {**ours, "fte_count": int((~ok).sum()),
                         "bozorth3_on_biocap_records": {**boz, "fte": float((~bok).mean())},
                         "reference": {"eer": ref.get("eer"), "from": str(args.nbis_from)}}
        print(f"{name} ({role}): biocap {100 * ours['eer']:.2f}% bozorth3-on-biocap "
              f"{100 * boz['eer']:.2f}% (NBIS earlier {ref.get('eer')})", file=sys.stderr, flush=True)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(
        {"command": "python benchmarks/bench_fingerprint_cross_sensor.py --records-only "
                    f"--nbis-from {args.nbis_from} --sets {' '.join(args.sets)}",
         "roles": {s: r for s, _, r in SETS}, "sets": results}, indent=2, default=float))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="*", default=[s for s, _, _ in SETS])
    ap.add_argument("--cache", type=Path, help="template cache folder (biocap bench --cache)")
    ap.add_argument("--out", default="benchmarks/results/fingerprint_cross_sensor",
                    help="write OUT.md and OUT.json ('' to skip)")
    ap.add_argument("--records-only", action="store_true",
                    help="measure biocap EER and bozorth3 on biocap's records only")
    ap.add_argument("--nbis-from", type=Path, help="with --records-only: JSON of an earlier full "
                    "run whose NBIS EERs are shown beside")
    ap.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                    help="only merge the JSON of earlier runs into OUT.md / OUT.json")
    args = ap.parse_args(argv)
    roles = {s: r for s, _, r in SETS}
    if args.merge:
        parts = [json.loads(p.read_text()) for p in args.merge]
        results = {name: r for part in parts for name, r in part["sets"].items()}
        results = {s: results[s] for s, _, _ in SETS if s in results}
        command = "; ".join(part["command"].strip() for part in parts)
        out = Path(args.out)
        out.with_suffix(".json").write_text(json.dumps(
            {"command": command, "merged_from": [str(p) for p in args.merge], "roles": roles,
             "sets": results}, indent=2, default=float))
        out.with_suffix(".md").write_text(to_markdown(results, command, roles))
        return 0
    known = {s: (ppi, role) for s, ppi, role in SETS}
    unknown = [s for s in args.sets if s not in known]
    if unknown:
        print(f"unknown set(s) {unknown}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    try:
        import nbis  # noqa: F401
    except ImportError:
        print("nbis-py is not installed: pip install 'biocap[reference]'", file=sys.stderr)
        return 2
    options = BenchOptions(reference="nbis", cache=args.cache, progress=False)
    results, t0 = {}, time.time()
    if args.records_only:
        return _records_only(args, known, options)
    for name in args.sets:
        ppi, role = known[name]
        r = run_set(DatasetSpec(name, data_path("fingerprint", name), ppi, "fvc"), options, "nbis")
        results[name] = r["result"]
        res = r["result"]
        print(f"{name} ({role}): biocap {100 * res['eer']:.2f}% NBIS "
              f"{100 * res['reference']['eer']:.2f}% bozorth3-on-biocap "
              f"{100 * res['bozorth3_on_biocap_records']['eer']:.2f}% speed "
              f"{res['speedup_vs_reference']:.1f}x extract {res['extract_ratio_vs_reference']:.2f} "
              f"[{time.time() - t0:.0f} s]", file=sys.stderr, flush=True)
    command = "python benchmarks/bench_fingerprint_cross_sensor.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(
            {"command": command, "roles": {s: r for s, _, r in SETS}, "sets": results},
            indent=2, default=float))
        out.with_suffix(".md").write_text(to_markdown(results, command.strip(),
                                                      {s: r for s, _, r in SETS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
