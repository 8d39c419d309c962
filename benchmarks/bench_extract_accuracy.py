"""Minutiae quality judged by matching: biocap's minutiae and NBIS mindtct's, each compared by the
same matcher on the FVC "all impostors" protocol (280 genuine, 2,880 impostor per set), once with
NBIS bozorth3 (the interchange reference) and once with biocap's own comparator (biocap-mcc, as it
is in the checkout when this runs: the shipped pipeline is biocap's minutiae + biocap-mcc).

Each matcher is held fixed, so an EER difference is due to the minutiae alone. Requires the
`reference` extra (nbis-py). Run:  .venv/bin/python benchmarks/bench_extract_accuracy.py [SET ...]
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import all_pairs, load_layout
from biocap.evaluation.metrics import error_rates
from biocap.evaluation.nbis_reference import template_from_nbis
from biocap.matching.fingerprint.comparator import FingerprintComparator
from biocap.templates.fingerprint import extract_template
from biocap.types import Sample

SETS = {"fvc2002_db1_b": 500, "fvc2002_db2_b": 569, "fvc2002_db3_b": 500, "fvc2002_db4_b": 500}


def iso2005_record(template) -> bytes:
    """A one-view minutiae record in the layout nbis-py 0.1.3 reads and writes: ISO/IEC 19794-2:2005
    but without the "number of views"/reserved header bytes and without the extended-data length
    (what `to_iso_19794_2_2005()` produces, so its `load_iso_19794_2_2005()` accepts it)."""
    m = template.minutiae
    m = m[np.argsort(-m["quality"].astype(int), kind="stable")][:255]
    m = m[np.lexsort((m["y"], m["x"]))]  # bozorth3 expects minutiae ordered by x, then y
    body = bytearray()
    for x, y, a, t, q in zip(m["x"], m["y"], m["angle"], m["type"], m["quality"]):
        xi = int(np.clip(round(float(x)), 0, 0x3FFF))
        yi = int(np.clip(round(float(y)), 0, 0x3FFF))
        ai = int(round(float(a) / (2 * np.pi) * 256)) % 256
        body += struct.pack(">HHBB", (int(t) & 3) << 14 | xi, yi, ai, round(min(int(q), 100) * 63 / 100))
    view = struct.pack(">BBBB", 0, 0, 0, len(m)) + bytes(body)
    header = b"FMR\x00" + b" 20\x00" + struct.pack(">IHHHHH", 22 + len(view), 0, template.width,
                                                    template.height, 0, 0)
    return header + view


def run_set(name: str, ppi: float, nbis_mod) -> dict:
    settings = nbis_mod.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                              check_fingerprint=False, compute_nfiq2=False, ppi=None)
    nb = nbis_mod.new_nbis_extractor(settings)
    items = load_layout(data_path("fingerprint", name), "fvc")
    ours, theirs, counts_ours, counts_theirs = [], [], [], []
    templates = {"biocap": [], "mindtct": []}
    for it in items:
        img = cv2.imread(str(it.path), cv2.IMREAD_GRAYSCALE)
        tpl = extract_template(Sample(img, ppi, "fingerprint"))
        counts_ours.append(len(tpl))
        ours.append(nb.load_iso_19794_2_2005(iso2005_record(tpl)))
        ref = nb.extract_minutiae(cv2.imencode(".png", img)[1].tobytes())
        counts_theirs.append(len(ref.get()))
        theirs.append(ref)
        templates["biocap"].append(tpl)
        # mindtct ran as if at 500 ppi, in the image's own pixels: the true ppi goes with them
        templates["mindtct"].append(template_from_nbis(ref, img.shape[1], img.shape[0], ppi))
    genuine, impostor = all_pairs(items)
    result = {"set": name, "ppi": ppi, "images": len(items),
              "minutiae_median": {"biocap": float(np.median(counts_ours)),
                                  "mindtct": float(np.median(counts_theirs))}}
    for label, tpls in (("biocap", ours), ("mindtct", theirs)):
        t0 = time.perf_counter()
        g = [tpls[a].compare(tpls[b]) for a, b in genuine]
        i = [tpls[a].compare(tpls[b]) for a, b in impostor]
        rates = error_rates(g, i)
        result[label] = {**rates.to_json(), "compare_s": time.perf_counter() - t0}
    cmp = FingerprintComparator()
    for label, tpls in templates.items():
        enc = [cmp.encode(t) for t in tpls]
        scores = np.zeros((len(enc), len(enc)))
        for a in range(len(enc) - 1):
            scores[a, a + 1:] = cmp.compare_many(enc[a], enc[a + 1:])
        rates = error_rates([scores[a, b] for a, b in genuine], [scores[a, b] for a, b in impostor])
        result[label]["mcc"] = rates.to_json()
    return result


def to_markdown(results: list[dict], argv) -> str:
    lines = ["# Minutiae quality through matching: biocap vs NBIS mindtct minutiae, each matched by "
             "NBIS bozorth3 and by biocap-mcc", "", f"Command: `python benchmarks/bench_extract_accuracy.py {' '.join(argv)}`".replace(" `", " `").rstrip(), "",
             "FVC all-impostors protocol (280 genuine, 2,880 impostor comparisons per set).", "",
             "| set | minutiae biocap / mindtct | bozorth3 EER biocap | bozorth3 EER mindtct | "
             "bozorth3 FMR100 biocap / mindtct | biocap-mcc EER biocap | biocap-mcc EER mindtct | "
             "biocap-mcc FMR100 biocap / mindtct |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        b, m = r["biocap"], r["mindtct"]
        lines.append(f"| {r['set']} | {r['minutiae_median']['biocap']:.0f} / {r['minutiae_median']['mindtct']:.0f} | "
                     f"{100 * b['eer']:.2f}% | {100 * m['eer']:.2f}% | "
                     f"{100 * b['fmr100']:.1f}% / {100 * m['fmr100']:.1f}% | "
                     f"{100 * b['mcc']['eer']:.2f}% | {100 * m['mcc']['eer']:.2f}% | "
                     f"{100 * b['mcc']['fmr100']:.1f}% / {100 * m['mcc']['fmr100']:.1f}% |")
    if results:
        mean = {k: np.mean([r[k]["mcc"]["eer"] for r in results]) for k in ("biocap", "mindtct")}
        lines += ["", f"Mean biocap-mcc EER over these sets: biocap minutiae {100 * mean['biocap']:.2f}%, "
                  f"mindtct minutiae {100 * mean['mindtct']:.2f}%. biocap-mcc is the comparator as it was "
                  "in the checkout at the time of the run (its calibration does not enter an EER)."]
    return "\n".join(lines + [""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", default=list(SETS))
    ap.add_argument("--out", default="benchmarks/results/extract_accuracy",
                    help="write OUT.md and OUT.json ('' to skip)")
    args = ap.parse_args(argv)
    try:
        import nbis
    except ImportError:
        print("nbis-py is not installed: pip install 'biocap[reference]'", file=sys.stderr)
        return 2
    results = []
    for name in args.sets:
        if name not in SETS:
            print(f"unknown set {name}; choose from {', '.join(SETS)}", file=sys.stderr)
            return 2
        r = run_set(name, SETS[name], nbis)
        results.append(r)
        print(f"{name}: minutiae median biocap {r['minutiae_median']['biocap']:.0f} / mindtct "
              f"{r['minutiae_median']['mindtct']:.0f}; bozorth3 EER biocap {100 * r['biocap']['eer']:.2f}% "
              f"/ mindtct {100 * r['mindtct']['eer']:.2f}%; FMR100 {100 * r['biocap']['fmr100']:.1f}% / "
              f"{100 * r['mindtct']['fmr100']:.1f}%; biocap-mcc EER {100 * r['biocap']['mcc']['eer']:.2f}% / "
              f"{100 * r['mindtct']['mcc']['eer']:.2f}%", flush=True)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(results, indent=2))
        out.with_suffix(".md").write_text(to_markdown(results, argv if argv is not None else sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
