"""kill -9 at random points during enrollment writes, backups and sending; what must hold after.

Used by tests/test_office_crash.py (a few kills) and benchmarks/bench_office_crash.py (>= 50 per
phase). Each phase forks a worker, kills it with SIGKILL after a random delay, then checks:

- writes: the store is sound; every acknowledged resident is in it exactly once (one finished
  enrollment, all its captures); nothing is half-written except at most one open enrollment,
  which the next worker resumes;
- backup: every backup that reported success (its manifest exists) verifies and restores;
- sending: in the end every package reaches the stub centre and is processed exactly once.
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

from biocap.office import KeyRing, OfficeStore
from biocap.office.backup import backup, backups_in, restore, verify
from biocap.office.outbound import Sender, export

from office_helpers import finger_capture

CTX = multiprocessing.get_context("fork")
FINGERS = (2, 3, 7)


def _ack(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _acks(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _enroll_worker(store_path, key_dir, ack_path, start):
    keys = KeyRing.load(key_dir)
    with OfficeStore(store_path, keys=keys, actor="crash-worker") as store:
        i = start
        while True:
            subject = f"r-{i:05d}"
            eid = store.open_enrollment(subject)
            if eid is None:
                try:
                    store.record(subject, finished_only=True)
                    i += 1
                    continue  # finished before the last kill, ack lost: fine
                except Exception:  # noqa: BLE001 - not enrolled yet
                    eid = store.begin_enrollment(subject, policy="crash", operator="w")
            for k, pos in enumerate(FINGERS):
                store.put_capture(eid, finger_capture(pos, seed=i * 10 + k))
            store.finish_enrollment(eid, complete=True)
            _ack(ack_path, subject)
            i += 1


def _kill_after(proc, delay):
    time.sleep(delay)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)


def crash_writes(folder: Path, kills: int, rng: random.Random, max_delay=0.6) -> dict:
    keys = KeyRing.create(folder / "keys", "crash-office")
    store_path, ack_path = folder / "store.db", folder / "acks.txt"
    OfficeStore(store_path, keys=keys).close()
    problems = []
    for _ in range(kills):
        p = CTX.Process(target=_enroll_worker, args=(str(store_path), str(folder / "keys"),
                                                     str(ack_path), 0))
        p.start()
        _kill_after(p, rng.uniform(0.05, max_delay))
        with OfficeStore(store_path, keys=keys) as store:
            found = store.check_integrity()
            if found:
                problems.append(f"store damaged after a kill: {found[:2]}")
                break
            for subject in _acks(ack_path):
                rec = store.record(subject, finished_only=True)
                if rec.history or len(rec.captures) != len(FINGERS):
                    problems.append(f"{subject}: {len(rec.history) + 1} enrollments, "
                                    f"{len(rec.captures)} captures")
            opened = [s for s in store.subjects() if store.open_enrollment(s)]
            if len(opened) > 1:
                problems.append(f"{len(opened)} open enrollments: {opened}")
    with OfficeStore(store_path, keys=keys) as store:
        residents = len(store.subjects())
    return {"kills": kills, "acknowledged": len(set(_acks(ack_path))), "residents": residents,
            "problems": problems}


def _backup_worker(store_path, key_dir, out_dir, ack_path):
    keys = KeyRing.load(key_dir)
    with OfficeStore(store_path, keys=keys) as store:
        n = 0
        while True:
            eid = store.begin_enrollment(f"b-{os.getpid()}-{n}", policy="p", operator="o")
            store.put_capture(eid, finger_capture(2, seed=n))
            store.finish_enrollment(eid, complete=True)
            report = backup(store, out_dir)
            _ack(ack_path, report.path.name)
            n += 1


def crash_backups(folder: Path, kills: int, rng: random.Random, max_delay=0.8) -> dict:
    keys = KeyRing.create(folder / "keys", "crash-office")
    store_path, out, ack_path = folder / "store.db", folder / "backups", folder / "acks.txt"
    with OfficeStore(store_path, keys=keys) as store:
        for i in range(20):
            eid = store.begin_enrollment(f"seed-{i}", policy="p", operator="o")
            store.put_capture(eid, finger_capture(2, seed=i, size=(300, 260)))
            store.finish_enrollment(eid, complete=True)
    problems = []
    for _ in range(kills):
        p = CTX.Process(target=_backup_worker, args=(str(store_path), str(folder / "keys"),
                                                     str(out), str(ack_path)))
        p.start()
        _kill_after(p, rng.uniform(0.05, max_delay))
    reported = set(_acks(ack_path))
    finished = backups_in(out) if out.exists() else []
    try:
        verified = verify(out, keys=keys) if finished else []
    except Exception as exc:  # noqa: BLE001 - reported as a problem
        problems.append(f"verify failed: {exc}")
        verified = []
    missing = reported - {p.name for p in finished}
    if missing:
        problems.append(f"backups reported but without manifest: {sorted(missing)[:3]}")
    restored = 0
    for i, f in enumerate(sorted(finished, key=lambda p: p.name)[-5:]):
        target = folder / f"restored-{i}.db"
        try:
            restore(f, target, keys=keys)
            with OfficeStore(target, keys=keys) as r:
                if r.check_integrity():
                    problems.append(f"restored {f.name} is not sound")
            restored += 1
        except Exception as exc:  # noqa: BLE001
            problems.append(f"restore of {f.name} failed: {exc}")
    with OfficeStore(store_path, keys=keys) as store:
        if store.check_integrity():
            problems.append("the live store is damaged")
    return {"kills": kills, "reported": len(reported), "finished": len(finished),
            "verified": len(verified), "restored": restored,
            "unfinished_left": len(list(out.glob("*.partial"))) if out.exists() else 0,
            "problems": problems}


def _send_worker(store_path, key_dir, url):
    keys = KeyRing.load(key_dir)
    with OfficeStore(store_path, keys=keys) as store:
        Sender(store, url, timeout=0.3, max_attempts=1000, backoff=0.001, backoff_max=0.02).send()


def crash_sending(folder: Path, kills: int, rng: random.Random, packages=30, max_delay=0.5) -> dict:
    from office_helpers import enroll
    from office_stub import StubCentre
    keys = KeyRing.create(folder / "keys", "crash-office")
    store_path = folder / "store.db"
    with OfficeStore(store_path, keys=keys) as store:
        for i in range(packages):
            enroll(store, f"s-{i:03d}", fingers=(2,), seed=i)
            export(store, f"s-{i:03d}")
    problems = []
    with StubCentre({"crash-office": keys.identity.public_key}, drop=0.2, slow=0.2, slow_s=0.4,
                    seed=rng.randrange(1 << 30)) as centre:
        for _ in range(kills):
            p = CTX.Process(target=_send_worker, args=(str(store_path), str(folder / "keys"), centre.url))
            p.start()
            _kill_after(p, rng.uniform(0.02, max_delay))
        p = CTX.Process(target=_send_worker, args=(str(store_path), str(folder / "keys"), centre.url))
        p.start()
        p.join(300)  # the last run finishes the queue
        twice = {k: n for k, n in centre.processed.items() if n != 1}
        if twice:
            problems.append(f"processed more than once: {twice}")
        if len(centre.processed) != packages:
            problems.append(f"{len(centre.processed)} of {packages} packages reached the centre")
        posted = sum(centre.posted.values())
    with OfficeStore(store_path, keys=keys) as store:
        rows = [store.resident_status(f"s-{i:03d}") for i in range(packages)]
        states = [r["status"] for r in rows]
        problems += [f"{r['subject']}: {r['reasons']}" for r in rows if r.get("reasons")][:3]
        if store.check_integrity():
            problems.append("the store is damaged")
    if set(states) != {"accepted"}:
        problems.append(f"states after sending: {sorted(set(states))}")
    return {"kills": kills, "packages": packages, "posted": posted,
            "processed_once": sum(1 for n in centre.processed.values() if n == 1),
            "problems": problems}
