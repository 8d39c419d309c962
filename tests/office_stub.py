"""A stub of the centre for the office tests and benchmarks: verifies each package (signature,
chain), answers JSON verdicts, dedups by Idempotency-Key, and can drop connections or answer
slowly. Counts how often each key was processed (must be once) and posted (may be more)."""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from biocap.office import PackageError
from biocap.office.package import PackageChain, read_package


class StubCentre:
    def __init__(self, trusted, *, drop=0.0, slow=0.0, slow_s=0.0, seed=0, reject_subjects=()):
        self.trusted = trusted
        self.drop, self.slow, self.slow_s = drop, slow, slow_s
        self.rng = random.Random(seed)
        self.reject_subjects = set(reject_subjects)
        self.chain = PackageChain()
        self.verdicts: dict[str, dict] = {}
        self.processed: Counter = Counter()
        self.posted: Counter = Counter()
        self.residents: dict[str, dict] = {}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _answer(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(length)
                key = self.headers.get("Idempotency-Key", "")
                if len(data) != length:  # the sender died mid-request: nothing to process or remember
                    self.close_connection = True
                    return
                with stub.lock:
                    stub.posted[key] += 1
                    fault = stub.rng.random()
                if fault < stub.drop:  # lost before processing: close without an answer
                    self.close_connection = True
                    self.connection.close()
                    return
                with stub.lock:
                    if key not in stub.verdicts:
                        stub.verdicts[key] = stub._process(data, key)
                        stub.processed[key] += 1
                    verdict = stub.verdicts[key]
                if stub.rng.random() < stub.slow:
                    time.sleep(stub.slow_s)  # processed, but the answer may come too late
                if stub.rng.random() < stub.drop:  # processed, answer lost
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    self._answer(200, verdict)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: a lost answer
                    self.close_connection = True

            def do_GET(self):
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "offices" and parts[2] == "queue":
                    with stub.lock:  # the centre's GET /offices/{id}/queue: its chain head
                        last = stub.chain.state.get(parts[1], (0, b""))[0]
                    self._answer(200, {"office_id": parts[1], "last_sequence": last})
                    return
                subject = self.path.rsplit("/", 1)[-1]
                with stub.lock:
                    found = stub.residents.get(subject)
                self._answer(200 if found else 404, found or {"status": "unknown"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _process(self, data, key):
        try:
            pkg = read_package(data, trusted=self.trusted, chain=self.chain, decode_images=False)
        except PackageError as exc:
            return {"status": "rejected", "reasons": [str(exc)], "resident_status": None}
        if pkg.idempotency_key != key:
            return {"status": "rejected", "reasons": ["Idempotency-Key differs from 98.203"],
                    "resident_status": None}
        if pkg.subject in self.reject_subjects:
            verdict = {"status": "rejected", "reasons": ["quality: fingers too poor"],
                       "resident_status": "recapture"}
        else:
            verdict = {"status": "accepted", "reasons": [], "resident_status": "enrolled"}
        self.residents[pkg.subject] = {"subject": pkg.subject, "status": verdict["resident_status"]}
        return verdict

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
