"""Shared builders for the office tests: keys, captures and a full synthetic resident."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from biocap.office import CaptureRecord, KeyRing, OfficeStore
from biocap.types import FingerPosition, IrisPosition, Modality, PenSeries, Sample


def make_keys(tmp_path, office_id="office-1", name="keys"):
    return KeyRing.create(tmp_path / name, office_id)


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
