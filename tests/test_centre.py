"""The centre: HTTP service on 127.0.0.1 over a small local Dask cluster started here, arrival
checks, hostile packages, idempotency, restart, a worker lost mid-search."""
from __future__ import annotations

import collections
import hashlib
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("distributed")
httpx = pytest.importorskip("httpx")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from biocap.centre.db import CentreDB  # noqa: E402
from biocap.centre.loadtest import (package_for, resident_record, synthetic_face_embedder,  # noqa: E402
                                    templates_of_package)
from biocap.centre.service import MAX_PACKAGE_BYTES, Centre, create_app  # noqa: E402
from biocap.matching.person import PersonTemplates, person_to_bytes  # noqa: E402
from biocap.office.keys import OfficeIdentity  # noqa: E402
from biocap.office.package import build_package, package_hash, read_package  # noqa: E402
from biocap.office.records import ExceptionRecord  # noqa: E402
from biocap.synthetic.population import resident  # noqa: E402
from biocap.types import Modality  # noqa: E402

SEED = 44
SMALL = (64, 64)  # finger image size in test packages (the centre reads the ISO records; WSQ costs)


def person(p, capture=1, **kw):
    """Template-level templates of a synthetic person (the bulk gallery's kind)."""
    r = resident(SEED, p, capture, **kw)
    return PersonTemplates(fingers=r.fingers, irises=r.irises, face=r.face), r


def item(subject, p, capture=1, missing_fingers=(), missing_irises=()):
    return {"person": p, "capture": capture, "missing_fingers": tuple(missing_fingers),
            "missing_irises": tuple(missing_irises), "subject": subject}


def mate(subject, p):
    """A gallery entry made as the centre makes one: from the person's own first package."""
    ident = OfficeIdentity("bulk", Ed25519PrivateKey.generate())
    return subject, templates_of_package(package_for(SEED, item(subject, p), ident, 1, None, SMALL), ident)


class Office:
    """A test office: the office's own signed, chained ANSI/NIST-ITL packages (real rendered iris
    images; the load test's face container, read by the centre's synthetic face embedder)."""

    def __init__(self, name, data_dir=None):
        self.ident = OfficeIdentity(name, Ed25519PrivateKey.generate())
        self.seq, self.prev = 0, None
        if data_dir is not None:
            (data_dir / "offices").mkdir(parents=True, exist_ok=True)
            (data_dir / "offices" / f"{name}.pub").write_bytes(
                self.ident.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def package(self, subject, p, capture=1, advance=True, quality=None, exceptions=None, **kw):
        rec = resident_record(SEED, item(subject, p, capture, **kw), SMALL)
        for c in rec.captures:
            label = {Modality.FINGERPRINT: f"finger:{c.position}", Modality.IRIS: f"iris:{c.position}",
                     Modality.FACE: "face"}.get(c.modality)
            if quality and label in quality:
                c.quality = {"score": quality[label]}
        if exceptions is not None:
            rec.exceptions = [ExceptionRecord(k, Modality.FINGERPRINT, int(k.split(":")[1]), "amputated", v)
                              for k, v in exceptions.items()]
        seq = self.seq + 1
        data = build_package(rec, office=self.ident, previous_hash=self.prev, sequence=seq)
        key = read_package(data, trusted={self.ident.office_id: self.ident.public_key},
                           decode_images=False).idempotency_key
        if advance:
            self.seq, self.prev = seq, package_hash(data)
        return key, data


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                     silence_logs=40)
    client = Client(c)
    yield c, client
    client.close()
    c.close()


@pytest.fixture(scope="module")
def service(cluster, tmp_path_factory):
    import uvicorn

    data = tmp_path_factory.mktemp("centre")
    db = CentreDB(data, shards=3)
    db.enrol_bulk([(f"G{p}", person_to_bytes(person(p)[0])) for p in range(1, 9) if p != 4] + [mate("G4", 4)])
    db.close()
    office = Office("office-a", data)
    other = Office("office-b", data)
    centre = Centre(data, client=cluster[1], batch=4, face_embedder=synthetic_face_embedder)
    port = _free_port()
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
    yield {"url": url, "centre": centre, "office": office, "other": other, "data": data}
    server.should_exit = True
    th.join(timeout=10)
    centre.close()


def post(url, key, data):
    return httpx.post(f"{url}/packages", content=data, headers={"Idempotency-Key": key}, timeout=60)


