"""Two properties every fingerprint has and the usual impostors lack (issue 17, "is this a
fingerprint"), measured on the block maps of `features.analyse`:

- **periodic ridge area**: a finger leaves an area of ridges and valleys that repeat at one
  ridge period, with a coherent orientation that changes smoothly from block to block. Per block,
  the grey-level profile across the ridges (NFIQ 2's ridge-valley signature, `ridge_signature`)
  must put most of its energy at one period inside the ridge band; the measure is the largest
  4-connected region of such blocks whose orientation agrees with a neighbour's, in mm². Iris
  texture, faces and text have at most a few such blocks.
- **flow deviation from one quadratic**: finger ridges bend around cores and deltas (half
  turns of the orientation field, Poincaré index +-1/2) or at least change curvature. The level
  sets of one quadratic function (parallel stripes, concentric rings or ellipses, nested
  parabolas, hyperbolas) have none of that. The measure is the coherence-weighted mean angle
  between the block orientations and the best such field (a homogeneous least-squares fit of
  the ridge normal to the gradient of a quadratic), in degrees: near 0 for a drawn pattern.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import ridge_signature as sig
from .features import BLOCK, FingerprintAnalysis

#: a block's profile across the ridges is periodic when the energy at its strongest period is at
#: least this share of what a pure sinusoid puts there (spectral purity: 1 = one clean sinusoid)
MIN_PERIODIC_PURITY = 0.5
#: ... and that period lies inside the ridge band at 500 ppi (open interval, px): a peak at the
#: band's edge is the fall-off of a smooth scene, not a ridge period
PERIOD_BAND = (4.5, 16.0)
#: neighbouring periodic blocks belong to one ridge area when their orientations differ by less
#: than this (a core bends ridges by about 20 degrees per 32-px block at most)
MAX_NEIGHBOUR_TURN_DEG = 30.0
#: the periodic ridge area of a fingerprint: at least this many mm² (a 6 x 6 mm patch, about
#: the smallest area a minutiae matcher works with) ...
MIN_PERIODIC_AREA_MM2 = 40.0
#: ... or, on a small contact, at least this share of the foreground and no less than
#: MIN_PERIODIC_AREA_FLOOR_MM2 (a 3 x 3 mm patch, about six ridges across)
MIN_PERIODIC_FRACTION = 0.12
MIN_PERIODIC_AREA_FLOOR_MM2 = 10.0
#: a fingerprint's block orientations deviate from the closest quadratic level-set field by
#: more than this on average (degrees); drawn stripes and rings stay near 0-2 under noise
MIN_FLOW_DEVIATION_DEG = 3.0
#: blocks used by the quadratic fit: foreground with at least this orientation coherence
MIN_FIT_COHERENCE = 0.2
#: the fit is judged only over at least this many blocks (53 mm² at 500 ppi): on fewer a
#: 5-parameter field fits anything
MIN_FIT_BLOCKS = 20
_PX_PER_MM = 500.0 / 25.4
_PAD = 256  # zero-padded spectrum length of a 32-px signature (period resolution)


def _pure_peak_share() -> float:
    """Share of a pure sinusoid's windowed energy in its peak bin (median over ridge periods)."""
    u = np.arange(sig.ACROSS)
    shares = []
    for period in np.linspace(6.0, 12.0, 13):
        s = np.sin(2 * np.pi * u / period) * np.hanning(sig.ACROSS)
        p = np.abs(np.fft.rfft(s - 0.0, n=_PAD)) ** 2
        shares.append(p.max() / p[1:].sum())
    return float(np.median(shares))


_PURE_PEAK_SHARE = _pure_peak_share()


