"""`biocap centre serve|add-office` and `biocap bench dedup` (the centre's load test)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    centre = sub.add_parser("centre", help="the de-duplication centre (HTTP service on Dask)")
    cmds = centre.add_subparsers(dest="centre_command", metavar="COMMAND", required=True)
    s = cmds.add_parser("serve", help="run the centre's HTTP service")
    s.add_argument("--data", type=Path, required=True, help="data directory (database, keys, offices/)")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    s.add_argument("--workers", type=int, default=2, help="local cluster worker processes")
    s.add_argument("--shards", type=int, default=4, help="gallery shards (fixed when the database is made)")
    s.add_argument("--policy", default="ektp",
                   help="the programme policy the desks capture with (shipped name or .toml): its quality minimums")
    s.add_argument("--synthetic-faces", action="store_true",
                   help="load tests only: read faces as the load test's embedding containers")
    s.set_defaults(func=_serve)
    o = cmds.add_parser("add-office", help="register an office's Ed25519 public key")
    o.add_argument("--data", type=Path, required=True)
    o.add_argument("--office", required=True, help="office id")
    o.add_argument("--key", type=Path, required=True, help="public key file (PEM or 32 raw bytes)")
    o.set_defaults(func=_add_office)


def register_bench_dedup(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("dedup", help="load test of the centre: offices, planted duplicates, Dask")
    p.add_argument("--residents", type=int, required=True, help="residents already enrolled (the gallery)")
    p.add_argument("--offices", type=int, default=4, help="simulated offices (separate processes)")
    p.add_argument("--duplicates", type=int, default=20, help="planted duplicates among the new residents")
    p.add_argument("--new", type=int, default=400, help="new residents sent by the offices")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--plot", type=Path, help="draw a PNG (end-to-end latency histogram)")
    p.add_argument("--scheduler", help="Dask scheduler address (default: the service's local cluster)")
    p.add_argument("--seed", type=int, default=22)
    p.add_argument("--cache", type=Path, default=Path("/tmp/biocap-dedup-cache"),
                   help="where generated populations and prebuilt galleries are kept (never the repo)")
    p.add_argument("--drop", type=float, default=0.05, help="share of connections the network stub drops")
    p.add_argument("--delay-ms", type=float, default=30.0, help="largest delay the stub adds")
    p.add_argument("--kill-worker", help="PID of a Dask worker to kill mid-run (SIGKILL), or \"auto\": one that serves a shard")
    p.add_argument("--kill-after", type=float, default=20.0, help="seconds into the run for --kill-worker")
    p.add_argument("--restart-after", type=float, help="kill and restart the service this many seconds in")
    p.add_argument("--exhaustive-sample", type=int, default=40,
                   help="unique residents whose decision is also checked against the exhaustive search")
    p.add_argument("--port", type=int, default=0, help="service port (0: pick a free one)")
    p.set_defaults(func=_bench_dedup)


def _serve(args: argparse.Namespace) -> int:
    from ..centre.service import serve

    serve(args.data, args.port, scheduler=args.scheduler, host=args.host, workers=args.workers,
          shards=args.shards, synthetic_faces=args.synthetic_faces, programme=args.policy)
    return 0


def _add_office(args: argparse.Namespace) -> int:
    import re

    from ..errors import InvalidRequest

    if not re.match(r"^[A-Za-z0-9._-]{1,64}$", args.office):
        raise InvalidRequest("office id: 1-64 letters, digits, '.', '_' or '-'")
    raw = args.key.read_bytes()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    key = Ed25519PublicKey.from_public_bytes(raw) if len(raw) == 32 else load_pem_public_key(raw)
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidRequest(f"{args.key} is not an Ed25519 public key")
    d = args.data / "offices"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{args.office}.pub").write_bytes(raw)
    print(f"registered office {args.office}; restart the centre (or it reloads keys on start)")
    return 0


def _bench_dedup(args: argparse.Namespace) -> int:
    from ..centre.loadtest import run

    result = run(args)
    text = json.dumps(result, indent=2, default=float)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    print(text)
    return 0
