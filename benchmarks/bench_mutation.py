"""Mutation run (issue 17): mutated office stores (the SQLite file and its WAL), gallery files,
interchange records (every codec in biocap/templates/formats/: finger minutiae, face, iris,
signature) and USB recordings, each read by biocap in a worker process with a per-case timeout;
counts accepted inputs, clean BiocapErrors (or a store's problem list), non-library exceptions,
hangs and the peak memory.

    .venv/bin/python benchmarks/bench_mutation.py                 # 20,000 cases, ~10 min on 1 core
    .venv/bin/python benchmarks/bench_mutation.py --cases 2000 --out /tmp/m.md

Seeds are built in code (random minutiae templates, random iris codes, a PNG/JPEG/JPEG 2000 iris
record, JPEG / JPEG 2000 face records, a synthetic signature, the recording of
tests/recording_builders.py), so no shared data is needed. Mutations:
bit flips, bytes set to boundary values, 16/32-bit fields set to extremes (0, 1, 0x7F.., 0xFF..),
truncation, duplicated and deleted spans; half of the gallery cases recompute the file's SHA-256
after the edit so the header and array parsers are reached, not only the checksum. Stores
(`biocap.office.OfficeStore`, three enrolled residents): the file gets the same mutations plus
garbage, zeroed and duplicated 4 KiB pages and truncation at a page boundary; the WAL case puts
a mutated write-ahead log (copied while the store was open, so it holds the commits since the
last checkpoint) beside the intact main file. Each store case opens the store, runs `check_integrity()`, reads every
resident and tries one more enrollment: a StoreError or a problem list is clean, a write
accepted into a store that reported problems is a finding.

A case is a hang when it takes longer than --hang-s (2 s) twice: the worker is killed and
restarted and the case run once more (on a machine shared by many jobs a 0.1 s case can
overrun once; the report counts those retries). Each worker runs under an address-space limit (--mem-limit-mb), so an unbounded
allocation shows as a non-library MemoryError instead of swapping the machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import resource
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # recording_builders: the seed recording

#: share of the cases per target (stores, galleries, records, recordings), normalised to --cases
PLAN = {
    "store:db": 0.10, "store:wal": 0.05,
    "gallery:fingerprint": 0.09, "gallery:iris": 0.09, "template:iris": 0.08,
    "record:iso19794-2:2005": 0.05, "record:iso19794-2:2011": 0.05, "record:ansi378:2004": 0.05,
    "record:ansi378:2009": 0.05, "record:ansi378:2009am1": 0.05, "record:iso19794-2:card": 0.05,
    "record:ansi378:2007": 0.05,
    "record:iso19794-6:png": 0.05, "record:iso19794-6:jpeg": 0.05, "record:iso19794-6:jpeg2000": 0.05,
    "record:iso19794-5:2005": 0.02, "record:iso19794-5:2011": 0.02,
    "record:iso19794-7:2007": 0.02, "record:iso19794-7:2007-compact": 0.02,
    "recording:pcapng": 0.07, "recording:ioctl": 0.05, "recording:device": 0.04,
}


# --- seeds ----------------------------------------------------------------------------------------
def _fp_template(seed: int):
    from biocap.templates.fingerprint.template import FingerprintTemplate
    rng = np.random.default_rng(seed)
    n = 30
    rows = np.column_stack([rng.uniform(40, 260, n), rng.uniform(40, 360, n),
                            rng.uniform(0, 2 * np.pi, n), rng.integers(1, 3, n), np.full(n, 60)])
    return FingerprintTemplate(rows, 300, 400, 500.0, position=2)


def build_seeds(tmp: Path, keys_dir: Path) -> dict[str, bytes]:
    import cv2

    from biocap.matching.fingerprint.comparator import FingerprintComparator
    from biocap.matching.iris.gallery import IrisGallery
    from biocap.templates import formats
    from biocap.templates.formats import iso19794_6_2011 as iso6
    from biocap.templates.formats.record import FingerprintRecord
    from biocap.templates.iris.template import IrisTemplate
    import recording_builders as rb

    seeds = {}
    g = FingerprintComparator().gallery()
    g.add_many((f"f{i}", _fp_template(i)) for i in range(4))
    g.save(tmp / "fp.bfg")
    seeds["gallery:fingerprint"] = (tmp / "fp.bfg").read_bytes()
    rng = np.random.default_rng(0)
    ig = IrisGallery()
    ig.add_codes([f"e{i}" for i in range(8)], rng.integers(0, 256, (8, 256), dtype=np.uint8),
                 rng.integers(0, 256, (8, 256), dtype=np.uint8) | 0x0F)
    ig.save(tmp / "iris.big")
    seeds["gallery:iris"] = (tmp / "iris.big").read_bytes()
    seeds["template:iris"] = IrisTemplate(code=rng.integers(0, 256, 256, dtype=np.uint8),
                                          mask=np.full(256, 255, np.uint8), position=1).to_bytes()
    for name in formats.FORMATS:
        rec = FingerprintRecord.from_templates([_fp_template(7), _fp_template(8)], format=name)
        if name == "iso19794-2:card":
            rec = FingerprintRecord.from_templates([_fp_template(7)], format=name)
        seeds[f"record:{name}"] = formats.encode(rec, name)
    eye = (np.add.outer(np.arange(48), np.arange(64)) * 2 % 251).astype(np.uint8)
    seeds["record:iso19794-6:png"] = iso6.encode(iso6.from_image(eye, eye_label=1, image_format=14))
    seeds["record:iso19794-6:jpeg"] = iso6.encode(iso6.from_image(eye, eye_label=2, image_format=6))
    ok, jp2 = cv2.imencode(".jp2", eye)
    assert ok
    rep = iso6.IrisRepresentation(jp2.tobytes(), 64, 48, 18, 1)
    seeds["record:iso19794-6:jpeg2000"] = iso6.encode(iso6.IrisImageRecord([rep], number_of_eyes=1))
    # face (ISO/IEC 19794-5, both editions: JPEG 2000 / JPEG payloads) and signature (19794-7)
    from biocap.templates.formats import FaceImage, FaceImageRecord
    from biocap.templates.formats import iso19794_7_2007 as f7, iso19794_7_compact as c7
    from biocap.synthetic.signature import genuine, make_signer
    face = np.dstack([eye, eye // 2 + 40, 255 - eye])
    for fmt, kind in (("iso19794-5:2005", "jpeg"), ("iso19794-5:2011", "jpeg2000")):
        rec = FaceImageRecord([FaceImage.from_array(face, kind)], format=fmt)
        seeds[f"record:{fmt}"] = formats.encode(rec, fmt)
    pen = genuine(make_signer(0), np.random.default_rng(0)).pen
    sig = f7.SignatureRecord.from_pen(pen)
    seeds["record:iso19794-7:2007"] = f7.encode(sig)
    compact, layout = c7.encode(sig)
    seeds["record:iso19794-7:2007-compact"] = compact
    _LAYOUTS["compact"] = layout.to_json()
    seeds.update(store_seeds(tmp, keys_dir))
    seeds["recording:pcapng"] = rb.pcapng_bytes()
    seeds["recording:ioctl"] = rb.ioctl_text().encode()
    seeds["recording:device"] = rb.device_file().encode()
    return seeds


_LAYOUTS: dict[str, object] = {}  # the compact signature layout (sent with the record, not in it)
_STORE: dict[str, object] = {}  # the store's KeyRing (made in the parent, inherited by workers)
STORE_SUBJECTS = ("subject-0", "subject-1", "subject-2")
PAGE = 4096


def store_seeds(tmp: Path, keys_dir: Path) -> dict[str, bytes]:
    """A store of three residents: the file as closed, and a WAL snapshot taken while open."""
    import shutil

    from biocap.office import KeyRing, OfficeStore
    from office_helpers import enroll
    from biocap.office.anchor import anchor_path
    keys = KeyRing.create(keys_dir, "office-mutation")
    _STORE["keys"] = keys
    # the seed store is made at the path every case opens, so the office's anchor of it (in the
    # key directory) applies to every case; each case starts from that anchor
    path, snap = keys_dir.parent / "case" / "s.db", tmp / "snap"
    path.parent.mkdir()
    snap.mkdir()
    with OfficeStore(path, keys=keys) as store:
        for i, subject in enumerate(STORE_SUBJECTS):
            enroll(store, subject, seed=i)
        # while open, the commits since the last checkpoint are only in the WAL
        shutil.copy(path, snap / "o.db")
        shutil.copy(Path(f"{path}-wal"), snap / "o.db-wal")
    _STORE["path"] = path
    _STORE["anchor"] = (anchor_path(keys, path), anchor_path(keys, path).read_bytes())
    return {"store:db": path.read_bytes(),
            "store:wal": (snap / "o.db-wal").read_bytes(),
            "store:wal-main": (snap / "o.db").read_bytes()}


def mutate_store(data: bytes, rng: np.random.Generator) -> bytes:
    """The byte mutations, or page-level damage: a garbage, zeroed or duplicated page, or the
    file cut at a page boundary."""
    pages = len(data) // PAGE
    if rng.random() < 0.5 or pages < 2:
        return mutate(data, rng)
    out = bytearray(data)
    page = int(rng.integers(0, pages))
    op = int(rng.integers(0, 4))
    if op == 0:
        out[page * PAGE:(page + 1) * PAGE] = rng.integers(0, 256, PAGE, dtype=np.uint8).tobytes()
    elif op == 1:
        out[page * PAGE:(page + 1) * PAGE] = bytes(PAGE)
    elif op == 2:
        other = int(rng.integers(0, pages))
        out[page * PAGE:(page + 1) * PAGE] = data[other * PAGE:(other + 1) * PAGE]
    else:
        del out[page * PAGE:]
    return bytes(out)


# --- mutations ------------------------------------------------------------------------------------
_EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        if not out:
            return bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8))
        # the first 128 bytes (headers) are hit as often as the rest
        at = int(rng.integers(0, min(len(out), 128))) if rng.random() < 0.5 else \
            int(rng.integers(0, len(out)))
        op = int(rng.integers(0, 7))
        if op == 0:
            out[at] ^= 1 << int(rng.integers(8))
        elif op == 1:
            out[at] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFE, 0xFF]))
        elif op in (2, 3):
            width = 2 if op == 2 else 4
            value = int(rng.choice(_EXTREMES)) & ((1 << (8 * width)) - 1)
            order = "<" if rng.random() < 0.5 else ">"
            chunk = struct.pack(order + ("H" if width == 2 else "I"), value)
            out[at:at + width] = chunk[:max(0, len(out) - at)]
        elif op == 4:
            del out[int(rng.integers(0, len(out) + 1)):]
        elif op == 5:
            n = int(rng.integers(1, 64))
            out[at:at] = out[at:at + n]
        else:
            n = int(rng.integers(1, 64))
            del out[at:at + n]
    return bytes(out)


def resign(data: bytes) -> bytes:
    """A gallery file edited on purpose: its SHA-256 trailer recomputed."""
    if len(data) < 48:
        return data
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


def mutate_json_header(data: bytes, rng: np.random.Generator) -> bytes:
    """Edit one value of a gallery's JSON header (a number scaled or replaced, a key renamed)."""
    try:
        hlen = struct.unpack("<I", data[12:16])[0]
        header = json.loads(data[16:16 + hlen])
    except (ValueError, struct.error):
        return data
    paths = []

    def walk(obj, prefix):
        if isinstance(obj, dict):
            for k, v in obj.items():
                paths.append(prefix + (k,))
                walk(v, prefix + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, prefix + (i,))
    walk(header, ())
    path = paths[int(rng.integers(len(paths)))]
    parent = header
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    choice = int(rng.integers(0, 8))
    if choice == 0 and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    else:
        parent[key] = [None, -1, 0, 2 ** 64, 1e300, "x", [], {}][choice]
    raw = json.dumps(header).encode()
    return data[:12] + struct.pack("<I", len(raw)) + raw + data[16 + hlen:]


