"""Fast matcher-only iteration loop: cached templates of the four FVC2002 B sets (extract once
with `biocap bench verify`), all-impostors EER per set for matcher parameter overrides.

    BIOCAP_FP_EXTRACTOR=nbis .venv/bin/python -m research.matching_fingerprint.iterate n_rel=5 w_r=0.5

Overrides are MccParams fields (`name=value`: a number, `pi`, or arithmetic of them such as `pi/8`,
or a tuple of those; never evaluated as Python); `max_cyl=N` sets the cylinder cap.
Speed is CPU seconds of the scoring loop (each probe against the whole set), for comparisons only.
"""
import ast
import operator
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

from biocap.evaluation import bench_verify_fingerprint as bench  # noqa: E402
from biocap.evaluation.metrics import error_rates  # noqa: E402
from biocap.matching.fingerprint import matcher as fp  # noqa: E402
from biocap.evaluation.datasets import all_pairs  # noqa: E402
from biocap.evaluation.options import BenchOptions  # noqa: E402


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}
_UNOPS = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_NAMES = {"pi": float(np.pi), "True": True, "False": False, "None": None}


def parse_value(text: str):
    """A parameter value from the command line: numbers, `pi`, + - * / // **, tuples. Nothing
    else is accepted (no names, calls or attributes), so an argument cannot run code."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool, str)):
            return node.value
        if isinstance(node, ast.Name) and node.id in _NAMES:
            return _NAMES[node.id]
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
            return _UNOPS[type(node.op)](ev(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if type(node.op) is ast.Pow and abs(right) > 64:
                raise ValueError(f"exponent {right} is too large")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(ev(e) for e in node.elts)
        raise ValueError(f"{ast.dump(node)[:60]} is not allowed in a parameter value")
    try:
        return ev(ast.parse(text, mode="eval"))
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise SystemExit(f"cannot read parameter value {text!r}: {exc} "
                         "(use numbers, pi, arithmetic and tuples)") from None


def main(argv):
    over, max_cyl, sets = {}, fp.MAX_CYLINDERS, None
    for a in argv:
        if "=" not in a:
            raise SystemExit(f"expected name=value, got {a!r}")
        k, v = a.split("=", 1)
        if k == "max_cyl":
            max_cyl = int(v)
        elif k == "sets":
            sets = v.split(",")
        else:
            over[k] = parse_value(v)
    import dataclasses
    unknown = sorted(set(over) - {f.name for f in dataclasses.fields(fp.MATCHER_PARAMS)})
    if unknown:
        raise SystemExit(f"unknown matcher parameter(s) {', '.join(unknown)}")
    params = dataclasses.replace(fp.MATCHER_PARAMS, **over)
    cmp = fp.FingerprintComparator(params, max_cyl)
    options = BenchOptions(extractor=os.environ.get("BIOCAP_FP_EXTRACTOR", "biocap"),
                           cache=Path(os.environ.get("BIOCAP_BENCH_CACHE", "/tmp/biocap-bench")))
    eers, rates = [], []
    for spec in bench.default_sets(options):
        if sets and not any(s in spec.name for s in sets):
            continue
        loaded = bench.load_templates(spec, options)
        name, items, templates = loaded.name, loaded.items, loaded.templates
        enc = [cmp.encode(t) for t in templates]
        ok = np.array([e.enrollable for e in enc])
        prep = cmp.prepare_many(enc)
        n = len(enc)
        S = np.zeros((n, n), np.float32)
        t0 = time.process_time()
        for i in range(n):
            S[i] = cmp.compare_prepared(enc[i], prep, ok)
        dt = time.process_time() - t0
        S = np.maximum(S, S.T) if os.environ.get("SYM") == "max" else S
        gen, imp = all_pairs(items)
        g = np.array([S[a, b] for a, b in gen])
        im = np.array([S[a, b] for a, b in imp])
        r = error_rates(g, im).to_json()
        eers.append(r["eer"])
        rates.append(n * n / dt)
        print(f"{name}: EER {100*r['eer']:.2f}% FMR100 {100*r['fmr100']:.2f}% FMR1000 {100*r['fmr1000']:.2f}% "
              f"{n*n/dt:.0f}/s", flush=True)
    print(f"mean EER {100*np.mean(eers):.3f}%  median speed {np.median(rates):.0f}/s  {over} max_cyl={max_cyl}")


if __name__ == "__main__":
    main(sys.argv[1:])
