"""Slap segmentation on simulated 4-4-2 slaps with ground truth, and on the real NIST slap.

    .venv/bin/python benchmarks/bench_slap_segmentation.py --slaps 500      # ~6-10 min, one core

Simulated: slaps from the simulator's composer (`biocap_vendor_sim.slaps`) over the realistic
synthetic generator's fingers (`--persons` subjects, masters cached), a share of slaps with one
finger missing. Measured per finger: rotated-box IoU with the ground truth (>= 0.8 counts),
finger number right (the segmenter's finger at the truth's position overlaps it), and per slap:
the missing fingers named exactly. Real: the Type-4 slap of NIST's test transaction
`../shared/data/interchange/an2k/type4-slaps.an2k` (read with nistitl, WSQ decoded with wsq):
four fingers found, each box holding a fingerprint by the quality provider (score > 0), and an
overlay written for a look. NFSEG: nbis-py (the `reference` extra) exposes mindtct, bozorth3 and
NFIQ 2 but not NFSEG, so no side-by-side time can be taken; the report says so.
Report: benchmarks/results/slap_segmentation.json (+ .md).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from biocap.station.segmentation import FingerBox, segment_slap
from biocap.types import Modality, Sample

RESULTS = Path(__file__).with_name("results")
DATA = Path(os.environ.get("BIOCAP_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def box_iou(a: FingerBox, b: FingerBox) -> float:
    inter, _ = cv2.intersectConvexConvex(a.corners().astype(np.float32), b.corners().astype(np.float32))
    union = a.width * a.height + b.width * b.height - inter
    return float(inter / union) if union > 0 else 0.0


def slaps_of(n_slaps: int, persons: int, seed: int, missing_rate: float, cache: Path | None):
    """The benchmark's simulated slaps (image, truth), in order; with `cache`, each slap is
    composed once and kept there as PNG + JSON (the same seed gives the same slaps)."""
    from biocap_vendor_sim.slaps import compose_slap, write_slap
    from biocap_vendor_sim.sources_synthetic_fingerprint import RealisticFingerprintSource
    sources = [RealisticFingerprintSource(person=1000 + p, seed=seed) for p in range(persons)]
    rng = np.random.default_rng(seed)
    folder = None
    if cache is not None:
        folder = cache / f"seed{seed}_p{persons}_m{missing_rate}"
        # the composer's rng runs through every slap: a cached run must be a whole prefix
        if all((folder / f"slap{k:05d}.json").is_file() for k in range(n_slaps)):
            for k in range(n_slaps):
                truth = json.loads((folder / f"slap{k:05d}.json").read_text())
                yield cv2.imread(str(folder / f"slap{k:05d}.png"), cv2.IMREAD_GRAYSCALE), truth
            return
    for k in range(n_slaps):
        slap = (13, 14, 15)[k % 3]
        image, truth = compose_slap(sources[k % persons], slap, rng, missing_rate=missing_rate)
        if folder is not None:
            write_slap(folder, f"slap{k:05d}", image, truth)
        yield image, truth


def load_reference(rev: str):
    """`segment_slap` of the segmenter at git revision `rev` (its module text loaded beside
    today's), to measure both on the same slaps in one run."""
    import importlib.util
    import subprocess
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(["git", "show", f"{rev}:biocap/station/segmentation.py"], cwd=root,
                          check=True, capture_output=True, text=True).stdout
    path = Path("/tmp") / f"biocap_segmentation_{rev}.py"
    path.write_text(text.replace("from ..", "from biocap."))
    spec = importlib.util.spec_from_file_location(f"segmentation_{rev}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.segment_slap


def simulated(n_slaps: int, persons: int, seed: int, missing_rate: float, overlay: Path | None,
              progress=None, cache: Path | None = None, segmenter=segment_slap):
    ious, numbered, missing_ok, seg_times, n_missing_slaps = [], [], [], [], 0
    failures = []
    for k, (image, truth) in enumerate(slaps_of(n_slaps, persons, seed, missing_rate, cache)):
        slap = truth["slap"]
        sample = Sample(image, 500, Modality.FINGERPRINT, position=slap)
        t0 = time.process_time()
        seg = segmenter(sample)
        seg_times.append(time.process_time() - t0)
        n_missing_slaps += bool(truth["missing"])
        missing_ok.append(sorted(seg.missing) == sorted(truth["missing"]))
        for f in truth["fingers"]:
            if not f["present"]:
                continue
            gt = FingerBox(f["cx"], f["cy"], f["width"], f["height"], f["angle"])
            got = seg.finger(f["position"])
            iou = box_iou(gt, got.box) if got is not None else 0.0
            ious.append(iou)
            numbered.append(got is not None and iou > 0.3)
            if iou < 0.8 and len(failures) < 20:
                best = max((box_iou(gt, g.box) for g in seg.fingers), default=0.0)
                failures.append({"slap_index": k, "slap": slap, "position": f["position"],
                                 "iou": round(iou, 3), "kind": failure_kind(iou, best)})
        if overlay is not None and k < 3:
            draw_overlay(image, seg, overlay / f"slap_sim_{k}_{slap}.png", truth)
        if progress is not None and ((k + 1) % 25 == 0 or k + 1 == n_slaps):
            progress(_summary(k + 1, persons, seed, missing_rate, n_missing_slaps, ious, numbered,
                              missing_ok, seg_times, failures))
    return _summary(n_slaps, persons, seed, missing_rate, n_missing_slaps, ious, numbered,
                    missing_ok, seg_times, failures)


def failure_kind(iou: float, best: float) -> str:
    """A finger below IoU 0.8 by the best IoU any segmented finger has with it: not found,
    found under another name, or found with a poor box."""
    if best >= 0.8 and iou < best:
        return "misnamed"
    return "notfound" if best < 0.3 else "poorbox"


def _summary(n_slaps, persons, seed, missing_rate, n_missing_slaps, ious, numbered, missing_ok,
             seg_times, failures) -> dict:
    ious = np.array(ious)
    return {
        "slaps": n_slaps, "fingers": int(len(ious)), "persons": persons, "seed": seed,
        "missing_rate": missing_rate, "slaps_with_missing_finger": n_missing_slaps,
        "iou_ge_0_8": round(float((ious >= 0.8).mean()), 4),
        "iou_median": round(float(np.median(ious)), 4),
        "iou_p05": round(float(np.percentile(ious, 5)), 4),
        "finger_number_right": round(float(np.mean(numbered)), 4),
        "missing_fingers_named_exactly_per_slap": round(float(np.mean(missing_ok)), 4),
        "segment_ms_per_slap_median": round(1000 * float(np.median(seg_times)), 1),
        "segment_ms_per_slap_p95": round(1000 * float(np.percentile(seg_times, 95)), 1),
        "failures": failures,
    }


def draw_overlay(image, seg, path: Path, truth: dict | None = None) -> None:
    vis = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if truth:
        for f in truth["fingers"]:
            if f["present"]:
                box = FingerBox(f["cx"], f["cy"], f["width"], f["height"], f["angle"])
                cv2.polylines(vis, [box.corners().astype(np.int32)], True, (0, 170, 0), 3)
    for f in seg.fingers:
        pts = f.box.corners().astype(np.int32)
        cv2.polylines(vis, [pts], True, (0, 0, 255), 4)
        cv2.putText(vis, str(f.position), tuple(int(v) for v in pts[0] + (4, 40)),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 255), 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), vis)


