"""The `biocap` command. Each command group lives in its own module with a `register(sub)`."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from ..errors import BiocapError

# command-group modules (each defines `register(subparsers)`); a missing one is skipped quietly
COMMAND_MODULES = (
    "biocap.cli.device_commands",    # devices, info, capture, preview, demo
    "biocap.cli.template_commands",  # template extract/info/convert
    "biocap.cli.bench_commands",     # bench quality/verify/search
    "biocap.cli.sim_commands",       # sim generate
    "biocap.cli.plugin_commands",    # plugins
)

EXIT_ERROR = 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("biocap")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "(not installed: version unknown)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="biocap", description="Capture, judge, encode and match biometric samples.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--version", action="version", version=f"biocap {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args) or 0)
    except BiocapError as exc:
        print(f"biocap: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (FileNotFoundError, IsADirectoryError, PermissionError, ValueError) as exc:
        if args.verbose:
            raise
        print(f"biocap: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `biocap devices --json | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("biocap: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
