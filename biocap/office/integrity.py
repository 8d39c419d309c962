"""The store's full check: SQLite's own, every row's MAC and ciphertext, the audit chain, and the
audit log replayed against the tables. Returns problems; raises nothing but a closed-store error."""
from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING

from ..errors import InvalidDataError
from .errors import StoreError
from .records import decode_capture
from .errors import SQLITE_ERRORS

if TYPE_CHECKING:
    from .store import OfficeStore

MAX_PROBLEMS = 200  # a badly damaged store lists its first problems, not millions


def _msg(exc: Exception, store: "OfficeStore") -> str:
    text = str(exc)
    prefix = f"{store.path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _replay(action, target, detail, begun, finished, captures, exceptions, packages) -> None:
    """Apply one audit entry to the state the tables must hold."""
    if action == "enrollment.begin":
        begun[target] = detail.get("subject_tag")
    elif action == "enrollment.finish":
        finished.add(target)
    elif action == "capture.put":
        captures[tuple(target.split("/", 1))] = detail["digest"]
    elif action == "exception.put":
        exceptions[tuple(target.split("/", 1))] = detail["digest"]
    elif action == "package.queue":
        packages[int(target)] = {"hash": detail["package_hash"], "state": "queued"}
    elif action == "package.state":
        packages.setdefault(int(target), {"hash": None})["state"] = detail["state"]
    elif action == "package.chain.adopt":  # the chain continued after a package this store lacks
        packages.setdefault("adopted", []).append(int(target))


