"""The office's package chain head, kept outside the store (in the key directory).

The store keeps the chain head (sequence, package hash) of the packages it queued, so restoring an
older backup, or copying an old store file back, rewinds it: the next export would reuse sequence
numbers the centre has already received, a fork the centre refuses as a replay or a broken chain.
The chain anchor is a second copy of the head that no backup contains: `chain-head.json` in the key
directory, signed with the office's key, moved forward (never back) after each package is queued
and before each is sent, so it is at or beyond every package that may have left the office.

`check(store)` compares the two before a package is built or sent:
- store head == anchor, or the store ahead of it with the anchor's package in its queue: sound;
- store behind the anchor: `ChainRewound` (a restored or rolled-back store); nothing is exported or
  sent until the operator runs `reconcile(store)` (`biocap office reconcile`), which continues
  the store's chain from the anchor, after checking it against the centre when a URL is given;
- same sequence with another hash, or the anchor's package not in the queue: `ChainForked`.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cryptography.exceptions import InvalidSignature

from .errors import StoreError
from .keys import KeyRing, OfficeIdentity, write_json_atomic

ANCHOR_FILE = "chain-head.json"
ANCHOR_FORMAT = "biocap-office-chain-head/1"


class ChainRewound(StoreError):
    """The store's package chain is behind what this office has already issued."""


class ChainForked(StoreError):
    """The store's package chain is not the chain this office issued."""


@dataclass(frozen=True)
class Anchor:
    office_id: str
    sequence: int
    package_hash: bytes


def _body(office_id: str, sequence: int, package_hash: bytes) -> bytes:
    return json.dumps({"format": ANCHOR_FORMAT, "office_id": office_id, "sequence": sequence,
                       "package_hash": package_hash.hex()}, sort_keys=True).encode()


def _path(keys: KeyRing) -> Path | None:
    return keys.directory / ANCHOR_FILE if keys.directory is not None else None


@contextlib.contextmanager
def _locked(keys: KeyRing) -> Iterator[None]:
    """Serialise anchor updates of several processes (POSIX advisory lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one office process at a time
        yield
        return
    fd = os.open(keys.directory / (ANCHOR_FILE + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(keys: KeyRing) -> Anchor | None:
    """The office's chain anchor; None before its first package (or without an office identity)."""
    path, ident = _path(keys), keys.identity
    if path is None or ident is None or not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        anchor = Anchor(str(doc["office_id"]), int(doc["sequence"]), bytes.fromhex(doc["package_hash"]))
        signature = bytes.fromhex(doc["signature"])
        ident.public_key.verify(signature, _body(anchor.office_id, anchor.sequence, anchor.package_hash))
    except (OSError, ValueError, KeyError, TypeError, InvalidSignature):
        raise StoreError(f"{path} is not this office's signed chain head (damaged or edited)",
                         hint="restore the key directory from its own copy; do not edit the file") from None
    if anchor.office_id != ident.office_id:
        raise StoreError(f"{path} is the chain head of office {anchor.office_id}, not {ident.office_id}")
    return anchor


def _write(keys: KeyRing, ident: OfficeIdentity, sequence: int, package_hash: bytes) -> None:
    path = _path(keys)
    assert path is not None
    body = _body(ident.office_id, sequence, package_hash)
    doc = json.loads(body)
    doc["signature"] = ident.signing_key.sign(body).hex()
    write_json_atomic(path, doc)


def advance(keys: KeyRing, sequence: int, package_hash: bytes) -> None:
    """Move the anchor to (sequence, package_hash) unless it is already there or beyond."""
    ident = keys.identity
    if ident is None or keys.directory is None or sequence <= 0:
        return
    with _locked(keys):
        current = load(keys)
        if current is not None and current.sequence >= sequence:
            if current.sequence == sequence and current.package_hash != package_hash:
                raise ChainForked(f"package {sequence} of office {ident.office_id} was already issued "
                                  "with another hash; this store is not the office's chain")
            return
        _write(keys, ident, sequence, package_hash)


def check(store) -> Anchor | None:
    """Raise ChainRewound / ChainForked when the store's chain head disagrees with the anchor."""
    anchor = load(store.keys)
    if anchor is None:
        return None
    seq, head = store.package_head()
    where = store.keys.directory / ANCHOR_FILE
    if seq < anchor.sequence:
        raise ChainRewound(
            f"the store's package chain ends at {seq} but office {anchor.office_id} has already issued "
            f"package {anchor.sequence} ({where}): the store was restored from an older backup or "
            f"rolled back, and packages {seq + 1}-{anchor.sequence} are not in it",
            hint="restore the newest backup, or run `biocap office reconcile --store FILE "
                 "[--centre URL]` to continue the chain after the office's last package")
    if seq == anchor.sequence:
        if head != anchor.package_hash:
            raise ChainForked(f"the store's package {seq} is not the package {seq} office "
                              f"{anchor.office_id} issued ({where}): another store's chain")
        return anchor
    if anchor.sequence > 0 and store.package_hash_at(anchor.sequence) != anchor.package_hash \
            and store.package_base() != (anchor.sequence, anchor.package_hash):
        raise ChainForked(f"the store's chain does not pass through package {anchor.sequence} that "
                          f"office {anchor.office_id} issued ({where}): another store's chain")
    return anchor


def reconcile(store, *, centre_sequence: int | None = None) -> tuple[int, int]:
    """Continue a rewound store's chain after the office's last issued package.

    `centre_sequence`: the last sequence the centre accepted from this office (when known). The
    store's head becomes the anchor's; returns (old store sequence, new one)."""
    anchor = load(store.keys)
    seq, _ = store.package_head()
    if anchor is None:
        raise StoreError(f"no chain head of this office in {store.keys.directory}: nothing to reconcile")
    if centre_sequence is not None and centre_sequence != anchor.sequence:
        raise ChainForked(
            f"the centre's last package from office {anchor.office_id} is {centre_sequence} but the "
            f"office issued up to {anchor.sequence}: "
            + (f"packages {centre_sequence + 1}-{anchor.sequence} never reached the centre and are "
               "not in this store; restore a newer backup that still queues them"
               if centre_sequence < anchor.sequence else
               "the centre holds packages this key directory never recorded"))
    if seq >= anchor.sequence:
        check(store)  # already at or past the anchor: only a fork is an error
        return seq, seq
    store.adopt_package_head(anchor.sequence, anchor.package_hash,
                             reason=f"reconciled with the office's chain head (store was at {seq})")
    return seq, anchor.sequence
