"""A benchmark's extracted fingerprint templates kept in a folder the user names (`--cache DIR`).

Stored as one `.npz` of plain arrays (loaded with `allow_pickle=False`: a cache file another
process could write is data, never code), keyed by the dataset, its items and the extractor's
source. Extraction times are kept with the templates; a run that reuses them says so
(`extract_ms_from_cache`), because they were not measured in that run.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..templates.fingerprint.template import (MINUTIA_DTYPE, FingerprintTemplate, SingularPoint,
                                              _tagged, _untagged)

FORMAT = "biocap-template-cache/2"


def cache_key(*parts: Any) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _cacheable(templates: Sequence[FingerprintTemplate | None]) -> bool:
    return all(t is None or isinstance(t, FingerprintTemplate) for t in templates)


def save(path: Path, templates: Sequence[FingerprintTemplate | None], ms: Sequence[float]) -> bool:
    """Write the templates (with their extended data) and their extraction times; False (nothing
    written) when an item is not a FingerprintTemplate."""
    if not _cacheable(templates):
        return False
    present = [t for t in templates if t is not None]
    counts = np.array([len(t.minutiae) if t is not None else -1 for t in templates], np.int64)
    minutiae = (np.concatenate([t.minutiae for t in present]) if present
                else np.zeros(0, MINUTIA_DTYPE))
    meta = [None if t is None else {
        "width": t.width, "height": t.height, "ppi": t.ppi, "position": t.position,
        "view": t.view, "impression_type": t.impression_type, "quality": t.quality,
        "singular_points": [[s.kind, s.x, s.y, s.angle, list(s.angles)] for s in t.singular_points],
        "extended": _tagged(t.extended),
    } for t in templates]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, format=np.array(FORMAT), counts=counts, minutiae=minutiae,
                 ms=np.asarray(ms, np.float64), meta=np.array(json.dumps(meta)),
                 written=np.array(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    os.replace(tmp, path)
    return True


def load(path: Path, n_items: int) -> tuple[list[FingerprintTemplate | None], list[float], str] | None:
    """(templates, ms, written-at) from a cache file, or None when it is absent, of another
    format or for another number of items (the caller then extracts afresh)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != FORMAT:
                return None
            counts, minutiae, ms = z["counts"], z["minutiae"], z["ms"]
            meta, written = json.loads(str(z["meta"])), str(z["written"])
    except (OSError, KeyError, ValueError, json.JSONDecodeError):
        return None
    if len(counts) != n_items or len(meta) != n_items or len(ms) != n_items:
        return None
    if minutiae.dtype != MINUTIA_DTYPE or int(counts[counts > 0].sum()) != len(minutiae):
        return None
    templates: list[FingerprintTemplate | None] = []
    start = 0
    for count, m in zip(counts, meta):
        if count < 0 or m is None:
            templates.append(None)
            continue
        rows = minutiae[start:start + int(count)]
        start += int(count)
        points = [SingularPoint(k, x, y, a, tuple(angles)) for k, x, y, a, angles in m["singular_points"]]
        templates.append(FingerprintTemplate(
            rows.copy(), m["width"], m["height"], m["ppi"], position=m["position"], view=m["view"],
            impression_type=m["impression_type"], quality=m["quality"], singular_points=points,
            extended=_untagged(m.get("extended", {}))))
    return templates, [float(v) for v in ms], written
