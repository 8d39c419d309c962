"""Independent, reproducible random streams: one per (seed, finger, impression, purpose).

Each finger and impression draws from its own stream, so generating finger 90,000 needs no
state from fingers 1..89,999 (lazy, parallel and order-independent generation give the same bytes).
"""
from __future__ import annotations

import zlib

import numpy as np

from ...errors import InvalidDataError

_MAX_SEED = 2**63 - 1


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidDataError(f"seed must be an integer, got {seed!r}")
    if not 0 <= int(seed) <= _MAX_SEED:
        raise InvalidDataError(f"seed {seed} out of range; use 0 .. 2**63-1")
    return int(seed)


def stream(seed: int, finger: int, impression: int, purpose: str) -> np.random.Generator:
    """A generator for one purpose ("master", "impression", "minutiae", ...) of one finger
    (impression 0 = the master itself)."""
    for name, v in (("finger", finger), ("impression", impression)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < 2**63:
            raise InvalidDataError(f"{name} id must be a non-negative integer, got {v!r}")
    tag = zlib.crc32(purpose.encode())
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([check_seed(seed), int(finger), int(impression), tag])))
