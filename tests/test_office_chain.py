"""The package chain survives restoring an older backup: no sequence is issued twice."""
import json

import pytest

from biocap.cli import main
from biocap.office import OfficeStore, StoreError
from biocap.office.backup import backup, restore
from biocap.office.chain import ANCHOR_FILE, ChainForked, ChainRewound, reconcile
from biocap.office.outbound import Sender, centre_last_sequence, export

from office_helpers import enroll, make_keys, open_office
from office_stub import StubCentre


@pytest.fixture
def office(tmp_path):
    store, keys = open_office(tmp_path)
    with store:
        yield store, keys


def _send(store, centre):
    report = Sender(store, centre.url, timeout=5).send()
    assert not report.pending
    return report


def test_restoring_an_older_backup_does_not_fork_the_chain(tmp_path, office):
    store, keys = office
    with StubCentre({"office-1": keys.identity.public_key}) as centre:
        enroll(store, "a", fingers=(2,))
        export(store, "a")
        _send(store, centre)
        old = backup(store, tmp_path / "backups").path
        enroll(store, "b", fingers=(2,), seed=1)
        export(store, "b")
        _send(store, centre)  # the centre's chain: packages 1, 2
        restore(old, tmp_path / "r.db", keys=keys)
        with OfficeStore(tmp_path / "r.db", keys=keys) as back:
            assert back.package_head()[0] == 1  # the backup's chain head
            enroll(back, "c", fingers=(2,), seed=2)
            # before the anchor, this built package 2 again on package 1: the centre's replay
            with pytest.raises(ChainRewound, match="packages 2-2 are not in it"):
                export(back, "c")
            with pytest.raises(ChainRewound):
                Sender(back, centre.url, timeout=5).send()
            assert [i.seq for i in back.outbound()] == [1]  # nothing new queued
            last = centre_last_sequence(centre.url, "office-1")
            assert last == 2
            assert reconcile(back, centre_sequence=last) == (1, 2)
            item = export(back, "c")
            assert item.seq == 3
            report = _send(back, centre)
            assert report.accepted == [3] and report.rejected == []
            assert back.check_integrity() == []
        assert all(v["status"] == "accepted" for v in centre.verdicts.values())
        assert centre.chain.state["office-1"][0] == 3
        assert set(centre.processed.values()) == {1}


def test_reconcile_refuses_when_the_centre_misses_issued_packages(tmp_path, office):
    store, keys = office
    enroll(store, "a", fingers=(2,))
    export(store, "a")
    old = backup(store, tmp_path / "backups").path
    enroll(store, "b", fingers=(2,), seed=1)
    export(store, "b")  # issued (the operator may have carried it out), never sent
    restore(old, tmp_path / "r.db", keys=keys)
    with OfficeStore(tmp_path / "r.db", keys=keys) as back:
        with pytest.raises(ChainForked, match="packages 2-2 never reached the centre"):
            reconcile(back, centre_sequence=1)
        assert back.package_head()[0] == 1  # unchanged
        with pytest.raises(ChainRewound):  # its queue must not go out either
            Sender(back, "http://127.0.0.1:9").send()


def test_a_new_store_or_another_chain_is_refused(tmp_path, office):
    store, keys = office
    enroll(store, "a", fingers=(2,))
    export(store, "a")
    with OfficeStore(tmp_path / "fresh.db", keys=keys) as fresh:  # would restart at package 1
        enroll(fresh, "z", fingers=(2,), seed=9)
        with pytest.raises(ChainRewound, match="ends at 0"):
            export(fresh, "z")
    # the same office's chain head, but a store whose package 1 is another package
    with OfficeStore(tmp_path / "other.db", keys=make_keys(tmp_path, name="k2")) as other:
        enroll(other, "y", fingers=(2,), seed=8)
        export(other, "y")
        other.keys = keys  # now judged against office-1's anchor
        with pytest.raises(ChainForked):
            from biocap.office.chain import check
            check(other)


def test_edited_chain_head_is_refused(tmp_path, office):
    store, keys = office
    enroll(store, "a", fingers=(2,))
    export(store, "a")
    path = keys.directory / ANCHOR_FILE
    doc = json.loads(path.read_text())
    assert doc["sequence"] == 1 and (path.stat().st_mode & 0o777) == 0o600
    doc["sequence"] = 0  # an attacker or a careless copy rewinding the anchor
    path.write_text(json.dumps(doc))
    enroll(store, "b", fingers=(2,), seed=1)
    with pytest.raises(StoreError, match="not this office's signed chain head"):
        export(store, "b")


def test_reconcile_cli(tmp_path, capsys, monkeypatch, office):
    store, keys = office
    monkeypatch.setenv("BIOCAP_KEYS", str(keys.directory))
    enroll(store, "a", fingers=(2,))
    export(store, "a")
    old = backup(store, tmp_path / "backups").path
    enroll(store, "b", fingers=(2,), seed=1)
    with StubCentre({"office-1": keys.identity.public_key}) as centre:
        export(store, "b")
        _send(store, centre)
        code = main(["office", "restore", str(old), "--store", str(tmp_path / "r.db")])
        _, err = capsys.readouterr()
        assert code == 0 and "packages 2-2 are not in it" in err
        with OfficeStore(tmp_path / "r.db", keys=keys) as back:
            enroll(back, "c", fingers=(2,), seed=2)
        code = main(["office", "export", "c", "--store", str(tmp_path / "r.db"), "--out",
                     str(tmp_path / "c.an2")])
        _, err = capsys.readouterr()
        last = err.strip().splitlines()[-1]
        assert code == 2 and last.startswith("biocap: error:") and "office reconcile" in last
        code = main(["office", "reconcile", "--store", str(tmp_path / "r.db"), "--centre", centre.url])
        out, _ = capsys.readouterr()
        assert code == 0 and "continues after package 2" in out
        code = main(["office", "export", "c", "--store", str(tmp_path / "r.db"), "--out",
                     str(tmp_path / "c.an2")])
        out, _ = capsys.readouterr()
        assert code == 0 and "package 3" in out
