"""Cost of the store's anchor (docs/decisions/17-store-anchor.md) per committed capture write.

Two stores side by side in one run, writes interleaved (one capture into each in turn, so machine
noise hits both alike): one with the office's signing key (anchor signed and written, fsync +
rename, after every commit) and one opened with the same store key but no signing key (no
anchor). Reports the median wall time per `put_capture`, CPU time per write, and the ratio.

    .venv/bin/python benchmarks/bench_store_anchor.py --captures 300
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from biocap.office import KeyRing, OfficeStore  # noqa: E402
from office_helpers import finger_capture  # noqa: E402


def run(captures: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="biocap-anchor-") as tmp:
        tmp = Path(tmp)
        keys = KeyRing.create(tmp / "keys", "office-bench")
        plain = KeyRing.load(tmp / "keys")
        plain.identity = None  # same store key, no signing key: no anchor
        stores = {"anchored": OfficeStore(tmp / "a.db", keys=keys),
                  "no anchor": OfficeStore(tmp / "b.db", keys=plain)}
        wall = {k: [] for k in stores}
        cpu = {k: 0.0 for k in stores}
        try:
            eids = {k: s.begin_enrollment("subject", policy="p", operator="o") for k, s in stores.items()}
            caps = [finger_capture(1 + i % 10, seed=i) for i in range(16)]
            for i in range(captures):
                cap = caps[i % len(caps)]
                cap = type(cap)(**{**cap.__dict__, "step": f"finger-{i}"})
                for name, store in stores.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    store.put_capture(eids[name], cap)
                    wall[name].append(time.perf_counter() - t0)
                    cpu[name] += time.process_time() - c0
        finally:
            for s in stores.values():
                s.close()
    return {k: {"median_ms": statistics.median(v) * 1e3, "p90_ms": sorted(v)[int(0.9 * len(v))] * 1e3,
                "cpu_ms": cpu[k] / len(v) * 1e3} for k, v in wall.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=300)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/store_anchor.md")
    args = ap.parse_args(argv)
    r = run(args.captures)
    a, b = r["anchored"], r["no anchor"]
    lines = ["# Store anchor cost per capture write (issue 17 follow-up)", "",
             f"Command: `.venv/bin/python benchmarks/bench_store_anchor.py --captures {args.captures}`; "
             f"{args.captures} capture writes into each of two stores, interleaved.", "",
             "| store | median per write (ms) | p90 (ms) | CPU per write (ms) |", "|---|---|---|---|"]
    lines += [f"| {name} | {v['median_ms']:.2f} | {v['p90_ms']:.2f} | {v['cpu_ms']:.2f} |"
              for name, v in r.items()]
    lines += ["", f"Anchor cost per write: {a['median_ms'] - b['median_ms']:+.2f} ms median "
              f"(ratio {a['median_ms'] / b['median_ms']:.2f}), CPU {a['cpu_ms'] - b['cpu_ms']:+.2f} ms."]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
