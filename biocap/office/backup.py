"""Online backup, verification and restore of the office store.

A backup is a copy of the (encrypted) store made with SQLite's backup API from a separate read
connection in one step: in WAL mode that is a consistent snapshot while enrollment goes on. It is
written to `<name>.partial`, flushed, renamed, then verified by opening it read-only with the keys
and checking every row (MAC, decryption, digest, audit chain). Only then is its manifest
`<name>.json` written (SHA-256 and size of the file, store id, counts, audit head): a backup with
a manifest has been verified; one without (a crash mid-way) is not a backup and is ignored.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import chain
from .errors import StoreError
from .keys import KeyRing, fsync_dir, write_json_atomic
from .errors import SQLITE_ERRORS
from .store import SQLITE_MAGIC, OfficeStore

BACKUP_SUFFIX = ".bcb"
MANIFEST_FORMAT = "biocap-office-backup/1"
HASH_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: Path
    bytes: int
    seconds_copy: float
    seconds_verify: float
    stats: dict[str, int]
    cpu_seconds_copy: float = 0.0   # this process's CPU time for the copy (load-independent)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / max(self.seconds_copy, 1e-9)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def backup(store: OfficeStore, to: str | Path, *,
           progress: Callable[[str], None] | None = None) -> BackupReport:
    """Back the store up into folder `to` (or to file `to` ending in .bcb); verified before it counts."""
    say = progress or (lambda _m: None)
    to = Path(to)
    if to.suffix == BACKUP_SUFFIX:
        folder, name = to.parent, to.name
    else:
        folder = to
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"office-{store.store_uuid[:8]}-{stamp}{BACKUP_SUFFIX}"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    if final.exists():
        raise StoreError(f"{final} exists already; refusing to overwrite a backup")
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600))
    say(f"copying {store.path} -> {final}")
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        src = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(str(partial))
        try:
            # the copy is made durable by the fsync + rename below, not page by page
            dst.execute("PRAGMA synchronous = OFF")
            src.backup(dst, pages=-1)  # one step = one read snapshot; writers go on (WAL)
            dst.execute("PRAGMA journal_mode = DELETE")
            dst.commit()
        finally:
            dst.close()
            src.close()
    except SQLITE_ERRORS as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {store.path} failed: {exc}") from None
    with open(partial, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, final)
    fsync_dir(folder)
    copy_s, copy_cpu = time.perf_counter() - t0, time.process_time() - c0
    size = final.stat().st_size
    say(f"copied {size / 1e6:.1f} MB in {copy_s:.2f} s; verifying every record...")
    t1 = time.perf_counter()
    report = verify_backup_file(final, keys=store.keys, write_manifest=True)
    return BackupReport(final, report["manifest"], size, copy_s, time.perf_counter() - t1, report["stats"],
                        copy_cpu)


def verify_backup_file(path: str | Path, *, keys: KeyRing, write_manifest: bool = False) -> dict:
    """Open a backup read-only and check every record; with `write_manifest`, seal it as verified.

    Raises StoreError naming what failed; returns {"stats", "manifest", "store_uuid", ...}."""
    path = Path(path)
    manifest_path = path.with_name(path.name + ".json")
    if not path.is_file():
        raise StoreError(f"{path} is not a backup file")
    with open(path, "rb") as fh:
        if fh.read(16) != SQLITE_MAGIC:
            raise StoreError(f"{path} is not a backup (not an SQLite file)")
    manifest = None
    if not write_manifest:
        if not manifest_path.exists():
            raise StoreError(f"{path} has no manifest {manifest_path.name}: the backup never "
                             "finished its verification")
        try:
            manifest = json.loads(manifest_path.read_text())
            assert manifest["format"] == MANIFEST_FORMAT
        except (OSError, ValueError, KeyError, AssertionError, TypeError):
            raise StoreError(f"{manifest_path} is not a biocap backup manifest") from None
        if manifest.get("bytes") != path.stat().st_size:
            raise StoreError(f"{path} is {path.stat().st_size} bytes, its manifest says "
                             f"{manifest.get('bytes')} (truncated or replaced)")
        if manifest.get("sha256") != _sha256(path):
            raise StoreError(f"{path} does not match the SHA-256 in its manifest (altered or damaged)")
    with OfficeStore(path, keys=keys, readonly=True) as copy:
        problems = copy.check_integrity()
        if problems:
            raise StoreError(f"backup {path} fails its check: {'; '.join(problems[:3])}")
        stats = copy.stats()
        head = copy._get_head("audit_head")
        store_uuid = copy.store_uuid
        if manifest is not None and manifest.get("mac") != _manifest_mac(copy, manifest):
            raise StoreError(f"{manifest_path} was not written by this office (MAC mismatch)")
    out = {"stats": stats, "store_uuid": store_uuid, "audit_seq": head[0], "manifest": manifest_path}
    if write_manifest:
        manifest = {"format": MANIFEST_FORMAT, "file": path.name, "bytes": path.stat().st_size,
                    "sha256": _sha256(path), "store_uuid": store_uuid, "audit_seq": head[0],
                    "stats": stats, "verified_at": datetime.now(timezone.utc).isoformat()}
        with OfficeStore(path, keys=keys, readonly=True) as copy:
            manifest["mac"] = _manifest_mac(copy, manifest)
        write_json_atomic(manifest_path, manifest)
    return out


def _manifest_mac(store: OfficeStore, manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "mac"}
    return store._mac("backup-manifest", json.dumps(body, sort_keys=True)).hex()


def backups_in(folder: str | Path) -> list[Path]:
    """Backups with a manifest in `folder`, oldest first."""
    folder = Path(folder)
    return sorted(p for p in folder.glob(f"*{BACKUP_SUFFIX}")
                  if p.with_name(p.name + ".json").exists())


def verify(path: str | Path, *, keys: KeyRing) -> list[dict]:
    """Verify one backup file, or every backup in a folder; raises StoreError at the first failure."""
    path = Path(path)
    files = backups_in(path) if path.is_dir() else [path]
    if not files:
        raise StoreError(f"{path} holds no finished backup (no *.bcb with a manifest)")
    return [dict(verify_backup_file(f, keys=keys), path=f) for f in files]


def restore(source: str | Path, store_path: str | Path, *, keys: KeyRing,
            progress: Callable[[str], None] | None = None) -> Path:
    """Restore a verified backup (a file, or the newest in a folder) into a new store file."""
    say = progress or (lambda _m: None)
    source = Path(source)
    if source.is_dir():
        found = backups_in(source)
        if not found:
            raise StoreError(f"{source} holds no finished backup (no *.bcb with a manifest)")
        source = found[-1]
    store_path = Path(store_path)
    for p in (store_path, Path(f"{store_path}-wal")):
        if p.exists() and p.stat().st_size > 0:
            raise StoreError(f"{p} exists and is not empty; restore only into a new, empty store path",
                             hint="move the old store aside first")
    say(f"verifying {source}...")
    verify_backup_file(source, keys=keys)
    partial = store_path.with_name(store_path.name + ".restoring")
    partial.unlink(missing_ok=True)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600))
    say(f"restoring into {store_path}...")
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst, pages=-1)
            dst.commit()
        finally:
            dst.close()
            src.close()
    except SQLITE_ERRORS as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"restore from {source} failed: {exc}") from None
    with open(partial, "rb+") as fh:
        os.fsync(fh.fileno())
    store_path.unlink(missing_ok=True)  # an empty placeholder only (checked above)
    os.replace(partial, store_path)
    fsync_dir(store_path.parent)
    # restoring is the operator's explicit acceptance of what the backup lacks against the
    # office's anchor of a store at this path (recorded as `store.anchor.accept`)
    with OfficeStore(store_path, keys=keys,
                     accept_loss=f"restored from backup {source.name}") as restored:  # back to WAL, checked
        problems = restored.check_integrity()
        if problems:
            raise StoreError(f"the restored store fails its check: {'; '.join(problems[:3])}")
        restored._write_audit_restore(source.name)
        try:
            chain.check(restored)
        except StoreError as exc:  # the data is back; exporting waits for the operator
            say(f"warning: {exc}")
    return store_path