def wait_decided(url, subject, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        st = httpx.get(f"{url}/residents/{subject}", timeout=10).json()
        if st.get("state") in ("card ready", "duplicate", "adjudication"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"{subject} not decided: {st}")


def stored_packages(data):
    import sqlite3
    c = sqlite3.connect(data / "centre.sqlite")
    try:
        return c.execute("SELECT COUNT(*) FROM packages").fetchone()[0]
    finally:
        c.close()


def test_unique_duplicate_and_status_end_to_end(service):
    url, office, other = service["url"], service["office"], service["other"]
    k1, d1 = office.package("S-new-1", 100)
    r = post(url, k1, d1)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["reasons"] == []
    assert body["resident_status"]["state"] in ("queued", "card ready")
    # the same person at another office, fresh captures, another subject number, no irises
    k2, d2 = other.package("S-dup-1", 100, capture=2, missing_irises=(1, 2))
    assert post(url, k2, d2).status_code == 200
    # a person already in the gallery, again
    k3, d3 = office.package("S-dup-2", 4, capture=2)
    assert post(url, k3, d3).status_code == 200
    st1 = wait_decided(url, "S-new-1")
    assert st1["state"] == "card ready" and [p["step"] for p in st1["path"]] == [
        "received", "checked", "de-duplicated", "card ready"]
    st2 = wait_decided(url, "S-dup-1")
    assert st2["state"] == "duplicate" and st2["matched"] == "S-new-1"
    assert "face" in st2["evidence"] and not any(k.startswith("iris") for k in st2["evidence"])
    st3 = wait_decided(url, "S-dup-2")
    assert st3["state"] == "duplicate" and st3["matched"] == "G4" and st3["evidence"]["iris:1"] > 0
    q = httpx.get(f"{url}/offices/office-a/queue").json()
    assert {p["subject"]: p["decision"] for p in q["packages"]}["S-dup-2"] == "duplicate"
    m = httpx.get(f"{url}/metrics").json()
    assert m["db"]["decisions"]["duplicate"] >= 2 and m["latency_ms_p50"] is not None


def test_idempotent_resend(service):
    url, office, centre = service["url"], service["office"], service["centre"]
    k, d = office.package("S-idem", 101)
    a = post(url, k, d)
    b = post(url, k, d)  # the office lost the answer and sends again
    assert a.status_code == b.status_code == 200 and b.json()["key"] == k
    wait_decided(url, "S-idem")
    assert post(url, k, d).json()["resident_status"]["state"] == "card ready"
    assert centre.db.decision(k)["decision"] == "unique"


def test_checks_on_arrival_answer_with_reasons(service):
    url, office = service["url"], service["office"]
    k, d = office.package("S-bad", 102, missing_fingers=(3,), exceptions={},
                          quality={"finger:2": 12.0})
    r = post(url, k, d)
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "rejected"
    codes = {(x["code"], x["field"]) for x in body["reasons"]}
    assert ("missing", "finger:3") in codes and ("quality", "finger:2") in codes
    assert all(x["message"] for x in body["reasons"])
    assert httpx.get(f"{url}/residents/S-bad").json()["state"] == "rejected"


def test_hostile_packages_refused_nothing_stored(service):
    url, office, data = service["url"], service["office"], service["data"]
    before = stored_packages(data)
    k, good = office.package("S-hostile", 103, advance=False)
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 1
    stranger = Office("office-x")  # key not registered
    ks, ds = stranger.package("S-stranger", 104)
    ahead = Office("office-a")
    # a gap in the chain; run alone, the office has sent nothing yet, so link to a hash never sent
    ahead.ident, ahead.seq = office.ident, office.seq + 5
    ahead.prev = office.prev or hashlib.sha256(b"a package the centre never received").digest()
    kg, dg = ahead.package("S-gap", 105)
    cases = [
        (k, b"not a package", 400, "corrupt"),
        (k, bytes(tampered), 401, "bad_signature"),
        (ks, ds, 401, "unknown_office"),
        (kg, dg, 409, "broken_chain"),
        ("other-key-123", good, 400, "key_mismatch"),
        (k, good[: len(good) // 3], 400, "corrupt"),
    ]
    for key, body, status, code in cases:
        r = post(url, key, body)
        assert r.status_code == status, (code, r.text)
        assert r.json()["status"] == "rejected" and r.json()["reasons"][0]["code"] == code
    # oversized: declared (refused before reading) and streamed without a length (cut off)
    host, port = url.rsplit(":", 1)
    with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as s:
        s.sendall(f"POST /packages HTTP/1.1\r\nHost: x\r\nIdempotency-Key: {k}\r\n"
                  f"Content-Length: {MAX_PACKAGE_BYTES + 1}\r\n\r\n".encode() + b"x" * 100)
        assert b" 413 " in s.recv(4096).split(b"\r\n")[0] + b" "

    def chunks():
        for _ in range(40):
            yield b"y" * (1 << 20)
    r = httpx.post(f"{url}/packages", content=chunks(), headers={"Idempotency-Key": k}, timeout=60)
    assert r.status_code == 413
    assert stored_packages(data) == before
    # the real package still goes through, once; the same bytes again under another key: replay
    assert post(url, k, good).status_code == 200
    assert stored_packages(data) == before + 1
    office.seq, office.prev = office.seq + 1, package_hash(good)
    replay = post(url, k, good)  # replayed later: the stored verdict, nothing new stored
    assert replay.status_code == 200 and replay.json()["key"] == k
    assert stored_packages(data) == before + 1
    k2, _ = office.package("S-next", 106, advance=False)
    r = post(url, k2, good)
    assert r.status_code == 400  # header key differs from the package's
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_worker_lost_mid_search_decides_once(service, cluster):
    """Kill one of the two Dask worker processes while a batch is searched: the batch is rerun,
    every package decided exactly once, and the shards move to the surviving worker."""
    url, office, centre = service["url"], service["office"], service["centre"]
    c, client = cluster
    keys = []
    for i in range(4):
        k, d = office.package(f"S-kill-{i}", 110 + i)
        assert post(url, k, d).status_code == 200
        keys.append(k)
    victim = sorted(c.workers)[0]
    proc = c.workers[victim].process.process  # the worker's OS process
    proc.kill()
    for i in range(4):
        wait_decided(url, f"S-kill-{i}", timeout=180)
    for k in keys:
        assert centre.db.decision(k) is not None
    import sqlite3
    conn = sqlite3.connect(service["data"] / "centre.sqlite")
    dup = conn.execute("SELECT key, COUNT(*) FROM decisions GROUP BY key HAVING COUNT(*) > 1").fetchall()
    conn.close()
    assert dup == []


def test_restart_decides_every_accepted_package_once(tmp_path):
    """Packages accepted, service stopped before de-duplicating, started again: each decided once."""
    office = Office("office-r", tmp_path)
    c1 = Centre(tmp_path, scheduler=False, start=False, face_embedder=synthetic_face_embedder)  # in-process
    db = c1.db
    db.enrol_bulk([(f"G{p}", person_to_bytes(person(p)[0])) for p in (1, 3)] + [mate("G2", 2)])
    keys, datas = [], []
    for i, (p, cap) in enumerate([(200, 1), (2, 2), (201, 1)]):
        k, d = office.package(f"S-r{i}", p, capture=cap)
        assert c1.submit(d, k).status == 200
        keys.append(k)
        datas.append(d)
    assert c1.db.pending_count() == 3
    c1.close()  # the service dies with three packages queued
    c2 = Centre(tmp_path, scheduler=False, start=False, face_embedder=synthetic_face_embedder)
    assert c2.process_batch() == 3
    assert c2.process_batch() == 0  # nothing left, nothing decided twice
    assert c2.db.decision(keys[1])["matched"] == "G2"
    c2.close()
    c3 = Centre(tmp_path, scheduler=False, start=False, face_embedder=synthetic_face_embedder)
    assert c3.process_batch() == 0 and c3.db.counts()["decisions"] == {"unique": 2, "duplicate": 1}
    # a resend after the restart gets the stored answer, not a second package or decision
    again = c3.submit(datas[1], keys[1])
    assert again.status == 200 and again.body["resident_status"]["state"] == "duplicate"
    assert c3.process_batch() == 0 and c3.db.counts()["packages"] == {"accepted": 3}
    c3.close()


def test_shards_rebalance_when_workers_join_and_leave():
    from biocap.centre.dedup import Deduplicator

    class Workers:
        def __init__(self, names):
            self.names = list(names)

        def scheduler_info(self):
            return {"workers": {n: {} for n in self.names}}

    client = Workers(["tcp://a:1", "tcp://b:1"])
    d = Deduplicator("db", "key", 64, client)
    first = d.plan().assignment
    assert set(first.values()) == {"tcp://a:1", "tcp://b:1"}
    client.names.append("tcp://c:1")  # a worker joins: it takes about a third, nothing else moves
    joined = d.plan()
    moved = [s for s in first if first[s] != joined.assignment[s]]
    assert 10 <= joined.moves == len(moved) <= 35
    assert all(joined.assignment[s] == "tcp://c:1" for s in moved)
    client.names.remove("tcp://a:1")  # a worker leaves: only its shards move
    left = d.plan()
    assert all(left.assignment[s] == joined.assignment[s] for s in left.assignment
               if joined.assignment[s] != "tcp://a:1")
    assert "tcp://a:1" not in left.assignment.values()
    assert d.shard_moves == joined.moves + left.moves
    assert max(collections.Counter(left.assignment.values()).values()) == 32  # balanced: 64 over 2
    for names in (["tcp://a:1", "tcp://b:1"], ["tcp://x:7", "tcp://y:7"], ["tcp://p:2", "tcp://q:3"]):
        few = Deduplicator("db", "key", 4, Workers(names)).plan().assignment  # every worker busy
        assert sorted(collections.Counter(few.values()).values()) == [2, 2]


def test_synthetic_face_container_round_trip_and_refusals():
    """The load test's face container survives the package's JPEG 2000 and is refused when it
    is anything else (a photo, a damaged frame)."""
    import numpy as np

    from biocap.centre.loadtest import synthetic_face_image
    from biocap.office.package import jp2_decode, jp2_encode

    e = person(7)[0].face
    img = jp2_decode(jp2_encode(synthetic_face_image(e)))
    assert np.array_equal(synthetic_face_embedder(img), e)
    for row, col in ((3, 5), (9, 5)):  # one bit of the embedding (CRC), of the padding
        bad = img.copy()
        bad[row, col] ^= 1
        assert synthetic_face_embedder(bad) is None
    assert synthetic_face_embedder(np.zeros(img.shape, np.uint8)) is None
    assert synthetic_face_embedder(np.full((480, 640), 128, np.uint8)) is None
    assert synthetic_face_embedder(None) is None
