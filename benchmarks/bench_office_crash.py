"""kill -9 at random points during enrollment writes, backups and sending (issue 21's crash tests).

Runs >= 50 kills per phase (tests/office_crash.py holds the harness; tests/test_office_crash.py
runs a few of each in `make test`) and writes benchmarks/results/office_crash.md.

    .venv/bin/python benchmarks/bench_office_crash.py --kills 50 --seed 7
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from office_crash import crash_backups, crash_sending, crash_writes  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--packages", type=int, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "office_crash.md")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    results = {}
    for name, fn, kw in (("writes", crash_writes, {}), ("backup", crash_backups, {}),
                         ("sending", crash_sending, {"packages": args.packages})):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            results[name] = fn(Path(d), args.kills, rng, **kw)
            results[name]["seconds"] = round(time.perf_counter() - t, 1)
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    ok = all(not r["problems"] for r in results.values())
    lines = [
        "# Office crash tests (kill -9 at random points)", "",
        f"Command: `.venv/bin/python benchmarks/bench_office_crash.py --kills {args.kills} "
        f"--seed {args.seed} --packages {args.packages}`", "",
        "| phase | kills | outcome | problems | seconds |", "|---|---|---|---|---|",
        f"| enrollment writes | {results['writes']['kills']} | {results['writes']['acknowledged']} "
        f"acknowledged residents, all present once; {results['writes']['residents']} in the store "
        f"| {len(results['writes']['problems'])} | {results['writes']['seconds']} |",
        f"| backup during writes | {results['backup']['kills']} | {results['backup']['reported']} "
        f"backups reported success, {results['backup']['verified']} verify, last "
        f"{results['backup']['restored']} restored and checked; {results['backup']['unfinished_left']}"
        f" unfinished `.partial` files ignored | {len(results['backup']['problems'])} | "
        f"{results['backup']['seconds']} |",
        f"| sending (stub drops 20 %, 20 % answers late) | {results['sending']['kills']} | "
        f"{results['sending']['processed_once']} of {results['sending']['packages']} packages "
        f"processed exactly once, {results['sending']['posted']} POSTs | "
        f"{len(results['sending']['problems'])} | {results['sending']['seconds']} |",
        "", f"All checks held: {'yes' if ok else 'NO'}.", "",
        "Problems: " + json.dumps({k: v["problems"] for k, v in results.items()}), ""]
    args.out.write_text("\n".join(lines))
    print(args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
