"""The centre: receives packages, checks them on arrival, de-duplicates them on Dask, reports status.

    centre = Centre("/srv/centre", scheduler=None)   # local Dask cluster; or "tcp://host:8786"
    app = create_app(centre)                         # FastAPI; `biocap centre serve` runs it with uvicorn

Office keys: `<data>/offices/<office_id>.pub` (Ed25519 public key, PEM or 32 raw bytes). A package
from an office without a key there, with a bad signature, or that does not continue the office's
chain (sequence = last accepted + 1, previous hash = last accepted package's hash) is refused
with the reason and nothing is stored. A package that passes those but fails the checks on
arrival is rejected with the reasons (its record, without biometric data, is kept so the office
can see it). An accepted one is queued; one background thread takes the queue in batches, searches
them against every shard (`dedup.Deduplicator`), checks each against the batch's earlier unique
residents too, and records each decision once (see `db.CentreDB.record_decision`).
"""
from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import BiocapError
from ..matching.person import PersonGallery, PersonSearchResult, person_from_bytes, person_to_bytes
from .arrival import Arrival, CentrePolicy, check_arrival
from .db import CentreDB, CentreStoreError
from .dedup import Deduplicator, merge, start_cluster
from .errors import Refused

log = logging.getLogger("biocap.centre")

#: largest package accepted (bytes): ten WSQ fingers, two iris and one face image are well under
#: 2 MB; 16 MiB leaves room for slaps and a signature image, and bounds memory per request
MAX_PACKAGE_BYTES = 16 << 20
#: packages taken from the queue per search batch: the shards stream the gallery once per batch
#: and a batch costs one Dask round trip (0.1-0.5 s on a loaded 2-core machine); 64 keeps that
#: under 10 ms a resident when a queue has formed (a short queue is taken as it is)
BATCH = 64
#: window over which throughput (for the ETA) is measured, seconds
THROUGHPUT_WINDOW = 120.0


Reader = Callable[[bytes, dict], Arrival]


def load_office_keys(data_dir: Path) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys = {}
    d = data_dir / "offices"
    if not d.is_dir():
        return keys
    for p in sorted(d.glob("*.pub")):
        raw = p.read_bytes()
        try:
            k = Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else load_pem_public_key(raw)
        except ValueError as exc:
            raise CentreStoreError(f"office key {p} is not an Ed25519 public key: {exc}") from exc
        if not isinstance(k, Ed25519PublicKey):
            raise CentreStoreError(f"office key {p} is not an Ed25519 public key")
        keys[p.stem] = k
    return keys


def office_reader(data: bytes, trusted: dict, face_embedder: Any = None) -> Arrival:
    """Read and verify an office package (biocap.office.package, the signed ANSI/NIST-ITL
    transaction) into an Arrival: the fingers' images are not decoded (the centre searches their
    ISO/IEC 19794-2 records); iris and face templates come from the desk's Type-99 template
    records when this build made them, else the images are decoded and extracted here. A face
    embedder may name more face template algorithms it stands for (`template_algorithms`: the
    load test's synthetic faces)."""
    try:
        from ..office.package import FACE_TEMPLATE, read_package, template_algorithm
    except ImportError as exc:  # the office package format is not in this build
        raise Refused("unsupported", "this centre build cannot read office packages", 501) from exc
    from .arrival import arrival_from_package

    try:
        pkg = read_package(data, trusted=trusted, decode_images=False)
    except BiocapError as exc:
        text = f"{type(exc).__name__}: {exc}".lower()
        if "unknown" in text or "not a trusted office" in text or "untrusted" in text:
            raise Refused("unknown_office", str(exc), 401) from exc
        if "signature" in text:
            raise Refused("bad_signature", str(exc), 401) from exc
        raise Refused("corrupt", str(exc), 400) from exc
    algorithms = {template_algorithm(FACE_TEMPLATE)} | set(getattr(face_embedder, "template_algorithms", ()))
    return arrival_from_package(pkg, None, face_embedder, algorithms)


def default_reader(face_embedder: Any = None) -> Reader:
    return functools.partial(office_reader, face_embedder=face_embedder)


@dataclass
class Answer:
    status: int
    body: dict


