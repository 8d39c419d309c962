"""Export into the outbound queue and delivery to a stub centre with faults: exactly once."""
import pytest

from biocap.office import SendError, UnknownSubject
from biocap.office.outbound import Sender, centre_status, export
from biocap.office.package import package_hash

from office_helpers import enroll, open_office
from office_stub import StubCentre


@pytest.fixture
def office(tmp_path):
    store, keys = open_office(tmp_path)
    with store:
        yield store, keys


def _residents(store, n, start=0):
    for i in range(start, start + n):
        enroll(store, f"resident-{i}", fingers=(2,), seed=i)
        export(store, f"resident-{i}")


def test_export_is_idempotent_and_chained(office):
    store, keys = office
    enroll(store, "a", fingers=(2,))
    first = export(store, "a")
    assert export(store, "a").seq == first.seq == 1  # same enrollment: same package
    enroll(store, "b", fingers=(2,), seed=1)
    second = export(store, "b")
    assert second.seq == 2
    from biocap.office.package import read_package
    pkg = read_package(second.package, trusted={"office-1": keys.identity.public_key},
                       decode_images=False)
    assert pkg.previous_hash == package_hash(first.package) == first.package_hash
    assert store.resident_status("a")["status"] == "queued"
    assert store.check_integrity() == []
    store.begin_enrollment("c", policy="p", operator="o")
    with pytest.raises(UnknownSubject, match="no finished enrollment"):
        export(store, "c")


def test_send_all_accepted_and_rejected_with_reasons(office):
    store, keys = office
    _residents(store, 4)
    with StubCentre({"office-1": keys.identity.public_key}, reject_subjects={"resident-2"}) as centre:
        report = Sender(store, centre.url, timeout=5).send()
        assert report.accepted == [1, 2, 4] and report.rejected == [3] and not report.pending
        assert centre_status(centre.url, "resident-1") == {"subject": "resident-1", "status": "enrolled"}
    st = store.resident_status("resident-2")
    assert st["status"] == "rejected" and st["reasons"] == ["quality: fingers too poor"]
    assert st["centre"] == "recapture"
    assert store.resident_status("resident-0")["status"] == "accepted"
    assert Sender(store, "http://127.0.0.1:9").send().accepted == []  # nothing left to send
    assert store.check_integrity() == []


def test_dropped_connections_and_slow_answers_deliver_exactly_once(office):
    store, keys = office
    _residents(store, 8)
    with StubCentre({"office-1": keys.identity.public_key}, drop=0.3, slow=0.3, slow_s=0.4,
                    seed=3) as centre:
        sender = Sender(store, centre.url, timeout=0.25, max_attempts=400, backoff=0.001,
                        backoff_max=0.01)
        report = sender.send()
        assert report.accepted == list(range(1, 9)), report
        assert set(centre.processed.values()) == {1} and len(centre.processed) == 8
        assert sum(centre.posted.values()) > 8  # retries happened, none processed twice
    assert store.check_integrity() == []


def test_unreachable_centre_keeps_the_queue(office):
    store, _ = office
    _residents(store, 2)
    report = Sender(store, "http://127.0.0.1:9", timeout=0.2, max_attempts=2, backoff=0.001).send()
    assert report.accepted == [] and report.pending == [1, 2] and len(report.errors) == 2
    assert store.resident_status("resident-0")["status"] == "sent"  # attempted, no verdict yet
    with pytest.raises(SendError, match="http"):
        Sender(store, "ftp://x")
