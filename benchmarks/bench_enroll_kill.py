"""kill -9 during simulated enrollments: every resumed enrollment ends with the same record.

    .venv/bin/python benchmarks/bench_enroll_kill.py --kills 50 --per-enrollment 4

For each enrollment (one subject, its own store and keys in a temporary folder), `biocap enroll`
(the CLI, e-KTP policy, the simulated devices) is started and killed with SIGKILL at a random
point (once the store holds a random number of captures, then a random 0-3 s later), then `biocap enroll --resume` is started and killed again, `--per-enrollment` times, and
a last `--resume` runs to the end (`--time-limit`: no new enrollment starts after this many
seconds, so a run on a loaded machine is bounded; the report says whether the limit cut it). A reference enrollment of another subject runs uninterrupted
in a store of its own. Checked after each kill (reading the store as it was left): and at the end:
- nothing lost: every capture stored before a kill is in the final record, byte for byte
  (image and templates);
- nothing doubled: every step once;
- the same record as uninterrupted: the same steps with the same modality, position and
  template formats, the same exceptions, complete.
(The simulator draws new presentations after a restart, so images after a kill differ from the
reference's; what is compared is what the record holds, not the pixels of new captures.)
Report: benchmarks/results/enroll_kill.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results")
REASON = "kill-bench operator: reviewed"


def enroll_cmd(store: Path, keys: Path, subject: str, resume: bool) -> list[str]:
    cmd = [str(Path(sys.executable).with_name("biocap")), "enroll", "--policy", "ektp", "--subject", subject,
           "--store", str(store), "--keys", str(keys), "--operator-reason", REASON]
    return cmd + (["--resume"] if resume else [])


def snapshot(store: Path, keys: Path, subject: str) -> dict:
    """{step: (modality, position, template formats, digest of image+templates)} + exceptions."""
    from biocap.office import KeyRing, OfficeStore
    from biocap.office.store import UnknownSubject
    try:
        with OfficeStore(store, keys=KeyRing.load(keys), readonly=True) as s:
            record = s.record(subject)
    except UnknownSubject:
        return {"captures": {}, "exceptions": {}, "state": None, "complete": None}
    caps = {}
    for c in record.captures:
        h = hashlib.sha256(c.sample.image.tobytes())
        for name in sorted(c.templates):
            h.update(name.encode() + c.templates[name])
        caps[c.step] = [c.modality.value, int(c.position), sorted(c.templates), h.hexdigest()]
    exc = {e.step: [e.code, e.reason] for e in record.exceptions}
    steps = [c.step for c in record.captures]
    return {"captures": caps, "exceptions": exc, "state": record.enrollment.state,
            "complete": record.enrollment.complete, "doubled": len(steps) != len(set(steps))}


def stored_count(store: Path) -> int:
    import sqlite3
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM captures").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_for_captures(proc, store: Path, target: int, limit_s: float) -> bool:
    """Wait until the store holds `target` captures (False) or the process ends (True)."""
    end = time.time() + limit_s
    while time.time() < end:
        if proc.poll() is not None:
            return True
        if store.exists() and stored_count(store) >= target:
            return False
        time.sleep(0.5)
    return proc.poll() is not None


def structure(snap: dict) -> dict:
    return {"steps": {k: v[:3] for k, v in snap["captures"].items()},
            "exceptions": snap["exceptions"], "complete": snap["complete"], "state": snap["state"]}


def run_to_end(store, keys, subject, resume, env, limit_s=900) -> int:
    proc = subprocess.run(enroll_cmd(store, keys, subject, resume), env=env, timeout=limit_s,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc.returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--per-enrollment", type=int, default=4)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--max-delay", type=float, default=None,
                   help="kill within this many seconds of a start (default: the reference's time)")
    ap.add_argument("--time-limit", type=float, default=5400.0,
                    help="seconds: no new enrollment starts after this (bounded run time)")
    ap.add_argument("--out", type=Path, default=RESULTS / "enroll_kill.json")
    args = ap.parse_args(argv)
    started = time.time()
    import numpy as np
    rng = np.random.default_rng(args.seed)
    work = Path(tempfile.mkdtemp(prefix="enroll-kill-"))
    env = dict(os.environ)
    # uninterrupted reference
    ref_store, ref_keys = work / "ref.db", work / "ref.keys"
    from biocap.office import KeyRing
    KeyRing.create(ref_keys, "office-ref")
    t0 = time.time()
    rc = run_to_end(ref_store, ref_keys, "REF", False, env)
    ref_time = time.time() - t0
    reference = snapshot(ref_store, ref_keys, "REF")
    if rc != 0 or reference["state"] != "finished":
        print(f"the reference enrollment did not finish (exit {rc})", file=sys.stderr)
        return 1
    max_delay = args.max_delay or 3 * ref_time
    n_ref = len(reference["captures"])
    kills, enrollments, failures = [], [], []
    e = 0
    cut = False
    while len(kills) < args.kills:
        if time.time() - started > args.time_limit:
            cut = True
            break
        e += 1
        subject = f"K-{e:03d}"
        store, keys = work / f"k{e}.db", work / f"k{e}.keys"
        KeyRing.create(keys, f"office-{e}")
        before: dict = {"captures": {}}
        resume = False
        points = []
        for _ in range(min(args.per_enrollment, args.kills - len(kills))):
            # a kill point spread over the enrollment: once the store holds a random number of
            # captures (counted with plain SQL, no keys), a random moment up to 3 s later
            target = int(rng.integers(0, n_ref))
            delay = float(rng.uniform(0.0, 3.0))
            proc = subprocess.Popen(enroll_cmd(store, keys, subject, resume), env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ended = wait_for_captures(proc, store, target, max_delay)
            if not ended:
                time.sleep(delay)
                ended = proc.poll() is not None
            if not ended:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            snap = snapshot(store, keys, subject)
            lost = [k for k, v in before["captures"].items() if snap["captures"].get(k) != v]
            if lost:
                failures.append({"subject": subject, "lost_or_changed_after_kill": lost})
            points.append({"after_captures": target, "extra_delay_s": round(delay, 2),
                           "killed": not ended,
                           "stored": len(snap["captures"]), "exceptions": len(snap["exceptions"])})
            if not ended:
                kills.append(points[-1])
            before = snap
            if snap["state"] == "finished":
                break
            resume = snap["state"] == "open"
        final = snapshot(store, keys, subject)
        tries = 0
        while final["state"] != "finished" and tries < 3:
            run_to_end(store, keys, subject, final["state"] == "open", env)
            final = snapshot(store, keys, subject)
            tries += 1
        lost = [k for k, v in before["captures"].items() if final["captures"].get(k) != v]
        same = structure(final) == structure(reference)
        if lost or not same or final.get("doubled"):
            failures.append({"subject": subject, "lost": lost, "same_as_reference": same,
                             "final": structure(final)})
        enrollments.append({"subject": subject, "kill_points": points, "same_as_reference": same,
                            "lost": len(lost), "captures": len(final["captures"])})
        write_partial = {"kills_so_far": len(kills), "enrollments_so_far": len(enrollments),
                         "failures_so_far": failures, "wall_s": round(time.time() - started, 1)}
        args.out.with_suffix(".partial.json").write_text(json.dumps(write_partial, indent=1))
        print(f"{subject}: {len(points)} starts, {sum(p['killed'] for p in points)} kills, "
              f"same as reference: {same}, lost: {len(lost)}", file=sys.stderr, flush=True)
    report = {"command": "benchmarks/bench_enroll_kill.py " + " ".join(sys.argv[1:]),
              "kills": len(kills), "kills_asked": args.kills, "enrollments": len(enrollments),
              "time_limit_s": args.time_limit, "cut_by_time_limit": cut,
              "wall_s": round(time.time() - started, 1),
              "reference_wall_s": round(ref_time, 1), "reference": structure(reference),
              "all_same_as_reference": all(x["same_as_reference"] for x in enrollments),
              "captures_lost": sum(x["lost"] for x in enrollments), "failures": failures,
              "enrollment_runs": enrollments}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k not in ("enrollment_runs", "reference")},
                     indent=1))
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)
    return 0 if not failures and not cut else 1


if __name__ == "__main__":
    sys.exit(main())
