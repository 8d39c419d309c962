"""`biocap bench quality|verify|search --modality M ...`: benchmark runners, one per modality.

A runner is a typed function `run(BenchOptions) -> dict`. The command prints the dict as JSON on
stdout and nothing else (progress bars and notes go to stderr), writes it to `--json FILE` when
asked, and draws `--plot PNG` for every kind.
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
    ("verify", "signature"): "biocap.evaluation.bench_verify_signature:run",
    ("search", "face"): "biocap.evaluation.bench_search_face:run",
}

KINDS = (("quality", "quality scores against a reference (NFIQ 2)", "score scatter"),
         ("verify", "1:1 verification accuracy and speed", "DET curve"),
         ("search", "1:N search speed and identification rate", "CMC or score histogram"))


def register(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="measure accuracy and speed on a dataset")
    kinds = bench.add_subparsers(dest="bench_kind", metavar="KIND", required=True)
    for kind, text, plot in KINDS:
        p = kinds.add_parser(kind, help=text, description=f"{text}. JSON on stdout, progress "
                             "on stderr.")
        p.add_argument("--modality", required=True,
                       choices=sorted({m for k, m in RUNNERS if k == kind}))
        p.add_argument("--json", type=Path, help="also write the figures to this file")
        p.add_argument("--plot", type=Path, help=f"draw a PNG ({plot})")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bars on stderr")
        p.add_argument("--cache", type=Path, metavar="DIR",
                       help="keep reusable intermediate results (templates, galleries) in DIR and "
                            "reuse them; figures read back from it are flagged in the JSON")
        if kind in ("quality", "verify"):
            _dataset_options(p)
        if kind == "quality":
            p.add_argument("--reference", choices=("nfiq2",),
                           help="compute NFIQ 2 in the same run (needs the reference extra)")
            p.add_argument("--matcher", default="bozorth3", choices=("bozorth3", "biocap", "both"),
                           help="matcher of the error-versus-reject figures")
        if kind == "verify":
            p.add_argument("--reference", help="compute a reference in the same run (fingerprint: "
                           "nbis; other modalities: see their docs)")
            p.add_argument("--extractor", default="biocap", choices=("biocap", "nbis"),
                           help="fingerprint: whose minutiae feed biocap's comparator")
        if kind == "search":
            _dataset_options(p, required=False)
            p.add_argument("--gallery-size", type=int, default=10_000)
            p.add_argument("--probes", type=int, default=100, help="number of probes")
            p.add_argument("--extractor", default="biocap", choices=("biocap", "nbis"),
                           help="fingerprint: whose minutiae the real fingers are enrolled with")
            p.add_argument("--mate-impression", type=int, default=1,
                           help="fingerprint: impression enrolled as each real finger's mate")
            p.add_argument("--scores-cache", type=Path,
                           help="fingerprint: exhaustive score matrix (.npz): saved there, reused "
                                "when it exists and matches")
        p.set_defaults(func=_run)


def _dataset_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--dataset", type=Path, required=required,
                   help="dataset folder (default: the modality's shared research sets)")
    p.add_argument("--layout", help="fvc | casia-iris | mmu2 | svc2004 | lfw-folders | manifest ... "
                                    "(see biocap.evaluation.datasets)")
    p.add_argument("--ppi", type=float, help="resolution of the dataset's images")
    p.add_argument("--limit", type=int, help="use only the first N subjects")


def _run(args: argparse.Namespace) -> int:
    from ..evaluation.options import BenchOptions

    target = RUNNERS.get((args.bench_kind, args.modality))
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise NoProvider(f"bench {args.bench_kind} for {args.modality} is not available in "
                             f"this build") from exc
        raise
    options = BenchOptions.from_namespace(args)
    result = getattr(module, func_name)(options)
    text = json.dumps(result, indent=2, default=float)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)
    print(text)
    return 0
