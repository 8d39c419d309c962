"""`biocap bench quality|verify|search --modality M ...`: benchmark runners, one per modality.

A runner is `run(args) -> dict`; the command writes the dict as JSON and prints a summary.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from ..errors import NoProvider

RUNNERS = {
    ("quality", "fingerprint"): "biocap.evaluation.bench_quality:run",
    ("verify", "fingerprint"): "biocap.evaluation.bench_verify_fingerprint:run",
    ("search", "fingerprint"): "biocap.evaluation.bench_search_fingerprint:run",
    ("verify", "iris"): "biocap.evaluation.bench_iris:run_verify",
    ("search", "iris"): "biocap.evaluation.bench_iris:run_search",
    ("verify", "face"): "biocap.evaluation.bench_face:run_verify",
    ("quality", "face"): "biocap.evaluation.bench_face:run_quality",
}


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="measure accuracy and speed on a dataset")
    kinds = bench.add_subparsers(dest="bench_kind", metavar="KIND", required=True)
    for kind, text in (("quality", "quality scores against a reference (NFIQ 2)"),
                       ("verify", "1:1 verification accuracy and speed"),
                       ("search", "1:N search speed and identification rate")):
        p = kinds.add_parser(kind, help=text)
        p.add_argument("--modality", required=True,
                       choices=sorted({m for k, m in RUNNERS if k == kind}))
        p.add_argument("--dataset", type=Path, help="dataset folder")
        p.add_argument("--layout", default="fvc",
                       help="fvc | casia-iris | mmu2 | lfw-folders | manifest (see biocap.evaluation.datasets)")
        p.add_argument("--ppi", type=float, help="resolution of the dataset's images")
        p.add_argument("--reference", help="compute a reference in the same run (nfiq2, nbis)")
        p.add_argument("--json", type=Path, help="write the figures to this file")
        p.add_argument("--plot", type=Path, help="write a plot (DET curve) to this PNG")
        p.add_argument("--gallery-size", type=int, default=10_000)
        p.add_argument("--probes", type=int, default=100, help="number of probes (search)")
        p.add_argument("--seed", type=int, default=0)
        if kind == "search":
            p.add_argument("--mate-impression", type=int, default=1,
                           help="impression enrolled as each real finger's mate (fingerprint)")
            p.add_argument("--scores-cache", type=Path,
                           help="exhaustive score matrix (.npz): saved there, reused when it exists "
                                "and matches (fingerprint)")
        p.add_argument("--limit", type=int, help="use only the first N subjects")
        p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    target = RUNNERS.get((args.bench_kind, args.modality))
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise NoProvider(f"bench {args.bench_kind} for {args.modality} is not available in "
                             f"this build") from exc
        raise
    result = getattr(module, func_name)(args)
    text = json.dumps(result, indent=2, default=float)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    print(text)
    return 0
