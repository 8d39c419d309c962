"""Samples every driver delivers, hashed field by field, for the driver-base identity check.

Run from outside the checkout so that `PYTHONPATH` decides which tree (biocap and the plugins)
is imported; see README.md. Covers: the NB-1010 and AES3500 recordings of real sensors
(../shared/data/usb, skipped without it), a recording the project makes of the simulated scanner,
and every simulated sensor driven directly on a seeded emulated bus (single finger, slap, both
irises at once, one iris, face, signature with its pen series), with and without faults the
drivers recover from (corrupted chunks, a busy reply, a lost transfer).
"""
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import biocap
import biocap_vendor_sim
from biocap.errors import RetryableError
from biocap.plugins.recording import assert_consumed, open_recording
from biocap.plugins.recording.recorder import record_session
from biocap.types import CaptureRequest
from biocap_vendor_sim.drivers import (SimFaceDriver, SimFingerprintDriver, SimIrisDriver,
                                       SimSignatureDriver)
from biocap_vendor_sim.plugin import make_bus

DATA = Path(os.environ.get("BIOCAP_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
out: dict = {"_trees": [str(Path(biocap.__file__).parent), str(Path(biocap_vendor_sim.__file__).parent)]}


def h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def describe(sample) -> dict:
    pen = sample.pen
    return {"image": h(sample.image.tobytes()) + f" {sample.image.shape} {sample.image.dtype}",
            "ppi": repr(sample.ppi), "modality": sample.modality.value,
            "position": repr(sample.position), "device_quality": sample.device_quality,
            "device": sample.device.id if sample.device is not None else None,
            "metadata": json.dumps(sample.metadata, sort_keys=True, default=repr),
            "pen": None if pen is None else h(b"".join(
                getattr(pen, f).tobytes() for f in ("x", "y", "pressure", "t_ms", "pen_down"))),
            "colour": None if sample.colour is None else h(sample.colour.tobytes())}


def run(driver_cls, bus, position, n_frames, key, *, retries=20):
    """Open the driver's device on `bus`, take `n_frames` items of `frames`, close."""
    dev = next(d for d in bus.find_all() if driver_cls.handles(d))
    driver = driver_cls(dev, bus)
    driver.open()
    got = []
    try:
        deadline = time.monotonic() + 20
        request = CaptureRequest(driver_cls.modality, timeout_s=20)
        for _ in range(retries):
            try:
                for item in driver.frames(request, position, deadline):
                    got.append(item)
                    if len(got) >= n_frames:
                        break
                break
            except RetryableError as exc:  # as the SDK does: retry the stream
                got.append(f"retried {type(exc).__name__}")
    finally:
        driver.close()
    for i, item in enumerate(got):
        items = item if isinstance(item, tuple) else (item,)
        for j, s in enumerate(items):
            out[f"{key}/{i}/{j}"] = s if isinstance(s, str) else describe(s)


for name, cls_path in (("nb1010", "biocap_nb1010.Nb1010Driver"),
                       ("aes3500", "biocap_aes3500.Aes3500Driver")):
    folder = DATA / "usb" / name
    if not folder.is_dir():
        out[f"replay/{name}"] = "skipped: no recording"
        continue
    module, _, cls_name = cls_path.rpartition(".")
    driver_cls = getattr(__import__(module), cls_name)
    bus = open_recording(folder)
    run(driver_cls, bus, 2, 1, f"replay/{name}")
    assert_consumed(bus)

# a recording the project makes itself (docs/writing-a-driver.md section 0), then its replay
with tempfile.TemporaryDirectory() as tmp:
    record_session(make_bus("rec", seed=5, faults={}, modalities=("fingerprint",)), tmp,
                   lambda bus: run(SimFingerprintDriver, bus, 2, 2, "sim-recording/live"))
    bus = open_recording(tmp)
    run(SimFingerprintDriver, bus, 2, 2, "sim-recording/replay")
    assert_consumed(bus)
    out["sim-recording/ioctl"] = h((Path(tmp) / "capture.ioctl").read_bytes())

CASES = ((SimFingerprintDriver, 2, 3), (SimFingerprintDriver, 13, 1), (SimIrisDriver, None, 2),
         (SimIrisDriver, 2, 1), (SimFaceDriver, None, 2), (SimSignatureDriver, None, 1))
for faults in ("", "corrupt@9*2", "busy@6", "timeout@7"):
    for seed in (0, 3):
        for driver_cls, position, n in CASES:
            modality = driver_cls.modality.value
            bus = make_bus("sim-id", seed=seed, faults=f"{modality}={faults}" if faults else {},
                           modalities=(modality,))
            run(driver_cls, bus, position, n, f"sim/{faults or 'clean'}/{seed}/{driver_cls.name}/{position}")

json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print(f"{len(out)} keys -> {sys.argv[1]}")
