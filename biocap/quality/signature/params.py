"""Every parameter of signature quality, each with its reason (history: docs/decisions/19-*)."""
from __future__ import annotations

#: pad units per millimetre when the pad does not say (metadata "pad"): 0.01 mm units are what
#: Wacom-class pads (and SVC2004's tablet) report
DEFAULT_UNITS_PER_MM = 100.0
#: a signature shorter than this (s) is a scribble or a cut-off capture; good ones take 1-10 s
MIN_DURATION_S, GOOD_DURATION_S = 0.5, 1.0
#: inked path (mm): an initial alone is 10-20 mm; a full signature 80 mm and more
MIN_PATH_MM, GOOD_PATH_MM = 20.0, 60.0
#: pen-down samples: below 50 the DTW has too little to align; 100 at 100 Hz is one second of ink
MIN_POINTS, GOOD_POINTS = 50, 100
#: fraction of the signing time the pen touches the pad: signatures run 60-95%; below a third
#: the person mostly hovered or the pad lost contact
MIN_DOWN_FRACTION, GOOD_DOWN_FRACTION = 0.3, 0.5
#: pen-down interval longer than this (ms) is a sampling gap (pads sample every 5-10 ms)
GAP_MS = 50.0
#: share of the pen-down time that may fall in gaps before the capture counts as broken
MAX_GAP_SHARE, GOOD_GAP_SHARE = 0.05, 0.0
#: coefficient of variation of the pen-down sampling interval: steady pads stay under 0.1
MAX_RATE_CV, GOOD_RATE_CV = 0.5, 0.15
#: share of points at or beyond the pad's edge (outside the signing area) tolerated
MAX_OUTSIDE_SHARE, GOOD_OUTSIDE_SHARE = 0.05, 0.0
#: pressure spread (as a share of its maximum) below which the pad is taken to give no pressure
MIN_PRESSURE_SPREAD = 0.01
#: enrolment consistency: points each signature is resampled to along its ink (shape only)
CONSISTENCY_POINTS = 64
#: a signature whose median shape distance to the others exceeds this multiple of the set's
#: median is the odd one out: ask for it again
OUTLIER_RATIO = 2.0
#: median pairwise shape distance above which the set is too unlike as a whole; the 99th
#: percentile of SVC2004 users 1-10 genuine 5-sets is 0.148 (research/signature/consistency_limit.py)
SET_DISTANCE_LIMIT = 0.15
#: durations of one person's signatures differ by less than this ratio (longest / shortest)
MAX_DURATION_RATIO = 2.5