# --- the targets (run inside the worker) ----------------------------------------------------------
def run_case(target: str, data: bytes, workdir: Path) -> str:
    """'ok' when accepted, 'clean' for a BiocapError; any other exception propagates."""
    from biocap.errors import BiocapError
    try:
        if target.startswith("store:"):
            return _store_case(target, data, workdir)
        if target.startswith("gallery:"):
            from biocap.matching.fingerprint.gallery import FingerprintGallery
            from biocap.matching.iris.gallery import IrisGallery
            path = workdir / "g.bin"
            path.write_bytes(data)
            cls = FingerprintGallery if target.endswith("fingerprint") else IrisGallery
            g = cls.load(path)
            len(g)
        elif target == "template:iris":
            from biocap.templates.iris.template import IrisTemplate
            IrisTemplate.from_bytes(data)
        elif target == "record:iso19794-7:2007-compact":
            from biocap.templates.formats import iso19794_7_compact as c7
            c7.decode(data, c7.CompactLayout.from_json(_COMPACT_LAYOUT))
        elif target.startswith("record:iso19794-5"):
            from biocap.templates import formats
            rec = formats.decode(data, target.split(":", 1)[1])
            for img in rec.images:
                img.decode_image()
        elif target.startswith("record:iso19794-6"):
            from biocap.templates.formats import iso19794_6_2011 as iso6
            rec = iso6.decode(data)
            for rep in rec.representations:
                rep.decode_image()
        elif target.startswith("record:"):
            from biocap.templates import formats
            rec = formats.decode(data)
            formats.decode(data, target.split(":", 1)[1], strict=False)
            rec.to_templates() if hasattr(rec, "to_templates") else None
        elif target.startswith("recording:"):
            import recording_builders as rb
            from biocap.plugins.recording import open_recording
            import shutil
            folder = workdir / "rec"
            shutil.rmtree(folder, ignore_errors=True)  # a fresh folder: one capture file only
            kind = target.split(":")[1]
            if kind == "device":
                rb.write_recording(folder, "pcapng", device=data.decode("utf-8", "replace"))
            else:
                rb.write_recording(folder, kind, capture=data)
            rb.replay_session(open_recording(folder))
        else:
            raise KeyError(target)
    except BiocapError:
        return "clean"
    return "ok"


