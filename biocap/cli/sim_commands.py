"""`biocap sim generate --modality fingerprint ...`: synthetic datasets with ground truth."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InvalidDataError


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("sim", help="generate synthetic biometric data with ground truth")
    kinds = sim.add_subparsers(dest="sim_kind", metavar="ACTION", required=True)
    g = kinds.add_parser("generate", help="write a synthetic dataset (FVC layout)",
                         description="Write <finger>_<impression>.png with a JSON ground truth "
                         "per image (minutiae, singular points, resolution) and dataset.json. "
                         "Same seed, same bytes.")
    g.add_argument("--modality", required=True, choices=["fingerprint"])
    g.add_argument("--fingers", type=int, required=True, help="number of fingers (ids from 1)")
    g.add_argument("--impressions", type=int, default=8, help="impressions per finger")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--sensor", default="optical", choices=["optical", "capacitive", "thermal"])
    g.add_argument("--workers", type=int, default=1, help="parallel processes")
    g.add_argument("--templates-only", action="store_true",
                   help="write minutiae records instead of images (fast, for 1:N galleries)")
    g.add_argument("--format", default="iso19794-2:2005",
                   help="record format with --templates-only (default iso19794-2:2005)")
    g.add_argument("--masters", default="statistical", choices=["statistical", "rendered"],
                   help="with --templates-only: fingers from a statistical model (fast) or from "
                        "the rendered masters the images use (slow)")
    g.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from ..synthetic.fingerprint.dataset import generate_dataset
    if args.format and not args.templates_only and args.format != "iso19794-2:2005":
        raise InvalidDataError("--format applies only with --templates-only")
    report = generate_dataset(args.out, args.fingers, args.impressions, args.seed,
                              sensor=args.sensor, workers=args.workers,
                              templates_format=args.format if args.templates_only else None,
                              masters=args.masters)
    print(json.dumps(report.to_json(), indent=1))
    print(f"wrote {report.impressions} {'records' if args.templates_only else 'impressions'} to "
          f"{report.out} ({report.impressions_per_second_per_core:.1f} per second per core)",
          file=sys.stderr)
    return 0
