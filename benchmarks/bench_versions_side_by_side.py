"""Capture, extraction and quality speed of this tree against another version's, side by side.

    git archive <rev> | tar -x -C /tmp/old      # the other version's source
    git archive HEAD | tar -x -C /tmp/new       # this version's, in a folder like it
    .venv/bin/python benchmarks/bench_versions_side_by_side.py --this /tmp/new --other /tmp/old \
        [--rounds 5] [--json OUT]

Each round runs one worker process per tree, alternating which goes first; each tree's biocap
and its plugins (the simulator, the NB-1010 driver) come from that tree. A worker times, after a
warm-up each:
- capture: `device.capture()` of one 400x500 fingerprint through the SDK, the simulator's driver
  and bus (a fixed source image, the subject ready at the first poll, no quality provider: the
  capture path itself), CPU (process_time) and wall time per capture, 40 captures;
- replay: open the NB-1010 recording of a real sensor, open the driver, take one frame, close (the
  driver base's loop on a hardware driver), CPU time, 10 replays (skipped without ../shared);
- extraction and quality: CPU time of the first 5 images of each FVC2002 B set.
Reported: per tree the median over rounds of the per-item median, and their ratio (this tree /
other). Both trees run with this venv's packages.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import cv2, numpy as np
from biocap.evaluation.data import data_path
from biocap.quality.fingerprint import FingerprintQuality
from biocap.templates.fingerprint import FingerprintExtractor
from biocap.types import CaptureRequest, Modality, Sample
from biocap_vendor_sim.sources import SourceSample
from biocap_vendor_sim.testing import sim_sdk
out = {}

class FixedSource:  # one image for every presentation: the firmware's cost stays small
    name, modality = "fixed", "fingerprint"
    def __init__(self):
        y, x = np.mgrid[0:500, 0:400]
        self.image = (128 + 100 * np.sin(x / 3.0 + np.sin(y / 40.0))).astype(np.uint8)
    def next_sample(self, position, rng):
        return SourceSample(self.image, 500, label="fixed")

sdk, backend = sim_sdk(seed=0, sources={"fingerprint": FixedSource()}, modalities=("fingerprint",))
fw = backend.device("fingerprint").firmware
fw.presentation_delay_polls, fw.off_centre_rate = (0, 1), 0.0
request = CaptureRequest("fingerprint", positions=(2,), timeout_s=5)
with sdk.open("fingerprint") as device:
    device.capture(request)
    cpu, wall = [], []
    for _ in range(40):
        t, w = time.process_time(), time.perf_counter()
        assert device.capture(request).samples[0].image.shape == (500, 400)
        cpu.append(time.process_time() - t); wall.append(time.perf_counter() - w)
out["capture_cpu_ms"] = 1000 * float(np.median(cpu))
out["capture_wall_ms"] = 1000 * float(np.median(wall))

nb = data_path("usb", "nb1010")
if nb.is_dir():
    from biocap.plugins.recording import open_recording
    from biocap_nb1010 import Nb1010Driver
    def replay():
        bus = open_recording(nb)
        driver = Nb1010Driver(next(bus.find_all()), bus)
        driver.open()
        try:
            return next(driver.frames(CaptureRequest("fingerprint"), 2, time.monotonic() + 5))
        finally:
            driver.close()
    replay()
    cpu = []
    for _ in range(10):
        t = time.process_time(); replay(); cpu.append(time.process_time() - t)
    out["replay_nb1010_cpu_ms"] = 1000 * float(np.median(cpu))

ext, qual = FingerprintExtractor(), FingerprintQuality()
samples = []
for db, ppi in (("fvc2002_db1_b", 500), ("fvc2002_db2_b", 569), ("fvc2002_db3_b", 500), ("fvc2002_db4_b", 500)):
    for p in sorted(data_path("fingerprint", db).glob("*.tif"))[:5]:
        samples.append(Sample(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), ppi, Modality.FINGERPRINT))
ext.extract(samples[0]); qual.assess(samples[0])
te, tq = [], []
for s in samples:
    t = time.process_time(); ext.extract(s); te.append(time.process_time() - t)
    t = time.process_time(); qual.assess(s); tq.append(time.process_time() - t)
out.update(extract_ms=1000 * float(np.median(te)), quality_ms=1000 * float(np.median(tq)))
print(json.dumps(out))
"""


def run(tree: Path) -> dict:
    path = os.pathsep.join(str(p) for p in (tree, tree / "plugins" / "vendor_sim",
                                             tree / "plugins" / "nb1010"))
    env = dict(os.environ, PYTHONPATH=path, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               BIOCAP_DATA=os.environ.get("BIOCAP_DATA", str(HERE.parent / "shared" / "data")))
    out = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd="/", capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="source tree of the other version")
    ap.add_argument("--this", type=Path, default=HERE,
                    help="source tree of this version (default: this checkout; an archive of it in a "
                    "folder like the other's compares like with like: the same code measured from "
                    "two places differed by 7% here)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    trees = {"this": args.this.resolve(), "other": args.other.resolve()}
    got = {k: [] for k in trees}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for k in order:
            got[k].append(run(trees[k]))
    out = {"rounds": args.rounds, "this": str(args.this), "other": str(args.other)}
    for key in ("capture_cpu_ms", "capture_wall_ms", "replay_nb1010_cpu_ms", "extract_ms",
                "quality_ms"):
        if not all(key in g for v in got.values() for g in v):
            continue
        med = {k: float(np.median([g[key] for g in v])) for k, v in got.items()}
        out[key] = {**med, "ratio_this_over_other": med["this"] / med["other"]}
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
