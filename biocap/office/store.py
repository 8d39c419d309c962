"""The office store: every resident's enrollments in one SQLite file (WAL), encrypted and sealed.

Design (docs/office.md has the full picture, docs/decisions/21-office-store.md the why):

- Payloads (images, pen series, templates, subject ids, names, metadata, operators, packages)
  are AES-256-GCM ciphertext; the associated data binds each to its table, record and column, so a
  payload moved to another row does not decrypt.
- Every row carries an HMAC-SHA256 over all its columns (keyed, unlike a plain hash beside the
  data), checked on every read: an edit made with plain `sqlite3` is an error, not a wrong record.
- An append-only audit log (who did what to which record, when) is a hash chain whose entries
  and head are MAC'd; `check_integrity()` replays it against the tables, so a deleted or inserted
  enrollment, capture or package shows.
- The records' data key is random per store and kept wrapped under a master key from the key
  directory (`KeyRing`); rotation re-wraps it under a new master key without touching a record.
  A wrong or missing key is a `StoreError` naming the key file, never garbage.
- Subjects are found through a keyed blind index (HMAC of the subject id), never stored in clear.
- A damaged file gives a `StoreError` or a problem list, never a raw sqlite3 error, and a store
  found damaged takes no writes.
"""
from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import sqlite3
import time
import uuid as uuidlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import InvalidDataError
from ..types import Modality
from . import anchor as store_anchor
from .errors import SQLITE_ERRORS, MissingKeys, StoreDamaged, StoreError
from .keys import KeyRing
from .records import (CaptureRecord, EnrollmentInfo, ExceptionRecord, ResidentRecord,
                      decode_capture, encode_capture, json_default)

__all__ = ["OfficeStore", "StoreError", "StoreDamaged", "UnknownSubject", "CaptureRecord",
           "ResidentRecord", "ExceptionRecord", "EnrollmentInfo", "SCHEMA_VERSION", "OutboundItem"]

SCHEMA_VERSION = 2          # 1 = the plaintext EnrollmentStore of biocap <= 0.1 (migrated on open)
APPLICATION_ID = 0x42494F43  # "BIOC": marks the file as a biocap store
SQLITE_MAGIC = b"SQLite format 3\x00"
MAX_SUBJECT_LEN = 256
MAX_TEXT_LEN = 4096
BUSY_TIMEOUT_S = 30.0        # a second writer (backup, sender) waits this long for the lock
GENESIS = b"\x00" * 32       # previous hash of the first audit entry

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB);
CREATE TABLE enrollments (
    id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, subject_tag BLOB NOT NULL,
    state TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, replaces TEXT,
    body BLOB NOT NULL, mac BLOB NOT NULL);
CREATE INDEX enrollments_by_subject ON enrollments(subject_tag);
CREATE TABLE captures (
    id INTEGER PRIMARY KEY, enrollment TEXT NOT NULL, step TEXT NOT NULL, digest BLOB NOT NULL,
    body BLOB NOT NULL, mac BLOB NOT NULL, UNIQUE (enrollment, step));
CREATE TABLE exceptions (
    id INTEGER PRIMARY KEY, enrollment TEXT NOT NULL, step TEXT NOT NULL, digest BLOB NOT NULL,
    body BLOB NOT NULL, mac BLOB NOT NULL, UNIQUE (enrollment, step));
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    body BLOB NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL, mac BLOB NOT NULL);
CREATE TABLE outbound (
    seq INTEGER PRIMARY KEY, subject_tag BLOB NOT NULL, enrollment TEXT NOT NULL,
    package_hash BLOB NOT NULL UNIQUE, idempotency_key TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
    attempts INTEGER NOT NULL, next_at REAL NOT NULL, updated_at TEXT NOT NULL,
    body BLOB NOT NULL, result BLOB, mac BLOB NOT NULL);
CREATE INDEX outbound_by_subject ON outbound(subject_tag);
"""

OUTBOUND_STATES = ("queued", "sent", "accepted", "rejected")



class UnknownSubject(StoreError):
    hint = "check the subject id; `biocap office status --store FILE` lists the residents"


@dataclass(frozen=True)
class OutboundItem:
    seq: int
    subject: str
    enrollment_id: str
    package_hash: bytes
    idempotency_key: str
    state: str
    attempts: int
    next_at: float
    updated_at: str
    package: bytes
    result: dict[str, Any] | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _canon(*values: Any) -> bytes:
    """An unambiguous byte encoding of a row's values (type tag + length + bytes each)."""
    out = bytearray()
    for v in values:
        if v is None:
            out += b"N"
            continue
        if isinstance(v, (bytes, bytearray, memoryview)):
            tag, b = b"B", bytes(v)
        elif isinstance(v, bool):
            tag, b = b"I", str(int(v)).encode()
        elif isinstance(v, int):
            tag, b = b"I", str(v).encode()
        elif isinstance(v, float):
            tag, b = b"F", repr(v).encode()
        else:
            tag, b = b"S", str(v).encode("utf-8", "surrogatepass")
        out += tag + len(b).to_bytes(8, "big") + b
    return bytes(out)