_COMPACT_LAYOUT = None  # set in the parent before the worker forks
_WAL_MAIN = b""  # the main file the WAL cases sit beside (set in the parent)


def _store_case(target: str, data: bytes, workdir: Path) -> str:
    """Open, check, read every resident, try a write: 'clean' when the store is refused or
    reports problems, 'rolled back' when it is sound but residents are missing (SQLite drops the
    WAL frames from the first damaged one on: those commits are lost, the store is consistent as
    of the last intact one); a raw sqlite3 (or any non-library) error propagates."""
    from biocap.office import OfficeStore, StoreError
    from biocap.office.anchor import StoreBehindAnchor
    from biocap.office.store import UnknownSubject
    from office_helpers import enroll
    path = _STORE["path"]
    where, anchored = _STORE["anchor"]
    where.write_bytes(anchored)  # the office's anchor of the seed store
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if target == "store:wal":
        path.write_bytes(_WAL_MAIN)
        Path(f"{path}-wal").write_bytes(data)
    else:
        path.write_bytes(data)
    try:
        store = OfficeStore(path, keys=_STORE["keys"])
    except StoreBehindAnchor:
        return "behind anchor"  # lost commits (damaged WAL, emptied file) refused on open
    except StoreError:
        return "clean"
    with store:
        problems = store.check_integrity()
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            raise TypeError(f"check_integrity returned {problems!r:.80}")
        lost = 0
        for subject in STORE_SUBJECTS:
            try:
                store.record(subject)
            except UnknownSubject:
                lost += 1
            except StoreError:
                problems = problems or ["record refused"]
        try:
            enroll(store, "new-subject", seed=9)
            wrote = True
        except StoreError:
            wrote = False
        if problems and wrote:
            raise AssertionError(f"wrote into a store with problems: {problems[0]:.80}")
    return "clean" if problems else "rolled back" if lost else "ok"


