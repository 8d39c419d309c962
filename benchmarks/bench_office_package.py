"""Build + sign time of a full resident's package (10 WSQ fingers, 2 irises, face, signature).

Real images when ../shared/data is there (FVC2002 DB1 B fingers, CASIA-IrisV1 eyes and an LFW
face brought to capture sizes: irises 640x480, face 480x640; an SVC2004 online signature), else
synthetic ones. CPU time of this process (one core), median of --repeat builds; reading and
verifying the same package is timed in the same run as the reference. Issue 21: <= 1 s.

    .venv/bin/python benchmarks/bench_office_package.py --repeat 10
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from biocap.evaluation.data import data_path
from biocap.office import CaptureRecord, KeyRing
from biocap.office import package as P
from biocap.office.records import EnrollmentInfo, ResidentRecord
from biocap.types import FingerPosition, IrisPosition, Modality, PenSeries, Sample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from office_helpers import full_record  # noqa: E402


def real_record() -> ResidentRecord | None:
    fp = data_path("fingerprint", "fvc2002_db1_b")
    iris = data_path("iris", "casia_irisv1")
    face = data_path("face", "lfw7x50")
    sig = data_path("signature", "svc2004_task2", "U1S1.TXT")
    if not (fp.exists() and iris.exists() and face.exists() and sig.exists()):
        return None
    t = datetime.now(timezone.utc)
    caps = []
    for pos in range(1, 11):
        img = cv2.imread(str(fp / f"{100 + pos}_1.tif"), cv2.IMREAD_GRAYSCALE)
        caps.append(CaptureRecord(f"finger-{pos}", Modality.FINGERPRINT, pos,
                                  Sample(img, 500, Modality.FINGERPRINT, FingerPosition(pos)),
                                  {"score": 60}, captured_at=t))
    for eye, name in ((IrisPosition.RIGHT, "001_1_1.jpg"), (IrisPosition.LEFT, "002_1_1.jpg")):
        img = cv2.imread(str(iris / str(int(name[:3])) / name), cv2.IMREAD_GRAYSCALE)
        img = cv2.resize(img, (640, 480), interpolation=cv2.INTER_CUBIC)
        caps.append(CaptureRecord(f"iris-{int(eye)}", Modality.IRIS, int(eye),
                                  Sample(img, 500, Modality.IRIS, eye), {"score": 70}, captured_at=t))
    person = sorted(face.iterdir())[0]
    img = cv2.imread(str(sorted(person.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    img = cv2.resize(img, (480, 640), interpolation=cv2.INTER_CUBIC)
    caps.append(CaptureRecord("face", Modality.FACE, 0, Sample(img, 300, Modality.FACE), {"score": 60},
                              captured_at=t))
    rows = np.loadtxt(sig, skiprows=1)
    x, y = rows[:, 0] - rows[:, 0].min(), rows[:, 1] - rows[:, 1].min()
    scale = 780 / max(x.max(), y.max() * 2.6, 1)
    x, y = x * scale + 10, (y.max() - y) * scale + 10
    canvas = np.full((320, 800), 255, np.uint8)
    pts = np.stack([x, y], 1).astype(np.int32)
    down = rows[:, 3] > 0
    for a, b, d in zip(pts[:-1], pts[1:], down[1:]):
        if d:
            cv2.line(canvas, tuple(map(int, a)), tuple(map(int, b)), 0, 2)
    pen = PenSeries(x, y, rows[:, 6], rows[:, 2] - rows[0, 2], down)
    caps.append(CaptureRecord("signature", Modality.SIGNATURE, 0,
                              Sample(canvas, 200, Modality.SIGNATURE, pen=pen), captured_at=t))
    info = EnrollmentInfo("f" * 32, "finished", t.isoformat(), t.isoformat(), True, "ktp", "op", None)
    return ResidentRecord("3201010101010001", info, {"name": "Siti Rahayu"}, {}, caps, [], [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "office_package.md")
    args = ap.parse_args()
    record = real_record()
    source = "shared data (FVC2002 DB1 B, CASIA-IrisV1 at 640x480, LFW at 480x640, SVC2004)"
    if record is None:
        record, source = full_record(), "synthetic images (no shared data)"
    with tempfile.TemporaryDirectory() as d:
        office = KeyRing.create(Path(d) / "k", "office-1").identity
    trusted = {office.office_id: office.public_key}
    build, read, wsq, jp2, sign, wall = [], [], [], [], [], []
    for _ in range(args.repeat):  # build and read alternate in one run
        w0, t0 = time.perf_counter(), time.process_time()
        data = P.build_package(record, office=office, previous_hash=None)
        build.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
        t0 = time.process_time()
        P.read_package(data, trusted=trusted)
        read.append(time.process_time() - t0)
        t0 = time.process_time()
        for c in record.captures:
            if c.modality is Modality.FINGERPRINT:
                P.wsq_encode(c.sample.image, c.sample.ppi)
        wsq.append(time.process_time() - t0)
        t0 = time.process_time()
        for c in record.captures:
            if c.modality in (Modality.IRIS, Modality.FACE):
                P.jp2_encode(c.sample.image)
        jp2.append(time.process_time() - t0)
        t0 = time.process_time()
        office.signing_key.sign(data)
        sign.append(time.process_time() - t0)
    # what the WSQ rate costs in bytes: the same resident at the FBI's 15:1 rate (0.75 bit/pixel)
    rate, P.WSQ_BITRATE = P.WSQ_BITRATE, 0.75
    fbi = P.build_package(record, office=office, previous_hash=None)
    fbi_fingers = sum(len(P.wsq_encode(c.sample.image, c.sample.ppi)) for c in record.captures
                      if c.modality is Modality.FINGERPRINT)
    P.WSQ_BITRATE = rate
    fingers = sum(len(P.wsq_encode(c.sample.image, c.sample.ppi)) for c in record.captures
                  if c.modality is Modality.FINGERPRINT)
    med = statistics.median
    lines = [
        "# Package build + sign time of a full resident", "",
        f"Command: `.venv/bin/python benchmarks/bench_office_package.py --repeat {args.repeat}`", "",
        f"Resident: 10 fingers (WSQ), 2 irises + face (JPEG 2000 lossless), signature image + pen "
        f"vectors; {source}. Package {len(data) / 1e3:.0f} kB.", "",
        f"| step (CPU seconds, median of {args.repeat}, one process) | s |", "|---|---|",
        f"| build + sign the whole package | {med(build):.3f} |",
        f"| of which: 10 WSQ encodings | {med(wsq):.3f} |",
        f"| of which: 3 JPEG 2000 lossless encodings | {med(jp2):.3f} |",
        f"| of which: Ed25519 signature over the bytes | {med(sign):.4f} |",
        f"| reference: read + verify + decode the same package | {med(read):.3f} |",
        f"| wall clock of build + sign (machine shared) | {med(wall):.3f} |", "",
        f"Size: package {len(data) / 1e3:.0f} kB with the 10 fingers' WSQ at {P.WSQ_BITRATE:g} "
        f"bit/pixel ({fingers / 1e3:.0f} kB of it); at 0.75 bit/pixel (FBI 15:1) the fingers take "
        f"{fbi_fingers / 1e3:.0f} kB and the package {len(fbi) / 1e3:.0f} kB "
        f"(+{(fingers - fbi_fingers) / 1e3:.0f} kB, x{fingers / fbi_fingers:.2f} for the fingers).", "",
        f"Build / read ratio: {med(build) / med(read):.2f}. Target <= 1 s: "
        f"{'met' if med(build) <= 1.0 else 'NOT met'} ({med(build):.3f} s CPU).", ""]
    args.out.write_text("\n".join(lines))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
