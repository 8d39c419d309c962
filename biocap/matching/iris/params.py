"""Every tuned parameter of the iris comparator and gallery, one line of reason each.

What was tried: docs/decisions/15-iris-gallery-pruning.md. The survival lines are written here by
`benchmarks/iris_calibrate.py --write-defaults` (calibrated on every CASIA-IrisV1 + MMU2 genuine
pair at or below the threshold, 8 disagreements of margin; held-out check in
benchmarks/results/iris_calibration.json).
"""
from __future__ import annotations

#: code columns each way a probe is turned (128 columns: +-22.5 degrees of eye rotation)
MAX_SHIFT = 8
#: HD_norm at or below which the pruned search finds every eye: well under the 0.1st percentile of
#: real impostors (about 0.35 on CASIA-IrisV1 and MMU2)
SEARCH_THRESHOLD = 0.28
#: first survival line (mask-free key disagreements), slope per key bit seen and offset
SLOPE1 = 0.04
OFFSET1 = 184.0
#: second survival line (exact masked key disagreements), slope per common key bit and offset
SLOPE2 = 0.38
OFFSET2 = -5.0
#: fewer common key bits than this: too little to judge on, the eye always survives stage 2
MIN_KEY_BITS = 64
#: gallery eyes per first-stage step: keeps the temporaries in cache
CHUNK = 4096
