"""Dataset layouts: which file belongs to which subject, and the comparison protocols over them.

Layouts: `fvc` (`<finger>_<impression>.<ext>`), `casia-iris` (`<eye>/<EEE>_<S>_<I>.jpg`),
`mmu2` (`<subject>/<SSEEII>.png`, class = SSEE), `manifest` (CSV `path,subject[,position,session]`),
`lfw` (`<Name>/<Name>_NNNN.jpg`), `svc2004` (`U<u>S<s>.TXT`, S1-20 genuine, S21-40 forgeries).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

LAYOUTS = ("fvc", "casia-iris", "mmu2", "manifest", "lfw", "svc2004")


@dataclass(frozen=True)
class Item:
    path: Path
    subject: str  # identity class (a finger, an eye, a person)
    impression: str = ""
    position: str = ""
    session: str = ""


#: files beside a dataset's samples that are not samples (biocap sim generate's ground truth)
SIDECAR_SUFFIXES = {".json", ".csv", ".txt", ".md"}


def _sorted_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


def load_layout(root: str | Path, layout: str) -> list[Item]:
    """The items of a dataset folder in a given layout, sorted by subject then impression."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    items: list[Item] = []
    if layout == "fvc":
        rx = re.compile(r"^(\d+)_(\d+)\.\w+$")
        for p in _sorted_files(root, "*"):
            m = rx.match(p.name)
            if m and p.suffix.lower() not in SIDECAR_SUFFIXES:
                items.append(Item(p, m.group(1), m.group(2)))
    elif layout == "casia-iris":
        rx = re.compile(r"^(\d+)_(\d)_(\d+)\.\w+$")
        for p in _sorted_files(root, "*/*"):
            m = rx.match(p.name)
            if m:
                items.append(Item(p, m.group(1), m.group(3), session=m.group(2)))
    elif layout == "mmu2":
        rx = re.compile(r"^(\d{4})(\d{2})\.\w+$")
        for p in _sorted_files(root, "*/*"):
            m = rx.match(p.name)
            if m:
                items.append(Item(p, m.group(1), m.group(2)))
    elif layout == "lfw":
        for p in _sorted_files(root, "*/*.jpg"):
            items.append(Item(p, p.parent.name, p.stem.rsplit("_", 1)[-1]))
    elif layout == "svc2004":
        rx = re.compile(r"^U(\d+)S(\d+)\.TXT$", re.I)
        for p in _sorted_files(root, "*"):
            m = rx.match(p.name)
            if m:
                s = int(m.group(2))
                items.append(Item(p, m.group(1), m.group(2),
                                  session="genuine" if s <= 20 else "forgery"))
    elif layout == "manifest":
        manifest = root / "manifest.csv" if root.is_dir() else root
        base = manifest.parent
        with open(manifest, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#") or row[0] == "path":
                    continue
                if len(row) < 2:
                    raise ValueError(f"{manifest}: each row needs path,subject; got {row}")
                items.append(Item(base / row[0], row[1], "",
                                  row[2] if len(row) > 2 else "", row[3] if len(row) > 3 else ""))
    else:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not items:
        raise FileNotFoundError(f"no files of layout {layout!r} found in {root}")
    items.sort(key=lambda it: (it.subject, it.impression, str(it.path)))
    return items


def all_pairs(items: list[Item]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(genuine, impostor) index pairs: every unordered pair once (the "all impostors" protocol:
    for FVC 10x8 that is 280 genuine and 2,880 impostor comparisons)."""
    genuine, impostor = [], []
    for a, b in combinations(range(len(items)), 2):
        (genuine if items[a].subject == items[b].subject else impostor).append((a, b))
    return genuine, impostor
