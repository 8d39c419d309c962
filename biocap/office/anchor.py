"""The store's contents anchor, kept outside the store (in the key directory).

SQLite can lose the last commits of a store and still open it as consistent: a damaged WAL frame
makes it ignore that frame and every commit after it, and a store file cut to 0 bytes opens as a
new, empty store. Nothing inside the file can show that loss, so a second copy of the store's
audit-chain head lives beside the keys: `store-heads/<sha256 of the store's path>.head`, signed
with the office's key (Ed25519) and written after each committed write under an advisory lock.
The file has two fixed slots written in turn, each record numbered: a write overwrites the older
slot in place and is fdatasync'd (one small synced write, no rename, no directory sync); a write
torn by a crash leaves the other slot, the previous head, which the store is ahead of (accepted).

On open (`check`):
- the store's audit head == the anchor, or the store AHEAD of it with the anchored entry in its
  chain (a kill -9 between the commit and the anchor write): sound (the anchor catches up);
- the store behind the anchor, at the same entry with another hash, or not passing through the
  anchored entry, or another store (or a new, empty one) where the anchor names one: refused with
  `StoreBehindAnchor`, naming what is missing; the operator restores the newest backup or accepts
  the loss explicitly (`OfficeStore(..., accept_loss=REASON)`, `biocap office reconcile
  --accept-missing REASON`), recorded in the audit log as `store.anchor.accept`.

The anchor guards a store at its path: a copy or a backup at another path has no anchor of its
own until it is written to (docs/decisions/17-store-anchor.md).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidSignature

from .errors import StoreError
from .keys import KeyRing, fsync_dir

ANCHOR_DIR = "store-heads"
ANCHOR_FORMAT = "biocap-office-store-head/1"
SLOT = 1024  # bytes per slot: a 4-byte length, the signed JSON record, zero padding


class StoreBehindAnchor(StoreError):
    """The store holds less than (or other than) what this office last committed to it."""


@dataclass(frozen=True)
class StoreHead:
    """What the anchor records: the store, its audit-chain head and its enrollment count."""
    store_uuid: str
    audit_seq: int
    audit_hash: bytes
    enrollments: int
    path: str = ""
    at: str = ""


def _body(head: StoreHead) -> bytes:
    return json.dumps({"format": ANCHOR_FORMAT, "store_uuid": head.store_uuid, "path": head.path,
                       "audit_seq": head.audit_seq, "audit_hash": head.audit_hash.hex(),
                       "enrollments": head.enrollments, "at": head.at}, sort_keys=True).encode()


def enabled(keys: KeyRing) -> bool:
    """Anchors need a key directory with the office's signing key (`biocap office init`)."""
    return keys.directory is not None and keys.identity is not None


@functools.lru_cache(maxsize=256)
def _resolved(store_path: str) -> tuple[str, str]:
    """(absolute path, anchor file name): resolved once per process (it costs ~0.2 ms a call)."""
    resolved = str(Path(store_path).resolve())
    return resolved, hashlib.sha256(resolved.encode()).hexdigest()[:32] + ".head"


def anchor_path(keys: KeyRing, store_path: Path) -> Path:
    return keys.directory / ANCHOR_DIR / _resolved(str(store_path))[1]


@contextlib.contextmanager
def _locked(keys: KeyRing) -> Iterator[None]:
    folder = keys.directory / ANCHOR_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one office process at a time
        yield
        return
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _slots(raw: bytes) -> list[dict | None]:
    """The two slots' records as written (not verified); None for an empty or torn slot."""
    out: list[dict | None] = []
    for i in range(2):
        chunk = raw[i * SLOT:(i + 1) * SLOT]
        try:
            (n,) = struct.unpack(">I", chunk[:4])
            doc = json.loads(chunk[4:4 + n]) if 0 < n <= SLOT - 4 else None
            out.append(doc if isinstance(doc, dict) and isinstance(doc.get("counter"), int) else None)
        except (struct.error, ValueError, UnicodeDecodeError):
            out.append(None)
    return out


def _verified(keys: KeyRing, doc: dict) -> StoreHead:
    head = StoreHead(str(doc["store_uuid"]), int(doc["audit_seq"]), bytes.fromhex(doc["audit_hash"]),
                     int(doc["enrollments"]), str(doc["path"]), str(doc["at"]))
    keys.identity.public_key.verify(bytes.fromhex(doc["signature"]),
                                    _body(head) + b"|" + str(int(doc["counter"])).encode())
    return head


