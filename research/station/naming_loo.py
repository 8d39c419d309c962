"""Naming fingers when one is missing, leave one out, on cached simulated slaps (tuning loop).

    .venv/bin/python -m research.station.naming_loo /tmp/st/cache/seed5_p10_m0.15 ...

Every four-finger slap whose four fingertips are all found and named right is segmented once;
then each of its fingers in turn is taken out of the list and the rest are named by the
segmenter's hand model (`_name`), as if that finger had not printed (the simulator lays a
missing finger's slot out as if it were there, so the geometry is the same). Prints the share
of the leave-one-out sets named right, by the position left out.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import cv2

import biocap.station.segmentation as seg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_slap_segmentation import box_iou  # noqa: E402


def cases(folders: list[Path], limit: int):
    """(slap, map width, [(true position, _Finger)]) of complete four-finger slaps."""
    for folder in folders:
        for js in sorted(folder.glob("slap*.json"))[:limit]:
            truth = json.loads(js.read_text())
            if truth["slap"] == 15 or truth["missing"]:
                continue
            image = cv2.imread(str(js.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
            fingers, _, _ = seg._find_fingers(image, 4)
            if len(fingers) != 4:
                continue
            named = list(zip(seg.SLAP_ORDER[truth["slap"]], fingers))
            ok = True
            for (p, f), t in zip(named, truth["fingers"]):
                box = seg.FingerBox(*(v * seg.SCALE for v in (f.box.cx, f.box.cy, f.box.width, f.box.height)),
                                    f.box.angle)
                gt = seg.FingerBox(t["cx"], t["cy"], t["width"], t["height"], t["angle"])
                ok &= box_iou(gt, box) > 0.3
            if ok:
                yield truth["slap"], image.shape[1] // seg.SCALE, named


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--limit", type=int, default=10000)
    args = ap.parse_args(argv)
    right, total = collections.Counter(), collections.Counter()
    for slap, width, named in cases(args.folders, args.limit):
        for k in range(4):
            rest = named[:k] + named[k + 1:]
            got, missing = seg._name([f for _, f in rest], slap, width)
            total[named[k][0]] += 1
            right[named[k][0]] += [p for p, _ in got] == [p for p, _ in rest]
    n = sum(total.values())
    print(f"{n} leave-one-out sets: named right {sum(right.values()) / n:.4f}; by the finger left out:",
          {p: f"{right[p]}/{total[p]}" for p in sorted(total)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
