"""Enrollment store: round trip, atomic writes, hostile input, integrity check."""
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.quality.report import QualityReport
from biocap.store import EnrollmentStore, StoreError
from biocap.types import FingerPosition, IrisPosition, Modality, PenSeries, Sample


def _samples():
    rng = np.random.default_rng(0)
    fp = Sample(rng.integers(0, 255, (50, 40), dtype=np.uint8), 500, Modality.FINGERPRINT,
                FingerPosition.RIGHT_INDEX, device_quality=70, metadata={"frame": 3})
    iris = Sample(rng.integers(0, 255, (28, 32), dtype=np.uint8), 420, Modality.IRIS, IrisPosition.LEFT)
    pen = PenSeries(np.arange(5.0), np.arange(5.0), np.ones(5), np.arange(5.0) * 10, np.ones(5, bool))
    sig = Sample(np.full((30, 60), 255, np.uint8), 200, Modality.SIGNATURE, pen=pen)
    return [(fp, QualityReport(Modality.FINGERPRINT, 66, "test")),
            (iris, QualityReport.unscored(Modality.IRIS, "no provider")), (sig, None)]


def test_round_trip(tmp_path):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        eid = store.add_enrollment("subject-1", _samples(), metadata={"site": "A"})
        assert store.schema_version == 1
    with EnrollmentStore(path) as store:
        (e,) = store.enrollments("subject-1")
        assert e["id"] == eid and e["metadata"] == {"site": "A"}
        rows = store.samples(eid)
        assert [r["modality"] for r in rows] == ["fingerprint", "iris", "signature"]
        assert rows[0]["quality"]["score"] == 66 and rows[1]["quality"]["score"] is None
        fp = store.load_sample(rows[0]["id"])
        assert np.array_equal(fp.image, _samples()[0][0].image)
        assert fp.position is FingerPosition.RIGHT_INDEX and fp.device_quality == 70
        sig = store.load_sample(rows[2]["id"])
        assert np.array_equal(sig.pen.t_ms, np.arange(5.0) * 10)
        assert store.check_integrity() == []


@pytest.mark.parametrize("subject, items", [
    ("", None), ("x" * 300, None), (None, None), ("s", []), ("s", [("not a sample", None)]),
    ("s", [1, 2]),
])
def test_bad_input_is_refused_and_loses_nothing(tmp_path, subject, items):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        store.add_enrollment("kept", _samples())
        with pytest.raises(InvalidDataError):
            store.add_enrollment(subject, _samples() if items is None else items)
        assert [e["subject"] for e in store.enrollments()] == ["kept"]
        assert len(store.samples(1)) == 3 and store.check_integrity() == []


def test_failure_mid_write_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        store.add_enrollment("kept", _samples())
        real = store._db

        class Failing:
            n = 0

            def execute(self, sql, *args):
                if sql.startswith("INSERT INTO samples"):
                    Failing.n += 1
                    if Failing.n == 2:
                        raise sqlite3.OperationalError("disk I/O error")
                return real.execute(sql, *args)

        store._db = Failing()
        with pytest.raises(sqlite3.OperationalError):
            store.add_enrollment("lost", _samples())
        store._db = real
        assert [e["subject"] for e in store.enrollments()] == ["kept"]
        assert real.execute("SELECT count(*) FROM samples").fetchone()[0] == 3


def test_process_killed_mid_transaction_keeps_earlier_data(tmp_path):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        store.add_enrollment("kept", _samples())
    script = textwrap.dedent(f"""
        import os
        from biocap.store import EnrollmentStore
        store = EnrollmentStore({str(path)!r})
        store._db.execute("BEGIN IMMEDIATE")
        store._db.execute("INSERT INTO enrollments (subject, created_at, metadata) VALUES ('half', 'now', '{{}}')")
        os._exit(9)  # crash before COMMIT
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == 9
    with EnrollmentStore(path) as store:
        assert [e["subject"] for e in store.enrollments()] == ["kept"]
        assert store.check_integrity() == []


def test_foreign_files_are_refused_untouched(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_bytes(b"my precious notes")
    with pytest.raises(StoreError, match="not an SQLite file"):
        EnrollmentStore(text)
    assert text.read_bytes() == b"my precious notes"
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a biocap"):
        EnrollmentStore(other)
    with pytest.raises(StoreError, match="folder"):
        EnrollmentStore(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "e.sqlite"
    EnrollmentStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        EnrollmentStore(path)


def test_integrity_check_finds_a_damaged_image(tmp_path):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        store.add_enrollment("s", _samples())
    db = sqlite3.connect(path)
    db.execute("UPDATE samples SET image_png = x'00' WHERE id = 1")
    db.commit()
    db.close()
    with EnrollmentStore(path) as store:
        assert any("checksum" in p for p in store.check_integrity())
        with pytest.raises(StoreError, match="damaged"):
            store.load_sample(1)
