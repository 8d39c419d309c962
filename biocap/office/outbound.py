"""Exporting packages into the store's outbound queue and sending them to the centre.

Contract with the centre (biocap/centre builds the real one; tests use a stub):

- ``POST {url}/packages``: body = the package bytes (``application/octet-stream``), header
  ``Idempotency-Key`` (also inside the package, field 98.203). The centre answers JSON
  ``{"status": "accepted" | "rejected", "reasons": [...], "resident_status": ...}`` with 200 (a
  4xx with that JSON is a verdict too). A repeated key gets the first verdict again, never a second
  processing: that, and the key being kept with the package, makes delivery exactly once across
  crashes and lost answers.
- ``GET {url}/residents/{subject}``: the centre's status of a resident (JSON).

Packages go in chain order; one that cannot be delivered holds the ones after it (the centre
refuses a gap in an office's chain). Network errors, timeouts, 5xx and 429 are retried with
exponential backoff and jitter; the state survives a crash at any point (``sent`` is recorded
before each attempt, the verdict in one transaction after it).
"""
from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any, Callable

from . import chain
from .errors import SendError, StoreError
from .keys import OfficeIdentity
from .package import ZERO_HASH, build_package, idempotency_key, package_hash
from .store import OfficeStore, OutboundItem

# --- parameters (one place, one reason each) -------------------------------------------------------
TIMEOUT_S = 15.0        # one request; a slow centre is retried, not waited on forever
MAX_ATTEMPTS = 8        # per package per `send` run; the queue keeps it for the next run
BACKOFF_S = 0.5         # first retry delay, doubled per attempt...
BACKOFF_MAX_S = 30.0    # ...up to this cap, each delay jittered to 50-100 %
MAX_ANSWER = 1 << 20    # a centre answer larger than 1 MiB is not read


def export(store: OfficeStore, subject: str, *, office: OfficeIdentity | None = None,
           centre: str = "CENTRE") -> OutboundItem:
    """The signed package of the subject's latest finished enrollment, queued as the next link of
    the office's chain; exporting the same enrollment again returns the queued package."""
    office = office or store.keys.require_identity()
    record = store.record(subject, finished_only=True)
    existing = store.package_for(record.enrollment_id)
    if existing is not None:
        return existing
    chain.check(store)  # a restored (older) store must not reuse sequence numbers: ChainRewound
    for _ in range(3):  # another process may queue a package between reading the head and queueing
        seq, head = store.package_head()
        data = build_package(record, office=office, previous_hash=None if seq == 0 else head,
                             sequence=seq + 1, centre=centre)
        try:
            store.queue_package(subject, record.enrollment_id, data, sequence=seq + 1,
                                previous_hash=head if seq else ZERO_HASH,
                                package_hash=package_hash(data),
                                idempotency_key=idempotency_key(office.office_id, seq + 1,
                                                                record.enrollment_id))
        except StoreError as exc:
            if "does not follow" in str(exc):
                continue
            raise
        item = store.package_for(record.enrollment_id)
        chain.advance(store.keys, item.seq, item.package_hash)  # before the package can leave
        return item
    raise StoreError("the package chain kept moving while exporting; try again")


