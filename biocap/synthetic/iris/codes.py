"""Filler iris codes for 1:N benchmarks that keep the statistics of real codes.

A filler is what the encoder would give for a random iris texture: complex white noise on the
code grid is band-pass filtered along the angle with the encoder's Gabor transfer function
(the same wavelength and envelope, in code columns), smoothed along the radius by the
encoder's radial envelope (in code rows), and quantized to 2 phase bits per sample. Neighbouring
bits are therefore correlated as in real codes. Each filler's mask is the mask of a randomly
chosen real template turned by a random rotation of at most `max_mask_shift` columns (the eye
rotations a real capture shows), so occlusion patterns (lids, lashes) are real ones and sit where
real codes have them: the upper-lid sector the normaliser leaves out stays at the top, as in
every real code (turning masks all round the ring, as before, put it anywhere).
"""
from __future__ import annotations

import numpy as np

import scipy.fft as _fft  # transforms float32 without upcasting (scipy is a core dependency)

from ...errors import InvalidDataError
from ...matching.iris.gallery import BYTES_PER_COLUMN, CODE_BYTES, COLUMNS
from ...matching.iris.hamming import rotations

ROWS = 8


def _transfer(cols: int, wavelength_cols: float, sigma_cols: float) -> np.ndarray:
    f = np.fft.fftfreq(cols)  # cycles per code column
    f0 = 1.0 / wavelength_cols
    sigma_f = 1.0 / (2 * np.pi * sigma_cols)
    return np.exp(-0.5 * ((f - f0) / sigma_f) ** 2).astype(np.float32)


def _radial_matrix(rows: int, sigma_rows: float) -> np.ndarray:
    i = np.arange(rows)
    m = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma_rows) ** 2)
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


def filler_codes(n: int, real_masks: np.ndarray, *, seed: int = 0, batch: int = 16384,
                 wavelength_cols: float = 6.5, sigma_cols: float = 1.8,
                 sigma_rows: float = 0.85, max_mask_shift: int = 8,
                 real_codes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`n` filler (codes, masks), each (n, 256) uint8. The defaults start from the encoder's
    (wavelength 11 rubber-sheet columns at the reference iris size with an angular envelope of
    0.2 wavelengths, at 2 sheet columns per code column: 5.5 and 1.1 code columns; radial
    envelope 1.5 sheet rows at 23/9 sheet rows per code row: 0.59 code rows) and are widened
    (6.5, 1.8, 0.85) because real iris texture is not white: with them the fillers'
    neighbouring-bit agreement (0.68 along the angle, 0.76 along the radius) matches real
    CASIA-IrisV1 codes of the encoder at issue 8's end (0.67, 0.76). With `real_codes`, each
    bit is also set as often as in those real codes: then real probes' impostor distances to
    fillers (median, 1st percentile 0.440, 0.393) and the share of fillers the gallery's first
    stage lets through (17 %) match those to real codes of other eyes (0.441, 0.392; 16 %);
    without it fillers were easier to prune (11 %) and a little farther (0.448, 0.398)."""
    real_masks = np.asarray(real_masks)
    if real_masks.ndim != 2 or real_masks.shape[1] != CODE_BYTES or real_masks.shape[0] == 0:
        raise InvalidDataError(f"filler codes need at least one real (N, {CODE_BYTES}) mask")
    if n < 0:
        raise InvalidDataError("the number of filler codes cannot be negative")
    if not 0 <= max_mask_shift < COLUMNS:
        raise InvalidDataError(f"max_mask_shift must be within 0..{COLUMNS - 1} columns")
    thresholds = np.zeros((ROWS, COLUMNS, 2), np.float32)
    if real_codes is not None:  # each bit is set as often as in real codes (see _bit_thresholds)
        thresholds = _bit_thresholds(np.asarray(real_codes), real_masks)
    rng = np.random.default_rng(seed)
    h = _transfer(COLUMNS, wavelength_cols, sigma_cols)
    radial = _radial_matrix(ROWS, sigma_rows)
    doubled = np.concatenate([real_masks, real_masks], axis=1)
    codes = np.empty((n, CODE_BYTES), np.uint8)
    masks = np.empty((n, CODE_BYTES), np.uint8)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        noise = rng.standard_normal((m, ROWS, COLUMNS), dtype=np.float32)
        noise = np.matmul(radial, noise)  # radial envelope (linear, so it commutes with the FFT)
        spec = _fft.fft(noise, axis=2) * h  # one-sided band: analytic response
        resp = _fft.ifft(spec, axis=2)
        scale = np.float32(np.sqrt(np.mean(resp.real ** 2)))  # both parts: same spread
        bits = np.stack([resp.real > scale * thresholds[..., 0],
                         resp.imag > scale * thresholds[..., 1]], axis=-1)  # (m, rows, cols, 2)
        codes[start:start + m] = np.packbits(bits.transpose(0, 2, 1, 3).reshape(m, -1), axis=1)
        src = rng.integers(0, real_masks.shape[0], m)
        shift = rng.integers(-max_mask_shift, max_mask_shift + 1, m)
        idx = ((-shift * BYTES_PER_COLUMN) % CODE_BYTES)[:, None] + np.arange(CODE_BYTES)[None, :]
        masks[start:start + m] = doubled[src[:, None], idx]
    return codes, masks


def _bit_thresholds(real_codes: np.ndarray, real_masks: np.ndarray) -> np.ndarray:
    """(rows, cols, 2) thresholds, in units of the response's spread, at which each filler bit
    is set as often as the same bit is in real codes where they see it: real irises share a
    slight per-position bias (real impostor distances sit under 0.5 partly because of it),
    which unbiased fillers lack, making them easier to tell from a probe than real codes are."""
    from scipy.special import ndtri  # scipy comes with scikit-image

    if real_codes.shape != real_masks.shape or real_codes.dtype != np.uint8:
        raise InvalidDataError(f"real codes must be (N, {CODE_BYTES}) uint8 like their masks")
    bits = np.unpackbits(real_codes, axis=1).astype(np.float64)
    seen = np.unpackbits(real_masks, axis=1).astype(np.float64)
    ones = (bits * seen).sum(axis=0)
    p = np.where(seen.sum(axis=0) > 0, (ones + 1) / (seen.sum(axis=0) + 2), 0.5).clip(0.02, 0.98)
    t = ndtri(1.0 - p).reshape(COLUMNS, ROWS, 2).transpose(1, 0, 2)  # P(N(0,1) > t) = p
    return np.ascontiguousarray(t, dtype=np.float32)


def neighbour_agreement(codes: np.ndarray) -> tuple[float, float]:
    """(P(bit equals the same bit one column on), P(bit equals the same bit one row on)): the
    correlation of neighbouring bits, to compare fillers with real codes."""
    bits = np.unpackbits(codes, axis=1).reshape(codes.shape[0], COLUMNS, ROWS, 2)
    col = float((bits == np.roll(bits, 1, axis=1)).mean())
    row = float((bits[:, :, 1:] == bits[:, :, :-1]).mean())
    return col, row


__all__ = ["filler_codes", "neighbour_agreement", "rotations"]
