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
benchmark fillers' seed), so it is the same on every machine and for every gallery: a finger's
offset depends on the finger only, is rebuilt when a gallery file is loaded, and needs no storage
in the file.
"""
from __future__ import annotations

from functools import lru_cache

from . import fingerprint_mcc as mcc

#: synthetic impostor fingers in the cohort: the mean of 32 stage-1 scores is known to about
#: 0.2 / sqrt(32) = 0.035, well under the 0.2 gap between real and synthetic fingers it corrects
N_COHORT = 32
#: generator seed of the cohort (the benchmark's fillers use seed 0)
COHORT_SEED = 29_11_2026


@lru_cache(maxsize=4)
def cohort_cylinders(params: mcc.MccParams, n: int = N_COHORT,
                     seed: int = COHORT_SEED) -> tuple[mcc.CylinderSet, ...]:
    """Cylinders of the cohort's `n` synthetic fingers, encoded with `params` (cached: the same
    fingers for every gallery of this process)."""
    from ..synthetic.fingerprint_templates import iter_finger_templates
    from .fingerprint import MAX_CYLINDERS

    sets = []
    for _, _, template in iter_finger_templates(n, 1, seed):
        xyt = mcc.matching_frame(template)
        cylinders = mcc.build_cylinders(xyt, params, max_cylinders=MAX_CYLINDERS)
        if len(cylinders):
            sets.append(cylinders)
    return tuple(sets)
