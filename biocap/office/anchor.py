"""The store's contents anchor, kept outside the store (in the key directory).

SQLite can lose the last commits of a store and still open it as consistent: a damaged WAL frame
makes it ignore that frame and every commit after it, and a store file cut to 0 bytes opens as a
new, empty store. Nothing inside the file can show that loss, so a second copy of the store's
audit-chain head lives beside the keys: `store-heads/<sha256 of the store's path>.json`, signed
with the office's key (Ed25519), written atomically (fsync + rename) after each committed write
under an advisory lock and only ever moved forward.

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
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidSignature

from .errors import StoreError
from .keys import KeyRing, write_json_atomic

ANCHOR_DIR = "store-heads"
ANCHOR_FORMAT = "biocap-office-store-head/1"


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


def anchor_path(keys: KeyRing, store_path: Path) -> Path:
    resolved = str(Path(store_path).resolve())
    return keys.directory / ANCHOR_DIR / (hashlib.sha256(resolved.encode()).hexdigest()[:32] + ".json")


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


def load(keys: KeyRing, store_path: Path) -> StoreHead | None:
    """The signed anchor of the store at `store_path`; None when there is none (or anchors are off)."""
    if not enabled(keys):
        return None
    path = anchor_path(keys, store_path)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        head = StoreHead(str(doc["store_uuid"]), int(doc["audit_seq"]), bytes.fromhex(doc["audit_hash"]),
                         int(doc["enrollments"]), str(doc["path"]), str(doc["at"]))
        keys.identity.public_key.verify(bytes.fromhex(doc["signature"]), _body(head))
    except (OSError, ValueError, KeyError, TypeError, InvalidSignature):
        raise StoreError(f"{path} is not this office's signed store head (damaged or edited)",
                         hint="restore the key directory from its own copy; do not edit the file") from None
    return head


def _seq_on_disk(path: Path) -> tuple[str, int] | None:
    """(store uuid, audit seq) of the anchor file as written (under the lock; not verified)."""
    try:
        doc = json.loads(path.read_text())
        return str(doc["store_uuid"]), int(doc["audit_seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(keys: KeyRing, store_path: Path, head: StoreHead, *, force: bool = False) -> None:
    """Move the anchor to `head` (never back, unless `force`: an accepted loss or a restore)."""
    if not enabled(keys):
        return
    path = anchor_path(keys, store_path)
    head = StoreHead(head.store_uuid, head.audit_seq, head.audit_hash, head.enrollments,
                     str(Path(store_path).resolve()),
                     datetime.now(timezone.utc).isoformat(timespec="seconds"))
    with _locked(keys):
        if not force:
            current = _seq_on_disk(path)
            if current is not None and current[0] == head.store_uuid and current[1] >= head.audit_seq:
                return  # another writer of this store anchored a later commit already
        body = _body(head)
        doc = json.loads(body)
        doc["signature"] = keys.identity.signing_key.sign(body).hex()
        write_json_atomic(path, doc)


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
