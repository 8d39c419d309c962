"""`biocap plugins`: what is installed, what each plugin contributes, and what failed to load."""
from __future__ import annotations

import argparse
from collections import defaultdict

from ..plugins.manager import PluginManager


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list plugins, their contributions and their problems")
    p.set_defaults(func=_run)


def driver_conflicts(drivers) -> list[str]:
    """One line per USB id claimed by more than one driver's id table (`usb_ids`)."""
    claims: dict[tuple[int, int], list[str]] = defaultdict(list)
    for cls in dict.fromkeys(drivers):  # the same class contributed twice is not a conflict
        for vid_pid in getattr(cls, "usb_ids", ()) or ():
            claims[tuple(vid_pid)].append(str(getattr(cls, "name", cls)))
    return [f"driver conflict: {vid:04x}:{pid:04x} is claimed by {', '.join(names)}; the most "
            "recently registered plugin's is used unless BIOCAP_PREFER_DRIVERS=NAME (or SDK(prefer_drivers=[NAME])) "
            "names the one you want"
            for (vid, pid), names in sorted(claims.items()) if len(names) > 1]


def _run(args: argparse.Namespace) -> int:
    pm = PluginManager()
    print("plugins:", ", ".join(pm.plugin_names) or "none")
    for hook in ("biocap_drivers", "biocap_usb_buses", "biocap_quality_providers",
                 "biocap_extractors", "biocap_comparators"):
        names = [getattr(c, "name", getattr(c, "__name__", repr(c))) for c in pm.collect(hook)]
        print(f"  {hook.removeprefix('biocap_')}: {', '.join(map(str, names)) or '-'}")
    conflicts = driver_conflicts(pm.collect("biocap_drivers"))
    for line in conflicts:
        print(line)
    for problem in pm.problems:
        print(f"problem: {problem}")
    return 1 if pm.problems or conflicts else 0
