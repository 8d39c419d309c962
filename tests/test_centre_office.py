"""The centre with the office's own packages (signed ANSI/NIST-ITL, biocap.office.package):
accepted, de-duplicated on the fingers' ISO/IEC 19794-2 records, refused when altered, and the
office's send + status commands see the centre's decision."""
from __future__ import annotations

import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from office_helpers import ridge_image, signature_capture  # noqa: E402

from biocap.centre.loadtest import synthetic_face_embedder, synthetic_face_image  # noqa: E402
from biocap.centre.service import Centre, create_app  # noqa: E402
from biocap.office import CaptureRecord, KeyRing, OfficeStore  # noqa: E402
from biocap.office.package import build_package, package_hash  # noqa: E402
from biocap.synthetic.population import face_capture, resident  # noqa: E402
from biocap.templates.formats import FingerprintRecord, encode  # noqa: E402
from biocap.types import FingerPosition, Modality, Sample  # noqa: E402

SEED = 57
T = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)


def iso(t):
    return encode(FingerprintRecord(format="iso19794-2:2011", views=[t]), "iso19794-2:2011")


def enrol(store, subject, person, capture):
    """An enrollment at the office: ten fingers (synthetic minutiae as ISO records, small ridge
    images), irises declared missing, a face image, a signature."""
    r = resident(SEED, person, capture)
    eid = store.begin_enrollment(subject, policy="ktp-2026", operator="op-1")
    for pos, t in r.fingers.items():
        store.put_capture(eid, CaptureRecord(
            f"finger-{pos}", Modality.FINGERPRINT, pos,
            Sample(ridge_image(64, 64, seed=pos), 500, Modality.FINGERPRINT, FingerPosition(pos)),
            {"score": 60}, {"iso19794-2:2011": iso(t)}, captured_at=T))
    for eye in (1, 2):
        store.put_exception(eid, f"iris-{eye}", Modality.IRIS, eye, "eye-condition", "bandaged")
    face = synthetic_face_image(face_capture(SEED, person, capture))  # biocap renders no faces
    store.put_capture(eid, CaptureRecord("face", Modality.FACE, 0, Sample(face, 300, Modality.FACE),
                                         {"score": 70}, captured_at=T))
    store.put_capture(eid, signature_capture())
    store.finish_enrollment(eid, complete=True, summary={})


@pytest.fixture
def setup(tmp_path):
    import socket

    import uvicorn

    keys = KeyRing.create(tmp_path / "keys", "office-7")
    store = OfficeStore(tmp_path / "office.db", keys=keys)
    data = tmp_path / "centre"
    (data / "offices").mkdir(parents=True)
    (data / "offices" / "office-7.pub").write_bytes(keys.identity.public_bytes())
    centre = Centre(data, scheduler=False, face_embedder=synthetic_face_embedder)  # in-process shards
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(centre), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(f"{url}/health", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    yield store, keys, centre, url
    server.should_exit = True
    th.join(timeout=10)
    centre.close()
    store.close()


def decided(url, subject, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        st = httpx.get(f"{url}/residents/{subject}", timeout=10).json()
        if st.get("state") in ("card ready", "duplicate", "adjudication"):
            return st
        time.sleep(0.1)
    raise AssertionError(st)


def test_office_packages_end_to_end(setup):
    from biocap.office.outbound import Sender, centre_status, export

    store, keys, centre, url = setup
    enrol(store, "3201000000000001", 1, 1)
    enrol(store, "3201000000000002", 2, 1)
    enrol(store, "3201000000000099", 1, 2)  # person 1 again, fresh impressions, another NIK
    for s in ("3201000000000001", "3201000000000002", "3201000000000099"):
        export(store, s)
    report = Sender(store, url, max_attempts=3).send()
    assert len(report.accepted) == 3, report
    assert decided(url, "3201000000000001")["state"] == "card ready"
    assert decided(url, "3201000000000002")["state"] == "card ready"
    dup = decided(url, "3201000000000099")
    assert dup["state"] == "duplicate" and dup["matched"] == "3201000000000001"
    assert sum(k.startswith("finger:") for k in dup["evidence"]) >= 3  # no irises: fingers decided
    view = centre_status(url, "3201000000000099")  # what `biocap office status --centre` shows
    assert view["decision"] == "duplicate" and view["matched"] == "3201000000000001"


def test_office_package_altered_or_out_of_chain_refused(setup):
    from biocap.office.records import EnrollmentInfo  # noqa: F401

    store, keys, centre, url = setup
    enrol(store, "3201000000000005", 5, 1)
    record = store.record("3201000000000005", finished_only=True)
    good = build_package(record, office=keys.identity, previous_hash=None, sequence=1)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    r = httpx.post(f"{url}/packages", content=bytes(bad), timeout=30)
    assert r.status_code in (400, 401) and r.json()["status"] == "rejected"
    later = build_package(record, office=keys.identity, previous_hash=package_hash(good), sequence=2)
    r = httpx.post(f"{url}/packages", content=later, timeout=30)
    assert r.status_code == 409 and r.json()["reasons"][0]["code"] == "broken_chain"
    assert centre.db.counts()["packages"] == {}
    r = httpx.post(f"{url}/packages", content=good, timeout=30)
    assert r.status_code == 200, r.text


def test_face_without_an_embedding_sent_back(tmp_path):
    """A face image in which no face is found (here: noise, with the build's own extractor) is
    sent back at the desk: without the face the search could not bound the fingers."""
    keys = KeyRing.create(tmp_path / "keys", "office-9")
    store = OfficeStore(tmp_path / "office.db", keys=keys)
    enrol(store, "3201000000000042", 42, 1)
    record = store.record("3201000000000042", finished_only=True)
    for c in record.captures:
        if c.modality is Modality.FACE:
            c.sample = Sample(np.random.default_rng(1).integers(0, 255, (64, 48), dtype=np.uint8), 300,
                              Modality.FACE)
    data = tmp_path / "centre"
    (data / "offices").mkdir(parents=True)
    (data / "offices" / "office-9.pub").write_bytes(keys.identity.public_bytes())
    centre = Centre(data, scheduler=False, start=False)
    try:
        a = centre.submit(build_package(record, office=keys.identity, previous_hash=None, sequence=1), None)
        assert a.status == 422, a.body
        assert ("unusable", "face") in {(r["code"], r["field"]) for r in a.body["reasons"]}
        assert centre.db.pending_count() == 0
    finally:
        centre.close()
        store.close()
