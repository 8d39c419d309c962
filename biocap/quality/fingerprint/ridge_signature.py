"""Ridge-valley signature measures of NFIQ 2 (ISO/IEC 29794-4:2017), for all blocks at once.

NFIQ 2 rotates every 32 x 32 block so that its ridges run vertically, crops a 32 x 16 window
(32 px across the ridges, 16 along them) and averages along the ridges: the resulting 32-value
"signature" is the grey-level profile across the ridges. From it come three of its measures:

- FDA (frequency-domain analysis): how much of the signature's spectrum sits at its dominant
  frequency (the peak plus 0.3 x its two neighbours, over the sum of the amplitudes);
- LCS (local clarity): the signature is split into ridge and valley columns by a least-squares
  line; where the mean ridge and valley widths are plausible, LCS = 1 - the mean share of pixels
  on the wrong side of that line (ridge pixels as bright as valleys and vice versa), else 0;
- RVU (ridge-valley uniformity): the ratios of neighbouring complete ridge and valley widths.

NFIQ 2 turns each measure into a histogram of block counts over fixed bin limits plus the mean
and standard deviation; we do the same with its published limits. The windows are sampled for
every foreground block in one `cv2.remap` (bilinear rather than NFIQ 2's nearest neighbour),
and everything after that is array arithmetic over (blocks x 32) signatures.
"""
from __future__ import annotations

import cv2
import numpy as np

ACROSS, ALONG = 32, 16  # window: px across the ridges, px along them
#: histogram bin limits of NFIQ 2 (values >= the last limit fall in the 10th bin)
FDA_LIMITS = (0.268, 0.304, 0.33, 0.355, 0.38, 0.407, 0.44, 0.50, 1.0)
LCS_LIMITS = (0.0, 0.70, 0.74, 0.77, 0.79, 0.81, 0.83, 0.85, 0.87)
RVU_LIMITS = (0.5, 0.667, 0.8, 1.0, 1.25, 1.5, 2.0, 24.0, 30.0)
OCL_LIMITS = (0.337, 0.479, 0.579, 0.655, 0.716, 0.766, 0.81, 0.852, 0.898)
OF_LIMITS = (1.715e-2, 3.5e-2, 5.57e-2, 8.1e-2, 1.15e-1, 1.718e-1, 2.569e-1, 4.758e-1, 7.48e-1)
_REMAP_BLOCKS = 1024  # blocks per cv2.remap call (its maps must stay below 32,767 rows)
#: plausible mean ridge and valley widths at 500 ppi (px), else the block has no clarity
RIDGE_WIDTH = (3.0, 10.0)
VALLEY_WIDTH = (2.0, 10.0)


