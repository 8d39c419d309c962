"""Office store: round trip, idempotency, history, keys, rotation, migration, tampering."""
import os
import sqlite3
import stat

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.office import KeyRing, MissingKeys, OfficeStore, StoreDamaged, StoreError, UnknownSubject
from biocap.types import Modality

from office_helpers import enroll, finger_capture, make_keys, signature_capture


@pytest.fixture
def keys(tmp_path):
    return make_keys(tmp_path)


def test_round_trip_idempotent_and_history(tmp_path, keys):
    path = tmp_path / "office.db"
    with OfficeStore(path, keys=keys) as store:
        eid = store.begin_enrollment("3201010101010001", policy="ktp", operator="ani",
                                     metadata={"name": "Siti"})
        c = finger_capture(2)
        store.put_capture(eid, c)
        store.put_capture(eid, c)  # same step, same content: a no-op
        store.put_capture(eid, signature_capture())
        store.put_exception(eid, "finger-6", Modality.FINGERPRINT, 6, "amputated", "since 2019")
        assert store.open_enrollment("3201010101010001") == eid
        with pytest.raises(StoreError, match="unfinished"):
            store.begin_enrollment("3201010101010001", policy="ktp", operator="ani")
        store.finish_enrollment(eid, complete=False, summary={"missing": [6]})
        with pytest.raises(StoreError, match="finished"):
            store.put_capture(eid, finger_capture(3))
        assert store.open_enrollment("3201010101010001") is None
        eid2 = store.begin_enrollment("3201010101010001", policy="ktp", operator="budi")
        store.put_capture(eid2, finger_capture(2, seed=5))
        store.finish_enrollment(eid2, complete=True)
        assert store.schema_version == 2
    with OfficeStore(path, keys=keys) as store:
        rec = store.record("3201010101010001")
        assert rec.enrollment_id == eid2 and rec.enrollment.replaces == eid
        assert [h.enrollment_id for h in rec.history] == [eid]
        assert rec.history[0].complete is False and rec.enrollment.operator == "budi"
        first = store.captures(eid)
        assert [c.step for c in first] == ["finger-2", "signature"]
        assert np.array_equal(first[0].sample.image, finger_capture(2).sample.image)
        assert first[0].templates == finger_capture(2).templates
        assert np.array_equal(first[1].sample.pen.t_ms, signature_capture().sample.pen.t_ms)
        assert store.exceptions(eid)[0].code == "amputated"
        assert store.check_integrity() == []
        actions = [e["action"] for e in store.audit_log()]
        assert actions.count("capture.put") == 3  # the repeated put is not a second write
        with pytest.raises(UnknownSubject):
            store.record("nobody")


def test_replaced_capture_keeps_both_digests_in_audit(tmp_path, keys):
    with OfficeStore(tmp_path / "o.db", keys=keys) as store:
        eid = store.begin_enrollment("s", policy="p", operator="o")
        store.put_capture(eid, finger_capture(2, seed=1))
        store.put_capture(eid, finger_capture(2, seed=2))  # retake of the same step
        assert len(store.captures(eid)) == 1
        puts = [e for e in store.audit_log() if e["action"] == "capture.put"]
        assert puts[1]["replaced"] == puts[0]["digest"]
        assert store.check_integrity() == []


@pytest.mark.parametrize("subject", ["", " ", "x" * 300, None, 5])
def test_bad_subject_refused_and_nothing_written(tmp_path, keys, subject):
    with OfficeStore(tmp_path / "o.db", keys=keys) as store:
        enroll(store, "kept")
        before = store.stats()
        with pytest.raises(InvalidDataError):
            store.begin_enrollment(subject, policy="p", operator="o")
        assert store.stats() == before and store.check_integrity() == []


def test_store_and_wal_hold_no_clear_images_names_or_ids(tmp_path, keys):
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "3201019999990001", name="Bambang Pamungkas")
        raw = path.read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.glob("o.db-*"))
    img = finger_capture(2, seed=0).sample.image
    for needle in (b"3201019999990001", b"Bambang", b"operator-ani", b"FMR\0",
                   img[50].tobytes()[:24], img[:, 3].tobytes()[:24]):
        assert needle not in raw, needle
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_wrong_and_missing_keys_fail_cleanly(tmp_path, keys, monkeypatch):
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "s1")
    other = make_keys(tmp_path, name="other")
    with pytest.raises(StoreError, match="wrong key"):
        OfficeStore(path, keys=other)
    monkeypatch.delenv("BIOCAP_KEYS", raising=False)
    with pytest.raises(MissingKeys):
        OfficeStore(path)
    monkeypatch.setenv("BIOCAP_KEYS", str(keys.directory))
    with OfficeStore(path) as store:  # keys from the environment
        assert store.subjects() == ["s1"]
    os.chmod(keys.directory / "store-1.key", 0o644)
    with pytest.raises(StoreError, match="readable by others"):
        KeyRing.load(keys.directory)


