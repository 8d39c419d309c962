"""Schema migrations of the office store.

1 -> 2: the plaintext `EnrollmentStore` of biocap <= 0.1 (tables meta, enrollments, samples) becomes
the encrypted schema: each old enrollment a finished enrollment, each sample a capture
(`sample-<id>`), all in one transaction; the old tables are dropped and the file vacuumed so no
plaintext page stays behind.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..types import FingerPosition, IrisPosition, Modality, PenSeries, Sample
from .records import CaptureRecord, encode_capture

if TYPE_CHECKING:
    from .store import OfficeStore

V1_TABLES = ("meta", "enrollments", "samples")


def _v1_sample(row) -> CaptureRecord:
    sid, modality, position, ppi, png, pen, record, quality = row
    modality = Modality(modality)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    pos = None
    if position is not None:
        pos = (IrisPosition if modality is Modality.IRIS else FingerPosition)(position) \
            if modality in (Modality.IRIS, Modality.FINGERPRINT) else None
    pen_series = None
    if pen:
        pen_series = PenSeries(**{k: np.asarray(v) for k, v in json.loads(pen).items()})
    rec = json.loads(record)
    sample = Sample(image=image, ppi=ppi, modality=modality, position=pos,
                    captured_at=datetime.fromisoformat(rec["captured_at"]),
                    device_quality=rec.get("device_quality"), pen=pen_series,
                    metadata=rec.get("metadata") or {})
    return CaptureRecord(step=f"sample-{sid}", modality=modality, position=position or 0,
                         sample=sample, quality=json.loads(quality) if quality else None,
                         captured_at=sample.captured_at)


def migrate_v1(store: "OfficeStore") -> None:
    db = store._db
    db.execute("BEGIN EXCLUSIVE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != 1:  # another process migrated it
            db.execute("ROLLBACK")
            return
        for t in V1_TABLES:
            db.execute(f"ALTER TABLE {t} RENAME TO v1_{t}")
        db.execute("DROP INDEX IF EXISTS samples_by_enrollment")
        db.execute("DROP INDEX IF EXISTS enrollments_by_subject")
        store._create(migrating=True)
        old = db.execute("SELECT id, subject, created_at, metadata FROM v1_enrollments "
                         "ORDER BY id").fetchall()
        for eid, subject, created_at, metadata in old:
            tag = store.subject_tag(subject)
            previous = db.execute("SELECT uuid FROM enrollments WHERE subject_tag = ? ORDER BY id",
                                  (tag,)).fetchall()
            replaces = previous[-1][0] if previous else None
            new_id = f"v1-{eid:08d}"
            info = {"subject": subject, "policy": "migrated-v1", "operator": "migration",
                    "metadata": json.loads(metadata), "summary": {}, "complete": True}
            store._write_enrollment(new_id, tag, "open", created_at, None, replaces, info, insert=True)
            store._audit("enrollment.begin", new_id, {"operator": "migration", "policy": "migrated-v1",
                                                      "subject_tag": tag.hex(), "replaces": replaces})
            for row in db.execute("SELECT id, modality, position, ppi, image_png, pen, record, quality "
                                  "FROM v1_samples WHERE enrollment_id = ? ORDER BY id", (eid,)).fetchall():
                capture = _v1_sample(row)
                plain = encode_capture(capture)
                digest = store._digest("capture", plain)
                body = store._seal(plain, f"captures|{new_id}|{capture.step}")
                db.execute("INSERT INTO captures (enrollment, step, digest, body, mac) VALUES (?,?,?,?,?)",
                           (new_id, capture.step, digest, body,
                            store._mac("captures", new_id, capture.step, digest, body)))
                store._audit("capture.put", f"{new_id}/{capture.step}",
                             {"digest": digest.hex(), "replaced": None, "migrated": True})
            store._write_enrollment(new_id, tag, "finished", created_at, store.now(), replaces, info,
                                    insert=False)
            store._audit("enrollment.finish", new_id, {"complete": True})
        for t in V1_TABLES:
            db.execute(f"DROP TABLE v1_{t}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("VACUUM")  # the dropped plaintext pages leave the file