class Centre:
    def __init__(self, data_dir: str | Path, *, scheduler: str | None = None, client: Any = None,
                 workers: int = 2, shards: int = 4, reader: Reader | None = None, batch: int = BATCH,
                 start: bool = True, face_embedder: Any = None, programme: str | Path = "ektp"):
        self.dir = Path(data_dir)
        self.db = CentreDB(self.dir, shards=shards)
        self.policy = CentrePolicy.load(self.dir, programme)
        self.trusted = load_office_keys(self.dir)
        self.reader = reader or default_reader(face_embedder)
        self.batch = int(batch)
        self._cluster = None
        if client is None and scheduler is not False:
            client, self._cluster = start_cluster(scheduler, workers)
        self.client = client or None
        self.dedup = Deduplicator(str(self.db.path), str(self.dir / "centre.key"), self.db.shards, self.client)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._decided: collections.deque = collections.deque()
        self._latency: collections.deque = collections.deque(maxlen=10000)
        self.counters = collections.Counter()
        #: CPU seconds per step: arrival (this process) and de-duplication (the shard tasks'
        #: own CPU, wherever they ran), for /metrics and the load test's profile
        self.cpu: dict[str, float] = {}
        self.started_at = time.time()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        if start:
            self.start()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="centre-dedup", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._cluster is not None:
            try:
                self.client.close()
                self._cluster.close()
            except Exception:  # pragma: no cover - shutting down anyway
                pass
        self.db.close()

    def reload_keys(self) -> None:
        self.trusted = load_office_keys(self.dir)

    # --- arrival --------------------------------------------------------------------------------
    def submit(self, data: bytes, idempotency_key: str | None) -> Answer:
        received = time.time()
        self.counters["requests"] += 1
        if not isinstance(data, (bytes, bytearray)) or not data:
            return self._refuse(Refused("corrupt", "empty package body", 400))
        if len(data) > MAX_PACKAGE_BYTES:
            return self._refuse(Refused("too_large", f"package of {len(data)} bytes exceeds {MAX_PACKAGE_BYTES}", 413))
        if idempotency_key is not None:
            known = self.db.package(idempotency_key)
            if known is not None:  # a retry of a package already answered: the same answer
                self.counters["idempotent_replays"] += 1
                return Answer(200 if known["status"] == "accepted" else 422, self._answer_body(known))
        t_read = time.thread_time()  # this thread: other requests and the dedup thread run beside it
        try:
            a = self.reader(bytes(data), self.trusted)
        except Refused as exc:
            return self._refuse(exc)
        except BiocapError as exc:
            return self._refuse(Refused("corrupt", f"unreadable package: {exc}", 400))
        except Exception as exc:  # a hostile package must never take the service down
            log.exception("package reader failed")
            return self._refuse(Refused("corrupt", f"unreadable package ({type(exc).__name__})", 400))
        if a.office_id not in self.trusted:
            return self._refuse(Refused("unknown_office", f"office {a.office_id!r} has no registered key", 401))
        if idempotency_key is not None and idempotency_key != a.key:
            return self._refuse(Refused("key_mismatch", "the Idempotency-Key header differs from the package's key", 400))
        known = self.db.package(a.key)
        if known is not None:
            if known["office_id"] != a.office_id:
                return self._refuse(Refused("replayed", "this idempotency key belongs to another office's package", 409))
            self.counters["idempotent_replays"] += 1
            return Answer(200 if known["status"] == "accepted" else 422, self._answer_body(known))
        if self.db.hash_known(a.package_hash):
            return self._refuse(Refused("replayed", "this package was already received under another key", 409))
        head = self.db.chain_head(a.office_id)
        if a.sequence != head[0] + 1 or (a.previous_hash or None) != head[1]:
            return self._refuse(Refused(
                "broken_chain", f"office {a.office_id}: package sequence {a.sequence} does not follow "
                f"{head[0]} (or its previous hash differs from the last package the centre accepted)", 409,
                hint="send the office's packages in order, starting after the centre's last accepted one"))
        self.cpu["arrival_read_extract"] = self.cpu.get("arrival_read_extract", 0.0) + time.thread_time() - t_read
        for label, source in (getattr(a, "sources", None) or {}).items():  # desk record or re-extracted
            self.counters[f"templates_from_{source}_{label.split(':')[0]}"] += 1
        reasons = check_arrival(a, self.policy)
        status = "accepted" if not reasons else "rejected"
        body = person_to_bytes(a.templates) if status == "accepted" else None
        try:
            stored = self.db.store_package(key=a.key, office_id=a.office_id, sequence=a.sequence,
                                           package_hash=a.package_hash, subject=a.subject, status=status,
                                           reasons=reasons, body=body, raw=bytes(data) if body else None,
                                           received_at=received, expect_head=head)
        except CentreStoreError as exc:
            return self._refuse(Refused("broken_chain", str(exc), 409))
        self.counters[status] += 1
        if stored and status == "accepted":
            self._wake.set()
        known = self.db.package(a.key)
        return Answer(200 if status == "accepted" else 422, self._answer_body(known))

    def _refuse(self, exc: Refused) -> Answer:
        self.counters["refused"] += 1
        self.counters[f"refused_{exc.code}"] += 1
        return Answer(exc.status, {"status": "rejected", "stored": False,
                                   "reasons": [{"code": exc.code, "field": "package", "message": str(exc)}],
                                   "resident_status": None})

    def _answer_body(self, pkg: dict) -> dict:
        return {"status": pkg["status"], "stored": True, "key": pkg["key"], "reasons": pkg["reasons"],
                "resident_status": self.resident_status(pkg["subject"])}

    # --- status ---------------------------------------------------------------------------------
    def throughput(self) -> float:
        now = time.time()
        while self._decided and self._decided[0] < now - THROUGHPUT_WINDOW:
            self._decided.popleft()
        if len(self._decided) < 2:
            return 0.0
        span = max(now - self._decided[0], 1e-3)
        return len(self._decided) / span

    def resident_status(self, subject: str) -> dict | None:
        pkgs = self.db.subject_packages(subject)
        if not pkgs:
            return None
        p = pkgs[-1]
        path = [{"step": "received", "at": p["received_at"]}, {"step": "checked", "at": p["checked_at"],
                                                                "result": p["status"]}]
        out = {"subject": subject, "package": p["key"], "office_id": p["office_id"], "path": path}
        if p["status"] != "accepted":
            out.update(state="rejected", reasons=p["reasons"])
            return out
        d = self.db.decision(p["key"])
        if d is None:
            pos = self.db.queue_position(p["key"]) or 0
            tp = self.throughput()
            out.update(state="queued", queue_position=pos, throughput_per_s=round(tp, 2),
                       eta=(time.time() + pos / tp) if tp > 0 else None)
            return out
        path.append({"step": "de-duplicated", "at": d["decided_at"], "decision": d["decision"]})
        if d["decision"] == "unique":
            path.append({"step": "card ready", "at": d["decided_at"]})
            state = "card ready"
        elif d["decision"] == "adjudication":
            path.append({"step": "adjudication", "at": d["decided_at"]})
            state = "adjudication"
        else:
            state = "duplicate"
        out.update(state=state, decision=d["decision"], matched=d["matched"],
                   evidence=(d["result"].get("candidates") or [{}])[0].get("evidence"))
        return out

    def office_queue(self, office_id: str, limit: int = 200) -> dict:
        pkgs = self.db.office_packages(office_id, limit)
        items = []
        for p in pkgs:
            d = self.db.decision(p["key"]) if p["status"] == "accepted" else None
            items.append({"key": p["key"], "subject": p["subject"], "sequence": p["sequence"],
                          "status": p["status"], "decision": d["decision"] if d else None,
                          "matched": d["matched"] if d else None, "received_at": p["received_at"],
                          "decided_at": d["decided_at"] if d else None})
        seq, _ = self.db.chain_head(office_id)
        return {"office_id": office_id, "last_sequence": seq, "pending": self.db.pending_count(office_id),
                "packages": items}

    def health(self) -> dict:
        ok = self._thread is not None and self._thread.is_alive()
        workers = len(self.client.scheduler_info().get("workers", {})) if self.client else 0
        return {"status": "ok" if ok else "degraded", "dedup_thread": ok, "dask_workers": workers,
                "gallery": self.db.gallery_size(), "pending": self.db.pending_count(),
                "last_error": self.last_error}

    def metrics(self) -> dict:
        lat = sorted(self._latency)

        def pct(q):
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else None
        return {"counters": dict(self.counters), "db": self.db.counts(),
                "throughput_residents_per_s": round(self.throughput(), 3),
                "latency_ms_p50": pct(0.5), "latency_ms_p99": pct(0.99),
                "shard_moves": self.dedup.shard_moves, "retried_batches": self.dedup.retried_batches,
                "shard_assignment": {str(k): v for k, v in self.dedup._assignment.items()},
                "shards": self.db.shards, "uptime_s": round(time.time() - self.started_at, 1),
                "cpu_s": {k: round(v, 2) for k, v in self.cpu.items()}}

    # --- de-duplication -------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.process_batch(self.cpu)
            except Exception as exc:  # the cluster is away or a row is damaged: keep serving, retry
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("de-duplication batch failed; retrying")
                self._stop.wait(1.0)
                continue
            if n == 0:
                self._wake.wait(0.5)
                self._wake.clear()

    def process_batch(self, timings: dict[str, float] | None = None) -> int:
        """Search and decide up to `batch` queued packages; returns how many were decided.
        `timings` (optional) accumulates CPU seconds of this process per step."""
        clock = time.thread_time
        t = clock()
        pending = self.db.pending_bodies(self.batch)
        if not pending:
            return 0
        started = time.time()
        probes = [person_from_bytes(b) for _, _, _, b in pending]
        upto = self.db.gallery_head()
        t1 = clock()
        results = self.dedup.search(probes, upto, exclude=[s for _, s, _, _ in pending], timings=timings)
        t2 = clock()
        enrolled = self.db.in_gallery_many([s for _, s, _, _ in pending])
        local = PersonGallery()
        items = []
        for (key, subject, _, body), probe, res in zip(pending, probes, results):
            if len(local):  # residents of this batch decided unique before this one
                res = self._with_batch(res, local.search(probe), subject)
            enrol = body if res.decision == "unique" and subject not in enrolled else None
            if res.decision == "unique" and subject not in local:
                local.add(subject, probe)
            items.append((key, subject, res.to_dict(), started, enrol))
        recorded = self.db.record_decisions(items)
        now = time.time()
        done = 0
        for ok, (_, _, received, _), it in zip(recorded, pending, items):
            if ok:
                done += 1
                self._decided.append(now)
                self._latency.append(now - received)
                self.counters[f"decided_{it[2]['decision']}"] += 1
        if timings is not None:
            t3 = clock()
            timings["queue_read"] = timings.get("queue_read", 0.0) + t1 - t
            timings["search_total"] = timings.get("search_total", 0.0) + t2 - t1
            timings["decide_record"] = timings.get("decide_record", 0.0) + t3 - t2
        return done

    @staticmethod
    def _with_batch(res: PersonSearchResult, local: PersonSearchResult, subject: str) -> PersonSearchResult:
        parts = [{"candidates": [(c.id, c.score, c.evidence) for c in res.candidates], "stats": res.stats},
                 {"candidates": [(c.id, c.score, c.evidence) for c in local.candidates], "stats": {}}]
        return merge(parts, res.fmr, exclude=subject)


