"""Online signature datasets: the SVC2004 layout and a manifest layout a user can fill.

SVC2004 (Task 1 and 2): one file per signature, `U<user>S<n>.TXT`; first line the number of
points, then one row per point `x y t(ms) pen-down azimuth altitude pressure` (Task 1 files have
only the first four columns). S1-S20 are genuine (two sessions), S21-S40 skilled forgeries of the
same user.

Manifest: a CSV file `manifest.csv` in the dataset folder with a header row and the columns
`user,kind,path` (kind = genuine | skilled; path relative to the folder). Each path is a pen series
file either in the SVC2004 text layout (`.txt`) or a CSV with a header naming at least
`x,y,t_ms,pen_down,pressure` (the CSV `biocap capture` writes beside a signature). Genuine
signatures are taken in the order listed: the first ten are the enrolment pool of the protocol.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError
from ..types import PenSeries

#: a signature file larger than this is refused before reading (a signature is a few kB)
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_POINTS = 200_000
_SVC_NAME = re.compile(r"^U(\d+)S(\d+)\.TXT$", re.IGNORECASE)


@dataclass
class SignatureUser:
    user: str
    genuine: list[PenSeries] = field(default_factory=list)
    skilled: list[PenSeries] = field(default_factory=list)
    genuine_names: list[str] = field(default_factory=list)
    skilled_names: list[str] = field(default_factory=list)


def _read_text(path: Path) -> str:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidDataError(f"cannot read {path}: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise InvalidDataError(f"{path} is {size} bytes, far larger than a signature file")
    return path.read_text(encoding="ascii", errors="replace")


def read_svc2004(path: str | Path) -> PenSeries:
    """One SVC2004 signature file as a PenSeries (azimuth/altitude kept when present)."""
    text = _read_text(Path(path))
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InvalidDataError(f"{path} is empty")
    try:
        count = int(lines[0].split()[0])
    except ValueError as exc:
        raise InvalidDataError(f"{path}: first line must be the point count, got {lines[0][:40]!r}") from exc
    if not 1 <= count <= MAX_POINTS or count != len(lines) - 1:
        raise InvalidDataError(f"{path}: header says {count} points, the file has {len(lines) - 1}")
    try:
        rows = np.array([[float(v) for v in ln.split()] for ln in lines[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InvalidDataError(f"{path}: a row holds something other than numbers") from exc
    if rows.ndim != 2 or rows.shape[1] not in (4, 7) or not np.all(np.isfinite(rows)):
        raise InvalidDataError(f"{path}: rows must all have 4 or 7 finite numbers")
    if rows.shape[1] == 4:  # Task 1: no pressure; pen-down points get a nominal pressure
        return PenSeries(x=rows[:, 0], y=rows[:, 1], pressure=rows[:, 3] * 512.0,
                         t_ms=rows[:, 2], pen_down=rows[:, 3] > 0)
    return PenSeries(x=rows[:, 0], y=rows[:, 1], pressure=rows[:, 6], t_ms=rows[:, 2],
                     pen_down=rows[:, 3] > 0, azimuth=rows[:, 4], altitude=rows[:, 5])


def read_pen_csv(path: str | Path) -> PenSeries:
    """A pen series CSV with a header naming x, y, t_ms, pen_down, pressure (any order)."""
    text = _read_text(Path(path))
    reader = csv.DictReader(text.splitlines())
    need = {"x", "y", "t_ms", "pen_down", "pressure"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise InvalidDataError(f"{path}: the header must name {sorted(need)}")
    cols: dict[str, list[float]] = {k: [] for k in need}
    try:
        for i, row in enumerate(reader):
            if i >= MAX_POINTS:
                raise InvalidDataError(f"{path}: more than {MAX_POINTS} points")
            for k in need:
                cols[k].append(float(row[k]))
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{path}: a value is not a number") from exc
    if not cols["x"]:
        raise InvalidDataError(f"{path}: no points")
    arr = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    if not all(np.all(np.isfinite(a)) for a in arr.values()):
        raise InvalidDataError(f"{path}: a value is not finite")
    return PenSeries(x=arr["x"], y=arr["y"], pressure=arr["pressure"], t_ms=arr["t_ms"],
                     pen_down=arr["pen_down"] > 0)


def read_pen_file(path: str | Path) -> PenSeries:
    return read_pen_csv(path) if str(path).lower().endswith(".csv") else read_svc2004(path)


def load_svc2004(root: str | Path, users: list[int] | None = None) -> list[SignatureUser]:
    """Every user of an SVC2004 folder (or the listed ones), S1-20 genuine, S21-40 skilled."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidDataError(f"{root} is not a folder", hint="pass the folder of U*S*.TXT files")
    found: dict[int, dict[int, Path]] = {}
    for path in root.iterdir():
        m = _SVC_NAME.match(path.name)
        if m:
            found.setdefault(int(m.group(1)), {})[int(m.group(2))] = path
    if not found:
        raise InvalidDataError(f"{root} holds no U<user>S<n>.TXT files")
    out = []
    for u in sorted(found):
        if users is not None and u not in users:
            continue
        user = SignatureUser(str(u))
        for s in sorted(found[u]):
            pen = read_svc2004(found[u][s])
            if s <= 20:
                user.genuine.append(pen)
                user.genuine_names.append(found[u][s].name)
            else:
                user.skilled.append(pen)
                user.skilled_names.append(found[u][s].name)
        out.append(user)
    return out


def load_manifest(root: str | Path) -> list[SignatureUser]:
    """The users of a manifest layout (see the module docstring)."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InvalidDataError(f"{manifest} does not exist",
                               hint="write manifest.csv with the columns user,kind,path")
    reader = csv.DictReader(_read_text(manifest).splitlines())
    if reader.fieldnames is None or not {"user", "kind", "path"} <= set(reader.fieldnames):
        raise InvalidDataError(f"{manifest}: the header must be user,kind,path")
    users: dict[str, SignatureUser] = {}
    base = root.resolve()
    for line, row in enumerate(reader, start=2):
        kind = (row["kind"] or "").strip().lower()
        if kind not in ("genuine", "skilled"):
            raise InvalidDataError(f"{manifest} line {line}: kind must be genuine or skilled")
        path = (root / (row["path"] or "").strip()).resolve()
        if base not in path.parents:
            raise InvalidDataError(f"{manifest} line {line}: {row['path']!r} is outside the folder")
        user = users.setdefault(row["user"].strip(), SignatureUser(row["user"].strip()))
        pen = read_pen_file(path)
        getattr(user, kind).append(pen)
        getattr(user, f"{kind}_names").append(path.name)
    if not users:
        raise InvalidDataError(f"{manifest} lists no signatures")
    return list(users.values())


def load_signature_layout(root: str | Path, layout: str) -> list[SignatureUser]:
    if layout == "svc2004":
        return load_svc2004(root)
    if layout == "manifest":
        return load_manifest(root)
    raise InvalidDataError(f"unknown signature dataset layout {layout!r}",
                           hint="use svc2004 or manifest")