@dataclass
class SendReport:
    accepted: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class Sender:
    """Delivers the outbound queue to the centre at `url` (see the module docstring)."""

    def __init__(self, store: OfficeStore, url: str, *, timeout: float = TIMEOUT_S,
                 max_attempts: int = MAX_ATTEMPTS, backoff: float = BACKOFF_S,
                 backoff_max: float = BACKOFF_MAX_S, sleep: Callable[[float], None] = time.sleep,
                 progress: Callable[[str], None] | None = None):
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SendError(f"centre URL {url!r} must be http(s)://host[:port][/path]")
        self.store, self.url = store, url.rstrip("/")
        self.timeout, self.max_attempts = timeout, max_attempts
        self.backoff, self.backoff_max = backoff, backoff_max
        self.sleep = sleep
        self.say = progress or (lambda _m: None)

    def send(self) -> SendReport:
        report = SendReport()
        chain.check(self.store)  # a rewound store would resend old sequence numbers
        items = self.store.outbound(states=("queued", "sent"))
        for n, item in enumerate(items, 1):
            self.say(f"[{n}/{len(items)}] package {item.seq} ({item.idempotency_key})")
            verdict = self._deliver(item, report)
            if verdict is None:
                report.pending += [i.seq for i in items[n - 1:]]
                break
            (report.accepted if verdict == "accepted" else report.rejected).append(item.seq)
        return report

    def _deliver(self, item: OutboundItem, report: SendReport) -> str | None:
        attempts = item.attempts
        for k in range(self.max_attempts):
            attempts += 1
            report.attempts += 1
            chain.advance(self.store.keys, item.seq, item.package_hash)
            self.store.update_outbound(item.seq, state="sent", attempts=attempts, next_at=time.time())
            try:
                status, answer = self._post(item)
            except (OSError, HTTPException, ValueError) as exc:
                error = f"package {item.seq}: {type(exc).__name__}: {exc}"
            else:
                verdict = answer.get("status") if isinstance(answer, dict) else None
                if verdict in ("accepted", "rejected"):
                    self.store.update_outbound(item.seq, state=verdict, result={
                        "status": verdict, "reasons": list(answer.get("reasons") or []),
                        "resident_status": answer.get("resident_status"), "http": status})
                    return verdict
                if status < 500 and status != 429:
                    raise SendError(f"the centre answered HTTP {status} without a verdict for "
                                    f"package {item.seq}: {str(answer)[:200]}")
                error = f"package {item.seq}: HTTP {status}"
            report.errors.append(error)
            if k + 1 < self.max_attempts:
                delay = min(self.backoff_max, self.backoff * 2 ** k) * (0.5 + random.random() / 2)
                self.say(f"  {error}; retrying in {delay:.1f} s")
                self.store.update_outbound(item.seq, next_at=time.time() + delay)
                self.sleep(delay)
        return None

    def _post(self, item: OutboundItem) -> tuple[int, Any]:
        req = urllib.request.Request(
            f"{self.url}/packages", data=item.package, method="POST",
            headers={"Content-Type": "application/octet-stream",
                     "Idempotency-Key": item.idempotency_key})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, _json(resp.read(MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read(MAX_ANSWER)
            finally:
                exc.close()
            return exc.code, _json(body)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return {"raw": body[:200].decode("utf-8", "replace")}


def centre_status(url: str, subject: str, *, timeout: float = TIMEOUT_S) -> Any:
    """The centre's view of a resident (``GET {url}/residents/{subject}``)."""
    quoted = urllib.parse.quote(subject, safe="")
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/residents/{quoted}", timeout=timeout) as resp:
            return _json(resp.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        return {"http": exc.code, **(_json(exc.read(MAX_ANSWER)) or {})}
    except (OSError, HTTPException) as exc:
        raise SendError(f"the centre at {url} did not answer: {exc}") from None


def centre_last_sequence(url: str, office_id: str, *, timeout: float = TIMEOUT_S) -> int:
    """The last package sequence the centre accepted from `office_id`
    (``GET {url}/offices/{office_id}/queue``, field ``last_sequence``)."""
    quoted = urllib.parse.quote(office_id, safe="")
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/offices/{quoted}/queue?limit=1",
                                    timeout=timeout) as resp:
            answer = _json(resp.read(MAX_ANSWER))
    except (OSError, HTTPException) as exc:
        raise SendError(f"the centre at {url} did not answer: {exc}") from None
    seq = answer.get("last_sequence") if isinstance(answer, dict) else None
    if not isinstance(seq, int) or seq < 0:
        raise SendError(f"the centre at {url} gave no last_sequence for office {office_id}: {str(answer)[:200]}")
    return seq
