"""The old EnrollmentStore API (kept for `biocap demo`, now biocap.office.legacy) on the office store."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from biocap.errors import InvalidDataError
from biocap.quality.report import QualityReport
from biocap.office.legacy import EnrollmentStore, StoreError
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


@pytest.fixture(autouse=True)
def _no_env_keys(monkeypatch):
    monkeypatch.delenv("BIOCAP_KEYS", raising=False)


def test_round_trip(tmp_path):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        eid = store.add_enrollment("subject-1", _samples(), metadata={"site": "A"})
        assert store.schema_version == 2
    assert (tmp_path / "e.sqlite.keys" / "store-1.key").exists()  # the demo's key directory
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
        assert store.check_integrity() == []


def test_process_killed_mid_transaction_keeps_earlier_data(tmp_path):
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        store.add_enrollment("kept", _samples())
    script = textwrap.dedent(f"""
        import os
        from biocap.office.legacy import EnrollmentStore
        store = EnrollmentStore({str(path)!r}).office
        store._db.execute("BEGIN IMMEDIATE")
        store._db.execute("DELETE FROM captures")
        os._exit(9)  # crash before COMMIT
    """)
    env = {**os.environ}
    env.pop("BIOCAP_KEYS", None)
    assert subprocess.run([sys.executable, "-c", script], env=env).returncode == 9
    with EnrollmentStore(path) as store:
        assert [e["subject"] for e in store.enrollments()] == ["kept"]
        assert len(store.samples(store.enrollments()[0]["id"])) == 3
        assert store.check_integrity() == []


def test_folder_refused(tmp_path):
    with pytest.raises(StoreError, match="folder"):
        EnrollmentStore(tmp_path)


def test_damaged_store_is_not_written_and_errors_cleanly(tmp_path):
    """Issue 17 item 1: the demo wrote a new enrollment into a damaged store, then crashed."""
    path = tmp_path / "e.sqlite"
    with EnrollmentStore(path) as store:
        for i in range(3):
            store.add_enrollment(f"s{i}", _samples())
    data = bytearray(path.read_bytes())
    data[2 * 4096:3 * 4096] = bytes(4096)  # a zeroed b-tree page
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    try:
        store = EnrollmentStore(path)
    except StoreError:
        pass
    else:
        with store:
            assert store.check_integrity()
            with pytest.raises(StoreError, match="refusing to write"):
                store.add_enrollment("new", _samples())
    assert path.read_bytes() == before