def create_app(centre: Centre):
    """The HTTP API (FastAPI) over a Centre."""
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    global Request
    from fastapi import Request  # module-level name: FastAPI resolves the (string) annotations there

    app = FastAPI(title="biocap centre", version="1")

    @app.post("/packages")
    async def post_package(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_PACKAGE_BYTES):
            a = centre._refuse(Refused("too_large", f"package larger than {MAX_PACKAGE_BYTES} bytes", 413))
            return JSONResponse(a.body, status_code=a.status)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_PACKAGE_BYTES:
                a = centre._refuse(Refused("too_large", f"package larger than {MAX_PACKAGE_BYTES} bytes", 413))
                return JSONResponse(a.body, status_code=a.status)
            chunks.append(chunk)
        a = await run_in_threadpool(centre.submit, b"".join(chunks), request.headers.get("idempotency-key"))
        return JSONResponse(a.body, status_code=a.status)

    @app.get("/residents/{subject}")
    async def resident(subject: str):
        st = await run_in_threadpool(centre.resident_status, subject)
        if st is None:
            return JSONResponse({"subject": subject, "state": "unknown"}, status_code=404)
        return st

    @app.get("/offices/{office_id}/queue")
    async def queue(office_id: str, limit: int = 200):
        return await run_in_threadpool(centre.office_queue, office_id, max(1, min(int(limit), 10000)))

    @app.get("/health")
    async def health():
        h = await run_in_threadpool(centre.health)
        return JSONResponse(h, status_code=200 if h["status"] == "ok" else 503)

    @app.get("/metrics")
    async def metrics():
        return await run_in_threadpool(centre.metrics)

    return app


def serve(data_dir: str | Path, port: int, scheduler: str | None = None, host: str = "127.0.0.1",
          workers: int = 2, shards: int = 4, synthetic_faces: bool = False,
          programme: str | Path = "ektp") -> None:
    """Run the service (uvicorn). `synthetic_faces`: LOAD TESTS ONLY, read the face of a package
    as the load test's embedding container (`loadtest.synthetic_face_image`) instead of running
    the face extractor on a photo (biocap has no face image generator)."""
    import uvicorn

    embedder = None
    if synthetic_faces:
        from .loadtest import synthetic_face_embedder as embedder
        log.warning("--synthetic-faces: faces are read as load-test embedding containers, not photos")
    centre = Centre(data_dir, scheduler=scheduler, workers=workers, shards=shards, face_embedder=embedder,
                    programme=programme)
    try:
        uvicorn.run(create_app(centre), host=host, port=int(port), log_level="warning")
    finally:
        centre.close()


__all__ = ["Centre", "Refused", "create_app", "serve", "office_reader", "load_office_keys", "MAX_PACKAGE_BYTES"]
