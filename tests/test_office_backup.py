"""Backup while enrollment goes on, verification, restore into an empty store, verify of any backup."""
import json
import multiprocessing
import os
import stat

import pytest

from biocap.office import OfficeStore, StoreError
from biocap.office.backup import backup, backups_in, restore, verify

from office_helpers import enroll, finger_capture, make_keys


@pytest.fixture
def keys(tmp_path):
    return make_keys(tmp_path)


def _writer(path, key_dir, n, started):
    from biocap.office import KeyRing
    with OfficeStore(path, keys=KeyRing.load(key_dir)) as store:
        started.set()
        for i in range(n):
            enroll(store, f"during-{i}", fingers=(2,), seed=i)


def test_backup_during_writes_verifies_and_restores(tmp_path, keys):
    path = tmp_path / "office.db"
    with OfficeStore(path, keys=keys) as store:
        for i in range(5):
            enroll(store, f"before-{i}", seed=i)
        ctx = multiprocessing.get_context("fork")
        started = ctx.Event()
        writer = ctx.Process(target=_writer, args=(str(path), str(keys.directory), 25, started))
        writer.start()
        started.wait(30)
        reports = [backup(store, tmp_path / "backups") for _ in range(3)]
        writer.join(60)
        assert writer.exitcode == 0
    for r in reports:
        assert r.stats["enrollments"] >= 5 and r.path.exists()
        assert stat.S_IMODE(os.stat(r.path).st_mode) == 0o600
        manifest = json.loads(r.manifest.read_text())
        assert manifest["bytes"] == r.bytes and manifest["stats"] == r.stats
    assert [v["path"] for v in verify(tmp_path / "backups", keys=keys)] == backups_in(tmp_path / "backups")
    target = tmp_path / "restored" / "office.db"
    restore(tmp_path / "backups", target, keys=keys)  # the newest backup
    with OfficeStore(target, keys=keys) as restored:
        assert restored.check_integrity() == []
        subjects = restored.subjects()
        assert subjects[:5] == [f"before-{i}" for i in range(5)]
        assert len(subjects) == reports[-1].stats["enrollments"]
        assert restored.audit_log()[-1]["action"] == "store.restore"
        enroll(restored, "after-restore")  # the restored store takes new enrollments


def test_restore_refuses_an_existing_store_and_bad_backups(tmp_path, keys):
    path = tmp_path / "office.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "s")
        report = backup(store, tmp_path / "b")
    with pytest.raises(StoreError, match="not empty"):
        restore(report.path, path, keys=keys)
    # a flipped byte in the backup: the manifest's hash no longer matches
    data = bytearray(report.path.read_bytes())
    data[len(data) // 2] ^= 0x10
    report.path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="SHA-256"):
        verify(report.path, keys=keys)
    with pytest.raises(StoreError):
        restore(tmp_path / "b", tmp_path / "new.db", keys=keys)
    assert not (tmp_path / "new.db").exists()
    # a backup without a manifest never finished: it is no backup
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.bcb").write_bytes(path.read_bytes())
    with pytest.raises(StoreError, match="no finished backup"):
        verify(tmp_path / "c", keys=keys)
    # the wrong keys
    with OfficeStore(tmp_path / "o2.db", keys=keys) as store:
        enroll(store, "t")
        good = backup(store, tmp_path / "d")
    with pytest.raises(StoreError, match="wrong key"):
        verify(good.path, keys=make_keys(tmp_path, name="other"))


def test_forged_manifest_is_refused(tmp_path, keys):
    with OfficeStore(tmp_path / "o.db", keys=keys) as store:
        enroll(store, "s")
        report = backup(store, tmp_path / "b")
    m = json.loads(report.manifest.read_text())
    m["verified_at"] = "2020-01-01T00:00:00+00:00"
    report.manifest.write_text(json.dumps(m))
    with pytest.raises(StoreError, match="MAC"):
        verify(report.path, keys=keys)


def test_backup_holds_no_clear_data(tmp_path, keys):
    with OfficeStore(tmp_path / "o.db", keys=keys) as store:
        enroll(store, "3201019999990042", name="Kartini Wulandari")
        report = backup(store, tmp_path / "b")
    raw = report.path.read_bytes() + report.manifest.read_bytes()
    img = finger_capture(2, seed=0).sample.image
    for needle in (b"3201019999990042", b"Kartini", img[40].tobytes()[:24]):
        assert needle not in raw