def _mapped_bytes() -> int:
    """This process's mapped address space (VmSize), 0 where /proc is not there."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _worker(conn, mem_limit_mb: int) -> None:
    if mem_limit_mb:
        # the cap is on what the cases may allocate: on top of the address space the forked
        # worker inherits (a parent that has loaded dlib or numba already maps over 2 GB)
        limit = _mapped_bytes() + mem_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    workdir = Path(tempfile.mkdtemp(prefix="biocap-mut-"))
    while True:
        msg = conn.recv()
        if msg is None:
            break
        target, data = msg
        t0 = time.perf_counter()
        try:
            outcome = run_case(target, data, workdir)
            detail = ""
        except MemoryError:
            outcome, detail = "escape", "MemoryError"
        except Exception as exc:  # the finding: a non-library exception
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            outcome = "escape"
            detail = f"{type(exc).__name__}: {str(exc)[:120]} ({Path(tb.filename).name}:{tb.lineno})"
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send((outcome, detail, time.perf_counter() - t0, rss_kb))


class Pool:
    """One worker process; restarted after a hang or a crash."""

    def __init__(self, mem_limit_mb: int, warmup: dict[str, bytes] | None = None):
        self.mem_limit_mb = mem_limit_mb
        self.ctx = mp.get_context("fork")
        self.peak_rss_kb = 0
        self.warmup = warmup or {}
        self.restarts = 0
        self._start()

    def _start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.mem_limit_mb), daemon=True)
        self.proc.start()
        # a fresh worker reads every seed once (imports, compiled kernels, caches), so that its
        # first real case is timed warm, as every other case is
        for target, data in self.warmup.items():
            self.conn.send((target, data))
            if not self.conn.poll(120):
                raise RuntimeError(f"warm-up of {target} did not finish in 120 s")
            self.conn.recv()

    def run(self, target: str, data: bytes, timeout: float):
        self.conn.send((target, data))
        if not self.conn.poll(timeout):
            self.proc.kill()
            self.proc.join()
            self.restarts += 1
            self._start()
            return "hang", f"> {timeout:g} s", timeout
        try:
            outcome, detail, seconds, rss = self.conn.recv()
        except EOFError:  # the worker died (a crash in native code)
            self.proc.join()
            code = self.proc.exitcode
            self.restarts += 1
            self._start()
            return "escape", f"worker died (exit {code})", 0.0
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        return outcome, detail, seconds

    def close(self):
        try:
            self.conn.send(None)
            self.proc.join(5)
        finally:
            if self.proc.is_alive():
                self.proc.kill()


def run(cases: int, seed: int = 0, hang_s: float = 2.0, mem_limit_mb: int = 2048,
        progress: bool = False, keep: Path | None = None, only: str | None = None) -> dict:
    """`only`: run just the targets whose name starts with it (each with its share of `cases`
    as in the whole run), e.g. "store:"."""
    rng = np.random.default_rng(seed)
    global _COMPACT_LAYOUT, _WAL_MAIN
    keys_tmp = tempfile.TemporaryDirectory(prefix="biocap-mut-keys-")
    with tempfile.TemporaryDirectory() as tmp:
        seeds = build_seeds(Path(tmp), Path(keys_tmp.name) / "keys")
    _COMPACT_LAYOUT = _LAYOUTS["compact"]
    _WAL_MAIN = seeds.pop("store:wal-main")
    pool = Pool(mem_limit_mb, warmup=seeds)
    counts: dict[str, Counter] = defaultdict(Counter)
    findings: dict[str, Counter] = defaultdict(Counter)
    slowest: dict[str, float] = defaultdict(float)
    retried: Counter = Counter()  # cases over the limit once, run again
    t0 = time.time()
    try:
        # the unmutated seeds first: each must be accepted (the run's reference)
        for target, data in seeds.items():
            if only and not target.startswith(only):
                continue
            outcome, detail, _ = pool.run(target, data, hang_s * 5)
            counts[target]["seed " + outcome] += 1
            if outcome != "ok":
                findings[target][f"seed: {outcome} {detail}"] += 1
        whole = sum(PLAN.values())
        plan = [(t, max(1, int(round(cases * share / whole)))) for t, share in PLAN.items()
                if not only or t.startswith(only)]
        done = 0
        for target, n in plan:
            for _ in range(n):
                data = (mutate_store if target.startswith("store:") else mutate)(seeds[target], rng)
                if target.startswith("gallery:") and rng.random() < 0.5:
                    data = resign(mutate_json_header(seeds[target], rng) if rng.random() < 0.6
                                  else data)
                outcome, detail, seconds = pool.run(target, data, hang_s)
                if outcome == "hang":  # on a busy shared machine: once more, in a fresh worker
                    retried[target] += 1
                    outcome, detail, seconds = pool.run(target, data, hang_s)
                counts[target][outcome] += 1
                slowest[target] = max(slowest[target], seconds)
                if outcome in ("escape", "hang"):
                    findings[target][f"{outcome}: {detail}"] += 1
                    if keep is not None:  # the input, to reproduce the finding
                        keep.mkdir(parents=True, exist_ok=True)
                        name = f"{target.replace(':', '_')}-{outcome}-{done}.bin"
                        (keep / name).write_bytes(data)
                done += 1
                if progress and done % 1000 == 0:
                    print(f"{done} cases, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        pool.close()
        keys_tmp.cleanup()
    parent_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"counts": {k: dict(v) for k, v in counts.items()},
            "findings": {k: dict(v) for k, v in findings.items()},
            "slowest_s": dict(slowest), "seconds": time.time() - t0, "restarts": pool.restarts,
            "retried": dict(retried),
            "peak_rss_mb": {"worker": max(pool.peak_rss_kb, children_kb) / 1024,
                            "parent": parent_kb / 1024}}


def totals(result: dict) -> Counter:
    out = Counter()
    for c in result["counts"].values():
        for k, v in c.items():
            if not k.startswith("seed"):
                out[k] += v
    return out


def report(result: dict, args) -> str:
    tot = totals(result)
    n = sum(tot.values())
    lines = ["# Mutation run (issue 17)", "",
             f"Command: `.venv/bin/python benchmarks/bench_mutation.py --cases {args.cases} "
             f"--seed {args.seed}{f' --only {args.only}' if getattr(args, 'only', None) else ''}` ({result['seconds']:.0f} s, one worker, hang limit "
             f"{args.hang_s:g} s, address-space limit {args.mem_limit_mb} MB per worker above the address space it inherits).", "",
             f"**{n} cases: {tot['escape']} non-library exceptions, {tot['hang']} hangs over "
             f"{args.hang_s:g} s, peak RSS {result['peak_rss_mb']['worker']:.0f} MB (worker) / "
             f"{result['peak_rss_mb']['parent']:.0f} MB (parent)** (limit: under 1 GB). Cases over "
             f"{args.hang_s:g} s once and run again in a fresh worker: "
             f"{sum(result['retried'].values())} ({', '.join(f'{k} {v}' for k, v in result['retried'].items()) or 'none'}).", "",
             "Reference in the same run: every unmutated seed is read and accepted first (column "
             "'seed'). For stores 'clean' means refused on open (StoreError) or a non-empty "
             "`check_integrity()` problem list / StoreError on reading, with no write accepted "
             "afterwards; 'accepted' means the store opened, reported no problem and read every "
             "resident (a mutation of free or unused bytes); 'refused: behind anchor' means the "
             "open was refused with `StoreBehindAnchor` because the store lacks commits the "
             "office's signed anchor of it records (SQLite ignores the WAL from the first frame "
             "whose checksum fails, and a file cut to 0 bytes would open as a new store; "
             "docs/decisions/17-store-anchor.md); 'rolled back' means it opened sound but residents "
             "were missing (a silent loss: must be 0).", "",
             "| target | seed | cases | accepted | clean BiocapError | refused: behind anchor | rolled back (store) | non-library exception | hang | slowest case (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for target, c in result["counts"].items():
        seed = next((k[5:] for k in c if k.startswith("seed")), "?")
        cases = sum(v for k, v in c.items() if not k.startswith("seed"))
        lines.append(f"| {target} | {seed} | {cases} | {c.get('ok', 0)} | {c.get('clean', 0)} | "
                     f"{c.get('behind anchor', 0)} | {c.get('rolled back', 0)} | {c.get('escape', 0)} | {c.get('hang', 0)} | {result['slowest_s'].get(target, 0):.2f} |")
    found = [(t, f, k) for t, fs in result["findings"].items() for f, k in fs.items()]
    lines += ["", "## Findings", ""]
    lines += [f"- {t}: {f} (x{k})" for t, f, k in found] or ["None."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hang-s", type=float, default=2.0)
    ap.add_argument("--mem-limit-mb", type=int, default=2048)
    ap.add_argument("--only", metavar="PREFIX", help="only the targets starting with PREFIX "
                    "(e.g. store:), each with its share of --cases as in the whole run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/mutation.md")
    ap.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "biocap-mutation-findings",
                    help="folder for the inputs of findings (to reproduce them)")
    args = ap.parse_args(argv)
    result = run(args.cases, args.seed, args.hang_s, args.mem_limit_mb, progress=True, keep=args.keep,
                 only=args.only)
    text = report(result, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    tot = totals(result)
    return 1 if tot["escape"] or tot["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
