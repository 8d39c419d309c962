"""The store's anchor in the key directory: lost commits are refused, never opened as sound.

Each of these failed before the anchor (docs/decisions/17-store-anchor.md): the damaged or cut
WAL and the 0-byte file opened as sound stores without the lost residents."""
import shutil
from pathlib import Path

import pytest

from biocap.cli import main
from biocap.office import KeyRing, OfficeStore, StoreError
from biocap.office import anchor as store_anchor
from biocap.office.anchor import StoreBehindAnchor
from biocap.office.backup import backup, restore

from office_helpers import enroll, make_keys

WAL_HEADER, FRAME_HEADER, PAGE = 32, 24, 4096


def _wal_frames(wal: bytes) -> int:
    return (len(wal) - WAL_HEADER) // (FRAME_HEADER + PAGE)


def _snapshot_with_wal(tmp_path, subjects=("a", "b", "c")):
    """A store whose last commits are only in its WAL: (keys, path, main bytes, WAL bytes)."""
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        for i, s in enumerate(subjects):
            enroll(store, s, fingers=(2,), seed=i)
        main_bytes = path.read_bytes()
        wal = Path(f"{path}-wal").read_bytes()
    return keys, path, main_bytes, wal


def _put_back(path, main_bytes, wal):
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(main_bytes)
    Path(f"{path}-wal").write_bytes(wal)


def test_the_unchanged_store_opens(tmp_path):
    keys, path, main_bytes, wal = _snapshot_with_wal(tmp_path)
    _put_back(path, main_bytes, wal)
    with OfficeStore(path, keys=keys) as store:
        assert store.record("c").subject == "c" and store.check_integrity() == []


@pytest.mark.parametrize("damage", ["cut", "flip"])
def test_a_damaged_wal_that_drops_the_last_commits_is_refused(tmp_path, damage):
    keys, path, main_bytes, wal = _snapshot_with_wal(tmp_path)
    frames = _wal_frames(wal)
    assert frames > 4
    keep = frames - 3  # the last commits' frames are gone or fail their checksum
    if damage == "cut":
        wal = wal[:WAL_HEADER + keep * (FRAME_HEADER + PAGE)]
    else:
        at = WAL_HEADER + keep * (FRAME_HEADER + PAGE) + FRAME_HEADER + 100
        wal = wal[:at] + bytes([wal[at] ^ 0xFF]) + wal[at + 1:]
    _put_back(path, main_bytes, wal)
    with pytest.raises(StoreBehindAnchor) as err:
        OfficeStore(path, keys=keys)
    text = str(err.value)
    assert "are missing" in text and "restore the newest backup" in text and "--accept-missing" in text
    # without the anchor the same file opens "sound", with the last commits silently gone: the
    # loss the anchor exists to show
    anchored = store_anchor.load(keys, path).audit_seq
    plain = KeyRing.load(keys.directory)
    plain.identity = None  # no signing key: no anchor
    _put_back(path, main_bytes, wal)
    with OfficeStore(path, keys=plain) as store:
        assert store.check_integrity() == [] and store._store_head().audit_seq < anchored


def test_a_zero_byte_store_with_an_anchor_is_refused_and_stays_empty(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"")
    with pytest.raises(StoreBehindAnchor, match="empty or new.*1 enrollments"):
        OfficeStore(path, keys=keys)
    assert path.stat().st_size == 0  # nothing was created in its place
    path.unlink()
    with pytest.raises(StoreBehindAnchor):  # a deleted store the same
        OfficeStore(path, keys=keys)
    # the explicit acceptance: a new store, the loss in its audit log
    with OfficeStore(path, keys=keys, accept_loss="disk replaced, no backup") as store:
        entry = store.audit_log()[-1]
        assert entry["action"] == "store.anchor.accept" and entry["reason"] == "disk replaced, no backup"
        assert entry["anchor"]["enrollments"] == 1
        enroll(store, "b", fingers=(2,))
    with OfficeStore(path, keys=keys) as store:  # in step again
        assert store.subjects() == ["b"] and store.check_integrity() == []


