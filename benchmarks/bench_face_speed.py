"""Face speed on 640x480 frames of the simulated face camera (its face-realistic source):
detection + landmarks + full quality (FaceQuality.assess, and quick_assess as the preview runs
it), CPU ms per frame on one core, beside dlib's plain HOG detector + 5-point predictor on the
full frame (the reference, same frames, same run); then the preview of the simulated camera
through the SDK (frames per wall second and per CPU second: the machine may be shared).

    .venv/bin/python benchmarks/bench_face_speed.py [--frames 40] [--json benchmarks/results/bench_face_speed.json]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def cpu_ms(fn, *a, **k):
    t = time.process_time()
    out = fn(*a, **k)
    return (time.process_time() - t) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_face_speed.json"))
    args = ap.parse_args()
    os.environ["BIOCAP_SIM_SOURCES"] = "face=face-realistic"
    import dlib
    import face_recognition_models as frm
    from biocap_vendor_sim.sources import make_source

    from biocap.quality.face import FaceQuality, detect_faces
    from biocap.sdk import SDK
    from biocap.types import Modality, Sample

    src = make_source("face-realistic")
    rng = np.random.default_rng(0)
    frames = [src.next_sample(0, rng).image for _ in range(args.frames)]
    q = FaceQuality()
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    q.assess(Sample(frames[0], 200, Modality.FACE))  # load the models
    rows = {"detect_landmarks": [], "assess": [], "quick_assess": [], "reference_dlib_hog_5pt": []}
    scores = []
    for img in frames:
        rows["detect_landmarks"].append(cpu_ms(detect_faces, img)[0])
        ms, r = cpu_ms(q.assess, Sample(img, 200, Modality.FACE))
        rows["assess"].append(ms)
        scores.append(r.score)
        rows["quick_assess"].append(cpu_ms(q.quick_assess, Sample(img, 200, Modality.FACE))[0])

        def reference(image):
            found = det(image, 0)
            return [sp(image, d) for d in found]
        rows["reference_dlib_hog_5pt"].append(cpu_ms(reference, img)[0])
    result = {"frame": [640, 480], "frames": args.frames,
              "median_cpu_ms": {k: float(np.median(v)) for k, v in rows.items()},
              "p90_cpu_ms": {k: float(np.percentile(v, 90)) for k, v in rows.items()},
              "quality_score_median": float(np.median(scores))}
    sdk = SDK()
    with sdk.open("face") as dev:
        list(dev.preview(max_frames=2))
        n = 60
        t, c = time.perf_counter(), time.process_time()
        shown = list(dev.preview(max_frames=n))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    scored = sum(1 for f in shown if f.sdk_score is not None)
    result["preview"] = {"frames": n, "scored_frames": scored, "fps_wall": n / wall,
                         "fps_per_cpu_second": n / cpu, "load_average": os.getloadavg()[0],
                         "note": "fps_per_cpu_second: one core's throughput (device emulation, "
                                 "transfer and quality on every frame); fps_wall depends on the "
                                 "machine's load"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
