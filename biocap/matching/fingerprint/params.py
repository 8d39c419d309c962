"""Every tuned parameter of the fingerprint comparator and gallery, one line of reason each.

How each value was chosen (figures, variants rejected): docs/decisions/15-fingerprint-mcc-parameters.md
(1:1) and docs/decisions/15-fingerprint-search-cascade.md (1:N). The pairing stage's values are the
fields of `pairing.PairingParams`, each with its reason there.
"""
from __future__ import annotations

import numpy as np

from .mcc import MccParams

# --- 1:1 (MCC with LSS-R) -------------------------------------------------------------------
#: the paper's MCC, with delta_theta pi/3, up to 64 relaxed pairs, 8 relaxation iterations: each
#: lowered the all-impostors EER on FVC2002 B
MATCHER_PARAMS = MccParams(delta_theta=np.pi / 3, max_nr=64, n_rel=8)
#: cylinders kept per template (the most informative): bounds comparison time and gallery memory
MAX_CYLINDERS = 60
#: fewer minutiae than this and a template cannot be enrolled (failure to enrol)
MIN_MINUTIAE = 8
#: more minutiae than this is refused as absurd input (a finger has well under 200)
MAX_MINUTIAE = 1000

# --- 1:N cascade ----------------------------------------------------------------------------
#: share of the gallery stage 1 passes on: no exhaustive rank-1 mate fell between 5% and 10%
CASCADE_FRACTION = 0.05
#: share of the gallery stage 2 compares in full: stage 1.5 ranks passed mates 1st or 2nd
SHORTLIST_FRACTION = 0.005
#: the shortlist never falls below this many fingers (small galleries)
MIN_SHORTLIST = 256
#: probe cylinders stage 1 compares, spread over the print
STAGE1_N_PROBE = 16
#: a finger's stage-1 score sums the best this many of them (the rest fall outside a partial mate)
STAGE1_N_BEST = 10
#: angular layers in stage 1's pooled codes: 4 words a cylinder, scored as well as all 6
STAGE1_LAYERS = (0, 1, 3, 4)
#: probe cylinders stage 1.5 pairs and relaxes, spread over the print
STAGE15_N_PROBE = 32
#: angular layers stage 1.5 compares at full resolution (the relaxation recovers the other two)
STAGE15_LAYERS = (0, 1, 3, 4)
#: synthetic impostor fingers whose mean stage-1 score centres each finger's (mean known to 0.035)
N_COHORT = 32
#: generator seed of the cohort (not the benchmark fillers' seed 0)
COHORT_SEED = 29_11_2026
