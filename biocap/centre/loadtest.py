"""`biocap bench dedup`: the centre under load, with planted duplicates, a lossy network and faults.

1. The gallery: `--residents` synthetic persons (capture 1: ten fingers, two irises, a face; 2 %
   without irises and 2 % with two fingers missing, as declared exceptions) are enrolled straight
   into a fresh centre database (the population the centre already holds). Generated populations
   and the prebuilt database are cached under `--cache` (never the repository).
2. The new residents: `--new` enrolments spread over `--offices` offices. `--duplicates` of them
   are planted: half re-enrol a person already in the gallery with fresh captures (capture 2) at
   an office, half enrol one new person at two offices (captures 1 and 2); every fourth planted
   duplicate has no irises at its second enrolment, every fifth lacks two fingers. Every
   enrolment has its own subject number (a duplicate is a person trying to get a second card).
3. The run: the service (`biocap centre serve`) runs as its own process; a network stub process
   between the offices and the service drops `--drop` of the connections and delays the others
   by up to `--delay-ms`; each office is a process that builds its signed, chained packages first
   (the office's ANSI/NIST-ITL transactions, `resident_record` and `HOW_MADE`; the clock starts
   when every office has built them, so it measures the centre, not the generator; the gallery
   mates of planted re-enrolments are re-enrolled from their own first package, so mate and
   duplicate meet through the same extraction), then sends them in order, retrying with
   the same Idempotency-Key until it has an answer, and polls each resident's status until it is
   decided. Faults on request: `--kill-worker PID` (SIGKILL a Dask worker mid-run),
   `--restart-after S` (SIGKILL the service and start it again).
4. The figures: throughput and end-to-end latency (office's first send to the centre's
   decision), planted duplicates found, false duplicates, adjudications, decisions per accepted
   package (exactly one each, read from the database), and `same_as_exhaustive`: every planted
   case and `--exhaustive-sample` unique residents searched again, fast path against the
   exhaustive reference, on the final gallery (see `reference_check`).
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..matching.person import PersonGallery, person_parts

CHUNK = 2000


# --- population ---------------------------------------------------------------------------------
def _missing(person: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Declared exceptions of the pre-enrolled population: 2 % without irises, 2 % without two
    fingers (deterministic by person)."""
    h = (person * 2654435761) % 100
    if h < 2:
        return (), (1, 2)
    if h < 4:
        return (4, 9), ()
    return (), ()


def _chunk_path(cache: Path, seed: int, first: int) -> Path:
    return cache / f"pop-s{seed}-{first:07d}-{CHUNK}.npz"


def _build_one(job):
    from ..synthetic.population import build_chunk

    cache, seed, first, count = job
    p = _chunk_path(Path(cache), seed, first)
    if not p.exists():
        build_chunk(seed, first, count, p)
    return str(p)


def ensure_population(cache: Path, seed: int, n: int, procs: int = 2) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [(str(cache), seed, first, min(CHUNK, n - first + 1)) for first in range(1, n + 1, CHUNK)]
    todo = [j for j in jobs if not _chunk_path(cache, seed, j[2]).exists()]
    if todo:
        print(f"generating {sum(j[3] for j in todo)} residents into {cache} ...", file=sys.stderr)
        with mp.get_context("spawn").Pool(procs) as pool:
            pool.map(_build_one, todo)
    return [_chunk_path(cache, seed, j[2]) for j in jobs]


def _population_rows(chunks: list[Path], n: int):
    """(subject, person_to_bytes-compatible bytes) of persons 1..n with their exceptions."""
    from ..synthetic.population import load_chunk

    done = 0
    for path in chunks:
        z = load_chunk(path)
        offs = z["finger_offsets"]
        blob = z["fingers"].tobytes()
        for k, person in enumerate(z["persons"].tolist()):
            if person > n:
                return
            mf, mi = _missing(person)
            fingers = {pos: blob[offs[10 * k + pos - 1]:offs[10 * k + pos]] for pos in range(1, 11) if pos not in mf}
            irises = {e: (z["iris_codes"][k, e - 1], z["iris_masks"][k, e - 1]) for e in (1, 2) if e not in mi}
            yield f"R{person:08d}", _person_bytes(fingers, irises, z["face"][k])
            done += 1


def _person_bytes(fingers: dict[int, bytes], irises: dict, face) -> bytes:
    """person_to_bytes without decoding the finger records (same bytes)."""
    import struct
    import zlib

    out = [bytes([len(fingers)])]
    for pos in sorted(fingers):
        out.append(struct.pack("<BI", pos, len(fingers[pos])) + fingers[pos])
    out.append(bytes([len(irises)]))
    for e in sorted(irises):
        out.append(bytes([e]) + np.asarray(irises[e][0], np.uint8).tobytes() + np.asarray(irises[e][1], np.uint8).tobytes())
    out.append(b"\x01" + np.asarray(face, "<f4").tobytes())
    body = b"".join(out)
    return b"BPT1" + struct.pack("<I", zlib.crc32(body)) + body


