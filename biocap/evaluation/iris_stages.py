"""What the iris gallery's pruning stages see, pair by pair: the measurements the calibration of
its survival lines (`bench_iris.calibrate_coarse`), the search bench's check and the tests use.
The gallery itself computes the same quantities in its chunked kernel (`IrisGallery._stages`)."""
from __future__ import annotations

import numpy as np

from ..matching.iris.gallery import (BYTES_PER_COLUMN, GALLERY_FILL, PROBE_FILL, STAGE1_WORDS, filled,
                                     key_of)
from ..matching.iris.hamming import rotations


def _popcount_rows(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)


def stage_stats(probe_code, probe_mask, codes, masks, max_shift: int = 8) -> dict:
    """What the pruning stages see for one probe against gallery codes, at each rotation
    (arrays (N, 2*max_shift+1) unless said): x (first-stage filled disagreements), seen_probe
    ((S,) probe key bits seen in words 0-5), seen_gallery ((N,) the same for the gallery), n and
    d (common bits and disagreements over all key words)."""
    shifts = np.arange(-max_shift, max_shift + 1)
    rc = rotations(filled(probe_code, probe_mask, PROBE_FILL), BYTES_PER_COLUMN, shifts)
    rm = rotations(probe_mask, BYTES_PER_COLUMN, shifts)
    pk, pm = key_of(rc), key_of(rm)  # (S, W)
    gk, gm = key_of(filled(codes, masks, GALLERY_FILL)), key_of(masks)  # (N, W)
    w1 = STAGE1_WORDS
    x = _popcount_rows(pk[None, :, :w1] ^ gk[:, None, :w1])
    common = pm[None, :, :] & gm[:, None, :]
    return {"x": x, "seen_probe": _popcount_rows(pm[:, :w1]), "seen_gallery": _popcount_rows(gm[:, :w1]),
            "n": _popcount_rows(common), "d": _popcount_rows((pk[None, :, :] ^ gk[:, None, :]) & common)}
