"""Backup throughput of a 10,000-resident office store, and a byte search for clear data.

Builds a store of N residents (each: one enrollment, two 256x256 finger captures, a name), backs
it up online (SQLite backup API, then every record verified), and reports MB/s of the copy beside
a plain file copy of the same store in the same run (the reference). Then searches the store file,
its WAL and the backup for known plaintext: image rows, the images' PNG bytes, subject ids and
names. Issue 21: backup >= 50 MB/s; no image, template or name in clear.

    .venv/bin/python benchmarks/bench_office_backup.py --residents 10000
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import biocap.office.integrity  # noqa: F401 - loaded now, not lazily mid-run
from biocap.office import CaptureRecord, KeyRing, OfficeStore
from biocap.office.backup import backup, verify_backup_file
from biocap.types import FingerPosition, Modality, Sample

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from office_helpers import ridge_image  # noqa: E402


def build_store(path: Path, keys: KeyRing, n: int, say) -> dict:
    probes = {"images": [], "pngs": [], "names": [], "subjects": [], "templates": []}
    with OfficeStore(path, keys=keys, actor="bench") as store:
        store._db.execute("PRAGMA synchronous = OFF")  # setup speed only; the backup is what is measured
        base = [ridge_image(256, 256, seed=s) for s in range(16)]
        for i in range(n):
            subject = f"3201{i:012d}"
            name = f"Resident Number {i} Wibowo"
            eid = store.begin_enrollment(subject, policy="ktp", operator="bench",
                                         metadata={"name": name})
            for k, pos in enumerate((2, 7)):
                img = np.roll(base[(i + k) % 16], i % 97, axis=1)
                tpl = b"FMR\x00 020\x00" + i.to_bytes(4, "big") + bytes([pos]) * 40
                store.put_capture(eid, CaptureRecord(
                    f"finger-{pos}", Modality.FINGERPRINT, pos,
                    Sample(img, 500, Modality.FINGERPRINT, FingerPosition(pos)), {"score": 50},
                    {"iso19794-2:2011": tpl}))
                if i % 1000 == 0:
                    probes["images"].append(img[100].tobytes()[:32])
                    probes["pngs"].append(cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1]
                                          .tobytes()[40:72])
                    probes["templates"].append(tpl[-32:])
            store.finish_enrollment(eid, complete=True)
            if i % 1000 == 0:
                probes["names"].append(name.encode())
                probes["subjects"].append(subject.encode())
                say(f"  {i}/{n} residents")
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return probes


def search(paths: list[Path], probes: dict) -> dict:
    hits = {k: 0 for k in probes}
    for p in paths:
        if not p.exists():
            continue
        data = p.read_bytes()
        for kind, needles in probes.items():
            hits[kind] += sum(1 for nd in needles if nd in data)
    return hits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--residents", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "office_backup.md")
    args = ap.parse_args()
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(dir=ROOT.parent if (ROOT.parent / "wt").exists() else None) as d:
        d = Path(d)
        keys = KeyRing.create(d / "keys", "bench-office")
        store_path = d / "office.db"
        say(f"building a store of {args.residents} residents...")
        t = time.perf_counter()
        probes = build_store(store_path, keys, args.residents, say)
        build_s = time.perf_counter() - t
        size = store_path.stat().st_size
        copies, backups, verifies, copies_cpu, backups_cpu = [], [], [], [], []
        with OfficeStore(store_path, keys=keys) as store:
            for r in range(args.repeat):  # alternate reference and backup in one run
                t, c = time.perf_counter(), time.process_time()
                shutil.copyfile(store_path, d / f"plain-{r}.db")
                with open(d / f"plain-{r}.db", "rb+") as fh:
                    os.fsync(fh.fileno())
                copies.append(time.perf_counter() - t)
                copies_cpu.append(time.process_time() - c)
                report = backup(store, d / "backups", progress=say)
                backups.append(report.seconds_copy)
                backups_cpu.append(report.cpu_seconds_copy)
                verifies.append(report.seconds_verify)
                (d / f"plain-{r}.db").unlink()
            t = time.perf_counter()
            verify_backup_file(report.path, keys=keys)
            reverify = time.perf_counter() - t
        hits_store = search([store_path, Path(f"{store_path}-wal")], probes)
        hits_backup = search([report.path, report.manifest], probes)
        # the same needles in a plaintext copy must be found (the search works)
        control = d / "control.bin"
        control.write_bytes(b"".join(b"".join(v) for v in probes.values()))
        hits_control = search([control], probes)
    mb = size / 1e6
    med = lambda xs: float(np.median(xs))  # noqa: E731
    lines = [
        f"# Office backup throughput ({args.residents} residents) and byte search", "",
        f"Command: `.venv/bin/python benchmarks/bench_office_backup.py --residents {args.residents}`",
        "",
        f"Store: {args.residents} residents x 2 encrypted 256x256 finger captures + template + name; "
        f"{mb:.0f} MB (built in {build_s:.0f} s).", "",
        f"Machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(shared); CPU seconds are this process's own.", "",
        "| what (median of %d, same run) | seconds | MB/s | CPU s | MB per CPU s |" % args.repeat,
        "|---|---|---|---|---|",
        f"| plain file copy + fsync (reference) | {med(copies):.2f} | {mb / med(copies):.0f} | "
        f"{med(copies_cpu):.2f} | {mb / max(med(copies_cpu), 1e-9):.0f} |",
        f"| online backup (SQLite backup API + fsync + rename) | {med(backups):.2f} | "
        f"{mb / med(backups):.0f} | {med(backups_cpu):.2f} | {mb / max(med(backups_cpu), 1e-9):.0f} |",
        f"| verification of the backup (every row: MAC, decryption, digest, audit chain) | "
        f"{med(verifies):.2f} | {mb / med(verifies):.0f} | | |",
        f"| `biocap office verify` of the backup (+ SHA-256 of the file) | {reverify:.2f} | "
        f"{mb / reverify:.0f} | | |", "",
        f"Backup / plain copy time ratio: {med(backups) / med(copies):.2f}. Target >= 50 MB/s: "
        f"{'met' if mb / med(backups) >= 50 else 'NOT met'} on the wall clock "
        f"({mb / med(backups):.0f} MB/s); {mb / max(med(backups_cpu), 1e-9):.0f} MB per CPU second.", "",
        "Byte search (known needles: image pixel rows, PNG bytes, template bytes, names, subject "
        "ids; found in a plaintext control file: "
        f"{sum(hits_control.values())} of {sum(len(v) for v in probes.values())}):", "",
        "| where | " + " | ".join(probes) + " |", "|---|" + "---|" * len(probes),
        "| store + WAL | " + " | ".join(str(hits_store[k]) for k in probes) + " |",
        "| backup + manifest | " + " | ".join(str(hits_backup[k]) for k in probes) + " |", ""]
    args.out.write_text("\n".join(lines))
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