def load(keys: KeyRing, store_path: Path) -> StoreHead | None:
    """The signed anchor of the store at `store_path`; None when there is none (or anchors are off).

    The newest slot whose signature holds; a file whose records all fail it is refused."""
    if not enabled(keys):
        return None
    path = anchor_path(keys, store_path)
    if not path.exists():
        return None
    try:
        with _locked(keys):  # not while another process writes it
            raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path} cannot be read: {exc}") from None
    written = [d for d in _slots(raw) if d is not None]
    if not written:  # created, but its first write never finished (a crash): no anchor yet
        return None
    for doc in sorted(written, key=lambda d: -d["counter"]):
        try:
            return _verified(keys, doc)
        except (ValueError, KeyError, TypeError, InvalidSignature):
            continue
    raise StoreError(f"{path} is not this office's signed store head (damaged or edited)",
                     hint="restore the key directory from its own copy; do not edit the file")


def write(keys: KeyRing, store_path: Path, head: StoreHead, *, force: bool = False) -> None:
    """Move the anchor to `head` (never back, unless `force`: an accepted loss or a restore)."""
    if not enabled(keys):
        return
    path = anchor_path(keys, store_path)
    head = StoreHead(head.store_uuid, head.audit_seq, head.audit_hash, head.enrollments,
                     _resolved(str(store_path))[0],
                     datetime.now(timezone.utc).isoformat(timespec="seconds"))
    with _locked(keys):
        new_file = not path.exists()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            slots = _slots(os.pread(fd, 2 * SLOT, 0))
            newest = max(range(2), key=lambda i: slots[i]["counter"] if slots[i] else -1)
            last = slots[newest]
            if not force and last is not None and last.get("store_uuid") == head.store_uuid \
                    and int(last.get("audit_seq", -1)) >= head.audit_seq:
                return  # another writer of this store anchored a later commit already
            counter = (last["counter"] + 1) if last is not None else 1
            body = _body(head)
            doc = json.loads(body)
            doc["counter"] = counter
            doc["signature"] = keys.identity.signing_key.sign(body + b"|" + str(counter).encode()).hex()
            data = json.dumps(doc, sort_keys=True).encode()
            record = struct.pack(">I", len(data)) + data
            if len(record) > SLOT:
                raise StoreError(f"the store head for {store_path} does not fit its slot")
            target = 1 - newest if last is not None else 0
            os.pwrite(fd, record.ljust(SLOT, b"\0"), target * SLOT)
            (getattr(os, "fdatasync", None) or os.fsync)(fd)
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(path.parent)


def _what_to_do(store_path: Path) -> str:
    return (f"restore the newest backup (move {store_path} aside, then `biocap office restore "
            f"BACKUP_DIR --store {store_path}`), or accept the loss explicitly with `biocap office "
            f"reconcile --store {store_path} --accept-missing REASON` (recorded in the audit log)")


def missing_store(anchor: StoreHead, store_path: Path) -> StoreBehindAnchor:
    """The error for a new or empty file where the anchor says a store was."""
    return StoreBehindAnchor(
        f"{store_path} is empty or new, but this office's anchor ({anchor.at}) says the store "
        f"{anchor.store_uuid} was here with {anchor.audit_seq} audit entries and "
        f"{anchor.enrollments} enrollments: the store file was emptied, truncated or deleted",
        hint=_what_to_do(store_path))


def compare(anchor: StoreHead, store_path: Path, store_uuid: str, seq: int, head_hash: bytes,
            enrollments: int, hash_at) -> str | None:
    """None when the store is at or ahead of its anchor on the same chain, else the problem.

    `hash_at(seq)`: the store's audit-entry hash at `seq` (None when it has no such entry)."""
    if store_uuid != anchor.store_uuid:
        return (f"the store at {store_path} is store {store_uuid}, but this office's anchor "
                f"({anchor.at}) says store {anchor.store_uuid} was here with {anchor.audit_seq} "
                f"audit entries and {anchor.enrollments} enrollments: another store file was put "
                "in its place")
    if seq < anchor.audit_seq:
        lost = max(0, anchor.enrollments - enrollments)
        return (f"the store's audit log ends at entry {seq} ({enrollments} enrollments) but this "
                f"office committed up to entry {anchor.audit_seq} ({anchor.enrollments} "
                f"enrollments, anchor {anchor.at}): entries {seq + 1}-{anchor.audit_seq} "
                f"({lost} enrollment(s) and their captures, or later writes) are missing (a damaged "
                "write-ahead log, a rolled-back or an older copy of the store file)")
    at = head_hash if seq == anchor.audit_seq else hash_at(anchor.audit_seq)
    if at != anchor.audit_hash:
        return (f"the store's audit entry {anchor.audit_seq} is not the one this office committed "
                f"(anchor {anchor.at}): the store's history diverged from the office's (another "
                "copy of the store was written to)")
    return None


def refusal(problem: str, store_path: Path) -> StoreBehindAnchor:
    return StoreBehindAnchor(f"{store_path}: {problem}", hint=_what_to_do(store_path))
