"""Block-wise fingerprint quality features in the family NFIQ 2 uses (ISO/IEC 29794-4), computed
for all blocks at once with numpy/opencv instead of block by block.

Input: a 2-D uint8 image at 500 ppi. Blocks are 32 x 32 pixels (NFIQ 2's size at 500 ppi). Per
block we compute, from one set of gradients and one batched FFT:

- grey-level mean and standard deviation (foreground segmentation, MMB, contrast);
- orientation certainty (OCL: 1 - lambda_min / lambda_max of the gradient covariance) and the
  orientation coherence;
- orientation flow (OF: mean angular difference to the foreground neighbours);
- frequency-domain strength (share of the AC energy in the ridge-frequency band), local
  clarity (share of that energy in the dominant ridge frequency: how well one clean sinusoid
  describes the block; with the ridge period as a by-product), and the share above the band
  (sharp ridge edges, or noise);
- ridge-valley uniformity (share of ridge pixels after binarisation by the local mean; dry
  prints have thin ridges, wet prints thick ones, and the spread over blocks is the uniformity);

and over the image: foreground area, the position of its centre, and a cheap minutiae count
(crossing number on the skeleton of Gabor-enhanced ridges, the filter bank run at half
resolution) with its quality (OCL and coherence at each minutia). Each block measure is summarised over the foreground blocks by mean, standard
deviation and the 10th/50th/90th percentiles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.morphology import skeletonize

from ...errors import InvalidSample
from . import ridge_signature as sig
from .nfiq_blocks import nfiq_block_measures

BLOCK = 32
#: largest image side analysed (a 4-finger slap at 500 ppi is about 1,600 px): bounds memory to
#: a few tens of MB of float32 planes
MAX_SIDE = 2048
#: a block is foreground when its grey-level standard deviation exceeds this (0-255 scale)
FOREGROUND_STD = 9.0
#: ridge period band at 500 ppi, in pixels (NFIQ 2 and most extractors assume 5-15 px)
RIDGE_PERIOD_RANGE = (4.5, 16.0)

_BLOCK_MEASURES = ("ocl", "coherence", "flow", "band_energy", "clarity", "high_energy",
                   "ridge_share", "contrast", "period")
_STATS = ("mean", "std", "p10", "p50", "p90")
_GLOBAL = ("fg_fraction", "fg_area_mm2", "fg_offset_x", "fg_offset_y", "fg_offset",
           "fg_bbox_fill", "grey_mean", "grey_std", "fg_grey_mean", "bg_grey_mean",
           "fg_block_mean_std", "ridge_share_fg_std_global",
           "minutiae_count", "minutiae_central", "minutiae_density", "minutiae_quality",
           "minutiae_quality_80", "bifurcation_share", "n_fg_blocks", "fg_components",
           "coherence_sum", "clarity_sum", "good_blocks", "good_area_fraction",
           "minutiae_good_count", "ridge_block_fraction", "fg_margin_dx", "fg_margin_dy",
           "ridge_period_share", "minutiae_coherent")
#: NFIQ 2's block histograms (counts over its bin limits, mean, std) over the blocks NFIQ 2
#: would use: ridge-valley signature measures (`ridge_signature`), OCL and flow
_NFIQ_HISTOGRAMS = ("nfiq_fda", "nfiq_lcs", "nfiq_rvu", "nfiq_ocl", "nfiq_of")
FEATURE_NAMES: tuple[str, ...] = tuple(
    f"{m}_{s}" for m in _BLOCK_MEASURES for s in _STATS) + _GLOBAL + tuple(
    n for h in _NFIQ_HISTOGRAMS for n in sig.histogram_names(h)) + ("nfiq_blocks",)
#: NFIQ 2's segmentation: a block is foreground when its grey-level standard deviation exceeds
#: this share of the whole image's
NFIQ_FOREGROUND_STD = 0.1


@dataclass
class FingerprintAnalysis:
    """Features of one image, and the block maps they came from (for feedback and inspection)."""

    vector: np.ndarray  # float64, in FEATURE_NAMES order
    grid: tuple[int, int]  # blocks (rows, columns)
    foreground: np.ndarray  # bool block map
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # per-block measures
    minutiae: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int32))  # x, y, kind
    image: np.ndarray | None = None  # the analysed 500-ppi image (for `ridge_flow`), not copied

    def __getitem__(self, name: str) -> float:
        return float(self.vector[_INDEX[name]])

    def as_dict(self) -> dict[str, float]:
        return {n: float(v) for n, v in zip(FEATURE_NAMES, self.vector)}


_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _blocks(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """View of a (rows*B, cols*B) array as (rows, cols, B, B) blocks (no copy)."""
    return a.reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2)


def _stats(values: np.ndarray) -> list[float]:
    if values.size == 0:
        return [0.0] * len(_STATS)
    p10, p50, p90 = np.percentile(values, (10, 50, 90))
    return [float(values.mean()), float(values.std()), float(p10), float(p50), float(p90)]


def _frequency_tables():
    """Radial frequency (cycles per block) of each bin of a 32x32 rfft2, and the ridge band."""
    fy = np.fft.fftfreq(BLOCK)[:, None] * BLOCK
    fx = np.fft.rfftfreq(BLOCK)[None, :] * BLOCK
    radius = np.sqrt(fx**2 + fy**2)
    lo, hi = BLOCK / RIDGE_PERIOD_RANGE[1], BLOCK / RIDGE_PERIOD_RANGE[0]
    band = (radius >= lo) & (radius <= hi)
    high = radius > hi
    # rfft2 stores each column 1..N/2-1 once for two mirrored bins: weight them double
    weight = np.full(radius.shape, 2.0)
    weight[:, 0] = 1.0
    weight[:, -1] = 1.0
    return radius, band, high, weight


_RADIUS, _BAND, _HIGH, _WEIGHT = _frequency_tables()
_WINDOW = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)


def _spectral(blocks: np.ndarray):
    """Band-energy share, dominant-frequency share (clarity), share above the ridge band (edge
    sharpness, or noise) and ridge period of each block."""
    n = blocks.shape[0]
    if n == 0:
        z = np.zeros(0)
        return z, z, z, z
    centred = blocks - blocks.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.rfft2(centred * _WINDOW)) ** 2 * _WEIGHT
    power[:, 0, 0] = 0.0
    total = power.reshape(n, -1).sum(axis=1) + 1e-9
    band_power = np.where(_BAND, power, 0.0)
    band_share = band_power.reshape(n, -1).sum(axis=1) / total
    high_share = np.where(_HIGH, power, 0.0).reshape(n, -1).sum(axis=1) / total
    peak = band_power.reshape(n, -1).argmax(axis=1)
    peak_r = _RADIUS.ravel()[peak]
    # energy in a ring of +-1 cycle around the dominant frequency, restricted to the peak's
    # direction (a cone of +-22 degrees, both half-planes): one sinusoid's worth
    fy = np.fft.fftfreq(BLOCK)[:, None] * BLOCK
    fx = np.fft.rfftfreq(BLOCK)[None, :] * BLOCK
    py = np.broadcast_to(fy, _RADIUS.shape).ravel()[peak]
    px = np.broadcast_to(fx, _RADIUS.shape).ravel()[peak]
    dot = (fx[None] * px[:, None, None] + fy[None] * py[:, None, None])
    cos = np.abs(dot) / (_RADIUS[None] * peak_r[:, None, None] + 1e-9)
    near = (np.abs(_RADIUS[None] - peak_r[:, None, None]) <= 1.0) & (cos >= 0.92)
    clarity = np.where(near, power, 0.0).reshape(n, -1).sum(axis=1) / total
    # a block with no energy in the band (flat, saturated) gets the longest period of the band
    has_band = band_power.reshape(n, -1).max(axis=1) > 0
    period = np.where(has_band, BLOCK / np.maximum(peak_r, 1e-6), RIDGE_PERIOD_RANGE[1])
    return band_share, clarity, high_share, period


def _orientation(gxx, gyy, gxy):
    """OCL, coherence and ridge orientation (radians, 0..pi) from block gradient moments."""
    trace = gxx + gyy
    root = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2)
    lam_max = (trace + root) / 2
    lam_min = (trace - root) / 2
    ocl = np.where(lam_max > 1e-6, 1.0 - lam_min / np.maximum(lam_max, 1e-6), 0.0)
    coherence = np.where(trace > 1e-6, root / np.maximum(trace, 1e-6), 0.0)
    theta = (0.5 * np.arctan2(2 * gxy, gxx - gyy) + np.pi / 2) % np.pi
    return ocl, coherence, theta


def _flow(theta: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Mean angular difference (0..1, 1 = 90 degrees) of each block to its foreground
    8-neighbours; smooth ridge flow gives small values."""
    rows, cols = theta.shape
    t = np.pad(theta, 1)
    m = np.pad(fg, 1)
    total = np.zeros_like(theta)
    count = np.zeros_like(theta)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nt = t[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
            nm = m[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
            d = np.abs(theta - nt) % np.pi
            d = np.minimum(d, np.pi - d)
            total += np.where(nm, d, 0.0)
            count += nm
    return np.where(count > 0, total / np.maximum(count, 1) / (np.pi / 2), 1.0)


def _segment(block_std: np.ndarray) -> np.ndarray:
    """Foreground blocks: enough grey-level variation, cleaned of isolated blocks and holes. A
    faint print (light touch, blur) has no block above the fixed threshold: then the blocks with
    at least half the strongest variation count, so that its features can say *why* it is faint."""
    fg = (block_std > FOREGROUND_STD).astype(np.uint8)
    if fg.sum() < 4:
        fg = (block_std > max(2.0, 0.5 * float(block_std.max()))).astype(np.uint8)
    if fg.sum() == 0:
        return fg.astype(bool)
    kernel = np.ones((3, 3), np.uint8)
    # opencv's default border is neutral for morphology: a finger touching the image edge keeps
    # its edge blocks
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    return fg.astype(bool)


_N_ORIENT = 8
_ORIENT_BLOCK = 16


def _enhanced_ridges(smooth: np.ndarray, gx: np.ndarray, gy: np.ndarray, period: float,
                     fg_pixels: np.ndarray) -> np.ndarray:
    """Ridge pixels after Gabor enhancement (the classic Hong-Wan-Jain filter, as a bank of
    8 orientations applied to the whole image and picked per pixel by the local orientation):
    far fewer spurious breaks and bridges than thresholding the raw image. The filtering runs
    at half resolution (ridge periods of 6-13 px stay above 3 px there), 16 times cheaper, and
    its response is interpolated back before thresholding."""
    h, w = smooth.shape
    hh, hw = h // 2, w // 2
    small = cv2.resize(smooth, (hw, hh), interpolation=cv2.INTER_AREA)
    half_period = period / 2
    size = (max(1, w // _ORIENT_BLOCK), max(1, h // _ORIENT_BLOCK))
    moments = np.dstack([cv2.resize(gx * gx - gy * gy, size, interpolation=cv2.INTER_AREA),
                         cv2.resize(2 * gx * gy, size, interpolation=cv2.INTER_AREA)])
    # average the doubled-angle vectors over 3x3 blocks: a smooth orientation field
    moments = cv2.blur(moments, (3, 3))
    phi = 0.5 * np.arctan2(moments[..., 1], moments[..., 0])  # gradient = ridge normal
    index = np.round(phi / (np.pi / _N_ORIENT)).astype(np.int32) % _N_ORIENT
    index = cv2.resize(index.astype(np.uint8), (hw, hh), interpolation=cv2.INTER_NEAREST)
    window = int(round(period)) | 1
    centred = small - cv2.blur(small, (window, window))
    best = np.zeros_like(small)
    sigma = 0.45 * half_period
    ksize = int(2 * round(1.5 * sigma) + 1)
    for k in range(_N_ORIENT):
        kernel = cv2.getGaborKernel((ksize, ksize), sigma, k * np.pi / _N_ORIENT, half_period,
                                    1.0, 0, ktype=cv2.CV_32F)
        kernel -= kernel.mean()
        response = cv2.filter2D(centred, cv2.CV_32F, kernel)
        np.copyto(best, response, where=index == k)
    best = cv2.resize(best, (w, h), interpolation=cv2.INTER_LINEAR)
    # the cosine Gabor peaks on bright valleys: dark ridges respond negatively
    return (best < 0) & fg_pixels


def _minutiae(smooth: np.ndarray, gx: np.ndarray, gy: np.ndarray, period: float,
              fg_pixels: np.ndarray) -> np.ndarray:
    """Cheap minutiae: crossing number on the skeleton of Gabor-enhanced ridges, inside the
    eroded foreground. Returns rows (x, y, kind) with kind 1 = ending, 2 = bifurcation."""
    ridges = _enhanced_ridges(smooth, gx, gy, period, fg_pixels)
    if not ridges.any():
        return np.zeros((0, 3), np.int32)
    # close one-pixel gaps and drop specks so noise does not turn into minutiae
    r8 = cv2.morphologyEx(ridges.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    skel = skeletonize(r8.astype(bool)).astype(np.uint8)
    p = np.pad(skel, 1)
    h, w = skel.shape
    ring = [p[0:h, 1:w + 1], p[0:h, 2:w + 2], p[1:h + 1, 2:w + 2], p[2:h + 2, 2:w + 2],
            p[2:h + 2, 1:w + 1], p[2:h + 2, 0:w], p[1:h + 1, 0:w], p[0:h, 0:w]]
    cn = np.zeros(skel.shape, np.int16)
    for k in range(8):
        cn += np.abs(ring[k].astype(np.int16) - ring[(k + 1) % 8])
    cn //= 2
    inner = cv2.erode(fg_pixels.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
    ending = (skel == 1) & (cn == 1) & inner
    bifurcation = (skel == 1) & (cn == 3) & inner
    # minutiae with another one within 6 px are a broken ridge or a spur: drop them (a box
    # count over the minutia map instead of pairwise distances keeps this linear in pixels)
    found = (ending | bifurcation).astype(np.float32)
    crowd = cv2.boxFilter(found, -1, (13, 13), normalize=False, borderType=cv2.BORDER_CONSTANT)
    ys, xs = np.nonzero((found > 0) & (crowd < 1.5))
    kinds = np.where(bifurcation[ys, xs], 2, 1)
    pts = np.stack([xs, ys, kinds], axis=1).astype(np.int32)
    return pts


def analyse(image: np.ndarray) -> FingerprintAnalysis:
    """All features of a 2-D uint8 fingerprint image at 500 ppi."""
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
        raise InvalidSample("features need a 2-D uint8 image at 500 ppi",
                            hint="resample with biocap.imaging.to_working_resolution first")
    h, w = image.shape
    if max(h, w) > MAX_SIDE:
        raise InvalidSample(f"image of {w}x{h} px at 500 ppi exceeds the {MAX_SIDE}-px limit of "
                            "quality assessment", hint="crop the image to the finger area first")
    if h < 2 * BLOCK or w < 2 * BLOCK:
        raise InvalidSample(f"image of {w}x{h} px is too small for quality assessment",
                            hint=f"at 500 ppi a fingerprint needs at least {2 * BLOCK}x{2 * BLOCK} px")
    rows, cols = h // BLOCK, w // BLOCK
    y0, x0 = (h - rows * BLOCK) // 2, (w - cols * BLOCK) // 2
    img = image[y0:y0 + rows * BLOCK, x0:x0 + cols * BLOCK].astype(np.float32)

    smooth = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    # block sums of the gradient moments and grey levels through block-mean downsampling
    area = (cols, rows)
    # one plane at a time keeps the peak memory at a few image-sized float32 planes
    gxx, gyy, gxy, mean, mean_sq = (
        cv2.resize(plane, area, interpolation=cv2.INTER_AREA).astype(np.float64)
        for plane in (gx * gx, gy * gy, gx * gy, img, img * img))
    std = np.sqrt(np.maximum(mean_sq - mean**2, 0.0))
    fg = _segment(std)
    ocl, coherence, theta = _orientation(gxx, gyy, gxy)
    flow = _flow(theta, fg)

    # ridge share: pixels darker than the middle of their block's grey range (the mean would
    # follow the ridges as they thicken); thick ridges = wet, thin = dry
    smooth_blocks = _blocks(smooth, rows, cols)
    midrange = (smooth_blocks.max(axis=(2, 3)) + smooth_blocks.min(axis=(2, 3))) / 2
    below = (smooth_blocks < midrange[:, :, None, None]).mean(axis=(2, 3))
    ridge_share = below.astype(np.float64)

    fg_idx = np.nonzero(fg.ravel())[0]
    block_stack = _blocks(img, rows, cols).reshape(rows * cols, BLOCK, BLOCK)[fg_idx]
    band, clarity, high, period = _spectral(block_stack)

    def fg_values(m):
        return m.ravel()[fg_idx]

    per_block = {"ocl": fg_values(ocl), "coherence": fg_values(coherence),
                 "flow": fg_values(flow), "band_energy": band, "clarity": clarity, "high_energy": high,
                 "ridge_share": fg_values(ridge_share), "contrast": fg_values(std) / 128.0,
                 "period": period}
    vector = []
    for name in _BLOCK_MEASURES:
        vector += _stats(per_block[name])

    n_fg = int(fg.sum())
    fg_fraction = n_fg / (rows * cols)
    px_mm = 500.0 / 25.4
    fg_area_mm2 = n_fg * BLOCK * BLOCK / px_mm**2
    if n_fg:
        ys, xs = np.nonzero(fg)
        cy, cx = (ys.mean() + 0.5) / rows - 0.5, (xs.mean() + 0.5) / cols - 0.5
        bbox = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        bbox_fill = n_fg / bbox
        n_components = cv2.connectedComponents(fg.astype(np.uint8), connectivity=4)[0] - 1
        # background margins left minus right (top minus bottom), as shares of the image: a
        # finger pushed against one edge leaves a wide margin on the other side
        margin_dx = (xs.min() - (cols - 1 - xs.max())) / cols
        margin_dy = (ys.min() - (rows - 1 - ys.max())) / rows
    else:
        cy = cx = 0.5
        margin_dx = margin_dy = 0.0
        bbox_fill = 0.0
        n_components = 0
    fg_mean = mean[fg]
    bg_mean = mean[~fg]

    fg_pixels = cv2.resize(fg.astype(np.uint8), (cols * BLOCK, rows * BLOCK),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
    ridge_period = float(np.clip(np.median(period), 6.0, 13.0)) if n_fg else 9.0
    minutiae = _minutiae(smooth, gx, gy, ridge_period, fg_pixels) if n_fg else \
        np.zeros((0, 3), np.int32)
    n_min = len(minutiae)
    if n_min:
        by, bx = minutiae[:, 1] // BLOCK, minutiae[:, 0] // BLOCK
        m_quality = ocl[by, bx]
        # NFIQ 2 counts minutiae in a 200 x 200 px window at their centre of mass
        mx, my = minutiae[:, 0].mean(), minutiae[:, 1].mean()
        central = int(((np.abs(minutiae[:, 0] - mx) <= 100) & (np.abs(minutiae[:, 1] - my) <= 100)).sum())
        quality_mean = float(m_quality.mean())
        quality_80 = float((m_quality > 0.8).mean())
        bif_share = float((minutiae[:, 2] == 2).mean())
        coherent = int((coherence[by, bx] > 0.5).sum())  # minutiae where ridges flow clearly
    else:
        central, quality_mean, quality_80, bif_share, coherent = 0, 0.0, 0.0, 0.0, 0

    vector += [fg_fraction, fg_area_mm2, cx, cy, float(np.hypot(cx, cy)), bbox_fill,
               float(img.mean()) / 255.0, float(img.std()) / 255.0,
               float(fg_mean.mean()) / 255.0 if fg_mean.size else 0.0,
               float(bg_mean.mean()) / 255.0 if bg_mean.size else float(img.mean()) / 255.0,
               float(fg_mean.std()) / 255.0 if fg_mean.size else 0.0,
               float(per_block["ridge_share"].std()) if n_fg else 0.0,
               float(n_min), float(central), n_min / max(fg_area_mm2, 1.0), quality_mean,
               quality_80, bif_share, float(n_fg), float(n_components)]
    # NFIQ 2 sums and counts over the foreground (its histograms hold counts, not shares), so
    # its score rises with the area of good ridges: give the model that product directly
    good = (per_block["ocl"] > 0.8) & (clarity > 0.45)
    vector += [float(per_block["coherence"].sum()), float(clarity.sum()), float(good.sum()),
               float(good.sum()) / (rows * cols), float(quality_80 * n_min)]
    # blocks that look like ridges at all: most of their energy at ridge frequencies, one
    # dominant orientation (a face, text or noise has few)
    ridge_like = (band > 0.5) & (per_block["coherence"] > 0.4)
    # blocks whose strongest ridge-band frequency lies inside the band: fingerprints have a
    # spectral ring at their ridge period (8-12 px); smooth scenes (a face) fall off with
    # frequency, so their peak sits at the band's low edge
    ridge_period = period <= 12.5
    vector += [float(ridge_like.mean()) if n_fg else 0.0, float(margin_dx), float(margin_dy),
               float(ridge_period.mean()) if n_fg else 0.0, float(coherent)]
    vector += _nfiq_histograms(image, img, std, flow, gxx, gyy, gxy)
    minutiae = minutiae + np.array([x0, y0, 0], np.int32)
    maps = {"ocl": ocl, "coherence": coherence, "flow": flow, "std": std, "mean": mean,
            "ridge_share": ridge_share, "orientation": theta}
    return FingerprintAnalysis(vector=np.asarray(vector, np.float64), grid=(rows, cols),
                               foreground=fg, maps=maps, minutiae=minutiae, image=image)


def _nfiq_histograms(image, img, std, flow, gxx, gyy, gxy) -> list[float]:
    """NFIQ 2's FDA, LCS, RVU, OCL and orientation-flow histograms, and the number of blocks
    NFIQ 2's FDA/LCS/RVU measure.

    LCS, RVU and OCL are computed as NFIQ 2 computes them (`nfiq_blocks`: its
    cropping, block grids, segmentation, orientation and sampling, which their values depend on).
    FDA and orientation flow stay our approximations (our blocks whose std exceeds a tenth of
    the image's, the textbook orientation, bilinear sampling): NFIQ 2's exact versions of these
    two were measured too and ranked an unseen sensor's prints worse in leave-one-set-out
    (docs/quality.md)."""
    keep = std > NFIQ_FOREGROUND_STD * max(float(img.std()), 1e-6)
    by, bx = np.nonzero(keep)
    centres = np.stack([bx * BLOCK + (BLOCK - 1) / 2, by * BLOCK + (BLOCK - 1) / 2], axis=1)
    normal = 0.5 * np.arctan2(2 * gxy[keep], gxx[keep] - gyy[keep])  # gradient = ridge normal
    _, signature = sig.signatures(img, centres, normal)
    m = nfiq_block_measures(image, windows=("lcs", "rvu"))  # FDA: ours, above
    out = sig.histogram(sig.fda(signature), sig.FDA_LIMITS)
    out += sig.histogram(sig.lcs(m["lcs"], m["lcs"].mean(axis=1)), sig.LCS_LIMITS)
    out += sig.histogram(sig.rvu(m["rvu"].mean(axis=1)), sig.RVU_LIMITS)
    out += sig.histogram(m["ocl"], sig.OCL_LIMITS)
    out += sig.histogram(flow[keep], sig.OF_LIMITS)
    return out + [float(len(m["lcs"]))]


def extract_features(image: np.ndarray) -> np.ndarray:
    """The feature vector (FEATURE_NAMES order) of a 2-D uint8 image at 500 ppi."""
    return analyse(image).vector