def test_a_kill_between_commit_and_anchor_write_is_accepted(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    where = store_anchor.anchor_path(keys, path)
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
        older = where.read_bytes()
        older_seq = store_anchor.load(keys, path).audit_seq
        eid = store.begin_enrollment("b", policy="p", operator="o")
    where.write_bytes(older)  # the anchor as a kill -9 right after the last commit leaves it
    with OfficeStore(path, keys=keys) as store:  # ahead of the anchor on its chain: sound
        assert store.open_enrollment("b") == eid and store.check_integrity() == []
    assert store_anchor.load(keys, path).audit_seq > older_seq  # the anchor caught up on open


def test_a_store_that_diverged_from_its_anchor_is_refused(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
    shutil.copy(path, tmp_path / "copy.db")
    with OfficeStore(path, keys=keys) as store:
        store.note("office.test", {"n": 1})
    shutil.copy(path, tmp_path / "new.db")
    shutil.copy(tmp_path / "copy.db", path)  # the older copy back, then written to
    where = store_anchor.anchor_path(keys, path)
    newer = where.read_bytes()
    where.unlink()
    with OfficeStore(path, keys=keys) as store:
        store.note("office.test", {"n": 2})
    where.write_bytes(newer)  # same entry number, another hash
    with pytest.raises(StoreBehindAnchor, match="diverged"):
        OfficeStore(path, keys=keys)


def test_check_integrity_reports_commits_the_anchor_knows_and_the_store_lacks(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
        assert store.check_integrity() == []
        head = store._store_head()
        ahead = store_anchor.StoreHead(head.store_uuid, head.audit_seq + 5, head.audit_hash,
                                       head.enrollments + 1)
        store_anchor.write(keys, path, ahead)  # the office committed more than the file holds
        problems = store.check_integrity()
        assert any("are missing" in p for p in problems)
        with pytest.raises(Exception, match="damaged|refusing"):
            enroll(store, "b", fingers=(2,))


def test_restoring_an_older_backup_in_place_records_the_loss(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
        old = backup(store, tmp_path / "backups").path
        enroll(store, "b", fingers=(2,), seed=1)
    shutil.move(path, tmp_path / "damaged.db")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    restore(old, path, keys=keys)
    with OfficeStore(path, keys=keys) as store:
        actions = [e["action"] for e in store.audit_log()]
        assert "store.anchor.accept" in actions and actions[-1] == "store.restore"
        assert store.subjects() == ["a"] and store.check_integrity() == []


def test_reconcile_accept_missing_cli(tmp_path, capsys, monkeypatch):
    keys = make_keys(tmp_path)
    monkeypatch.setenv("BIOCAP_KEYS", str(keys.directory))
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
    path.write_bytes(b"")
    Path(f"{path}-wal").unlink(missing_ok=True)
    code = main(["office", "status", "--store", str(path), "--json"])
    _, err = capsys.readouterr()
    assert code == 2 and "--accept-missing" in err.strip().splitlines()[-1]
    code = main(["office", "reconcile", "--store", str(path), "--accept-missing", "lost disk"])
    _, err = capsys.readouterr()
    assert code == 0 and "accepted and recorded" in err
    assert main(["office", "status", "--store", str(path), "--json"]) == 0


def test_a_torn_anchor_write_falls_back_to_the_previous_head(tmp_path):
    keys = make_keys(tmp_path)
    path = tmp_path / "o.db"
    with OfficeStore(path, keys=keys) as store:
        enroll(store, "a", fingers=(2,))
    where = store_anchor.anchor_path(keys, path)
    raw = bytearray(where.read_bytes())
    newest = max(range(2), key=lambda i: (store_anchor._slots(bytes(raw))[i] or {"counter": -1})["counter"])
    at = newest * store_anchor.SLOT + 40
    raw[at:at + 8] = b"\xff" * 8  # the last anchor write torn by a crash
    where.write_bytes(bytes(raw))
    with OfficeStore(path, keys=keys) as store:  # the older slot: the store is ahead of it
        assert store.check_integrity() == []
    raw = where.read_bytes()
    assert raw.count(b'"enrollments": 1') == 2
    where.write_bytes(raw.replace(b'"enrollments": 1', b'"enrollments": 7'))  # both edited
    with pytest.raises(StoreError, match="not this office's signed store head"):
        OfficeStore(path, keys=keys)