def read_an2k_slaps(path: Path) -> list[tuple[np.ndarray, float, int]]:
    """(image, ppi, finger position) of every Type-4 record. nistitl hands a Type-4 record's
    bytes after its length and IDC: IMP(1) FGP(6) ISR(1) HLL(2) VLL(2) GCA(1) then the image
    (GCA 1 = WSQ, decoded by the wsq Pillow plugin)."""
    import nistitl
    import wsq  # noqa: F401  (registers the WSQ decoder with Pillow)
    from PIL import Image
    msg = nistitl.Message()
    msg.parse(path.read_bytes())
    out = []
    for record in msg.iter(4):
        v = bytes(record.value)
        fgp = [b for b in v[1:7] if b != 255]
        isr, hll, vll = v[7], int.from_bytes(v[8:10], "big"), int.from_bytes(v[10:12], "big")
        img = np.array(Image.open(io.BytesIO(v[13:])).convert("L"))
        if img.shape != (vll, hll):
            raise ValueError(f"Type-4 image is {img.shape[::-1]}, header says {hll}x{vll}")
        ppi = 500.0 if isr == 0 else 250.0  # ISR 0: the native scanning resolution (19.69 ppmm)
        out.append((img, ppi, fgp[0] if fgp else 0))
    return out


def real_slap(overlay: Path | None) -> dict:
    path = DATA / "interchange" / "an2k" / "type4-slaps.an2k"
    if not path.is_file():
        return {"skipped": f"{path} not present"}
    from biocap.quality.fingerprint import FingerprintQuality
    quality = FingerprintQuality()
    results = []
    for i, (img, ppi, fgp) in enumerate(read_an2k_slaps(path)):
        if fgp not in (13, 14, 15):
            results.append({"record": i, "fgp": fgp, "skipped": "not a slap position"})
            continue
        sample = Sample(img, ppi, Modality.FINGERPRINT, position=fgp)
        t0 = time.process_time()
        seg = segment_slap(sample)
        dt = time.process_time() - t0
        scores = {f.position: quality.assess(f.sample).score for f in seg.fingers}
        results.append({"record": i, "fgp": fgp, "size": [int(img.shape[1]), int(img.shape[0])],
                        "found": [f.position for f in seg.fingers], "missing": list(seg.missing),
                        "boxes": {f.position: f.box.to_json() for f in seg.fingers},
                        "fingertip_quality": scores, "segment_ms": round(1000 * dt, 1)})
        if overlay is not None:
            draw_overlay(img, seg, overlay / f"slap_an2k_{i}_{fgp}.png")
            for f in seg.fingers:
                cv2.imwrite(str(overlay / f"slap_an2k_{i}_finger_{f.position}.png"), f.sample.image)
    return {"file": str(path.name), "slaps": results}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slaps", type=int, default=500)
    ap.add_argument("--persons", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--missing-rate", type=float, default=0.15)
    ap.add_argument("--overlay", type=Path, default=None, help="folder for overlay PNGs")
    ap.add_argument("--out", type=Path, default=RESULTS / "slap_segmentation.json")
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder keeping the composed slaps (PNG + JSON) for reruns")
    ap.add_argument("--reference", default=None, metavar="REV",
                    help="also measure the segmenter at this git revision on the same slaps")
    args = ap.parse_args(argv)
    t0 = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    real = real_slap(args.overlay)

    def progress(sim: dict) -> None:  # the report so far: a long run can be read early
        args.out.write_text(json.dumps({
            "command": "benchmarks/bench_slap_segmentation.py " + " ".join(sys.argv[1:]),
            "slaps_asked": args.slaps, "simulated": sim, "real": real,
            "wall_s": round(time.time() - t0, 1)}, indent=1))
        print(f"{sim['slaps']} slaps: IoU>=0.8 {sim['iou_ge_0_8']}, numbers "
              f"{sim['finger_number_right']}, missing {sim['missing_fingers_named_exactly_per_slap']}",
              file=sys.stderr, flush=True)

    report = {"command": "benchmarks/bench_slap_segmentation.py " + " ".join(sys.argv[1:]),
              "slaps_asked": args.slaps, "real": real,
              "simulated": simulated(args.slaps, args.persons, args.seed, args.missing_rate,
                                     args.overlay, progress, args.cache),
              "nfseg": "not reachable: nbis-py 0.1.3 (the reference extra) exposes mindtct, "
                       "bozorth3 and NFIQ 2 but not NFSEG; no side-by-side time taken"}
    if args.reference:
        report["reference"] = {"revision": args.reference, "simulated": simulated(
            args.slaps, args.persons, args.seed, args.missing_rate, None, None, args.cache,
            load_reference(args.reference))}
    report["wall_s"] = round(time.time() - t0, 1)
    args.out.write_text(json.dumps(report, indent=1))
    sim = report["simulated"]
    print(json.dumps({k: v for k, v in sim.items() if k != "failures"}, indent=1))
    print(json.dumps(report["real"], indent=1)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
