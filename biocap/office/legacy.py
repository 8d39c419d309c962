"""Compatibility: the old `EnrollmentStore` API (formerly `biocap.store`) on the office store.

Kept for `biocap demo` until the demo moves to the station's enrollment session; new code uses
`biocap.office.store.OfficeStore`. Keys come from `keys=`, else $BIOCAP_KEYS, else a key
directory `<store>.keys/` made beside the store on first use (the demo's convenience: a real
office keeps its keys apart from the store, see docs/office.md).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from ..errors import InvalidDataError
from ..types import Sample
from .errors import StoreError
from .keys import KEYS_ENV, KeyRing
from .records import CaptureRecord
from .store import OfficeStore

__all__ = ["EnrollmentStore", "StoreError"]

MAX_SAMPLES_PER_ENROLLMENT = 64


def _default_keys(path: Path) -> KeyRing:
    if os.environ.get(KEYS_ENV):
        return KeyRing.from_env()
    directory = path.with_name(path.name + ".keys")
    if directory.is_dir():
        return KeyRing.load(directory)
    return KeyRing.create(directory, office_id="local")


class EnrollmentStore:
    def __init__(self, path: str | Path, *, keys: KeyRing | None = None):
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"{path} is a folder, not a store file")
        self._store = OfficeStore(path, keys=keys or _default_keys(path))
        self.path = path

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> "EnrollmentStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._store.schema_version

    @property
    def office(self) -> OfficeStore:
        return self._store

    def add_enrollment(self, subject: str, items: Iterable[tuple[Sample, Any]],
                       metadata: dict[str, Any] | None = None) -> str:
        """Store one enrollment (samples with their quality reports, or None); its id."""
        items = list(items)
        if not items:
            raise InvalidDataError("an enrollment needs at least one sample")
        if len(items) > MAX_SAMPLES_PER_ENROLLMENT:
            raise InvalidDataError(f"{len(items)} samples exceed the {MAX_SAMPLES_PER_ENROLLMENT} "
                                   "per enrollment")
        captures = []
        for i, item in enumerate(items):
            try:
                sample, report = item
            except (TypeError, ValueError):
                raise InvalidDataError(f"item {i} must be a (Sample, QualityReport or None) pair") from None
            if not isinstance(sample, Sample):
                raise InvalidDataError(f"item {i} holds a {type(sample).__name__}, not a Sample")
            if report is not None and not hasattr(report, "to_json"):
                raise InvalidDataError(f"item {i}: quality report must be a QualityReport")
            captures.append(CaptureRecord(
                step=f"sample-{i + 1}", modality=sample.modality,
                position=0 if sample.position is None else int(sample.position), sample=sample,
                quality=report.to_json() if report is not None else None,
                captured_at=sample.captured_at))
        eid = self._store.begin_enrollment(subject, policy="legacy", operator="biocap",
                                           metadata=metadata)
        for c in captures:
            self._store.put_capture(eid, c)
        self._store.finish_enrollment(eid, complete=True)
        return eid

    def enrollments(self, subject: str | None = None) -> list[dict[str, Any]]:
        subjects = [subject] if subject is not None else self._store.subjects()
        out = []
        for s in subjects:
            try:
                rec = self._store.record(s)
            except StoreError:
                continue
            for info in [*rec.history, rec.enrollment]:
                out.append({"id": info.enrollment_id, "subject": s, "created_at": info.started_at,
                            "metadata": rec.metadata if info is rec.enrollment else {}})
        return out

    def samples(self, enrollment_id: str) -> list[dict[str, Any]]:
        return [{"id": f"{enrollment_id}/{c.step}", "modality": c.modality.value,
                 "position": c.position, "ppi": c.sample.ppi, "width": c.sample.width,
                 "height": c.sample.height, "quality": c.quality}
                for c in self._store.captures(enrollment_id)]

    def load_sample(self, sample_id: str) -> Sample:
        enrollment_id, _, step = str(sample_id).partition("/")
        for c in self._store.captures(enrollment_id):
            if c.step == step:
                return c.sample
        raise InvalidDataError(f"no stored sample {sample_id}")

    def check_integrity(self) -> list[str]:
        return self._store.check_integrity()
