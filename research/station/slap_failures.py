"""Slap segmentation failures on cached simulated slaps, one class each (a tuning loop).

    .venv/bin/python -m research.station.slap_failures /tmp/st/cache/seed5_p10_m0.15 [--dump DIR]

The slaps come from `benchmarks/bench_slap_segmentation.py --cache DIR` (PNG + JSON truth). Each
finger below IoU 0.8 gets one class: `notfound` (no segmented finger overlaps it by 0.3),
`misnamed` (a finger under another name has IoU >= 0.8), `angle` (the box at the truth's angle
would pass: the angle is off by > 4 degrees), `size` (too long/short or wide/narrow by > 10 %),
`offset` (else). Per slap: missing fingers named exactly or not, and why. Use tuning seeds only
(never 4001-4004, which the benchmark reports).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_slap_segmentation import box_iou, draw_overlay, load_reference  # noqa: E402

from biocap.station.segmentation import FingerBox, segment_slap  # noqa: E402
from biocap.types import Modality, Sample  # noqa: E402


def classify(gt: FingerBox, got: FingerBox | None, seg) -> tuple[str, dict]:
    best = max((box_iou(gt, g.box) for g in seg.fingers), default=0.0)
    if got is None or box_iou(gt, got) < 0.3:
        return ("misnamed" if best >= 0.8 else "notfound"), {"best": round(best, 3)}
    da = float(np.rad2deg(np.angle(np.exp(1j * (got.angle - gt.angle)))))
    info = {"dangle": round(da, 1), "w": round(got.width / gt.width, 3),
            "h": round(got.height / gt.height, 3),
            "dc": round(float(np.hypot(got.cx - gt.cx, got.cy - gt.cy) / gt.width), 3)}
    if abs(da) > 4:
        return "angle", info
    if abs(info["w"] - 1) > 0.1 or abs(info["h"] - 1) > 0.1:
        return "size", info
    return "offset", info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--dump", type=Path, default=None, help="overlays of failing slaps here")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--reference", default=None, metavar="REV", help="the segmenter at this git revision")
    args = ap.parse_args(argv)
    segmenter = load_reference(args.reference) if args.reference else segment_slap
    kinds, by_pos, rows, times = collections.Counter(), collections.Counter(), [], []
    n_fingers = n_ok = n_named = 0
    slaps_ok = slaps = 0
    miss_why = collections.Counter()
    for folder in args.folders:
        for js in sorted(folder.glob("slap*.json"))[:args.limit]:
            truth = json.loads(js.read_text())
            image = cv2.imread(str(js.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
            t0 = time.process_time()
            seg = segmenter(Sample(image, 500, Modality.FINGERPRINT, position=truth["slap"]))
            times.append(time.process_time() - t0)
            slaps += 1
            ok = sorted(seg.missing) == sorted(truth["missing"])
            slaps_ok += ok
            bad = False
            for f in truth["fingers"]:
                if not f["present"]:
                    continue
                n_fingers += 1
                gt = FingerBox(f["cx"], f["cy"], f["width"], f["height"], f["angle"])
                got = seg.finger(f["position"])
                iou = box_iou(gt, got.box) if got else 0.0
                n_named += got is not None and iou > 0.3
                if iou >= 0.8:
                    n_ok += 1
                    continue
                kind, info = classify(gt, got.box if got else None, seg)
                kinds[kind] += 1
                by_pos[(kind, f["position"])] += 1
                bad = True
                rows.append({"slap": f"{folder.name}/{js.stem}", "position": f["position"],
                             "iou": round(iou, 3), "kind": kind, "phalanx": bool(f.get("phalanx")),
                             "slap_missing": truth["missing"], "found": [g.position for g in seg.fingers],
                             **info})
            if not ok:
                n_found = len(seg.fingers)
                n_true = sum(f["present"] for f in truth["fingers"])
                miss_why["fewer found" if n_found < n_true else "more found" if n_found > n_true
                         else "named wrong"] += 1
                bad = True
            if bad and args.dump is not None:
                draw_overlay(image, seg, args.dump / f"{folder.name}_{js.stem}.png", truth)
    print(f"{slaps} slaps, {n_fingers} fingers: IoU>=0.8 {n_ok / n_fingers:.4f}, numbers "
          f"{n_named / n_fingers:.4f}, missing exact {slaps_ok / slaps:.4f}; "
          f"median {1000 * np.median(times):.0f} ms/slap")
    print("failure kinds:", dict(kinds.most_common()))
    print("missing wrong:", dict(miss_why))
    print("by kind and position:", sorted(by_pos.items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
