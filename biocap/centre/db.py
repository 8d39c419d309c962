"""The centre's state: one SQLite database (WAL) in the data directory, blobs encrypted at rest.

Tables
  packages   one row per ACCEPTED or REJECTED-on-checks package, keyed by its idempotency key;
             refused packages (unknown office, bad signature, broken chain, unreadable) leave no
             row at all. Accepted ones keep their bytes (AES-GCM, key file `centre.key`, 0600).
  offices    each registered office's chain head (last sequence and package hash accepted).
  decisions  one row per decided package (PRIMARY KEY = package key: a decision can be recorded
             once, whatever retries or restarts happen; `record_decision` is INSERT OR IGNORE in
             the same transaction as the gallery entry of a unique resident).
  gallery    enrolled residents' templates (encrypted `person_to_bytes`), with their shard; the
             row id orders them, so a shard loaded up to row R is a well-defined version.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import BiocapError

SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
  key TEXT PRIMARY KEY, office_id TEXT NOT NULL, sequence INTEGER, package_hash BLOB,
  subject TEXT NOT NULL, status TEXT NOT NULL, reasons TEXT NOT NULL, body BLOB, raw BLOB,
  received_at REAL NOT NULL, checked_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS packages_subject ON packages(subject);
CREATE INDEX IF NOT EXISTS packages_office ON packages(office_id, status);
CREATE UNIQUE INDEX IF NOT EXISTS packages_hash ON packages(package_hash);
CREATE TABLE IF NOT EXISTS offices (
  office_id TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL, last_hash BLOB);
CREATE TABLE IF NOT EXISTS decisions (
  key TEXT PRIMARY KEY REFERENCES packages(key), subject TEXT NOT NULL, decision TEXT NOT NULL,
  matched TEXT, score REAL, result TEXT NOT NULL, started_at REAL, decided_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS gallery (
  row INTEGER PRIMARY KEY AUTOINCREMENT, resident TEXT UNIQUE NOT NULL, shard INTEGER NOT NULL,
  templates BLOB NOT NULL, package_key TEXT, added_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS gallery_shard ON gallery(shard, row);
"""


class CentreStoreError(BiocapError):
    hint = "check the centre's data directory (database and centre.key) or restore it from backup"


def shard_of(resident: str, shards: int) -> int:
    return zlib.crc32(resident.encode()) % shards


