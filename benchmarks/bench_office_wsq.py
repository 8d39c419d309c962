"""WSQ's cost in accuracy: FVC2002 DB1-4 B matched by biocap before and after a WSQ round trip.

The package for the centre carries fingerprints as WSQ (NBIS's encoder inside `wsq`, at
`biocap.office.package.WSQ_BITRATE` bit/pixel, each image at its own resolution). Each image is
extracted from the original and from its WSQ-decoded pixels at every requested bit rate in one
run, and all are scored with biocap's comparator under the "FVC, all impostors" protocol
(280 genuine, 2,880 impostor pairs per set). Issue 21 asks for EER within +0.3 points.

    .venv/bin/python benchmarks/bench_office_wsq.py                       # all four sets, package rate
    .venv/bin/python benchmarks/bench_office_wsq.py --sets fvc2002_db1_b \\
        --bitrates 0.75,1,1.5,2.25,3 --out benchmarks/results/office_wsq_curve.md   # rate curve
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from biocap.errors import BiocapError
from biocap.evaluation.bench_verify_fingerprint import FVC_SETS, _rates, _scores_ours
from biocap.evaluation.data import data_path
from biocap.evaluation.datasets import all_pairs, load_layout
from biocap.matching.fingerprint import FingerprintComparator
from biocap.office.package import WSQ_BITRATE, wsq_decode, wsq_encode
from biocap.templates.fingerprint import extract_template
from biocap.types import Modality, Sample

ROOT = Path(__file__).resolve().parents[1]


def _extract(img: np.ndarray, ppi: float):
    try:
        return extract_template(Sample(img, ppi, Modality.FINGERPRINT))
    except BiocapError:
        return None


def _score(cmp, templates, items) -> tuple[dict, np.ndarray, np.ndarray]:
    scores, ok, *_ = _scores_ours(cmp, templates, items, False)
    rates, g, i = _rates(scores, items)
    rates["fte"] = int(sum(t is None for t in templates))
    return rates, g, i


CONTROL = 0.0      # the "bit rate" key of the null control: not compressed, +-1 grey level noise
CONTROL_SEED = 21


def run_set(name: str, ppi: float, bitrates: list[float], limit: int | None,
            control: bool = True) -> dict:
    items = load_layout(data_path("fingerprint", name), "fvc")
    if limit:
        keep = sorted({i.subject for i in items})[:limit]
        items = [i for i in items if i.subject in keep]
    images = [cv2.imread(str(it.path), cv2.IMREAD_GRAYSCALE) for it in items]
    cmp = FingerprintComparator()
    t0 = time.process_time()
    orig, g0, i0 = _score(cmp, [_extract(img, ppi) for img in images], items)
    # the original's EER threshold: a genuine pair "flips" when it crosses it after WSQ
    u = np.unique(np.concatenate([g0, i0]))
    mids = (u[1:] + u[:-1]) / 2 if u.size > 1 else u
    gs, is_ = np.sort(g0), np.sort(i0)
    fnmr = np.searchsorted(gs, mids) / gs.size
    fmr = 1 - np.searchsorted(is_, mids) / is_.size
    thr = float(mids[np.argmin(np.abs(fnmr - fmr))])
    out = {"images": len(items), "ppi": ppi, "genuine": len(all_pairs(items)[0]),
           "original": orig, "wsq": {}}
    rng = np.random.default_rng(CONTROL_SEED)
    for rate in [*bitrates, *([CONTROL] if control else [])]:
        sizes, psnr, templates = [], [], []
        for img in images:
            if rate == CONTROL:  # no compression: +-1 grey level of noise, far below WSQ's error
                back = np.clip(img.astype(np.int16) + rng.integers(-1, 2, img.shape), 0, 255)
                back, data = back.astype(np.uint8), img.tobytes()
            else:
                data = wsq_encode(img, ppi, rate)
                back = wsq_decode(data)
            sizes.append(len(data))
            mse = max(float(np.mean((back.astype(float) - img) ** 2)), 1e-9)
            psnr.append(10 * np.log10(255 ** 2 / mse))
            templates.append(_extract(back, ppi))
        rates, g, i = _score(cmp, templates, items)
        rates.update(
            bitrate=rate, bytes_median=float(np.median(sizes)),
            bits_per_pixel_actual=float(np.median([8 * s / im.size for s, im in zip(sizes, images)])),
            ratio_median=float(np.median([im.size / s for s, im in zip(sizes, images)])),
            psnr_db_median=float(np.median(psnr)),
            eer_delta_points=100 * (rates["eer"] - orig["eer"]),
            genuine_score_change_mean=float(np.mean(g - g0)),
            genuine_score_change_mean_abs=float(np.mean(np.abs(g - g0))),
            genuine_lost=int(np.sum((g0 >= thr) & (g < thr))),
            genuine_gained=int(np.sum((g0 < thr) & (g >= thr))),
            impostor_score_change_mean_abs=float(np.mean(np.abs(i - i0))))
        out["wsq"][str(rate)] = rates
    out["cpu_s"] = time.process_time() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(n for n, _ in FVC_SETS),
                    help="comma-separated FVC2002 B sets (default: all four)")
    ap.add_argument("--bitrates", default=str(WSQ_BITRATE),
                    help=f"comma-separated WSQ bit rates (default: the package's {WSQ_BITRATE})")
    ap.add_argument("--limit", type=int, help="fingers per set (all 10 by default)")
    ap.add_argument("--no-control", action="store_true",
                    help="skip the null control (+-1 grey level noise, no compression)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "office_wsq.md")
    args = ap.parse_args()
    sets = [(n, p) for n, p in FVC_SETS if n in args.sets.split(",")]
    rates = [float(r) for r in args.bitrates.split(",")]
    if not sets or not data_path("fingerprint", sets[0][0]).exists():
        print("shared data not found (or no known set named): set BIOCAP_DATA or run from a "
              "worktree beside ../shared", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results = {}
    for name, ppi in sets:
        results[name] = run_set(name, ppi, rates, args.limit, not args.no_control)
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    cmd = ("`.venv/bin/python benchmarks/bench_office_wsq.py"
           + (f" --sets {args.sets}" if args.sets != ",".join(n for n, _ in FVC_SETS) else "")
           + (f" --bitrates {args.bitrates}" if args.bitrates != str(WSQ_BITRATE) else "")
           + (f" --limit {args.limit}" if args.limit else "")
           + (" --no-control" if args.no_control else "")
           + (f" --out {args.out.resolve().relative_to(ROOT)}" if args.out.resolve().is_relative_to(ROOT)
              and args.out.name != "office_wsq.md" else "") + "`")
    lines = ["# WSQ's cost in accuracy (biocap comparator, FVC2002 B, all impostors)", "",
             f"Command: {cmd}", "",
             "Each image extracted from the original and from its WSQ round trip (NBIS "
             "`wsq_encode_mem` from the `wsq` wheel, the set's own resolution written into the "
             "record) in the same run. `lost`/`gained`: genuine pairs that cross the original's "
             "EER threshold downwards/upwards after WSQ. The null control changes each pixel by "
             "-1, 0 or +1 grey level at random (PSNR ~50 dB, less error than any WSQ rate) and is "
             "not compressed: how far the EER moves when nothing of substance changes.", "",
             "| set | ppi | bit/pixel | bytes/image (median) | ratio | PSNR dB | EER original | "
             "EER after WSQ | delta (points) | FMR100 original | FMR100 after WSQ | "
             "mean abs genuine score change | genuine lost/gained | FTE orig/WSQ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        o = r["original"]
        for w in r["wsq"].values():
            label = "control: no WSQ, +-1 grey level" if w["bitrate"] == CONTROL else f"{w['bitrate']:g}"
            lines.append(
                f"| {name} | {r['ppi']:.0f} | {label} | {w['bytes_median']:.0f} | "
                f"{w['ratio_median']:.1f}:1 | {w['psnr_db_median']:.1f} | {100 * o['eer']:.2f}% | "
                f"{100 * w['eer']:.2f}% | {w['eer_delta_points']:+.2f} | {100 * o['fmr100']:.1f}% | "
                f"{100 * w['fmr100']:.1f}% | {w['genuine_score_change_mean_abs']:.4f} | "
                f"{w['genuine_lost']}/{w['genuine_gained']} | {o['fte']}/{w['fte']} |")
    lines.append("")
    for rate in [*rates, *([] if args.no_control else [CONTROL])]:
        deltas = [r["wsq"][str(rate)]["eer_delta_points"] for r in results.values()]
        what = "With the null control" if rate == CONTROL else f"At {rate:g} bit/pixel"
        lines.append(f"{what}: largest EER increase {max(deltas):+.2f} points "
                     f"(target <= +0.30: {'met' if max(deltas) <= 0.3 else 'NOT met'}), mean "
                     f"{float(np.mean(deltas)):+.2f} points over {len(deltas)} set(s).")
    genuine = next(iter(results.values()))["genuine"]
    lines += ["", f"Resolution: {genuine} genuine pairs per set, so one genuine comparison moving "
              f"across the threshold changes the EER by about {100 / genuine:.2f} points.",
              f"CPU {sum(r['cpu_s'] for r in results.values()):.0f} s, "
              f"wall {time.perf_counter() - t0:.0f} s.", ""]
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    args.out.write_text("\n".join(lines))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
