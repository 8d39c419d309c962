"""How often each fingerprint feedback hint fires on the FVC 2002 B originals, by NFIQ 2 band.

    .venv/bin/python benchmarks/bench_quality_fingerprint_feedback.py
        [--out benchmarks/results/quality_fingerprint_feedback] [--cache /tmp/nfiq2_scores.json]

For each of the 320 originals: biocap's feedback codes (`FingerprintQuality().assess`) and the
NFIQ 2 score (nbis-py, resampled to 500 ppi; `--cache` reuses a JSON of scores keyed
"<set>/<file>", e.g. the training cache). A hint on a print NFIQ 2 rates >= 60 is a false alarm;
the prints NFIQ 2 rates < 20 should mostly get one. Writes `<out>.json` (every print's codes and
score) and `<out>.md` (counts per hint and band, and the 25 worst prints with their hints).
Needs the optional extra `biocap[reference]` (nbis-py) unless every score is in the cache.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from biocap.evaluation.data import data_path  # noqa: E402
from biocap.evaluation.datasets import load_layout  # noqa: E402
from biocap.imaging import to_working_resolution  # noqa: E402
from biocap.quality.fingerprint.provider import FEEDBACK, FingerprintQuality  # noqa: E402

SETS = (("fvc2002_db1_b", 500.0), ("fvc2002_db2_b", 569.0), ("fvc2002_db3_b", 500.0),
        ("fvc2002_db4_b", 500.0))
BANDS = (("NFIQ 2 >= 60 (good)", 60, 101), ("20-59", 20, 60), ("< 20 (worst)", 0, 20))


def collect(cache: dict[str, int]) -> list[dict]:
    quality, reference = FingerprintQuality(), None
    rows = []
    for name, ppi in SETS:
        for item in load_layout(data_path("fingerprint", name), "fvc"):
            image = cv2.imread(str(item.path), cv2.IMREAD_GRAYSCALE)
            key = f"{name}/{item.path.name}"
            if key not in cache:
                if reference is None:
                    from biocap.evaluation.nbis_reference import NbisReference
                    reference = NbisReference()
                cache[key] = reference.nfiq2(to_working_resolution(image, ppi), 500.0)
            report = quality.assess(image, ppi=ppi)
            rows.append({"image": key, "nfiq2": int(cache[key]), "biocap": report.score,
                         "feedback": [f.code for f in report.feedback]})
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = ["# Fingerprint feedback hints on the FVC 2002 B originals", "",
             f"Command: `{command}`", "",
             "Prints per NFIQ 2 band that get each hint (a print can get several):", "",
             "| hint | " + " | ".join(f"{b} ({sum(lo <= r['nfiq2'] < hi for r in rows)})"
                                     for b, lo, hi in BANDS) + " |",
             "|---|" + "---|" * len(BANDS)]
    for code in list(FEEDBACK) + ["(none)"]:
        cells = []
        for _, lo, hi in BANDS:
            band = [r for r in rows if lo <= r["nfiq2"] < hi]
            n = sum((code in r["feedback"]) if code != "(none)" else not r["feedback"]
                    for r in band)
            cells.append(str(n))
        lines.append(f"| {code} | " + " | ".join(cells) + " |")
    worst = sorted(rows, key=lambda r: (r["nfiq2"], r["image"]))[:25]
    per_set = Counter(r["image"].split("/")[0] for r in worst)
    lines += ["", f"The 25 prints NFIQ 2 rates lowest ({dict(per_set)}):", "",
              "| image | NFIQ 2 | biocap | hints |", "|---|---|---|---|"]
    lines += [f"| {r['image']} | {r['nfiq2']} | {r['biocap']} | {', '.join(r['feedback']) or '-'} |"
              for r in worst]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path,
                    default=ROOT / "benchmarks/results/quality_fingerprint_feedback")
    ap.add_argument("--cache", type=Path, help="JSON of NFIQ 2 scores keyed '<set>/<file>'")
    args = ap.parse_args(argv)
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    rows = collect(cache)
    command = "python benchmarks/bench_quality_fingerprint_feedback.py"
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "prints": rows},
                                                        indent=1) + "\n")
    text = markdown(rows, command)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
