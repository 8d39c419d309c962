"""The impostor cohort that centres stage-1 scores finger by finger.

Stage 1 sums, over the probe's cylinders, the best similarity among a finger's cylinders. Fingers
differ in how much any probe scores against them: a finger with many dense cylinders collects high
sums from everyone, a sparse or partial one (a dry or wet impression, a finger placed off centre)
collects low sums even from its own mate. Score normalisation against an impostor cohort is the
usual remedy: each gallery finger stores the mean stage-1 score a fixed cohort of synthetic
impostor fingers gets against it, and stage 1 ranks fingers by score minus that mean.

Measured on the 100,000-finger benchmark (docs/matching.md): with mates enrolled from impression 8
(a set the cascade was not tuned on), real mates scored 4.66 on average against the cohort where
synthetic fillers scored 4.87, and stage 1 ranked 10 of 200 mates between 19,598th and 81,756th;
centring moved most of them into the first few hundred.

The cohort is drawn from biocap's synthetic fingerprint generator with its own seed (not the
benchmark fillers' seed) by `research/matching_fingerprint/build_cohort.py`, and shipped as
package data (`cohort.npz`: the fingers' minutiae), so the runtime never imports the generator;
it is the same on every machine and for every gallery: a finger's offset depends on the finger
only, is rebuilt when a gallery file is loaded, and needs no storage in the gallery file.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np

from ...errors import InvalidDataError
from ...templates.fingerprint.template import MINUTIA_DTYPE, FingerprintTemplate
from . import mcc
from .matcher import MAX_CYLINDERS
from .params import COHORT_SEED, N_COHORT  # noqa: F401  (the cohort's size and seed)

#: the cohort's fingers, built by research/matching_fingerprint/build_cohort.py
COHORT_FILE = Path(__file__).with_name("cohort.npz")
COHORT_FORMAT = "biocap-fingerprint-cohort/1"


def read_cohort(source: str | Path | IO[bytes] = COHORT_FILE) -> list[FingerprintTemplate]:
    """The cohort's templates from its .npz (no pickle); a damaged file raises InvalidDataError."""
    try:
        with np.load(source, allow_pickle=False) as z:
            fmt, minutiae, offsets = str(z["format"]), z["minutiae"], z["offsets"]
            size, ppi = z["size"], z["ppi"]
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidDataError(f"the gallery cohort file {source} is unreadable ({exc})",
                               hint="reinstall biocap or rebuild it: python -m "
                               "research.matching_fingerprint.build_cohort") from exc
    n = len(ppi)
    if fmt != COHORT_FORMAT or minutiae.dtype != MINUTIA_DTYPE or offsets.shape != (n + 1,) \
            or size.shape != (n, 2) or offsets[0] != 0 or offsets[-1] != len(minutiae) \
            or np.any(np.diff(offsets) < 0):
        raise InvalidDataError(f"the gallery cohort file {source} is not a {COHORT_FORMAT} file",
                               hint="rebuild it: python -m research.matching_fingerprint.build_cohort")
    return [FingerprintTemplate(minutiae[offsets[i]:offsets[i + 1]].copy(), int(size[i, 0]),
                                int(size[i, 1]), float(ppi[i])) for i in range(n)]


@lru_cache(maxsize=4)
def cohort_cylinders(params: mcc.MccParams) -> tuple[mcc.CylinderSet, ...]:
    """Cylinders of the cohort's synthetic fingers, encoded with `params` (cached: the same
    fingers for every gallery of this process)."""
    sets = []
    for template in read_cohort(COHORT_FILE):
        xyt = mcc.matching_frame(template)
        cylinders = mcc.build_cylinders(xyt, params, max_cylinders=MAX_CYLINDERS)
        if len(cylinders):
            sets.append(cylinders)
    return tuple(sets)