def signatures(image: np.ndarray, centres: np.ndarray, normal_angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows (n, ALONG, ACROSS) and signatures (n, ACROSS) of blocks centred at `centres`
    ((n, 2) x, y in pixels) whose ridge normal points along `normal_angle` (radians, image
    coordinates)."""
    n = len(centres)
    if n == 0:
        return np.zeros((0, ALONG, ACROSS), np.float32), np.zeros((0, ACROSS), np.float64)
    u = np.arange(ACROSS, dtype=np.float32) - (ACROSS - 1) / 2  # across the ridges
    v = np.arange(ALONG, dtype=np.float32) - (ALONG - 1) / 2  # along them
    c, s = np.cos(normal_angle).astype(np.float32), np.sin(normal_angle).astype(np.float32)
    cx = centres[:, 0].astype(np.float32)[:, None, None]
    cy = centres[:, 1].astype(np.float32)[:, None, None]
    map_x = cx + u[None, None, :] * c[:, None, None] - v[None, :, None] * s[:, None, None]
    map_y = cy + u[None, None, :] * s[:, None, None] + v[None, :, None] * c[:, None, None]
    map_x, map_y = map_x.reshape(n * ALONG, ACROSS), map_y.reshape(n * ALONG, ACROSS)
    # cv2.remap takes maps of fewer than 32,767 rows: large images go in slices
    rows = _REMAP_BLOCKS * ALONG
    windows = np.concatenate([
        cv2.remap(image, map_x[i:i + rows], map_y[i:i + rows], cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REFLECT_101) for i in range(0, n * ALONG, rows)])
    windows = windows.reshape(n, ALONG, ACROSS)
    return windows, windows.mean(axis=1, dtype=np.float64)


def fda(signature: np.ndarray) -> np.ndarray:
    """NFIQ 2's frequency-domain analysis of each signature (n, 32): dominant amplitude plus 0.3
    x its neighbours over the summed amplitudes of frequencies 1-15; 1.0 where the peak is at the
    lowest frequency (no ridge period in the block)."""
    n = len(signature)
    if n == 0:
        return np.zeros(0)
    amp = np.abs(np.fft.fft(signature, axis=1))[:, 1:]  # without DC: frequencies 1..31
    peak = amp.argmax(axis=1)
    rows = np.arange(n)
    denom = amp[:, : amp.shape[1] // 2].sum(axis=1)
    inner = (peak > 0) & (peak + 1 < amp.shape[1])
    lo, hi = np.clip(peak - 1, 0, None), np.clip(peak + 1, None, amp.shape[1] - 1)
    value = (amp[rows, peak] + 0.3 * (amp[rows, lo] + amp[rows, hi])) / np.maximum(denom, 1e-9)
    return np.where(inner, value, 1.0)


def _ridge_valley(signature: np.ndarray):
    """Per block: least-squares threshold line (n, 32) and the ridge mask (darker than it)."""
    x = np.arange(1, ACROSS + 1, dtype=np.float64)
    xm = x.mean()
    ym = signature.mean(axis=1, keepdims=True)
    slope = ((x - xm) * (signature - ym)).sum(axis=1, keepdims=True) / ((x - xm) ** 2).sum()
    line = ym + slope * (x - xm)
    return line, signature < line


def _runs(ridge: np.ndarray):
    """Run index of each column (n, 32), number of runs per block, widths (n, 33) and whether
    the first run is a ridge."""
    change = ridge[:, 1:] != ridge[:, :-1]
    run_id = np.concatenate([np.zeros((len(ridge), 1), np.int64), np.cumsum(change, axis=1)], axis=1)
    n_runs = run_id[:, -1] + 1
    width = np.zeros((len(ridge), ACROSS + 1))
    np.add.at(width, (np.repeat(np.arange(len(ridge)), ACROSS), run_id.ravel()), 1.0)
    return run_id, n_runs, width, ridge[:, 0]


def lcs(windows: np.ndarray, signature: np.ndarray) -> np.ndarray:
    """NFIQ 2's local clarity score of each block, 0 (worst) - 1 (best)."""
    n = len(signature)
    if n == 0:
        return np.zeros(0)
    line, ridge = _ridge_valley(signature)
    _, n_runs, width, starts_ridge = _runs(ridge)
    # NFIQ 2 measures the first run up to the index before its last column (one px short)
    width[:, 0] -= 1
    k = np.arange(ACROSS + 1)[None, :]
    # complete-enough runs: all but the last one (NFIQ 2 measures up to the last change)
    counted = k < (n_runs - 1)[:, None]
    is_ridge_run = (k % 2 == 0) == starts_ridge[:, None]
    def mean_width(kind):
        sel = counted & kind
        return (width * sel).sum(axis=1) / np.maximum(sel.sum(axis=1), 1)
    wr, wv = mean_width(is_ridge_run), mean_width(~is_ridge_run)
    plausible = (n_runs > 1) & (wr >= RIDGE_WIDTH[0]) & (wr <= RIDGE_WIDTH[1]) & \
        (wv >= VALLEY_WIDTH[0]) & (wv <= VALLEY_WIDTH[1])
    below = windows < line[:, None, :].astype(windows.dtype)  # (n, ALONG, ACROSS)
    ridge_cols = ridge[:, None, :]
    # ridge pixels at least as bright as the line, valley pixels darker than it: misclassified
    wrong_ridge = (~below & ridge_cols).sum(axis=(1, 2)) / np.maximum(ridge.sum(axis=1) * ALONG, 1)
    wrong_valley = (below & ~ridge_cols).sum(axis=(1, 2)) / np.maximum((~ridge).sum(axis=1) * ALONG, 1)
    return np.where(plausible, 1.0 - (wrong_ridge + wrong_valley) / 2, 0.0)


def rvu(signature: np.ndarray) -> np.ndarray:
    """Ridge-valley uniformity ratios of neighbouring complete runs, pooled over all blocks, as
    NFIQ 2 computes them: runs are cut at the changes between columns 0..30 (a change into the
    last column is ignored), the first and last runs are incomplete and dropped, and so is the
    first complete one; the remaining widths are taken from the end of the signature backwards,
    each ratio is a width over the next one, and every second ratio is inverted starting from
    the kind of the first complete run. So a ratio is ridge / valley or valley / ridge depending
    on the parity of the block's run count: we reproduce this, because NFIQ 2's score depends on
    the histogram it gives."""
    n = len(signature)
    if n == 0:
        return np.zeros(0)
    _, ridge = _ridge_valley(signature)
    last = ACROSS - 2  # changes are looked for between columns i - 1 and i for i = 1..30
    change = ridge[:, 1:last + 1] != ridge[:, :last]
    # each block's change indices (index of a run's last column), ascending, padded with `last`
    pos = np.sort(np.where(change, np.arange(last)[None, :], last), axis=1)
    complete = change.sum(axis=1) - 1  # runs between the first and the last change
    widths = np.diff(pos, axis=1)  # widths[:, j]: complete run j + 1
    rows = np.arange(n)
    first_kind = ridge[rows, np.minimum(pos[:, 0] + 1, ACROSS - 1)].astype(np.int64)
    m = np.arange(widths.shape[1] - 1)[None, :]
    valid = m <= (complete - 3)[:, None]
    num = np.clip(complete[:, None] - 1 - m, 0, widths.shape[1] - 1)
    den = np.clip(complete[:, None] - 2 - m, 0, widths.shape[1] - 1)
    # padding entries (not `valid`) get width 1 so that no division is by zero
    top = np.where(valid, widths[rows[:, None], num], 1)
    bottom = np.where(valid, widths[rows[:, None], den], 1)
    invert = (m >= first_kind[:, None]) & ((m - first_kind[:, None]) % 2 == 0)
    ratio = np.where(invert, bottom / top, top / bottom)
    return ratio[valid]


def histogram(values: np.ndarray, limits) -> list[float]:
    """NFIQ 2's 10-bin histogram (block counts) of `values` plus their mean and std."""
    counts = np.bincount(np.searchsorted(np.asarray(limits), values, side="right"),
                         minlength=len(limits) + 1)[: len(limits) + 1]
    if values.size == 0:
        return [0.0] * (len(limits) + 1) + [0.0, 0.0]
    return [float(c) for c in counts] + [float(values.mean()), float(values.std())]


def histogram_names(prefix: str, n_bins: int = 10) -> tuple[str, ...]:
    return tuple(f"{prefix}_bin{i}" for i in range(n_bins)) + (f"{prefix}_mean", f"{prefix}_std")
