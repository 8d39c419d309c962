"""A local enrollment store: subjects' samples, metadata and quality reports in one SQLite file.

Safety first: every enrollment is written in one transaction (all of it or nothing), inputs are
validated and encoded before the transaction starts, the journal is synchronous, and a file that
is not a biocap store is refused rather than touched. `check_integrity()` runs SQLite's own check
and verifies each stored image against its SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from .errors import BiocapError, InvalidDataError
from .types import FingerPosition, IrisPosition, Modality, PenSeries, Sample

SCHEMA_VERSION = 1
APPLICATION_ID = 0x42494F43  # "BIOC": marks the file as a biocap store
SQLITE_MAGIC = b"SQLite format 3\x00"
MAX_SUBJECT_LEN = 256
MAX_SAMPLES_PER_ENROLLMENT = 64

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE enrollments (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    created_at TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY,
    enrollment_id INTEGER NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    modality TEXT NOT NULL,
    position INTEGER,
    ppi REAL NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    image_png BLOB NOT NULL,
    image_sha256 TEXT NOT NULL,
    pen TEXT,
    record TEXT NOT NULL,
    quality TEXT
);
CREATE INDEX samples_by_enrollment ON samples(enrollment_id);
CREATE INDEX enrollments_by_subject ON enrollments(subject);
"""


class StoreError(BiocapError):
    hint = "check the path; the store is never overwritten, so restore it from a backup if damaged"


class EnrollmentStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a store file")
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                if fh.read(16) != SQLITE_MAGIC:
                    raise StoreError(f"{self.path} is not an SQLite file; refusing to touch it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA synchronous = FULL")
            self._prepare()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} cannot be opened as a store: {exc}") from exc

    def _prepare(self) -> None:
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables == 0 and version == 0:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    self._db.execute(statement)
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return
        if app_id != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite file but not a biocap enrollment store")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}; this biocap reads up to "
                             f"{SCHEMA_VERSION}", hint="upgrade biocap")
        if version < 1:
            raise StoreError(f"{self.path} has an unknown schema version {version}")

    # --- life cycle ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "EnrollmentStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # --- writing ------------------------------------------------------------------------------
    def add_enrollment(self, subject: str, items: Iterable[tuple[Sample, Any]],
                       metadata: dict[str, Any] | None = None) -> int:
        """Store one enrollment (samples with their quality reports, or None) atomically."""
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LEN:
            raise InvalidDataError(f"subject must be a non-empty string of at most "
                                   f"{MAX_SUBJECT_LEN} characters, got {subject!r}")
        items = list(items)
        if not items:
            raise InvalidDataError("an enrollment needs at least one sample")
        if len(items) > MAX_SAMPLES_PER_ENROLLMENT:
            raise InvalidDataError(f"{len(items)} samples exceed the {MAX_SAMPLES_PER_ENROLLMENT} "
                                   "per enrollment")
        try:
            meta_json = json.dumps(metadata or {}, default=str)
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"enrollment metadata is not serialisable: {exc}") from exc
        rows = [self._encode(i, item) for i, item in enumerate(items)]  # all checks before writing
        now = datetime.now(timezone.utc).isoformat()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cur = self._db.execute("INSERT INTO enrollments (subject, created_at, metadata) "
                                   "VALUES (?, ?, ?)", (subject, now, meta_json))
            enrollment_id = int(cur.lastrowid)
            for row in rows:
                self._db.execute(
                    "INSERT INTO samples (enrollment_id, modality, position, ppi, width, height, "
                    "image_png, image_sha256, pen, record, quality) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (enrollment_id, *row))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return enrollment_id

    @staticmethod
    def _encode(index: int, item) -> tuple:
        try:
            sample, report = item
        except (TypeError, ValueError):
            raise InvalidDataError(f"item {index} must be a (Sample, QualityReport or None) pair") from None
        if not isinstance(sample, Sample):
            raise InvalidDataError(f"item {index} holds a {type(sample).__name__}, not a Sample")
        ok, png = cv2.imencode(".png", sample.image)
        if not ok:
            raise InvalidDataError(f"sample {index} could not be encoded as PNG")
        png = png.tobytes()
        pen = None
        if sample.pen is not None:
            pen = json.dumps({k: np.asarray(getattr(sample.pen, k)).tolist()
                              for k in ("x", "y", "pressure", "t_ms", "pen_down")})
        quality = None
        if report is not None:
            if not hasattr(report, "to_json"):
                raise InvalidDataError(f"item {index}: quality report must be a QualityReport")
            quality = json.dumps(report.to_json(), default=str)
        record = json.dumps({
            "captured_at": sample.captured_at.isoformat(),
            "device": sample.device.to_json() if sample.device else None,
            "device_quality": sample.device_quality,
            "metadata": sample.metadata,
        }, default=str)
        position = None if sample.position is None else int(sample.position)
        return (sample.modality.value, position, float(sample.ppi), sample.width, sample.height,
                png, hashlib.sha256(png).hexdigest(), pen, record, quality)

    # --- reading ------------------------------------------------------------------------------
    def enrollments(self, subject: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT id, subject, created_at, metadata FROM enrollments"
        args: tuple = ()
        if subject is not None:
            query += " WHERE subject = ?"
            args = (subject,)
        return [{"id": r[0], "subject": r[1], "created_at": r[2], "metadata": json.loads(r[3])}
                for r in self._db.execute(query + " ORDER BY id", args)]

    def samples(self, enrollment_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, modality, position, ppi, width, height, record, quality FROM samples "
            "WHERE enrollment_id = ? ORDER BY id", (int(enrollment_id),)).fetchall()
        return [{"id": r[0], "modality": r[1], "position": r[2], "ppi": r[3], "width": r[4],
                 "height": r[5], "record": json.loads(r[6]),
                 "quality": json.loads(r[7]) if r[7] else None} for r in rows]

    def load_sample(self, sample_id: int) -> Sample:
        row = self._db.execute("SELECT modality, position, ppi, image_png, image_sha256, pen, "
                               "record FROM samples WHERE id = ?", (int(sample_id),)).fetchone()
        if row is None:
            raise InvalidDataError(f"no stored sample {sample_id}")
        modality, position, ppi, png, digest, pen, record = row
        if hashlib.sha256(png).hexdigest() != digest:
            raise StoreError(f"stored sample {sample_id} is damaged (image checksum mismatch)")
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        modality = Modality(modality)
        if position is not None:
            position = (IrisPosition if modality is Modality.IRIS else FingerPosition)(position)
        pen_series = None
        if pen:
            cols = {k: np.asarray(v) for k, v in json.loads(pen).items()}
            pen_series = PenSeries(**cols)
        record = json.loads(record)
        return Sample(image=image, ppi=ppi, modality=modality, position=position,
                      captured_at=datetime.fromisoformat(record["captured_at"]),
                      device_quality=record.get("device_quality"), pen=pen_series,
                      metadata=record.get("metadata") or {})

    def check_integrity(self) -> list[str]:
        """Problems found (empty when the store is sound)."""
        problems = []
        result = [r[0] for r in self._db.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            problems += [f"sqlite: {r}" for r in result]
        for row in self._db.execute("PRAGMA foreign_key_check"):
            problems.append(f"dangling reference in {row[0]} row {row[1]}")
        for sample_id, png, digest in self._db.execute("SELECT id, image_png, image_sha256 FROM samples"):
            if hashlib.sha256(png).hexdigest() != digest:
                problems.append(f"sample {sample_id}: image checksum mismatch")
        return problems