def check_store(store: "OfficeStore", *, deep: bool = False, progress=None) -> list[str]:
    if store._db is None:
        raise StoreError("the store is closed")
    problems: list[str] = []

    def add(p: str) -> None:
        if len(problems) < MAX_PROBLEMS and p not in problems:
            problems.append(p)

    def rows(sql: str) -> list[tuple]:
        try:
            return store._db.execute(sql).fetchall()
        except SQLITE_ERRORS as exc:
            add(f"sqlite: {exc} (reading: {sql.split(' FROM ')[-1].split()[0]})")
            return []

    try:
        result = [r[0] for r in store._db.execute("PRAGMA integrity_check(50)")]
    except SQLITE_ERRORS as exc:
        result = [str(exc)]
    if result != ["ok"]:
        for r in result:
            add(f"sqlite: {r}")

    # --- audit chain, replayed into the state the tables must hold -----------------------------
    begun: dict[str, str] = {}              # enrollment -> subject tag hex
    finished: set[str] = set()
    captures: dict[tuple[str, str], str] = {}
    exceptions: dict[tuple[str, str], str] = {}
    packages: dict[int, dict] = {}
    prev = store.GENESIS
    last_seq = 0
    for row in rows("SELECT seq, at, action, target, body, prev, hash, mac FROM audit ORDER BY seq"):
        seq, at, action, target, body, prev_col, digest, mac = row
        try:
            if seq != last_seq + 1:
                add(f"audit log: entries {last_seq + 1}-{seq - 1} are missing (deleted)")
            if not isinstance(prev_col, bytes) or prev_col != prev:
                add(f"audit entry {seq} does not follow entry {seq - 1} (hash chain broken)")
            if store._entry_hash(bytes(prev_col or b""), seq, at, action, target, body) != digest:
                add(f"audit entry {seq} was edited (its hash does not match)")
            store._check_mac(mac, "audit", digest, what=f"audit entry {seq}")
            detail = json.loads(store._unseal(body, f"audit|{seq}", f"audit entry {seq}"))
        except (StoreError, TypeError, ValueError) as exc:
            add(_msg(exc, store))
            prev = digest if isinstance(digest, bytes) else prev
            last_seq = seq if isinstance(seq, int) else last_seq
            continue
        prev, last_seq = digest, seq
        try:
            _replay(action, target, detail, begun, finished, captures, exceptions, packages)
        except (KeyError, TypeError, ValueError):
            add(f"audit entry {seq} ({action}) does not hold what its action needs")
    try:
        head = store._get_head("audit_head")
    except StoreError as exc:
        head = None
        add(_msg(exc, store))
    if head is None:
        add("the audit log head is missing or fails its MAC")
    elif head != (last_seq, prev):
        add(f"the audit log ends at entry {last_seq} but its head says {head[0]} "
            "(entries deleted or added outside biocap)")

    # --- enrollments -------------------------------------------------------------------------
    seen: set[str] = set()
    for row in rows("SELECT uuid, subject_tag, state, started_at, finished_at, replaces, body, mac "
                    "FROM enrollments"):
        uuid = row[0]
        seen.add(uuid)
        try:
            store._verify_enrollment(row)
        except (StoreError, TypeError, ValueError) as exc:
            add(_msg(exc, store))
            continue
        if uuid not in begun:
            add(f"enrollment {uuid} is not in the audit log (inserted outside biocap)")
        elif begun[uuid] != bytes(row[1]).hex():
            add(f"enrollment {uuid} belongs to another subject than the audit log says")
        if (row[2] == "finished") != (uuid in finished):
            add(f"enrollment {uuid} is {row[2]} but the audit log says "
                f"{'finished' if uuid in finished else 'open'} (edited outside biocap)")
    for uuid in begun.keys() - seen:
        add(f"enrollment {uuid} is missing (deleted outside biocap; the audit log records it)")

    # --- captures and exceptions -----------------------------------------------------------------
    for table, expected, kind in (("captures", captures, "capture"),
                                  ("exceptions", exceptions, "exception")):
        present: set[tuple[str, str]] = set()
        for enrollment, step, digest, body, mac in rows(
                f"SELECT enrollment, step, digest, body, mac FROM {table}"):
            key = (enrollment, step)
            present.add(key)
            what = f"{kind} {enrollment}/{step}"
            try:
                store._check_mac(mac, table, enrollment, step, digest, body, what=what)
                plain = store._unseal(body, f"{table}|{enrollment}|{step}", what)
                if not hmac.compare_digest(store._digest(kind, plain), bytes(digest)):
                    add(f"{what} does not match its digest")
                    continue
                if deep and kind == "capture":
                    decode_capture(plain)
                if progress is not None:
                    progress(len(plain))
            except (StoreError, InvalidDataError, TypeError, ValueError) as exc:
                add(_msg(exc, store))
                continue
            if key not in expected:
                add(f"{what} is not in the audit log (inserted outside biocap)")
            elif expected[key] != bytes(digest).hex():
                add(f"{what} is not the one the audit log records (replaced outside biocap)")
            if enrollment not in seen:
                add(f"{what} belongs to no enrollment")
        for enrollment, step in expected.keys() - present:
            add(f"{kind} {enrollment}/{step} is missing (deleted outside biocap)")

    # --- outbound packages ---------------------------------------------------------------------
    present_pkgs: set[int] = set()
    for row in rows("SELECT seq, subject_tag, enrollment, package_hash, idempotency_key, state, "
                    "attempts, next_at, updated_at, body, result, mac FROM outbound"):
        seq = row[0]
        present_pkgs.add(seq)
        try:
            store._verify_outbound(row)
        except (StoreError, TypeError, ValueError) as exc:
            add(_msg(exc, store))
            continue
        if seq not in packages:
            add(f"package {seq} is not in the audit log (inserted outside biocap)")
        elif packages[seq]["hash"] != bytes(row[3]).hex():
            add(f"package {seq} is not the one the audit log records")
        elif packages[seq]["state"] != row[5]:
            add(f"package {seq} is {row[5]} but the audit log says {packages[seq]['state']}")
    adopted = packages.pop("adopted", [])
    for seq in packages.keys() - present_pkgs:
        add(f"package {seq} is missing from the outbound queue (deleted outside biocap)")
    try:
        phead = store._get_head("package_head")
    except StoreError as exc:
        phead = None
        add(_msg(exc, store))
    if phead is None:
        add("the package chain head is missing or fails its MAC")
    elif (packages or adopted) and phead[0] != max([*packages, *adopted]):
        add(f"the package chain head says {phead[0]} but the last queued or adopted package is "
            f"{max([*packages, *adopted])}")
    return problems
