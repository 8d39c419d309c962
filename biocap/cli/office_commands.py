"""`biocap office ...`: keys, export, verify, backup, restore, reconcile, send, status (issue 21)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..errors import BiocapError


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _keys(args):
    from ..office.keys import KeyRing
    return KeyRing.from_env(args.keys)


def _store(args, **kw):
    from ..office.store import OfficeStore
    path = Path(args.store)
    if not kw.get("create") and not path.exists():
        from ..office.errors import StoreError
        raise StoreError(f"store {path} does not exist", hint="check --store")
    kw.pop("create", None)
    keys = kw.pop("keys", None) or _keys(args)
    return OfficeStore(path, keys=keys, **kw)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --- commands ----------------------------------------------------------------------------------------
def _init(args) -> int:
    from ..office.keys import KEYS_ENV, PUBLIC_FILE, KeyRing
    directory = args.keys or os.environ.get(KEYS_ENV)
    if not directory:
        from ..office.errors import MissingKeys
        raise MissingKeys("`office init` needs --keys DIR (or BIOCAP_KEYS) to make the keys in")
    ring = KeyRing.create(directory, args.office_id)
    _say(f"made the store key and the signing key of office {args.office_id} in {directory}")
    if args.store:
        from ..office.store import OfficeStore
        OfficeStore(args.store, keys=ring).close()
        _say(f"made the store {args.store}")
    print(Path(directory) / PUBLIC_FILE)
    return 0


def _export(args) -> int:
    from ..office.outbound import export
    with _store(args) as store:
        _say(f"building and signing the package of {args.subject}...")
        item = export(store, args.subject, centre=args.centre)
        store.note("package.export", {"sequence": item.seq, "file": str(args.out)})
    _write_private(Path(args.out), item.package)
    print(f"{args.out}: package {item.seq} ({len(item.package)} bytes, key {item.idempotency_key})")
    return 0


def _trusted(args) -> dict:
    from ..office.keys import load_public_key
    trusted = {}
    for spec in args.trust or ():
        office_id, sep, path = spec.partition("=")
        if not sep:
            raise BiocapError(f"--trust takes OFFICE_ID=PUBLIC_KEY_FILE, got {spec!r}")
        trusted[office_id] = load_public_key(path)
    if args.keys or os.environ.get("BIOCAP_KEYS"):
        ring = _keys(args)
        if ring.identity is not None:
            trusted.setdefault(ring.identity.office_id, ring.identity.public_key)
    return trusted


def _verify(args) -> int:
    path = Path(args.path)
    if path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(6)
    else:
        head = b""
    if head == b"1.001:":
        from ..office.package import read_package
        trusted = _trusted(args)
        if not trusted:
            raise BiocapError("no trusted office key: give --keys DIR or --trust OFFICE=KEY.pub")
        pkg = read_package(path.read_bytes(), trusted=trusted)
        print(f"{path}: sound: package {pkg.sequence} of office {pkg.office_id}, "
              f"{len(pkg.fingers)} finger images, {len(pkg.irises)} irises, "
              f"{'a' if pkg.face else 'no'} face, {'a' if pkg.signature else 'no'} signature")
        return 0
    from ..office.backup import verify
    results = verify(path, keys=_keys(args))
    for r in results:
        print(f"{r['path']}: sound: {r['stats']['enrollments']} enrollments, "
              f"{r['stats']['captures']} captures, audit entry {r['audit_seq']}")
    return 0


def _backup(args) -> int:
    from ..office.backup import backup
    with _store(args) as store:
        report = backup(store, args.to, progress=_say)
        store.note("store.backup", {"file": report.path.name, "bytes": report.bytes})
    _say(f"verified in {report.seconds_verify:.2f} s")
    print(f"{report.path}: {report.bytes / 1e6:.1f} MB at {report.mb_per_s:.0f} MB/s, "
          f"{report.stats['enrollments']} enrollments, verified")
    return 0


def _restore(args) -> int:
    from ..office.backup import restore
    path = restore(args.source, args.store, keys=_keys(args), progress=_say)
    print(f"{path}: restored and checked")
    return 0


def _reconcile(args) -> int:
    from ..office import chain
    from ..office.outbound import centre_last_sequence
    accept = getattr(args, "accept_missing", None)
    with _store(args, accept_loss=accept, create=accept is not None) as store:
        if accept is not None:
            _say("the store's loss against the office's anchor is accepted and recorded in the "
                 "audit log (store.anchor.accept)" if any(
                     e["action"] == "store.anchor.accept" for e in store.audit_log()[-1:])
                 else "the store is in step with the office's anchor; nothing to accept")
            if chain.load(store.keys) is None:  # no package issued yet: no chain to continue
                print(f"{store.path}: accepted as it is; no package chain to reconcile")
                return 0
        centre_seq = None
        if args.centre:
            centre_seq = centre_last_sequence(args.centre, store.keys.require_identity().office_id)
            _say(f"the centre's last package from this office: {centre_seq}")
        before, after = chain.reconcile(store, centre_sequence=centre_seq)
    if before == after:
        print(f"the store's package chain is at {after}, in step with the office's chain head")
    else:
        print(f"the store's package chain continues after package {after} (was at {before}); "
              f"packages {before + 1}-{after} are not in this store")
    return 0


def _send(args) -> int:
    from ..office.outbound import Sender
    with _store(args) as store:
        report = Sender(store, args.to, timeout=args.timeout, max_attempts=args.attempts,
                        progress=_say).send()
    print(f"accepted {len(report.accepted)}, rejected {len(report.rejected)}, "
          f"still queued {len(report.pending)} ({report.attempts} attempts)")
    if report.pending:
        from ..office.errors import SendError
        raise SendError(f"{len(report.pending)} packages not delivered: "
                        f"{report.errors[-1] if report.errors else 'no answer'}")
    return 0


def _status(args) -> int:
    with _store(args) as store:
        subjects = [args.subject] if args.subject else store.subjects()
        rows = [store.resident_status(s) for s in subjects]
    if args.centre:
        from ..office.outbound import centre_status
        for row in rows:
            row["centre_view"] = centre_status(args.centre, row["subject"])
    if args.json:
        print(json.dumps(rows if not args.subject else rows[0], indent=1, default=str))
    else:
        for r in rows:
            print(_status_line(r))
    return 0


def _status_line(row: dict) -> str:
    """One resident's delivery status; the centre's reasons (dicts with a message, or text) and,
    when asked, what the centre decided."""
    def text(r):
        return str(r.get("message") or r.get("code")) if isinstance(r, dict) else str(r)
    line = f"{row['subject']}: {row['status']}"
    if row.get("reasons"):
        line += "".join(f"\n  - {text(r)}" for r in row["reasons"])
    view = row.get("centre_view")
    if isinstance(view, dict) and view:
        if "http" in view and "state" not in view:
            line += f"\n  centre: HTTP {view['http']} {view.get('detail') or view.get('reasons') or ''}"
        else:
            line += f"\n  centre: {view.get('state', '?')}"
            if view.get("matched"):
                line += f" (matches {view['matched']})"
            for step in view.get("path") or []:
                at = step.get("at")
                when = datetime.fromtimestamp(at, timezone.utc).strftime("%H:%M:%S") if at else "?"
                line += f"\n    {when} {step.get('step')}" + (f": {step['result']}" if step.get("result") else "")
    return line


def _check(args) -> int:
    with _store(args) as store:
        problems = store.check_integrity(deep=args.deep)
    if problems:
        for p in problems:
            print(p)
        from ..office.errors import StoreDamaged
        raise StoreDamaged(f"{args.store}: {len(problems)} problems (first: {problems[0]})")
    print(f"{args.store}: sound")
    return 0


def _rotate(args) -> int:
    ring = _keys(args)
    with _store(args, keys=ring) as store:  # opened with the current key first
        generation = ring.rotate()
        store.rotate_key(generation)
    print(f"{args.store}: data key re-wrapped under store-{generation}.key; keep the older key "
          "files until no backup needs them")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    office = sub.add_parser("office", help="encrypted office store, backups, signed packages, sending")
    osub = office.add_subparsers(dest="office_command", metavar="ACTION", required=True)

    def keys_arg(p):
        p.add_argument("--keys", help="key directory (default: $BIOCAP_KEYS)")

    p = osub.add_parser("init", help="make the store key and the office signing key")
    keys_arg(p)
    p.add_argument("--office-id", default="office-1", help="this office's id in packages")
    p.add_argument("--store", help="also create an empty store here")
    p.set_defaults(func=_init)

    p = osub.add_parser("export", help="the signed ANSI/NIST-ITL package of a resident")
    p.add_argument("subject")
    p.add_argument("--store", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--centre", default="CENTRE", help="destination agency (1.007 DAI)")
    keys_arg(p)
    p.set_defaults(func=_export)

    p = osub.add_parser("verify", help="check a package or a backup (exit 0 when sound)")
    p.add_argument("path")
    p.add_argument("--trust", action="append", metavar="OFFICE=KEY.pub",
                   help="a trusted office's public key (repeatable)")
    keys_arg(p)
    p.set_defaults(func=_verify)

    p = osub.add_parser("backup", help="online backup, verified before it counts")
    p.add_argument("--store", required=True)
    p.add_argument("--to", required=True, help="backup folder (or a file ending in .bcb)")
    keys_arg(p)
    p.set_defaults(func=_backup)

    p = osub.add_parser("restore", help="restore a verified backup into a new store")
    p.add_argument("source", help="a backup file or a folder (its newest backup)")
    p.add_argument("--store", required=True)
    keys_arg(p)
    p.set_defaults(func=_restore)

    p = osub.add_parser("reconcile", help="after restoring an older backup: continue the package "
                        "chain after the office's last issued package")
    p.add_argument("--store", required=True)
    p.add_argument("--centre", metavar="URL",
                   help="check first that the centre's last package from this office is that one")
    p.add_argument("--accept-missing", metavar="REASON",
                   help="open a store that lacks commits the office's anchor records (a damaged "
                        "or emptied file) as it is; the loss and REASON go into the audit log")
    keys_arg(p)
    p.set_defaults(func=_reconcile)

    p = osub.add_parser("send", help="deliver the queued packages to the centre")
    p.add_argument("--store", required=True)
    p.add_argument("--to", required=True, metavar="URL")
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--attempts", type=int, default=8, help="attempts per package in this run")
    keys_arg(p)
    p.set_defaults(func=_send)

    p = osub.add_parser("status", help="each resident's delivery status")
    p.add_argument("subject", nargs="?")
    p.add_argument("--store", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--centre", metavar="URL", help="also ask the centre (GET /residents/SUBJECT)")
    keys_arg(p)
    p.set_defaults(func=_status)

    p = osub.add_parser("check", help="full integrity check of a store")
    p.add_argument("--store", required=True)
    p.add_argument("--deep", action="store_true", help="also decode every image")
    keys_arg(p)
    p.set_defaults(func=_check)

    p = osub.add_parser("rotate-key", help="add a store master key and re-wrap the data key")
    p.add_argument("--store", required=True)
    keys_arg(p)
    p.set_defaults(func=_rotate)
