"""Shared builders for the office tests: keys, captures and a full synthetic resident."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from biocap.office import CaptureRecord, KeyRing, OfficeStore
from biocap.types import FingerPosition, IrisPosition, Modality, PenSeries, Sample


def make_keys(tmp_path, office_id="office-1", name="keys"):
    return KeyRing.create(tmp_path / name, office_id)


def open_office(tmp_path):
    """(store, keys): a new office key directory and store in tmp_path."""
    keys = make_keys(tmp_path)
    return OfficeStore(tmp_path / "o.db", keys=keys), keys


def finger_capture(position=2, seed=0, size=(120, 100)):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size, dtype=np.uint8)
    pos = FingerPosition(position)
    return CaptureRecord(step=f"finger-{position}", modality=Modality.FINGERPRINT, position=position,
                         sample=Sample(img, 500, Modality.FINGERPRINT, pos, device_quality=70),
                         quality={"score": 55 + position}, templates={"iso19794-2:2011": b"FMR\0" + bytes([seed % 256]) * 20},
                         captured_at=datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc))


def signature_capture():
    pen = PenSeries(np.arange(6.0), np.arange(6.0) * 2, np.linspace(0, 1, 6), np.arange(6.0) * 10,
                    np.ones(6, bool))
    return CaptureRecord(step="signature", modality=Modality.SIGNATURE, position=0,
                         sample=Sample(np.full((40, 90), 255, np.uint8), 200, Modality.SIGNATURE, pen=pen))


def enroll(store: OfficeStore, subject: str, *, fingers=(2, 7), seed=0, name="Siti Rahayu",
           finish=True) -> str:
    eid = store.begin_enrollment(subject, policy="ktp-2026", operator="operator-ani",
                                 metadata={"name": name})
    for i, pos in enumerate(fingers):
        store.put_capture(eid, finger_capture(pos, seed=seed * 100 + i))
    if finish:
        store.finish_enrollment(eid, complete=True, summary={"fingers": len(fingers)})
    return eid


def ridge_image(h=500, w=400, seed=0, period=9.0):
    """A cheap fingerprint-like image: curved ridges at a ridge period, noise, a bright border."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * (0.4 + 0.2 * rng.random()), h * (0.4 + 0.2 * rng.random())
    r = np.hypot(xx - cx, (yy - cy) * 1.3)
    img = 128 + 90 * np.sin(2 * np.pi * r / period + rng.random() * 6) + rng.normal(0, 12, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def full_record(subject="3201010101010001", *, fingers=range(1, 11), slaps=(), seed=0,
                finger_image=None, small=False):
    """A finished ResidentRecord: fingers (+ slaps), both irises, face, an online signature."""
    from biocap.office.records import EnrollmentInfo, ExceptionRecord, ResidentRecord
    rng = np.random.default_rng(seed)
    t = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
    caps = []
    for p in fingers:
        img = finger_image(p) if finger_image else ridge_image(*((64, 64) if small else (500, 400)),
                                                               seed=seed * 31 + p)
        caps.append(CaptureRecord(f"finger-{p}", Modality.FINGERPRINT, p,
                                  Sample(img, 500, Modality.FINGERPRINT, FingerPosition(p)),
                                  {"score": 40 + p}, {"iso19794-2:2011": b"FMR\x00 020\x00" + bytes([p]) * 30},
                                  captured_at=t))
    for p in slaps:
        caps.append(CaptureRecord(f"slap-{p}", Modality.FINGERPRINT, p,
                                  Sample(ridge_image(400, 640, seed + p), 500, Modality.FINGERPRINT,
                                         FingerPosition(p)), {"score": 50}, captured_at=t))
    for eye in (IrisPosition.RIGHT, IrisPosition.LEFT):
        iris = np.clip(rng.normal(120, 30, (48, 64) if small else (480, 640)), 0, 255).astype(np.uint8)
        caps.append(CaptureRecord(f"iris-{int(eye)}", Modality.IRIS, int(eye),
                                  Sample(iris, 500, Modality.IRIS, eye), {"score": 77}, captured_at=t))
    face = np.clip(rng.normal(128, 40, (64, 48) if small else (640, 480)), 0, 255).astype(np.uint8)
    caps.append(CaptureRecord("face", Modality.FACE, 0, Sample(face, 300, Modality.FACE),
                              {"score": 66}, captured_at=t))
    sig = signature_capture()
    caps.append(sig)
    info = EnrollmentInfo("e" * 32, "finished", t.isoformat(), t.isoformat(), True, "ktp-2026",
                          "operator-ani", None)
    exc = [ExceptionRecord("finger-9", Modality.FINGERPRINT, 9, "amputated", "since 2019")] \
        if 9 not in fingers else []
    return ResidentRecord(subject=subject, enrollment=info, metadata={"name": "Siti Rahayu"},
                          summary={}, captures=caps, exceptions=exc, history=[])
