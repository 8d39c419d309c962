"""`biocap plugins`: what is installed, what each plugin contributes, and what failed to load."""
from __future__ import annotations

import argparse

from ..plugins.manager import PluginManager


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins, their contributions and their problems")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    pm = PluginManager()
    print("plugins:", ", ".join(pm.plugin_names) or "none")
    for hook in ("biocap_drivers", "biocap_usb_buses", "biocap_quality_providers",
                 "biocap_extractors", "biocap_comparators"):
        names = [getattr(c, "name", getattr(c, "__name__", repr(c))) for c in pm.collect(hook)]
        print(f"  {hook.removeprefix('biocap_')}: {', '.join(map(str, names)) or '-'}")
    for problem in pm.problems:
        print(f"problem: {problem}")
    return 1 if pm.problems else 0
