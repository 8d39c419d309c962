"""Masked fractional Hamming distance between packed iris codes, with rotations.

HD = |(A xor B) and MA and MB| / |MA and MB| over the bits both codes see; Daugman's
normalization HD_norm = 0.5 - (0.5 - HD) * sqrt(n / 911) pulls distances computed over few bits
towards 0.5, so a comparison of two mostly hidden irises cannot look like a match by chance.
"""
from __future__ import annotations

import numpy as np

from ...errors import InvalidDataError

#: number of bits Daugman's normalization takes as typical for a comparison of 2048-bit codes
HD_NORM_REFERENCE_BITS = 911
#: a comparison over fewer common bits than this is not trusted at all (distance 1.0)
MIN_COMMON_BITS = 64


def rotations(code: np.ndarray, bytes_per_column: int, shifts: np.ndarray) -> np.ndarray:
    """(S, B) array of the packed `code` turned by each shift (in code columns)."""
    b = code.size
    doubled = np.concatenate([code, code])
    start = (-np.asarray(shifts, dtype=np.int64) * bytes_per_column) % b
    idx = start[:, None] + np.arange(b)[None, :]
    return doubled[idx]


def as_words(packed: np.ndarray) -> np.ndarray:
    """View the last axis of packed bytes as uint64 words (the byte count must divide by 8)."""
    a = np.ascontiguousarray(packed)
    if a.shape[-1] % 8:
        raise InvalidDataError(f"packed codes of {a.shape[-1]} bytes do not divide into 64-bit words")
    return a.view(np.uint64)


def normalize_hd(raw: np.ndarray, n: np.ndarray) -> np.ndarray:
    hd = 0.5 - (0.5 - raw) * np.sqrt(n / HD_NORM_REFERENCE_BITS)
    return np.where(n >= MIN_COMMON_BITS, hd, 1.0)


def masked_distances(probe_codes: np.ndarray, probe_masks: np.ndarray, codes: np.ndarray,
                     masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw fractional HD and common-bit counts of every probe rotation against every code.
    probe_*: (S, W) uint64; codes/masks: (N, W) uint64 -> (N, S) float64, (N, S) int64."""
    common = masks[:, None, :] & probe_masks[None, :, :]
    diff = (codes[:, None, :] ^ probe_codes[None, :, :]) & common
    n = np.bitwise_count(common).sum(axis=2, dtype=np.int64)
    d = np.bitwise_count(diff).sum(axis=2, dtype=np.int64)
    raw = d / np.maximum(n, 1)
    return raw, n


def best_distance(probe_code, probe_mask, code, mask, bytes_per_column: int,
                  max_shift: int) -> tuple[float, int, float, int]:
    """(HD_norm, shift, raw HD, common bits) at the best of the 2*max_shift+1 rotations."""
    shifts = np.arange(-max_shift, max_shift + 1)
    pc = as_words(rotations(probe_code, bytes_per_column, shifts))
    pm = as_words(rotations(probe_mask, bytes_per_column, shifts))
    raw, n = masked_distances(pc, pm, as_words(code[None, :]), as_words(mask[None, :]))
    hd = normalize_hd(raw[0], n[0])
    k = int(np.argmin(hd))
    return float(hd[k]), int(shifts[k]), float(raw[0, k]), int(n[0, k])