def prebuilt_db(cache: Path, seed: int, n: int, shards: int) -> Path:
    """A centre data directory holding the gallery of persons 1..n (built once, then copied)."""
    from .db import CentreDB

    d = cache / f"centre-s{seed}-n{n}-sh{shards}"
    if (d / "READY").exists():
        return d
    shutil.rmtree(d, ignore_errors=True)
    chunks = ensure_population(cache, seed, n)
    db = CentreDB(d, shards=shards)
    rows = []
    for subject, b in _population_rows(chunks, n):
        rows.append((subject, b))
        if len(rows) >= 5000:
            db.enrol_bulk(rows)
            rows = []
    if rows:
        db.enrol_bulk(rows)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    (d / "READY").write_text(str(n))
    return d


# --- the plan of new enrolments -----------------------------------------------------------------
def plan(n: int, new: int, dups: int, offices: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    items = []
    d_gallery = dups // 2
    d_pairs = dups - d_gallery
    uniques = new - d_gallery - 2 * d_pairs
    if uniques < 0:
        raise ValueError("--new must be at least --duplicates plus the pairs' first enrolments")
    nxt = n + 1
    planted = 0

    def exceptions(k):
        return ((4, 7) if k % 5 == 4 else (), (1, 2) if k % 4 == 3 else ())

    for k, person in enumerate(rng.sample(range(1, n + 1), d_gallery)):
        mf, mi = exceptions(planted)
        items.append({"person": person, "capture": 2, "missing_fingers": mf, "missing_irises": mi,
                      "planted": True, "mate": f"R{person:08d}", "office": rng.randrange(offices)})
        planted += 1
    for k in range(d_pairs):
        person = nxt
        nxt += 1
        a, b = rng.sample(range(offices), 2) if offices > 1 else (0, 0)
        first = {"person": person, "capture": 1, "missing_fingers": (), "missing_irises": (),
                 "planted": False, "mate": None, "office": a, "pair_first": True}
        mf, mi = exceptions(planted)
        second = {"person": person, "capture": 2, "missing_fingers": mf, "missing_irises": mi,
                  "planted": True, "mate": None, "office": b, "pair_second": True}
        planted += 1
        items += [first, second]
    for k in range(uniques):
        mf, mi = _missing(nxt)
        items.append({"person": nxt, "capture": 1, "missing_fingers": mf, "missing_irises": mi,
                      "planted": False, "mate": None, "office": rng.randrange(offices)})
        nxt += 1
    rng.shuffle(items)
    # a pair's first enrolment is sent before its second (one is the other's mate)
    seen = {}
    for i, it in enumerate(items):
        if it.get("pair_first") or it.get("pair_second"):
            seen.setdefault(it["person"], []).append(i)
    for person, (i, j) in seen.items():
        if items[i].get("pair_second"):
            items[i], items[j] = items[j], items[i]
    for i, it in enumerate(items):
        it["subject"] = f"N{i:06d}-{it['person']}"
    firsts = {it["person"]: it["subject"] for it in items if it.get("pair_first")}
    for it in items:
        if it.get("pair_second"):
            it["mate"] = firsts[it["person"]]
    return items


# --- real packages for the load test -----------------------------------------------------------
#: what the load test's packages carry, said once (the report repeats it)
HOW_MADE = {
    "fingers": "ISO/IEC 19794-2:2011 records (Type-9) of the template-only generator's minutiae "
               "(biocap.synthetic.fingerprint.templates: statistical masters, impressions with "
               "distortion, missed and spurious minutiae), with a WSQ image (Type-14) of a ridge pattern "
               "of the record's size that is NOT rendered from those minutiae: the centre searches the "
               "records and never decodes finger images",
    "irises": "rendered near-infrared eye images (biocap.synthetic.iris.eye.render_eye: one identity "
              "per person and eye, a fresh random_capture per enrolment: dilation, rotation, position, "
              "lids, lashes, glints, blur, noise), JPEG 2000 lossless in Type-17; the iris template is "
              "extracted at the desk (in the office process, biocap.templates.iris.IrisExtractor, as the "
              "station does) and carried in a Type-99 template record, which the centre searches "
              "(it extracts from the image only when the record is absent or of another algorithm "
              "version); the pre-enrolled bulk gallery's irises are "
              "template-level (biocap.synthetic.population.iris_capture) except the gallery mates of "
              "planted re-enrolments, enrolled from their own rendered first capture",
    "faces": "biocap has no face image generator: the synthetic 128-D embedding "
             "(biocap.synthetic.population.face_capture: isotropic identities, noisy captures) is carried "
             "as a FaceTemplate in a Type-99 template record whose algorithm id is "
             "biocap-synthetic-face/1, which only a service started with --synthetic-faces accepts; the "
             "Type-10 image is a container of the same embedding (JPEG 2000 lossless), the fallback that "
             "service reads when the record is absent; the dlib face extractor's cost (not paid here: "
             "a real office sends its face template record) is measured apart in "
             "benchmarks/results/centre_profile.json",
}
SYNTHETIC_FACE_MAGIC = b"BIOCAP-SYNTHETIC-FACE-EMBEDDING-V1"
#: the algorithm id of the load test's face template records (accepted with --synthetic-faces only)
SYNTHETIC_FACE_ALGORITHM = "biocap-synthetic-face/1"
_FACE_ROWS, _FACE_COLS = 16, 64  # 1,024 bytes: magic, 512 bytes of float32, CRC-32


def synthetic_face_image(embedding) -> np.ndarray:
    """The load test's face "image": the embedding's bytes in a (16, 64) uint8 frame (see
    HOW_MADE["faces"]); `synthetic_face_embedder` reads it back."""
    import zlib

    e = np.asarray(embedding, "<f4").reshape(-1)
    body = e.tobytes()
    raw = SYNTHETIC_FACE_MAGIC.ljust(64, b"\0") + body
    raw += zlib.crc32(raw).to_bytes(4, "little")
    return np.frombuffer(raw.ljust(_FACE_ROWS * _FACE_COLS, b"\0"), np.uint8).reshape(_FACE_ROWS, _FACE_COLS).copy()


def synthetic_face_embedder(image):
    """The embedding in a `synthetic_face_image`, or None for anything else (a real photo, a
    damaged frame): the service uses it only when started with --synthetic-faces."""
    import zlib

    img = np.asarray(image) if image is not None else None
    if img is None or img.shape != (_FACE_ROWS, _FACE_COLS) or img.dtype != np.uint8:
        return None
    raw = img.tobytes()
    n = 64 + 512
    if raw[:len(SYNTHETIC_FACE_MAGIC)] != SYNTHETIC_FACE_MAGIC or any(raw[n + 4:]) or \
            int.from_bytes(raw[n:n + 4], "little") != zlib.crc32(raw[:n]):
        return None
    e = np.frombuffer(raw, "<f4", 128, 64).astype(np.float32)
    nrm = float(np.linalg.norm(e))
    return e / nrm if np.all(np.isfinite(e)) and nrm > 0 else None


#: the face template records this embedder stands for (the centre's office_reader accepts them)
synthetic_face_embedder.template_algorithms = frozenset({SYNTHETIC_FACE_ALGORITHM})


def _ridges(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * (0.4 + 0.2 * rng.random()), h * (0.4 + 0.2 * rng.random())
    r = np.hypot(xx - cx, (yy - cy) * 1.3)
    img = 128 + 90 * np.sin(2 * np.pi * r / 9.0 + rng.random() * 6) + rng.normal(0, 12, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


def eye_image(seed: int, person: int, eye: int, capture: int) -> np.ndarray:
    """A rendered NIR eye image of capture `capture` of `person`'s eye (1 right, 2 left)."""
    from ..synthetic.iris.eye import IrisIdentity, random_capture, render_eye

    ident = int.from_bytes(__import__("hashlib").sha256(repr((seed, person, eye)).encode()).digest()[:4], "little")
    rng = np.random.default_rng([int(seed), int(person), int(eye), int(capture), 0x22])
    img, _ = render_eye(IrisIdentity(ident), random_capture(rng), seed=int(capture))
    return img


def resident_record(seed: int, item: dict, finger_image_size: tuple[int, int] | None = None,
                    desk_templates: bool = True):
    """The office's finished ResidentRecord of one load-test enrolment (see HOW_MADE).
    `finger_image_size` (h, w): smaller finger images than the records' (tests: WSQ costs).
    `desk_templates`: the iris and face templates made at the desk go with the captures (False:
    images only, as an office of an older build sends them)."""
    from datetime import datetime, timezone

    from ..office.records import CaptureRecord, EnrollmentInfo, ExceptionRecord, ResidentRecord
    from ..synthetic.population import face_capture, resident
    from ..templates.formats import FingerprintRecord, encode
    from ..types import FingerPosition, IrisPosition, Modality, Sample

    person, capture = int(item["person"]), int(item["capture"])
    mf, mi = tuple(item["missing_fingers"]), tuple(item["missing_irises"])
    r = resident(seed, person, capture, missing_fingers=mf, missing_irises=mi, face=False)
    t = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
    caps = []
    for pos, tm in sorted(r.fingers.items()):
        rec = encode(FingerprintRecord(format="iso19794-2:2011", views=[tm]), "iso19794-2:2011")
        h, w = finger_image_size or (int(tm.height), int(tm.width))
        img = _ridges(h, w, seed * 7919 + person * 11 + pos)
        caps.append(CaptureRecord(f"finger-{pos}", Modality.FINGERPRINT, pos,
                                  Sample(img, 500, Modality.FINGERPRINT, FingerPosition(pos)),
                                  {"score": 60}, {"iso19794-2:2011": rec}, captured_at=t))
    for eye in (1, 2):
        if eye in mi:
            continue
        sample = Sample(eye_image(seed, person, eye, capture), 500, Modality.IRIS, IrisPosition(eye))
        caps.append(CaptureRecord(f"iris-{eye}", Modality.IRIS, eye, sample, {"score": 80},
                                  _desk_iris(sample) if desk_templates else {}, captured_at=t))
    emb = face_capture(seed, person, capture)
    face_tmpl = {}
    if desk_templates:
        from ..office.package import FACE_TEMPLATE
        from ..templates.face.template import FaceTemplate

        face_tmpl = {f"{FACE_TEMPLATE}@{SYNTHETIC_FACE_ALGORITHM}": FaceTemplate(emb).to_bytes()}
    caps.append(CaptureRecord("face", Modality.FACE, 0,
                              Sample(synthetic_face_image(emb), 300, Modality.FACE), {"score": 75},
                              face_tmpl, captured_at=t))
    exc = [ExceptionRecord(f"finger-{p}", Modality.FINGERPRINT, p, "amputated", "since birth") for p in mf]
    exc += [ExceptionRecord(f"iris-{e}", Modality.IRIS, e, "eye-condition", "bandaged") for e in mi]
    eid = __import__("hashlib").sha256(f"{seed}-{item['subject']}".encode()).hexdigest()[:32]
    info = EnrollmentInfo(eid, "finished", t.isoformat(), t.isoformat(), True, "ktp-2026", "operator-1", None)
    return ResidentRecord(subject=item["subject"], enrollment=info, metadata={}, summary={},
                          captures=caps, exceptions=exc, history=[])


_DESK_IRIS = None


def _desk_iris(sample) -> dict[str, bytes]:
    """The iris template the desk makes of a capture (as the station's template_records: the
    registered extractor's template, `to_bytes()`), or none when extraction fails (the centre
    then tries the image itself and sends the capture back when it fails too)."""
    global _DESK_IRIS
    from ..errors import BiocapError
    from ..office.package import IRIS_TEMPLATE

    if _DESK_IRIS is None:
        from ..templates.iris import IrisExtractor

        _DESK_IRIS = IrisExtractor()
    try:
        return {IRIS_TEMPLATE: _DESK_IRIS.extract(sample).to_bytes()}
    except BiocapError:
        return {}


def package_for(seed: int, item: dict, office, sequence: int, previous_hash: bytes | None,
                finger_image_size: tuple[int, int] | None = None, desk_templates: bool = True) -> bytes:
    """The office's signed ANSI/NIST-ITL package (biocap.office.package) of one enrolment."""
    from ..office.package import build_package

    return build_package(resident_record(seed, item, finger_image_size, desk_templates), office=office,
                         previous_hash=previous_hash, sequence=sequence, centre="CENTRE")


def templates_of_package(data: bytes, office) -> bytes:
    """person_to_bytes of what the centre extracts from a package (the gallery mates of planted
    re-enrolments are enrolled this way: the same extraction as the service's)."""
    from ..matching.person import person_to_bytes
    from ..office.package import read_package
    from .arrival import arrival_from_package

    pkg = read_package(data, trusted={office.office_id: office.public_key}, decode_images=False)
    a = arrival_from_package(pkg, None, synthetic_face_embedder, synthetic_face_embedder.template_algorithms)
    return person_to_bytes(a.templates)


# --- processes: network stub, offices, service --------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def network_stub(listen: int, target: int, drop: float, delay_ms: float, seed: int) -> None:
    """TCP proxy: drops a share of connections (closes them unanswered, before or after the
    request reached the service), delays the others."""
    import asyncio

    rng = random.Random(seed)

    async def pipe(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                w.write(data)
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                w.close()
            except Exception:
                pass

    async def handle(cr, cw):
        fate = rng.random()
        if fate < drop / 2:  # dropped before the service sees it
            cw.close()
            return
        await asyncio.sleep(rng.random() * delay_ms / 1000)
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            cw.close()
            return
        if fate < drop:  # the request reaches the service, the answer is lost
            data = await cr.read(1 << 24)
            sw.write(data)
            await sw.drain()
            await asyncio.sleep(0.05)
            sw.close()
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw), pipe(sr, cw))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def office_process(office: int, key_bytes: bytes, items: list[dict], seed: int, url: str, out: str,
                   go: str) -> None:
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..office.keys import OfficeIdentity
    from ..office.package import package_hash, read_package

    ident = OfficeIdentity(f"office-{office}", Ed25519PrivateKey.from_private_bytes(key_bytes))
    packages = []
    prev = None
    for seq, it in enumerate(items, 1):
        data = package_for(seed, it, ident, seq, prev)
        key = read_package(data, trusted={ident.office_id: ident.public_key}, decode_images=False).idempotency_key
        prev = package_hash(data)
        packages.append((key, it["subject"], data))
    Path(out + ".built").write_text(str(len(packages)))
    while not Path(go).exists():  # every office has built its packages: the clock starts together
        time.sleep(0.01)
    log = []
    with httpx.Client(timeout=30.0) as client:
        for key, subject, data in packages:
            t0 = time.time()
            attempts = 0
            answer = None
            while answer is None:
                attempts += 1
                try:
                    resp = client.post(f"{url}/packages", content=data, headers={"Idempotency-Key": key})
                    if resp.status_code >= 500:
                        raise httpx.TransportError(f"server {resp.status_code}")
                    answer = (resp.status_code, resp.json())
                except (httpx.TransportError, ValueError):
                    time.sleep(min(2.0, 0.05 * attempts))
                    if attempts > 400:
                        answer = (0, {"status": "unsent"})
            log.append({"key": key, "subject": subject, "sent_at": t0, "answered_at": time.time(),
                        "attempts": attempts, "http": answer[0], "status": answer[1].get("status"),
                        "reasons": answer[1].get("reasons")})
        # follow the office's residents until the centre has decided: the office's queue view
        # (one request for all of them; the per-resident view is tested elsewhere)
        pending = {e["subject"]: e for e in log if e["status"] == "accepted"}
        deadline = time.time() + 3600
        while pending and time.time() < deadline:
            try:
                q = client.get(f"{url}/offices/{ident.office_id}/queue", params={"limit": 100000}).json()
            except (httpx.TransportError, ValueError):
                time.sleep(1.0)
                continue
            for p in q.get("packages", []):
                e = pending.get(p["subject"])
                if e is not None and p.get("decision"):
                    e["state"] = {"unique": "card ready"}.get(p["decision"], p["decision"])
                    e["matched"] = p.get("matched")
                    e["decided_at"] = p.get("decided_at")
                    del pending[p["subject"]]
            time.sleep(2.0)  # the decision time is the centre's own timestamp: no need to poll hard
    Path(out).write_text(json.dumps(log))


def _centre_cpu(service_pid: int | None, external: bool = False) -> float:
    """CPU seconds (user + system) used so far by the service's process tree and every Dask
    scheduler / worker process on this machine (the centre's whole work)."""
    import psutil

    procs = {}
    if service_pid:
        try:
            root = psutil.Process(service_pid)
            procs[root.pid] = root
            for c in root.children(recursive=True):
                procs[c.pid] = c
        except psutil.NoSuchProcess:
            pass
    for p in psutil.process_iter(["cmdline"]) if external else ():
        cmd = " ".join(p.info.get("cmdline") or [])
        if "dask" in cmd and ("worker" in cmd or "scheduler" in cmd) and "bench" not in cmd:
            procs[p.pid] = p
    total = 0.0
    for p in procs.values():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _busy_worker(url: str) -> int | None:
    """PID of a Dask worker process on this machine that serves a shard now (from the centre's
    shard assignment in /metrics and the worker's listening port)."""
    import psutil

    m = _get_json(f"{url}/metrics") or {}
    ports = {int(a.rsplit(":", 1)[1]) for a in (m.get("shard_assignment") or {}).values()}
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info.get("cmdline") or [])
        if "dask" not in cmd or "worker" not in cmd:
            continue
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port in ports for c in p.net_connections("tcp")):
                return p.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def _start_service(data: Path, port: int, scheduler: str | None, log_path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "biocap.cli", "centre", "serve", "--data", str(data), "--port", str(port),
           "--synthetic-faces"]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    return subprocess.Popen(cmd, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_health(url: str, timeout: float = 300.0) -> None:
    import httpx

    t = time.time()
    while time.time() - t < timeout:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the centre at {url} did not come up in {timeout} s")


def enrol_mates_from_packages(data: Path, items: list[dict], seed: int) -> int:
    """Replace the template-level gallery entry of every person a planted re-enrolment names
    with what the centre extracts from that person's own first enrolment as a real package (so
    the mate and its duplicate come from the same extraction path). Same gallery rows (same
    version numbers), new templates."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..office.keys import OfficeIdentity
    from .db import CentreDB

    ident = OfficeIdentity("bulk-enrolment", Ed25519PrivateKey.generate())
    db = CentreDB(data)
    n = 0
    try:
        for it in items:
            if not (it["planted"] and str(it.get("mate") or "").startswith("R")):
                continue
            person = int(it["mate"][1:])
            mf, mi = _missing(person)
            first = {"person": person, "capture": 1, "missing_fingers": mf, "missing_irises": mi,
                     "subject": it["mate"]}
            body = templates_of_package(package_for(seed, first, ident, 1, None), ident)
            with db.lock:
                db.conn.execute("UPDATE gallery SET templates=? WHERE resident=?",
                                (db.cipher.seal(body, it["mate"].encode()), it["mate"]))
            n += 1
    finally:
        db.close()
    return n


# --- the reference check ------------------------------------------------------------------------
def reference_check(data: Path, cases: list[dict], seed: int) -> dict:
    """Every case searched twice against the final gallery (its own entry excluded): the fast
    path and the exhaustive reference (every eye compared in full, no pruning; every face;
    fingers of every resident whose upper bound can reach the adjudication line, which is the
    exact all-finger search: a resident below the bound cannot change the decision (tests check
    this bound against computing every finger on small galleries)). Returns counts."""
    from ..matching.person import person_from_bytes
    from .db import CentreDB, load_shard_rows

    db = CentreDB(data)
    head = db.gallery_head()
    rows = []
    for s in range(db.shards):
        rows += load_shard_rows(str(db.path), str(data / "centre.key"), s, 0, head)
    bodies = {}
    for c in cases:  # what the centre extracted from the case's package (its stored templates)
        r = db.conn.execute("SELECT key FROM packages WHERE subject=? AND status='accepted'",
                            (c["subject"],)).fetchone()
        if r is not None:
            bodies[c["subject"]] = person_from_bytes(db.body(r[0]))
    db.close()
    g = PersonGallery()
    g.add_encoded([(res,) + person_parts(b) for _, res, b in rows])
    same = 0
    mismatches = []
    t_fast = t_ref = 0.0
    for c in cases:
        probe = bodies.get(c["subject"])
        if probe is None:
            mismatches.append({"subject": c["subject"], "error": "no accepted package"})
            continue
        t = time.process_time()
        fast = g.search(probe, top_k=3)
        t_fast += time.process_time() - t
        t = time.process_time()
        ref = g.search(probe, top_k=3, exhaustive="iris")
        t_ref += time.process_time() - t
        fast, ref = _drop_self(fast, c["subject"]), _drop_self(ref, c["subject"])
        recorded = (c.get("recorded_decision"), c.get("recorded_matched"))
        ok = fast == ref and (recorded[0] is None or fast == recorded)
        if ok:
            same += 1
        else:
            mismatches.append({"subject": c["subject"], "fast": fast, "reference": ref,
                               "recorded": recorded})
    return {"checked": len(cases), "same": same, "mismatches": mismatches[:10],
            "bytes_per_resident_in_memory": round(g.bytes_per_resident, 1),
            "cpu_s_fast": round(t_fast, 2), "cpu_s_reference": round(t_ref, 2), "gallery": len(g)}


def _drop_self(res, subject):
    cands = [c for c in res.candidates if c.id != subject]
    from ..matching.person import decide
    d = decide(cands, res.threshold_duplicate, res.threshold_adjudication)
    return (d, cands[0].id if d != "unique" else None)


# --- the run ------------------------------------------------------------------------------------
def run(args) -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    n, k = int(args.residents), int(args.offices)
    if n < 10 or k < 1 or args.new < args.duplicates + 1:
        raise ValueError("need --residents >= 10, --offices >= 1 and --new > --duplicates")
    cache = Path(args.cache)
    t_build = time.time()
    base = prebuilt_db(cache, args.seed, n, shards=4)
    build_s = time.time() - t_build
    work = Path(tempfile.mkdtemp(prefix="biocap-dedup-"))
    data = work / "centre"
    shutil.copytree(base, data)
    (data / "READY").unlink(missing_ok=True)
    (data / "offices").mkdir(exist_ok=True)
    keys = []
    for o in range(k):
        sk = Ed25519PrivateKey.generate()
        keys.append(sk.private_bytes_raw())
        (data / "offices" / f"office-{o}.pub").write_bytes(sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    items = plan(n, int(args.new), int(args.duplicates), k, args.seed)
    t_mates = time.time()
    mates = enrol_mates_from_packages(data, items, args.seed)
    mates_s = time.time() - t_mates
    port = args.port or _free_port()
    stub_port = _free_port()
    url_service = f"http://127.0.0.1:{port}"
    url = f"http://127.0.0.1:{stub_port}"
    svc = _start_service(data, port, args.scheduler, work / "service.log")
    ctx = mp.get_context("spawn")
    stub = ctx.Process(target=network_stub, args=(stub_port, port, args.drop, args.delay_ms, args.seed), daemon=True)
    stub.start()
    procs = []
    try:
        _wait_health(url_service)
        go = work / "GO"
        t_pack = time.time()
        for o in range(k):
            mine = [it for it in items if it["office"] == o]
            p = ctx.Process(target=office_process, args=(o, keys[o], mine, args.seed, url,
                                                          str(work / f"office-{o}.json"), str(go)))
            p.start()
            procs.append(p)
        while not all((work / f"office-{o}.json.built").exists() for o in range(k)):
            if not any(p.is_alive() for p in procs):
                raise RuntimeError("the office processes ended before building their packages")
            time.sleep(0.2)
        packages_s = time.time() - t_pack
        go.write_text("go")
        t_start = time.time()
        cpu_before = _centre_cpu(svc.pid, bool(args.scheduler))
        cpu_lost = 0.0  # CPU of a service process tree killed mid-run (counted, not forgotten)
        killed = restarted = victim = before_restart = None
        t_load = None  # faults are timed from the centre's first accepted package (mid-load)
        while any(p.is_alive() for p in procs):
            now = time.time()
            if t_load is None:
                m = _get_json(f"{url_service}/metrics", tries=1) or {}
                if (m.get("db") or {}).get("packages", {}).get("accepted"):
                    t_load = now
                time.sleep(0.5)
                continue
            if args.kill_worker and killed is None and now - t_load >= args.kill_after:
                pid = int(args.kill_worker) if args.kill_worker != "auto" else _busy_worker(url_service)
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed = round(now - t_load, 1)
                        victim = pid
                    except ProcessLookupError:
                        killed = -1
            if args.restart_after and restarted is None and now - t_load >= args.restart_after:
                cpu_lost += _centre_cpu(svc.pid, False)
                before_restart = (_get_json(f"{url_service}/metrics", tries=1) or {}).get("db")
                os.killpg(svc.pid, signal.SIGKILL)
                svc.wait()
                svc = _start_service(data, port, args.scheduler, work / "service.log")
                restarted = round(now - t_load, 1)
            time.sleep(0.5)
        for p in procs:
            p.join()
        metrics = _get_json(f"{url_service}/metrics")
        cpu_used = _centre_cpu(svc.pid, bool(args.scheduler)) + cpu_lost - cpu_before
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        stub.terminate()
        try:
            os.killpg(svc.pid, signal.SIGTERM)
            svc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(svc.pid, signal.SIGKILL)
    logs = [e for o in range(k) for e in json.loads((work / f"office-{o}.json").read_text())]
    by_subject = {e["subject"]: e for e in logs}
    # exactly once: every accepted package has one decision (decisions.key is the primary key,
    # so count accepted packages without one and decisions without an accepted package)
    conn = sqlite3.connect(f"file:{data / 'centre.sqlite'}?mode=ro", uri=True)
    accepted = conn.execute("SELECT COUNT(*) FROM packages WHERE status='accepted'").fetchone()[0]
    decided = conn.execute("SELECT COUNT(*) FROM decisions d JOIN packages p ON p.key=d.key "
                           "WHERE p.status='accepted'").fetchone()[0]
    orphan = conn.execute("SELECT COUNT(*) FROM decisions WHERE key NOT IN (SELECT key FROM packages)").fetchone()[0]
    recorded = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT p.subject, d.decision, d.matched FROM decisions d JOIN packages p ON p.key=d.key")}
    gallery_rows = conn.execute("SELECT COUNT(*) FROM gallery").fetchone()[0]
    conn.close()
    # planted cases: a re-enrolment of a gallery person must be found as a duplicate of that
    # person; a pair sent by two offices (whichever the centre decided first is unique) must end
    # with exactly one unique and the other a duplicate of it
    def dec(subject):
        return recorded.get(subject, ("undecided", None))
    pairs: dict[int, list[dict]] = {}
    for it in items:
        if it.get("pair_first") or it.get("pair_second"):
            pairs.setdefault(it["person"], []).append(it)
    planted_cases, found, wrong_mate = [], 0, 0
    for it in items:
        if it["planted"] and not it.get("pair_second"):
            planted_cases.append(it)
            d = dec(it["subject"])
            found += d == ("duplicate", it["mate"])
            wrong_mate += d[0] == "duplicate" and d[1] != it["mate"]
    for person, (x, y) in pairs.items():
        dx, dy = dec(x["subject"]), dec(y["subject"])
        later, earlier = (y, x) if dx[0] == "unique" else (x, y)
        planted_cases.append(dict(later, mate=earlier["subject"]))
        ok = {dx, dy} == {("unique", None), ("duplicate", earlier["subject"])}
        found += ok
        wrong_mate += (not ok) and "duplicate" in (dx[0], dy[0])
    in_pairs = {it["subject"] for its in pairs.values() for it in its}
    unplanted = [it for it in items if not it["planted"] and it["subject"] not in in_pairs]
    false_dup = sum(1 for it in unplanted if dec(it["subject"])[0] == "duplicate")
    adjud = sum(1 for v in recorded.values() if v[0] == "adjudication")
    uniques = sum(1 for v in recorded.values() if v[0] == "unique")
    sent = [e["sent_at"] for e in logs]
    t_start = min(sent) if sent else t_start
    t_dec = [by_subject[s]["decided_at"] for s in by_subject if by_subject[s].get("decided_at")]
    lat = sorted((e["decided_at"] - e["sent_at"]) * 1000 for e in logs if e.get("decided_at"))
    span = (max(t_dec) - t_start) if t_dec else float("nan")
    rng = random.Random(args.seed + 7)
    sample = rng.sample(unplanted, min(args.exhaustive_sample, len(unplanted)))
    cases = []
    for it in planted_cases + sample:
        rec = recorded.get(it["subject"])
        if rec is None:
            continue
        cases.append(dict(it, recorded_decision=rec[0], recorded_matched=rec[1]))
    ref = reference_check(data, cases, args.seed)
    db_bytes = sum(f.stat().st_size for f in data.glob("centre.sqlite*"))
    if getattr(args, "plot", None):
        from ..evaluation.det_plot import plot_histograms

        plot_histograms({"office send to centre decision": lat}, args.plot,
                        xlabel="end-to-end latency (ms)",
                        title=f"centre load test: {len(t_dec)} residents decided")
    result = {
        **({"plot": str(args.plot)} if getattr(args, "plot", None) else {}),
        "residents_per_s": round(len(t_dec) / span, 2) if t_dec else 0.0,
        "centre_cpu_s": round(cpu_used, 1),
        "centre_cpu_ms_per_resident": round(1000 * cpu_used / max(len(t_dec), 1), 1),
        "residents_per_s_per_dedicated_core": round(len(t_dec) / max(cpu_used, 1e-9), 2),
        "latency_ms_p50": round(lat[len(lat) // 2], 1) if lat else None,
        "latency_ms_p99": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1) if lat else None,
        "duplicates_planted": len(planted_cases),
        "duplicates_found": found,
        "duplicates_wrong_mate": wrong_mate,
        "false_duplicates": false_dup,
        "false_duplicate_rate": round(false_dup / max(len(unplanted), 1), 5),
        "unique_residents": uniques,
        "adjudications": adjud,
        "same_as_exhaustive": ref["same"],
        "exhaustive_checked": ref["checked"],
        "bytes_per_resident": ref["bytes_per_resident_in_memory"],
        "db_bytes_per_resident": round(db_bytes / max(gallery_rows, 1), 1),
        "gallery_before": n,
        "new_residents": len(items),
        "offices": k,
        "accepted": accepted,
        "decided": decided,
        "undecided_accepted": accepted - decided,
        "decisions_without_package": orphan,
        "office_answers": {s: sum(1 for e in logs if e["status"] == s) for s in {e["status"] for e in logs}},
        "office_attempts": sum(e["attempts"] for e in logs),
        "worker_killed_at_s": killed,
        "worker_killed_pid": victim,
        "service_restarted_at_s": restarted,
        "faults_timed_from": "the centre's first accepted package",
        "centre_state_at_restart": before_restart,
        "scheduler": args.scheduler or "local cluster (2 workers)",
        "network_stub": {"drop": args.drop, "delay_ms": args.delay_ms},
        "centre_metrics": metrics,
        "reference": ref,
        "population_build_s": round(build_s, 1),
        "gallery_mates_from_packages": mates,
        "gallery_mates_build_s": round(mates_s, 1),
        "office_package_build_s": round(packages_s, 1),
        "load_average_end": list(os.getloadavg()),
        "workdir": str(work),
        "packages": "the office's signed ANSI/NIST-ITL transaction (biocap.office.package.build_package)",
        **HOW_MADE,
    }
    return result


def _get_json(url: str, tries: int = 20) -> Any:
    import httpx

    for _ in range(tries):
        try:
            return httpx.get(url, timeout=10).json()
        except (httpx.TransportError, ValueError):
            time.sleep(1)
    return None