def _text(value: Any, what: str, limit: int = MAX_TEXT_LEN, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > limit:
        raise InvalidDataError(f"{what} must be a {'' if empty else 'non-empty '}string of at most "
                               f"{limit} characters, got {value!r:.80}")
    return value


def _json(value: Any, what: str) -> bytes:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, default=json_default).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{what} is not JSON-serialisable: {exc}") from exc


class OfficeStore:
    """The office's encrypted enrollment store (see the module docstring for the design)."""

    GENESIS = GENESIS

    def __init__(self, path: str | Path, *, keys: KeyRing | None = None, actor: str | None = None,
                 readonly: bool = False, verify_on_open: bool = True, accept_loss: str | None = None):
        self.path = Path(path)
        self.readonly = readonly
        self._db: sqlite3.Connection | None = None
        self._damaged: list[str] = []
        self.keys = keys if keys is not None else KeyRing.from_env()
        if accept_loss is not None:
            _text(accept_loss, "the reason for accepting a loss")
        self._accept_loss = accept_loss
        self._anchoring = store_anchor.enabled(self.keys)
        self._anchor_lost: store_anchor.StoreHead | None = None  # the store a new file replaced
        self._force_anchor = False
        self._anchored_seq = -1  # the audit entry this process last anchored
        try:
            self.actor = actor or getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            self.actor = f"uid-{os.getuid()}"
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a store file")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists:
            with open(self.path, "rb") as fh:
                if fh.read(16) != SQLITE_MAGIC:
                    raise StoreError(f"{self.path} is not an SQLite file (or its header is damaged); "
                                     "refusing to touch it")
        elif readonly:
            raise StoreError(f"{self.path} does not exist or is empty")
        try:
            if readonly:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           isolation_level=None, timeout=BUSY_TIMEOUT_S)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # 0600 from the start
                self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                           timeout=BUSY_TIMEOUT_S)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA secure_delete = ON")  # freed pages are zeroed
            self._prepare()
            self._unlock()
            if verify_on_open and not readonly:
                self._quick_check()
            self._check_anchor()
        except SQLITE_ERRORS as exc:
            self.close()
            raise StoreError(f"{self.path} cannot be opened as a store: {exc}") from None
        except BaseException:
            self.close()
            raise

    # --- opening ---------------------------------------------------------------------------------
    def _prepare(self) -> None:
        db = self._db
        if self._is_empty():
            if self.readonly:
                raise StoreError(f"{self.path} is an empty SQLite file, not a biocap store")
            db.execute("BEGIN EXCLUSIVE")  # a second process opening the same new path waits here
            try:
                if self._is_empty():  # re-checked under the lock: the other process may have won
                    self._refuse_new_file_where_a_store_was()
                    self._create()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise StoreError(f"{self.path} is an SQLite file but not a biocap store")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}; this biocap reads up to "
                             f"{SCHEMA_VERSION}", hint="upgrade biocap")
        if version == 1:
            if self.readonly:
                raise StoreError(f"{self.path} has the old schema 1; open it writable once to migrate")
            from .migrate import migrate_v1
            migrate_v1(self)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has an unknown schema version {version}")
        if not self.readonly:
            self._set_wal()

    # --- the anchor outside the store (biocap/office/anchor.py) ---------------------------------
    def _refuse_new_file_where_a_store_was(self) -> None:
        """A new or emptied file at a path the office's anchor says held a store: refuse."""
        if not self._anchoring:
            return
        lost = store_anchor.load(self.keys, self.path)
        if lost is None:
            return
        if self._accept_loss is None:
            raise store_anchor.missing_store(lost, self.path)
        self._anchor_lost = lost

    def _store_head(self) -> store_anchor.StoreHead:
        head = self._get_head("audit_head")
        if head is None:
            raise self._flag("the audit log head fails its MAC")
        enrollments = self._read("SELECT coalesce(max(id), 0) FROM enrollments")[0][0]
        return store_anchor.StoreHead(self.store_uuid, head[0], head[1], int(enrollments))

    def _audit_hash_at(self, seq: int) -> bytes | None:
        rows = self._read("SELECT hash FROM audit WHERE seq = ?", (int(seq),))
        return bytes(rows[0][0]) if rows and isinstance(rows[0][0], bytes) else None

    def anchor_problem(self) -> str | None:
        """What the store lacks against the office's anchor of it (None: at or ahead of it)."""
        if not self._anchoring:
            return None
        saved = store_anchor.load(self.keys, self.path)
        if saved is None:
            return None
        now = self._store_head()
        return store_anchor.compare(saved, self.path, now.store_uuid, now.audit_seq, now.audit_hash,
                                    now.enrollments, self._audit_hash_at)

    def _check_anchor(self) -> None:
        """On open: refuse a store behind (or diverged from) its anchor; catch the anchor up."""
        if not self._anchoring or self._damaged:  # a damaged store takes no writes anyway
            return
        try:
            if self._anchor_lost is not None:
                lost = self._anchor_lost
                problem = str(store_anchor.missing_store(lost, self.path))
            else:
                lost = store_anchor.load(self.keys, self.path)
                problem = self.anchor_problem() if lost is not None else None
            now = self._store_head()
        except StoreDamaged:  # flagged: check_integrity() lists it, no write is taken
            return
        if problem is None:
            if not self.readonly:
                if lost is None or now.audit_seq > lost.audit_seq:  # first anchor, or catching up
                    self._write_anchor(now)
                else:
                    self._anchored_seq = now.audit_seq
            return
        if self._accept_loss is None or self.readonly:
            raise store_anchor.refusal(problem, self.path)
        self._force_anchor = True
        try:
            with self._write():
                self._audit("store.anchor.accept", "store", {
                    "reason": self._accept_loss, "problem": problem,
                    "anchor": {"store_uuid": lost.store_uuid, "audit_seq": lost.audit_seq,
                               "audit_hash": lost.audit_hash.hex(), "enrollments": lost.enrollments,
                               "at": lost.at}})
        finally:
            self._force_anchor = False

    def _write_anchor(self, head: store_anchor.StoreHead) -> None:
        try:
            store_anchor.write(self.keys, self.path, head, force=self._force_anchor)
        except OSError as exc:
            raise StoreError(f"{self.path}: the write is committed, but the office's anchor of the "
                             f"store could not be written ({exc})",
                             hint="check the key directory is writable; the next open catches it up")
        self._anchored_seq = head.audit_seq

    def _is_empty(self) -> bool:
        db = self._db
        return (db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
                and db.execute("PRAGMA user_version").fetchone()[0] == 0)

    def _set_wal(self) -> None:
        for attempt in range(50):
            try:
                mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
                if mode.lower() == "wal":
                    break
                self._db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        self._db.execute("PRAGMA synchronous = FULL")

    def _create(self, *, migrating: bool = False) -> None:
        """Schema, fresh data key wrapped under the current master key, first audit entry."""
        db = self._db
        for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
            db.execute(statement)
        store_uuid = uuidlib.uuid4().hex
        dek = AESGCM.generate_key(256)
        generation = self.keys.current
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
            ("store_uuid", store_uuid), ("created_at", _now()),
            ("kek_generation", str(generation)),
            ("dek_wrapped", self._wrap(dek, store_uuid, generation))])
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._use_dek(dek, store_uuid)
        self._set_head("audit_head", 0, GENESIS)
        self._set_head("package_head", 0, GENESIS)
        self._audit("store.create", "store", {"schema": SCHEMA_VERSION, "migrated": migrating})

    def _wrap(self, dek: bytes, store_uuid: str, generation: int) -> bytes:
        kek = self.keys.store_key(generation)
        nonce = os.urandom(12)
        return nonce + AESGCM(kek).encrypt(nonce, dek, f"biocap-dek|{store_uuid}|{generation}".encode())

    def _unlock(self) -> None:
        """Unwrap the data key with the master key generation the store names."""
        try:
            meta = dict(self._db.execute(
                "SELECT key, value FROM meta WHERE key IN "
                "('store_uuid', 'kek_generation', 'dek_wrapped')").fetchall())
            store_uuid = meta["store_uuid"]
            generation = int(meta["kek_generation"])
            wrapped = bytes(meta["dek_wrapped"])
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreError(f"{self.path}: the store's key record is missing or damaged ({exc})") from None
        where = self.keys.directory or "the key ring"
        kek = self.keys.store_key(generation)
        if kek is None:
            raise MissingKeys(f"{self.path} is locked with store key generation {generation} "
                              f"(store-{generation}.key), which is not in {where}")
        try:
            dek = AESGCM(kek).decrypt(wrapped[:12], wrapped[12:],
                                      f"biocap-dek|{store_uuid}|{generation}".encode())
        except (InvalidTag, ValueError):
            raise StoreError(f"wrong key: store-{generation}.key in {where} does not open "
                             f"{self.path}", hint="use the key directory this store was made with") from None
        self._use_dek(dek, store_uuid)
        head = self._get_head("audit_head")
        if head is None:
            raise StoreDamaged(f"{self.path}: the audit log head fails its MAC (edited outside biocap)")

    def _use_dek(self, dek: bytes, store_uuid: str) -> None:
        def derive(info: bytes) -> bytes:
            return HKDF(hashes.SHA256(), 32, salt=store_uuid.encode(), info=info).derive(dek)
        self.store_uuid = store_uuid
        self._aead = AESGCM(derive(b"biocap/records"))
        self._mac_key = derive(b"biocap/row-mac")
        self._index_key = derive(b"biocap/subject-index")

    def _quick_check(self) -> None:
        try:
            rows = [r[0] for r in self._db.execute("PRAGMA quick_check(20)")]
        except SQLITE_ERRORS as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            self._damaged = [f"sqlite: {r}" for r in rows]

    # --- life cycle ------------------------------------------------------------------------------
    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def __enter__(self) -> "OfficeStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def now() -> str:
        return _now()

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    @property
    def damaged(self) -> list[str]:
        """Problems found so far (by the open-time check or a failed read); [] if none seen."""
        return list(self._damaged)

    # --- crypto helpers --------------------------------------------------------------------------
    def subject_tag(self, subject: str) -> bytes:
        return hmac.new(self._index_key, subject.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def _mac(self, table: str, *values: Any) -> bytes:
        return hmac.new(self._mac_key, _canon(table, *values), hashlib.sha256).digest()

    def _digest(self, kind: str, data: bytes) -> bytes:
        return hmac.new(self._mac_key, kind.encode() + b"\x00" + data, hashlib.sha256).digest()

    def _seal(self, plaintext: bytes, ad: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, ad.encode())

    def _unseal(self, blob: bytes, ad: str, what: str) -> bytes:
        try:
            blob = bytes(blob)
            return self._aead.decrypt(blob[:12], blob[12:], ad.encode())
        except (InvalidTag, ValueError, TypeError):
            raise self._flag(f"{what} fails its authentication (edited, moved or damaged)") from None

    def _check_mac(self, mac: Any, table: str, *values: Any, what: str) -> None:
        if not isinstance(mac, (bytes, bytearray)) or not hmac.compare_digest(
                bytes(mac), self._mac(table, *values)):
            raise self._flag(f"{what} fails its MAC (edited outside biocap or damaged)")

    def _flag(self, problem: str) -> StoreDamaged:
        """Record a problem (the store takes no more writes) and return the error to raise."""
        if problem not in self._damaged:
            self._damaged.append(problem)
        return StoreDamaged(f"{self.path}: {problem}")

    # --- sqlite access: never a raw sqlite3 error out of here -------------------------------------
    def _sqlite_failure(self, exc: Exception) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
            return StoreError(f"{self.path} is busy (another process holds it): {text}",
                              hint="try again when the other writer is done")
        if isinstance(exc, (sqlite3.DatabaseError, UnicodeDecodeError)):
            return self._flag(f"sqlite: {text}")
        return StoreError(f"{self.path}: {text}")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._db is None:
            raise StoreError("the store is closed")
        try:
            return self._db.execute(sql, args).fetchall()
        except SQLITE_ERRORS as exc:
            raise self._sqlite_failure(exc) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self._db is None:
            raise StoreError("the store is closed")
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")
        if self._damaged:
            raise StoreDamaged(f"{self.path} is damaged; refusing to write into it: "
                               f"{'; '.join(self._damaged[:3])}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except SQLITE_ERRORS as exc:
            raise self._sqlite_failure(exc) from None
        head = None
        try:
            yield self._db
            if self._anchoring:
                head = self._store_head()
                if head.audit_seq == self._anchored_seq and not self._force_anchor:
                    head = None  # nothing was audited: nothing new to anchor
            self._db.execute("COMMIT")
        except BaseException as exc:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, SQLITE_ERRORS):
                raise self._sqlite_failure(exc) from None
            raise
        if head is not None:  # after the commit: a kill here leaves the store one ahead (accepted)
            self._write_anchor(head)

    # --- meta heads and the audit log -----------------------------------------------------------
    def _set_head(self, key: str, seq: int, digest: bytes) -> None:
        value = f"{seq}:{digest.hex()}"
        self._db.execute("INSERT OR REPLACE INTO meta (key, value, mac) VALUES (?, ?, ?)",
                         (key, value, self._mac("meta", key, value)))

    def _get_head(self, key: str) -> tuple[int, bytes] | None:
        rows = self._read("SELECT value, mac FROM meta WHERE key = ?", (key,))
        if not rows:
            return None
        value, mac = rows[0]
        if not isinstance(value, str) or not isinstance(mac, bytes) or not hmac.compare_digest(
                mac, self._mac("meta", key, value)):
            return None
        seq, digest = value.split(":")
        return int(seq), bytes.fromhex(digest)

    @staticmethod
    def _entry_hash(prev: bytes, seq: int, at: str, action: str, target: str, body: bytes) -> bytes:
        return hashlib.sha256(prev + _canon(seq, at, action, target, body)).digest()

    def _audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        """Append one audit entry (inside the caller's transaction)."""
        head = self._get_head("audit_head")
        if head is None:
            raise self._flag("the audit log head fails its MAC")
        seq, prev = head[0] + 1, head[1]
        at = _now()
        body = self._seal(_json({"actor": self.actor, **detail}, "audit detail"), f"audit|{seq}")
        digest = self._entry_hash(prev, seq, at, action, target, body)
        self._db.execute("INSERT INTO audit (seq, at, action, target, body, prev, hash, mac) "
                         "VALUES (?,?,?,?,?,?,?,?)",
                         (seq, at, action, target, body, prev, digest, self._mac("audit", digest)))
        self._set_head("audit_head", seq, digest)

    def audit_log(self) -> list[dict[str, Any]]:
        """The audit entries, decrypted and checked (a broken chain raises StoreDamaged)."""
        out = []
        prev = GENESIS
        for seq, at, action, target, body, prev_col, digest, mac in self._read(
                "SELECT seq, at, action, target, body, prev, hash, mac FROM audit ORDER BY seq"):
            if bytes(prev_col) != prev or self._entry_hash(prev, seq, at, action, target, body) != digest:
                raise self._flag(f"audit entry {seq} breaks the hash chain")
            self._check_mac(mac, "audit", digest, what=f"audit entry {seq}")
            detail = json.loads(self._unseal(body, f"audit|{seq}", f"audit entry {seq}"))
            out.append({"seq": seq, "at": at, "action": action, "target": target, **detail})
            prev = digest
        return out

    # --- enrollments -----------------------------------------------------------------------------
    def _enrollment_row(self, enrollment_id: str) -> tuple:
        _text(enrollment_id, "enrollment id", 64)
        rows = self._read("SELECT uuid, subject_tag, state, started_at, finished_at, replaces, body, "
                          "mac FROM enrollments WHERE uuid = ?", (enrollment_id,))
        if not rows:
            raise StoreError(f"no enrollment {enrollment_id} in {self.path}")
        self._verify_enrollment(rows[0])
        return rows[0]

    def _verify_enrollment(self, row: tuple) -> dict[str, Any]:
        uuid, tag, state, started, finished, replaces, body, mac = row
        self._check_mac(mac, "enrollments", uuid, tag, state, started, finished, replaces, body,
                        what=f"enrollment {uuid}")
        return json.loads(self._unseal(body, f"enrollments|{uuid}|{bytes(tag).hex()}",
                                       f"enrollment {uuid}"))

    def _write_enrollment(self, uuid: str, tag: bytes, state: str, started: str,
                          finished: str | None, replaces: str | None, info: dict[str, Any],
                          insert: bool) -> None:
        body = self._seal(_json(info, "enrollment"), f"enrollments|{uuid}|{tag.hex()}")
        mac = self._mac("enrollments", uuid, tag, state, started, finished, replaces, body)
        if insert:
            self._db.execute("INSERT INTO enrollments (uuid, subject_tag, state, started_at, "
                             "finished_at, replaces, body, mac) VALUES (?,?,?,?,?,?,?,?)",
                             (uuid, tag, state, started, finished, replaces, body, mac))
        else:
            self._db.execute("UPDATE enrollments SET state = ?, finished_at = ?, body = ?, mac = ? "
                             "WHERE uuid = ?", (state, finished, body, mac, uuid))

    def begin_enrollment(self, subject: str, *, policy: str, operator: str,
                         metadata: dict[str, Any] | None = None) -> str:
        """Start an enrollment; an enrolled subject gets a re-enrollment that keeps the history.

        A subject with an unfinished enrollment is refused (resume it with `open_enrollment`)."""
        _text(subject, "subject", MAX_SUBJECT_LEN)
        _text(policy, "policy", 256)
        _text(operator, "operator", 256)
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidDataError("enrollment metadata must be a dict")
        info = {"subject": subject, "policy": policy, "operator": operator,
                "metadata": metadata or {}, "summary": {}, "complete": None}
        _json(info, "enrollment metadata")
        tag = self.subject_tag(subject)
        with self._write():
            previous = self._subject_rows(tag)
            open_ = [r for r in previous if r[2] == "open"]
            if open_:
                raise StoreError(f"{subject} has an unfinished enrollment {open_[-1][0]}",
                                 hint="resume it (open_enrollment) or finish it first")
            finished = [r for r in previous if r[2] == "finished"]
            replaces = finished[-1][0] if finished else None
            eid = uuidlib.uuid4().hex
            self._write_enrollment(eid, tag, "open", _now(), None, replaces, info, insert=True)
            self._audit("enrollment.begin", eid, {"operator": operator, "policy": policy,
                                                  "subject_tag": tag.hex(), "replaces": replaces})
        return eid

    def _subject_rows(self, tag: bytes) -> list[tuple]:
        rows = self._read("SELECT uuid, subject_tag, state, started_at, finished_at, replaces, body, "
                          "mac FROM enrollments WHERE subject_tag = ? ORDER BY id", (tag,))
        for row in rows:
            self._verify_enrollment(row)
        return rows

    def open_enrollment(self, subject: str) -> str | None:
        """The subject's unfinished enrollment to resume, or None."""
        _text(subject, "subject", MAX_SUBJECT_LEN)
        open_ = [r for r in self._subject_rows(self.subject_tag(subject)) if r[2] == "open"]
        return open_[-1][0] if open_ else None

    def _open_for_writing(self, enrollment_id: str) -> tuple:
        row = self._enrollment_row(enrollment_id)
        if row[2] != "open":
            raise StoreError(f"enrollment {enrollment_id} is finished; it takes no more captures",
                             hint="begin a re-enrollment for the subject")
        return row

    def put_capture(self, enrollment_id: str, capture: CaptureRecord) -> None:
        """Store one capture in one transaction; idempotent on (enrollment, step): the same
        capture again is a no-op, a different one replaces it (the audit log keeps both digests)."""
        if not isinstance(capture, CaptureRecord):
            raise InvalidDataError(f"put_capture takes a CaptureRecord, got {type(capture).__name__}")
        plain = encode_capture(capture)
        digest = self._digest("capture", plain)
        ad = f"captures|{enrollment_id}|{capture.step}"
        body = self._seal(plain, ad)
        mac = self._mac("captures", enrollment_id, capture.step, digest, body)
        with self._write():
            self._open_for_writing(enrollment_id)
            old = self._read("SELECT digest FROM captures WHERE enrollment = ? AND step = ?",
                             (enrollment_id, capture.step))
            if old and bytes(old[0][0]) == digest:
                return
            if old:
                self._db.execute("UPDATE captures SET digest = ?, body = ?, mac = ? "
                                 "WHERE enrollment = ? AND step = ?",
                                 (digest, body, mac, enrollment_id, capture.step))
            else:
                self._db.execute("INSERT INTO captures (enrollment, step, digest, body, mac) "
                                 "VALUES (?,?,?,?,?)", (enrollment_id, capture.step, digest, body, mac))
            self._audit("capture.put", f"{enrollment_id}/{capture.step}",
                        {"digest": digest.hex(), "replaced": bytes(old[0][0]).hex() if old else None,
                         "modality": capture.modality.value, "position": capture.position})

    def put_exception(self, enrollment_id: str, step: str, modality: Modality | str, position: int,
                      code: str, reason: str) -> None:
        """Record a step that could not be captured (idempotent on (enrollment, step))."""
        _text(step, "step", 64)
        _text(code, "exception code", 64)
        _text(reason, "exception reason")
        record = {"step": step, "modality": Modality(modality).value, "position": int(position),
                  "code": code, "reason": reason}
        plain = _json(record, "exception")
        digest = self._digest("exception", plain)
        body = self._seal(plain, f"exceptions|{enrollment_id}|{step}")
        mac = self._mac("exceptions", enrollment_id, step, digest, body)
        with self._write():
            self._open_for_writing(enrollment_id)
            old = self._read("SELECT digest FROM exceptions WHERE enrollment = ? AND step = ?",
                             (enrollment_id, step))
            if old and bytes(old[0][0]) == digest:
                return
            self._db.execute("INSERT OR REPLACE INTO exceptions (enrollment, step, digest, body, mac) "
                             "VALUES (?,?,?,?,?)", (enrollment_id, step, digest, body, mac))
            self._audit("exception.put", f"{enrollment_id}/{step}", {"digest": digest.hex()})

    def captures(self, enrollment_id: str) -> list[CaptureRecord]:
        """The enrollment's captures, decrypted and checked, in the order first stored."""
        self._enrollment_row(enrollment_id)
        out = []
        for step, digest, body, mac in self._read(
                "SELECT step, digest, body, mac FROM captures WHERE enrollment = ? ORDER BY id",
                (enrollment_id,)):
            what = f"capture {enrollment_id}/{step}"
            self._check_mac(mac, "captures", enrollment_id, step, digest, body, what=what)
            plain = self._unseal(body, f"captures|{enrollment_id}|{step}", what)
            if not hmac.compare_digest(self._digest("capture", plain), bytes(digest)):
                raise self._flag(f"{what} does not match its digest")
            try:
                out.append(decode_capture(plain))
            except InvalidDataError as exc:
                raise self._flag(f"{what} does not decode: {exc}") from None
        return out

    def exceptions(self, enrollment_id: str) -> list[ExceptionRecord]:
        self._enrollment_row(enrollment_id)
        out = []
        for step, digest, body, mac in self._read(
                "SELECT step, digest, body, mac FROM exceptions WHERE enrollment = ? ORDER BY id",
                (enrollment_id,)):
            what = f"exception {enrollment_id}/{step}"
            self._check_mac(mac, "exceptions", enrollment_id, step, digest, body, what=what)
            r = json.loads(self._unseal(body, f"exceptions|{enrollment_id}|{step}", what))
            out.append(ExceptionRecord(r["step"], Modality(r["modality"]), r["position"],
                                       r["code"], r["reason"]))
        return out

    def finish_enrollment(self, enrollment_id: str, *, complete: bool,
                          summary: dict[str, Any] | None = None) -> None:
        """Close the enrollment (complete or not); a finished enrollment takes no more writes."""
        summary = summary or {}
        _json(summary, "summary")
        with self._write():
            row = self._enrollment_row(enrollment_id)
            info = self._verify_enrollment(row)
            if row[2] == "finished":
                if info.get("complete") == bool(complete):
                    return
                raise StoreError(f"enrollment {enrollment_id} is already finished")
            info.update(summary=summary, complete=bool(complete))
            uuid, tag, _, started, _, replaces, _, _ = row
            self._write_enrollment(uuid, bytes(tag), "finished", started, _now(), replaces, info,
                                   insert=False)
            self._audit("enrollment.finish", enrollment_id, {"complete": bool(complete)})

    def _info(self, row: tuple) -> tuple[EnrollmentInfo, dict[str, Any]]:
        body = self._verify_enrollment(row)
        uuid, _, state, started, finished, replaces, _, _ = row
        return EnrollmentInfo(uuid, state, started, finished, body.get("complete"), body["policy"],
                              body["operator"], replaces), body

    def record(self, subject: str, *, finished_only: bool = False) -> ResidentRecord:
        """The subject's latest enrollment (or latest finished one) with its history."""
        _text(subject, "subject", MAX_SUBJECT_LEN)
        rows = self._subject_rows(self.subject_tag(subject))
        if finished_only:
            rows = [r for r in rows if r[2] == "finished"]
        if not rows:
            raise UnknownSubject(f"no {'finished ' if finished_only else ''}enrollment of "
                                 f"{subject!r} in {self.path}")
        infos = [self._info(r) for r in rows]
        latest, body = infos[-1]
        return ResidentRecord(subject=body["subject"], enrollment=latest,
                              metadata=body.get("metadata") or {}, summary=body.get("summary") or {},
                              captures=self.captures(latest.enrollment_id),
                              exceptions=self.exceptions(latest.enrollment_id),
                              history=[i for i, _ in infos[:-1]])

    def subjects(self) -> list[str]:
        """Every subject with an enrollment (decrypted), in order of first enrollment."""
        seen: dict[bytes, str] = {}
        for row in self._read("SELECT uuid, subject_tag, state, started_at, finished_at, replaces, "
                              "body, mac FROM enrollments ORDER BY id"):
            if bytes(row[1]) not in seen:
                seen[bytes(row[1])] = self._verify_enrollment(row)["subject"]
        return list(seen.values())

    def stats(self) -> dict[str, int]:
        out = {}
        for table in ("enrollments", "captures", "exceptions", "audit", "outbound"):
            out[table] = int(self._read(f"SELECT count(*) FROM {table}")[0][0])
        return out

    # --- keys ------------------------------------------------------------------------------------
    def rotate_key(self, generation: int | None = None) -> int:
        """Re-wrap the data key under master key `generation` (default: the key ring's newest).
        No record is re-encrypted or re-captured; the old key file can go once no backup needs it."""
        generation = self.keys.current if generation is None else generation
        if self.keys.store_key(generation) is None:
            raise MissingKeys(f"store key generation {generation} is not in the key ring")
        dek = self._current_dek()
        with self._write():
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'dek_wrapped'",
                             (self._wrap(dek, self.store_uuid, generation),))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'kek_generation'", (str(generation),))
            self._audit("key.rotate", "store", {"generation": generation})
        return generation

    def _current_dek(self) -> bytes:
        meta = dict(self._read("SELECT key, value FROM meta WHERE key IN ('kek_generation', 'dek_wrapped')"))
        generation = int(meta["kek_generation"])
        wrapped = bytes(meta["dek_wrapped"])
        return AESGCM(self.keys.store_key(generation)).decrypt(
            wrapped[:12], wrapped[12:], f"biocap-dek|{self.store_uuid}|{generation}".encode())

    @property
    def key_generation(self) -> int:
        return int(self._read("SELECT value FROM meta WHERE key = 'kek_generation'")[0][0])

    def _write_audit_restore(self, source: str) -> None:
        with self._write():
            self._audit("store.restore", "store", {"from": source})

    def note(self, action: str, detail: dict[str, Any]) -> None:
        """Add an audit entry for an office action outside the tables (backup, export, send)."""
        _text(action, "audit action", 64)
        with self._write():
            self._audit(action, "store", detail)

    # --- integrity -------------------------------------------------------------------------------
    def check_integrity(self, *, deep: bool = False, progress=None) -> list[str]:
        """Every problem found (empty when the store is sound); never a raw sqlite3 error.

        SQLite's own check, every row's MAC and decryption, capture digests, the audit chain and
        its head, and the audit log replayed against the tables (deleted or inserted rows).
        `deep` also decodes every capture's image; `progress(n_bytes)` is called per payload."""
        from .integrity import check_store
        problems = check_store(self, deep=deep, progress=progress)
        try:
            behind = self.anchor_problem()
        except StoreError as exc:
            behind = str(exc)
        if behind is not None and behind not in problems:
            problems.append(behind)
        for p in problems:
            if p not in self._damaged:
                self._damaged.append(p)
        return problems

    # --- outbound queue (packages for the centre) ------------------------------------------------
    def _outbound_mac(self, seq, tag, enrollment, phash, key, state, attempts, next_at, updated_at,
                      body, result) -> bytes:
        return self._mac("outbound", seq, tag, enrollment, phash, key, state, attempts,
                         float(next_at), updated_at, body, result)

    def _verify_outbound(self, row: tuple) -> None:
        mac = row[11]
        if not isinstance(mac, (bytes, bytearray)) or not hmac.compare_digest(
                bytes(mac), self._outbound_mac(*row[:11])):
            raise self._flag(f"queued package {row[0]} fails its MAC (edited outside biocap or damaged)")

    def package_head(self) -> tuple[int, bytes]:
        """(sequence, hash) of the office's last queued package; (0, zeros) before the first."""
        head = self._get_head("package_head")
        if head is None:
            raise self._flag("the package chain head fails its MAC")
        return head

    def package_hash_at(self, sequence: int) -> bytes | None:
        """The hash of queued package `sequence` (MAC checked), None when this store never queued it."""
        rows = self._read(f"SELECT {self._OUT_COLS} FROM outbound WHERE seq = ?", (int(sequence),))
        if not rows:
            return None
        self._verify_outbound(rows[0])
        return bytes(rows[0][3])

    def package_base(self) -> tuple[int, bytes] | None:
        """The (sequence, hash) this store's chain was continued from by `adopt_package_head`."""
        return self._get_head("package_base")

    def adopt_package_head(self, sequence: int, package_hash: bytes, *, reason: str) -> None:
        """Continue the chain after (sequence, package_hash), a package this store does not hold
        (the office issued it after the backup this store was restored from); only forwards."""
        with self._write():
            seq, head = self.package_head()
            if sequence <= seq:
                raise StoreError(f"the store's package chain is at {seq} already; it only moves forward")
            self._set_head("package_head", sequence, package_hash)
            self._set_head("package_base", sequence, package_hash)
            self._audit("package.chain.adopt", str(sequence), {
                "from_sequence": seq, "from_hash": head.hex(), "package_hash": package_hash.hex(),
                "reason": reason})

    def queue_package(self, subject: str, enrollment_id: str, package: bytes, *, sequence: int,
                      previous_hash: bytes, package_hash: bytes, idempotency_key: str) -> int:
        """Put a built package in the outbound queue as the next link of the office's chain."""
        tag = self.subject_tag(subject)
        now = _now()
        body = self._seal(bytes(package), f"outbound|{sequence}")
        mac = self._outbound_mac(sequence, tag, enrollment_id, package_hash, idempotency_key,
                                 "queued", 0, 0.0, now, body, None)
        with self._write():
            head = self.package_head()
            if head != (sequence - 1, previous_hash):
                raise StoreError(f"package {sequence} does not follow the office's last package "
                                 f"{head[0]} (another package was queued meanwhile); build it again")
            self._db.execute(
                "INSERT INTO outbound (seq, subject_tag, enrollment, package_hash, idempotency_key, "
                "state, attempts, next_at, updated_at, body, result, mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (sequence, tag, enrollment_id, package_hash, idempotency_key, "queued", 0, 0.0, now,
                 body, None, mac))
            self._set_head("package_head", sequence, package_hash)
            self._audit("package.queue", str(sequence), {"package_hash": package_hash.hex(),
                                                         "enrollment": enrollment_id})
        return sequence

    def _outbound_item(self, row: tuple, subject: str | None = None) -> OutboundItem:
        self._verify_outbound(row)
        seq, tag, enrollment, phash, key, state, attempts, next_at, updated_at, body, result, _ = row
        package = self._unseal(body, f"outbound|{seq}", f"queued package {seq}")
        res = None
        if result is not None:
            res = json.loads(self._unseal(result, f"outbound-result|{seq}", f"package {seq} result"))
        if subject is None:
            subject = self._subject_of(enrollment)
        return OutboundItem(seq, subject, enrollment, bytes(phash), key, state, attempts, next_at,
                            updated_at, package, res)

    def _subject_of(self, enrollment_id: str) -> str:
        return self._verify_enrollment(self._enrollment_row(enrollment_id))["subject"]

    _OUT_COLS = ("seq, subject_tag, enrollment, package_hash, idempotency_key, state, attempts, "
                 "next_at, updated_at, body, result, mac")

    def outbound(self, *, states: tuple[str, ...] | None = None) -> list[OutboundItem]:
        """Queued packages in chain order (all, or those in `states`)."""
        rows = self._read(f"SELECT {self._OUT_COLS} FROM outbound ORDER BY seq")
        return [self._outbound_item(r) for r in rows if states is None or r[5] in states]

    def package_for(self, enrollment_id: str) -> OutboundItem | None:
        """The package already queued for this enrollment (export is idempotent), or None."""
        rows = self._read(f"SELECT {self._OUT_COLS} FROM outbound WHERE enrollment = ? ORDER BY seq",
                          (enrollment_id,))
        return self._outbound_item(rows[-1]) if rows else None

    def update_outbound(self, seq: int, *, state: str | None = None, attempts: int | None = None,
                        next_at: float | None = None, result: dict[str, Any] | None = None) -> None:
        """Record a delivery attempt or the centre's answer (one transaction)."""
        if state is not None and state not in OUTBOUND_STATES:
            raise InvalidDataError(f"outbound state must be one of {OUTBOUND_STATES}, got {state!r}")
        with self._write():
            rows = self._read(f"SELECT {self._OUT_COLS} FROM outbound WHERE seq = ?", (seq,))
            if not rows:
                raise StoreError(f"no queued package {seq}")
            row = rows[0]
            self._verify_outbound(row)
            _, tag, enrollment, phash, key, old_state, old_attempts, old_next, _, body, old_result, _ = row
            new_state = state or old_state
            new_attempts = old_attempts if attempts is None else int(attempts)
            new_next = old_next if next_at is None else float(next_at)
            new_result = old_result if result is None else self._seal(
                _json(result, "centre answer"), f"outbound-result|{seq}")
            now = _now()
            mac = self._outbound_mac(seq, tag, enrollment, phash, key, new_state, new_attempts,
                                     new_next, now, body, new_result)
            self._db.execute("UPDATE outbound SET state = ?, attempts = ?, next_at = ?, updated_at = ?, "
                             "result = ?, mac = ? WHERE seq = ?",
                             (new_state, new_attempts, new_next, now, new_result, mac, seq))
            if new_state != old_state:
                self._audit("package.state", str(seq), {"state": new_state})

    def resident_status(self, subject: str) -> dict[str, Any]:
        """Where the subject's latest package stands: queued, sent, accepted, rejected (+ reasons)."""
        _text(subject, "subject", MAX_SUBJECT_LEN)
        tag = self.subject_tag(subject)
        enrollments = self._subject_rows(tag)
        if not enrollments:
            raise UnknownSubject(f"no enrollment of {subject!r} in {self.path}")
        info, _ = self._info(enrollments[-1])
        rows = self._read(f"SELECT {self._OUT_COLS} FROM outbound WHERE subject_tag = ? ORDER BY seq",
                          (tag,))
        status: dict[str, Any] = {"subject": subject, "enrollment": info.enrollment_id,
                                  "enrollment_state": info.state, "complete": info.complete,
                                  "status": "not queued"}
        if rows:
            item = self._outbound_item(rows[-1], subject)
            status.update(status=item.state, sequence=item.seq, attempts=item.attempts,
                          idempotency_key=item.idempotency_key, updated_at=item.updated_at,
                          package_enrollment=item.enrollment_id)
            if item.result:
                status.update(reasons=item.result.get("reasons", []),
                              centre=item.result.get("resident_status"))
        return status