def test_rotation_rewraps_without_recapture(tmp_path, keys):
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "s1")
        gen = keys.rotate()
        assert store.rotate_key() == gen == 2
    # the old master key can go: the store opens with the new one alone
    (keys.directory / "store-1.key").unlink()
    ring = KeyRing.load(keys.directory)
    with OfficeStore(path, keys=ring) as store:
        assert store.key_generation == 2
        assert len(store.record("s1").captures) == 2 and store.check_integrity() == []
        assert [e["action"] for e in store.audit_log()][-1] == "key.rotate"
    ring_old = KeyRing({1: keys.store_key(1)})
    with pytest.raises(MissingKeys, match="generation 2"):
        OfficeStore(path, keys=ring_old)


def test_newer_schema_and_foreign_files_refused(tmp_path, keys):
    path = tmp_path / "o.db"
    OfficeStore(path, keys=keys).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99"):
        OfficeStore(path, keys=keys)
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"my precious notes")
    with pytest.raises(StoreError, match="not an SQLite file"):
        OfficeStore(notes, keys=keys)
    assert notes.read_bytes() == b"my precious notes"
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a biocap"):
        OfficeStore(other, keys=keys)
    with pytest.raises(StoreError, match="folder"):
        OfficeStore(tmp_path, keys=keys)


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE enrollments (id INTEGER PRIMARY KEY, subject TEXT NOT NULL, created_at TEXT NOT NULL,
    metadata TEXT NOT NULL);
CREATE TABLE samples (id INTEGER PRIMARY KEY, enrollment_id INTEGER NOT NULL REFERENCES
    enrollments(id) ON DELETE CASCADE, modality TEXT NOT NULL, position INTEGER, ppi REAL NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, image_png BLOB NOT NULL,
    image_sha256 TEXT NOT NULL, pen TEXT, record TEXT NOT NULL, quality TEXT);