def block_periodicity(a: FingerprintAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Per block (rows, cols): the strongest period (px) of the ridge-valley signature inside
    the ridge band and its spectral purity (the energy at that period over a pure sinusoid's)."""
    if a.image is None:
        raise ValueError("the analysis carries no image: make it with features.analyse")
    image = a.image
    rows, cols = a.grid
    h, w = image.shape
    x0, y0 = (w - cols * BLOCK) // 2, (h - rows * BLOCK) // 2  # as `features.analyse` crops
    ys, xs = np.mgrid[0:rows, 0:cols]
    centres = np.stack([x0 + xs.ravel() * BLOCK + BLOCK / 2, y0 + ys.ravel() * BLOCK + BLOCK / 2],
                       axis=1).astype(np.float32)
    normal = a.maps["orientation"].ravel() + np.pi / 2  # the orientation is the ridges' direction
    _, signature = sig.signatures(image.astype(np.float32), centres, normal)
    centred = (signature - signature.mean(axis=1, keepdims=True)) * np.hanning(sig.ACROSS)
    power = np.abs(np.fft.rfft(centred, n=_PAD, axis=1)) ** 2
    freq = np.fft.rfftfreq(_PAD)
    band = np.nonzero((freq > 1 / PERIOD_BAND[1]) & (freq < 1 / PERIOD_BAND[0]))[0]
    peak = band[power[:, band].argmax(axis=1)]
    # Parseval over the padded spectrum: every bin but DC (the window removed the mean)
    total = power[:, 1:].sum(axis=1) + 1e-9
    purity = power[np.arange(len(peak)), peak] / total / _PURE_PEAK_SHARE
    return (1.0 / freq[peak]).reshape(rows, cols), purity.reshape(rows, cols)


def periodic_ridge_area(a: FingerprintAnalysis) -> tuple[float, float]:
    """Largest smooth-flowing area of periodic ridge blocks: mm² at 500 ppi, and its share of
    the foreground."""
    period, purity = block_periodicity(a)
    theta = a.maps["orientation"]
    good = a.foreground & (purity >= MIN_PERIODIC_PURITY) & (period > PERIOD_BAND[0]) & \
        (period < PERIOD_BAND[1]) & (a.maps["coherence"] >= MIN_FIT_COHERENCE)
    smooth = np.zeros_like(good)
    padded_good = np.pad(good, 1)
    padded_theta = np.pad(theta, 1)
    rows, cols = good.shape
    for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        nb = padded_good[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
        nt = padded_theta[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
        turn = np.abs(theta - nt) % np.pi
        smooth |= nb & (np.minimum(turn, np.pi - turn) < np.radians(MAX_NEIGHBOUR_TURN_DEG))
    area = (good & smooth).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(area, connectivity=4)
    blocks = int(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0
    return blocks * BLOCK * BLOCK / _PX_PER_MM**2, blocks / max(int(a.foreground.sum()), 1)


def quadratic_flow_deviation(a: FingerprintAnalysis) -> float | None:
    """Coherence-weighted mean angle (degrees) between the block orientations and the closest
    field of level sets of one quadratic function; None when fewer than MIN_FIT_BLOCKS blocks
    carry an orientation."""
    coherence, theta = a.maps["coherence"], a.maps["orientation"]
    use = a.foreground & (coherence >= MIN_FIT_COHERENCE)
    if int(use.sum()) < MIN_FIT_BLOCKS:
        return None
    rows, cols = use.shape
    ys, xs = np.nonzero(use)
    scale = 2.0 / max(rows, cols)  # block centres in [-1, 1]: a well-conditioned fit
    px, py = (xs + 0.5 - cols / 2) * scale, (ys + 0.5 - rows / 2) * scale
    nx, ny = np.cos(theta[ys, xs] + np.pi / 2), np.sin(theta[ys, xs] + np.pi / 2)
    w = coherence[ys, xs]
    # the normal n is parallel to grad Q = (a x + c y + e, c x + d y + f): n x grad Q = 0 is
    # linear in (a, c, d, e, f); the unit vector minimising it is the last right singular vector
    rows_m = np.stack([-ny * px, nx * px - ny * py, nx * py, -ny, nx], axis=1)
    _, _, vt = np.linalg.svd(rows_m * w[:, None], full_matrices=False)
    qa, qc, qd, qe, qf = vt[-1]
    gx, gy = qa * px + qc * py + qe, qc * px + qd * py + qf
    sine = np.abs(nx * gy - ny * gx) / (np.hypot(gx, gy) + 1e-12)
    return float(np.degrees(np.arcsin(min(1.0, float(np.sum(w * sine) / w.sum())))))


def enough_periodic_ridges(area_mm2: float, fraction: float) -> bool:
    """The periodic-ridge-area rule: a wide area, or most of a small contact (not a speck)."""
    return area_mm2 >= MIN_PERIODIC_AREA_MM2 or (
        fraction >= MIN_PERIODIC_FRACTION and area_mm2 >= MIN_PERIODIC_AREA_FLOOR_MM2)


__all__ = ["block_periodicity", "enough_periodic_ridges", "periodic_ridge_area",
           "quadratic_flow_deviation"]