class Cipher:
    """AES-256-GCM with a key kept in the data directory (created 0600 on first start)."""

    def __init__(self, key_path: Path):
        if not key_path.exists():
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(AESGCM.generate_key(bit_length=256))
        key = key_path.read_bytes()
        if len(key) != 32:
            raise CentreStoreError(f"{key_path} is not a 32-byte key")
        self._aes = AESGCM(key)

    def seal(self, data: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aes.encrypt(nonce, data, context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        try:
            return self._aes.decrypt(blob[:12], blob[12:], context)
        except Exception as exc:  # InvalidTag: tampered row or wrong key
            raise CentreStoreError("an encrypted row does not open (tampered, or the wrong centre.key)") from exc


class CentreDB:
    """Thread-safe access to the centre database (one connection, a lock, short transactions)."""

    def __init__(self, data_dir: str | Path, shards: int = 4):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.path = self.dir / "centre.sqlite"
        self.cipher = Cipher(self.dir / "centre.key")
        self.lock = threading.RLock()
        new = not self.path.exists()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        if new:
            os.chmod(self.path, 0o600)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        meta = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if meta == 0:
            self.conn.execute(f"PRAGMA user_version={int(shards)}")
            meta = shards
        self.shards = int(meta)  # fixed when the database is created: shard of a resident never moves

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # --- packages ---------------------------------------------------------------------------
    def package(self, key: str) -> dict | None:
        with self.lock:
            r = self.conn.execute("SELECT key, office_id, sequence, subject, status, reasons, received_at, "
                                  "checked_at FROM packages WHERE key=?", (key,)).fetchone()
        if r is None:
            return None
        return {"key": r[0], "office_id": r[1], "sequence": r[2], "subject": r[3], "status": r[4],
                "reasons": json.loads(r[5]), "received_at": r[6], "checked_at": r[7]}

    def hash_known(self, package_hash: bytes) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM packages WHERE package_hash=?",
                                     (package_hash,)).fetchone() is not None

    def chain_head(self, office_id: str) -> tuple[int, bytes | None]:
        with self.lock:
            r = self.conn.execute("SELECT last_sequence, last_hash FROM offices WHERE office_id=?",
                                  (office_id,)).fetchone()
        return (int(r[0]), r[1]) if r else (0, None)

    def store_package(self, *, key: str, office_id: str, sequence: int, package_hash: bytes, subject: str,
                      status: str, reasons: list, body: bytes | None, raw: bytes | None,
                      received_at: float, expect_head: tuple[int, bytes | None]) -> bool:
        """Store a checked package and advance the office's chain, atomically. `body` is what the
        de-duplication reads (the resident's templates), `raw` the package as received (audit);
        both encrypted. False when the key was already stored (a retry); raises when the office's
        chain moved while the package was checked."""
        sealed = self.cipher.seal(body, key.encode()) if body is not None else None
        sealed_raw = self.cipher.seal(raw, b"raw:" + key.encode()) if raw is not None else None
        with self.lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                if c.execute("SELECT 1 FROM packages WHERE key=?", (key,)).fetchone():
                    c.execute("ROLLBACK")
                    return False
                head = c.execute("SELECT last_sequence, last_hash FROM offices WHERE office_id=?",
                                 (office_id,)).fetchone()
                head = (int(head[0]), head[1]) if head else (0, None)
                if head != expect_head:
                    c.execute("ROLLBACK")
                    raise CentreStoreError("the office's chain moved while this package was checked; resend it")
                c.execute("INSERT INTO packages VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          (key, office_id, sequence, package_hash, subject, status, json.dumps(reasons),
                           sealed, sealed_raw, received_at, time.time()))
                c.execute("INSERT INTO offices VALUES (?,?,?) ON CONFLICT(office_id) DO UPDATE SET "
                          "last_sequence=excluded.last_sequence, last_hash=excluded.last_hash",
                          (office_id, sequence, package_hash))
                c.execute("COMMIT")
                return True
            except sqlite3.Error:
                c.execute("ROLLBACK")
                raise

    def body(self, key: str) -> bytes:
        with self.lock:
            r = self.conn.execute("SELECT body FROM packages WHERE key=?", (key,)).fetchone()
        if r is None or r[0] is None:
            raise CentreStoreError(f"package {key} has no stored body")
        return self.cipher.open(r[0], key.encode())

    def pending(self, limit: int = 64) -> list[tuple[str, str]]:
        """(key, subject) of accepted packages without a decision, oldest first."""
        with self.lock:
            return self.conn.execute(
                "SELECT p.key, p.subject FROM packages p LEFT JOIN decisions d ON d.key = p.key "
                "WHERE p.status='accepted' AND d.key IS NULL ORDER BY p.received_at, p.rowid LIMIT ?",
                (limit,)).fetchall()

    def pending_count(self, office_id: str | None = None) -> int:
        q = ("SELECT COUNT(*) FROM packages p LEFT JOIN decisions d ON d.key = p.key "
             "WHERE p.status='accepted' AND d.key IS NULL")
        args: tuple = ()
        if office_id is not None:
            q += " AND p.office_id=?"
            args = (office_id,)
        with self.lock:
            return int(self.conn.execute(q, args).fetchone()[0])

    def queue_position(self, key: str) -> int | None:
        with self.lock:
            r = self.conn.execute("SELECT received_at, rowid FROM packages WHERE key=?", (key,)).fetchone()
            if r is None:
                return None
            return int(self.conn.execute(
                "SELECT COUNT(*) FROM packages p LEFT JOIN decisions d ON d.key = p.key WHERE "
                "p.status='accepted' AND d.key IS NULL AND (p.received_at < ? OR (p.received_at = ? "
                "AND p.rowid <= ?))", (r[0], r[0], r[1])).fetchone()[0])

    # --- decisions and the gallery -------------------------------------------------------------
    def record_decision(self, key: str, subject: str, result: dict, started_at: float,
                        enrol: bytes | None) -> bool:
        """Record a decision once (INSERT OR IGNORE on the package key) and, for a unique
        resident, its gallery entry in the same transaction. True when this call recorded it."""
        return self.record_decisions([(key, subject, result, started_at, enrol)])[0]

    def record_decisions(self, items: list[tuple[str, str, dict, float, bytes | None]]) -> list[bool]:
        """`record_decision` for a batch in ONE transaction (one WAL commit per batch, not per
        resident): each decision recorded once, with its gallery entry; all or none."""
        sealed = [self.cipher.seal(enrol, subject.encode()) if enrol is not None else None
                  for _, subject, _, _, enrol in items]
        out = []
        with self.lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                for (key, subject, result, started_at, _), blob in zip(items, sealed):
                    cur = c.execute("INSERT OR IGNORE INTO decisions VALUES (?,?,?,?,?,?,?,?)",
                                    (key, subject, result["decision"], result.get("matched"),
                                     (result["candidates"][0]["score"] if result.get("candidates") else None),
                                     json.dumps(result), started_at, now))
                    recorded = cur.rowcount == 1
                    if recorded and blob is not None:
                        c.execute("INSERT OR IGNORE INTO gallery (resident, shard, templates, package_key, "
                                  "added_at) VALUES (?,?,?,?,?)",
                                  (subject, shard_of(subject, self.shards), blob, key, now))
                    out.append(recorded)
                c.execute("COMMIT")
                return out
            except sqlite3.Error:
                c.execute("ROLLBACK")
                raise

    def pending_bodies(self, limit: int) -> list[tuple[str, str, float, bytes]]:
        """(key, subject, received_at, templates bytes) of the oldest accepted packages without a
        decision: the next batch, read in one query."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT p.key, p.subject, p.received_at, p.body FROM packages p LEFT JOIN decisions d "
                "ON d.key = p.key WHERE p.status='accepted' AND d.key IS NULL "
                "ORDER BY p.received_at, p.rowid LIMIT ?", (limit,)).fetchall()
        return [(k, s, r, self.cipher.open(b, k.encode())) for k, s, r, b in rows]

    def in_gallery_many(self, residents: list[str]) -> set[str]:
        if not residents:
            return set()
        with self.lock:
            q = ",".join("?" * len(residents))
            return {r[0] for r in self.conn.execute(f"SELECT resident FROM gallery WHERE resident IN ({q})",
                                                    residents).fetchall()}

    def enrol_bulk(self, rows: list[tuple[str, bytes]]) -> None:
        """Enrol residents without packages (a population migrated from an earlier system, or a
        benchmark's pre-existing gallery)."""
        now = time.time()
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR IGNORE INTO gallery (resident, shard, templates, package_key, added_at) VALUES (?,?,?,?,?)",
                [(r, shard_of(r, self.shards), self.cipher.seal(b, r.encode()), None, now) for r, b in rows])
            self.conn.execute("COMMIT")

    def decision(self, key: str) -> dict | None:
        with self.lock:
            r = self.conn.execute("SELECT decision, matched, score, result, started_at, decided_at FROM decisions "
                                  "WHERE key=?", (key,)).fetchone()
        if r is None:
            return None
        return {"decision": r[0], "matched": r[1], "score": r[2], "result": json.loads(r[3]),
                "started_at": r[4], "decided_at": r[5]}

    def gallery_head(self) -> int:
        with self.lock:
            r = self.conn.execute("SELECT MAX(row) FROM gallery").fetchone()
        return int(r[0] or 0)

    def gallery_size(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM gallery").fetchone()[0])

    def in_gallery(self, resident: str) -> bool:
        with self.lock:
            return self.conn.execute("SELECT 1 FROM gallery WHERE resident=?", (resident,)).fetchone() is not None

    def counts(self) -> dict[str, Any]:
        with self.lock:
            c = self.conn
            by_status = dict(c.execute("SELECT status, COUNT(*) FROM packages GROUP BY status").fetchall())
            by_decision = dict(c.execute("SELECT decision, COUNT(*) FROM decisions GROUP BY decision").fetchall())
        return {"packages": by_status, "decisions": by_decision, "gallery": self.gallery_size(),
                "pending": self.pending_count()}

    def subject_packages(self, subject: str) -> list[dict]:
        with self.lock:
            keys = [r[0] for r in self.conn.execute(
                "SELECT key FROM packages WHERE subject=? ORDER BY received_at", (subject,)).fetchall()]
        return [self.package(k) for k in keys]

    def office_packages(self, office_id: str, limit: int = 200) -> list[dict]:
        with self.lock:
            keys = [r[0] for r in self.conn.execute(
                "SELECT key FROM packages WHERE office_id=? ORDER BY received_at DESC LIMIT ?",
                (office_id, limit)).fetchall()]
        return [self.package(k) for k in keys]


def load_shard_rows(db_path: str, key_path: str, shard: int, after: int, upto: int) -> list[tuple[int, str, bytes]]:
    """(row, resident, templates bytes) of one shard's rows in (after, upto]: what a Dask worker
    reads to bring its copy of the shard up to a version (read-only connection)."""
    cipher = Cipher(Path(key_path))
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT row, resident, templates FROM gallery WHERE shard=? AND row>? AND row<=? "
                            "ORDER BY row", (shard, after, upto)).fetchall()
    finally:
        conn.close()
    return [(r, res, cipher.open(t, res.encode())) for r, res, t in rows]