CREATE INDEX samples_by_enrollment ON samples(enrollment_id);
CREATE INDEX enrollments_by_subject ON enrollments(subject);
"""


def test_schema_1_plaintext_store_is_migrated_and_scrubbed(tmp_path, keys):
    import cv2
    path = tmp_path / "old.sqlite"
    img = finger_capture(2).sample.image
    png = cv2.imencode(".png", img)[1].tobytes()
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO enrollments VALUES (1, 'Old Subject 42', '2025-01-01T00:00:00+00:00', "
               "'{\"site\": \"A\"}')")
    db.execute("INSERT INTO samples VALUES (1, 1, 'fingerprint', 2, 500, 100, 120, ?, 'x', NULL, "
               "'{\"captured_at\": \"2025-01-01T00:00:00+00:00\", \"device_quality\": 70, "
               "\"metadata\": {}}', '{\"score\": 61}')", (png,))
    db.execute(f"PRAGMA application_id = {0x42494F43}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with OfficeStore(path, keys=keys) as store:
        assert store.schema_version == 2
        rec = store.record("Old Subject 42")
        assert rec.metadata == {"site": "A"} and rec.captures[0].quality == {"score": 61}
        assert np.array_equal(rec.captures[0].sample.image, img)
        assert store.check_integrity() == []
    raw = path.read_bytes()
    assert b"Old Subject 42" not in raw and png[:64] not in raw


# --- issue 17 item 2: tampering with plain sqlite3 ------------------------------------------------
def _tamper(path, *statements):
    db = sqlite3.connect(path)
    for sql, args in statements:
        db.execute(sql, args)
    db.commit()
    db.close()


@pytest.fixture
def two_residents(tmp_path, keys):
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        a = enroll(store, "subject-a", seed=1, name="Ani")
        b = enroll(store, "subject-b", seed=2, name="Budi")
        assert store.check_integrity() == []
    return path, a, b


def test_swapped_images_between_subjects_are_seen(two_residents, keys):
    path, a, b = two_residents
    db = sqlite3.connect(path)
    ra = db.execute("SELECT digest, body, mac FROM captures WHERE enrollment = ? AND step = 'finger-2'", (a,)).fetchone()
    rb = db.execute("SELECT digest, body, mac FROM captures WHERE enrollment = ? AND step = 'finger-2'", (b,)).fetchone()
    db.close()
    _tamper(path, ("UPDATE captures SET digest = ?, body = ?, mac = ? WHERE enrollment = ? AND step = 'finger-2'", (*rb, a)),
            ("UPDATE captures SET digest = ?, body = ?, mac = ? WHERE enrollment = ? AND step = 'finger-2'", (*ra, b)))
    with OfficeStore(path, keys=keys) as store:
        problems = store.check_integrity()
        assert any(a in p and "MAC" in p for p in problems) and any(b in p for p in problems)
        with pytest.raises(StoreDamaged):
            store.record("subject-a")
        with pytest.raises(StoreDamaged, match="refusing to write"):
            enroll(store, "subject-c")


def test_swapped_subject_index_is_seen(two_residents, keys):
    path, a, b = two_residents
    db = sqlite3.connect(path)
    ta = db.execute("SELECT subject_tag FROM enrollments WHERE uuid = ?", (a,)).fetchone()[0]
    tb = db.execute("SELECT subject_tag FROM enrollments WHERE uuid = ?", (b,)).fetchone()[0]
    db.close()
    _tamper(path, ("UPDATE enrollments SET subject_tag = ? WHERE uuid = ?", (tb, a)),
            ("UPDATE enrollments SET subject_tag = ? WHERE uuid = ?", (ta, b)))
    with OfficeStore(path, keys=keys) as store:
        assert any("fails its MAC" in p for p in store.check_integrity())
        with pytest.raises(StoreDamaged):
            store.record("subject-a")


def test_edited_metadata_is_seen(two_residents, keys):
    path, a, _ = two_residents
    db = sqlite3.connect(path)
    body = bytearray(db.execute("SELECT body FROM enrollments WHERE uuid = ?", (a,)).fetchone()[0])
    db.close()
    body[20] ^= 1
    _tamper(path, ("UPDATE enrollments SET body = ? WHERE uuid = ?", (bytes(body), a)))
    with OfficeStore(path, keys=keys) as store:
        assert any(a in p for p in store.check_integrity())


def test_edited_state_is_seen(two_residents, keys):
    path, a, _ = two_residents
    _tamper(path, ("UPDATE enrollments SET state = 'open', finished_at = NULL WHERE uuid = ?", (a,)))
    with OfficeStore(path, keys=keys) as store:
        assert any(a in p and "MAC" in p for p in store.check_integrity())


def test_deleted_enrollment_is_seen(two_residents, keys):
    path, a, _ = two_residents
    _tamper(path, ("DELETE FROM captures WHERE enrollment = ?", (a,)),
            ("DELETE FROM enrollments WHERE uuid = ?", (a,)))
    with OfficeStore(path, keys=keys) as store:
        problems = store.check_integrity()
        assert f"enrollment {a} is missing (deleted outside biocap; the audit log records it)" in problems
        assert any("capture" in p and "missing" in p for p in problems)


def test_deleted_enrollment_with_its_audit_entries_is_seen(two_residents, keys):
    path, a, _ = two_residents
    _tamper(path, ("DELETE FROM captures WHERE enrollment = ?", (a,)),
            ("DELETE FROM enrollments WHERE uuid = ?", (a,)),
            ("DELETE FROM audit WHERE target LIKE ?", (a + "%",)))
    with OfficeStore(path, keys=keys) as store:
        problems = store.check_integrity()
        assert any("missing (deleted)" in p or "hash chain" in p for p in problems)


def test_truncated_audit_tail_is_seen(two_residents, keys):
    path, _, b = two_residents
    _tamper(path, ("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)", ()))
    with OfficeStore(path, keys=keys) as store:
        assert any("head says" in p for p in store.check_integrity())


def test_row_inserted_outside_biocap_is_seen(two_residents, keys):
    path, a, _ = two_residents
    db = sqlite3.connect(path)
    row = db.execute("SELECT enrollment, step, digest, body, mac FROM captures LIMIT 1").fetchone()
    db.close()
    _tamper(path, ("INSERT INTO captures (enrollment, step, digest, body, mac) VALUES (?,?,?,?,?)",
                   (row[0], "finger-9", *row[2:])))
    with OfficeStore(path, keys=keys) as store:
        assert any("finger-9" in p for p in store.check_integrity())


def test_closed_store_and_readonly(tmp_path, keys):
    path = tmp_path / "o.db"
    store = OfficeStore(path, keys=keys)
    enroll(store, "s")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.record("s")
    with OfficeStore(path, keys=keys, readonly=True) as ro:
        assert ro.record("s").subject == "s"
        with pytest.raises(StoreError, match="read-only"):
            enroll(ro, "t")
