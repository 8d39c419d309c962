"""The blocks NFIQ 2 measures its ridge-valley signatures on (ISO/IEC 29794-4; NFIQ 2.x), as NFIQ 2
defines them, for all blocks at once.

NFIQ 2's FDA, LCS and RVU depend on details that a textbook re-implementation gets wrong, and
those details move its histograms (measured against NFIQ 2's own values on the FVC 2002 B
originals, see docs/quality.md):

- the image is first cropped of near-white rows and columns (mean grey > 250) at its edges;
- the foreground mask is a 32-px grid from the image corner, a cell being foreground when its
  grey-level standard deviation exceeds a tenth of the whole (cropped) image's; a measured block
  sits on a grid shifted by 2 px and counts only when all its pixels are foreground;
- each block's orientation comes from centred differences of the raw 32 x 32 block, and the angle
  is atan2(c, a - b) / 2 with a, b, c the mean squared x and y gradients and their mean product
  (NFIQ 2 leaves out the usual factor 2 on c, so blocks whose ridges run diagonally are rotated
  by up to ~10 degrees less than their true orientation, which blurs their signature);
- the slanted 32 x 16 window is cut from the block rotated about the centre of its 36 x 36
  surround with nearest-neighbour sampling.

We sample all windows with one integer gather instead of rotating each block.
"""
from __future__ import annotations

import numpy as np

from ...errors import InvalidRequest, InvalidSample

BLOCK = 32
BORDER = 2  # (ceil(hypot(32, 16)) - 32) / 2: the margin of the 36 x 36 surround of a block
NEAR_WHITE = 250.0  # edge rows / columns brighter than this on average are cropped
SEGMENT_STD = 0.1  # foreground: cell std above this share of the image's std
OF_ANGLE_MIN = 4.0  # degrees: smaller angle changes count as no change
#: largest image side measured (NFIQ 2 itself takes at most 1,000 px): bounds memory to tens of MB
MAX_SIDE = 4096
#: offsets (px) from the centre of a block's 36 x 36 surround at which each measure samples its
#: slanted window: (across the ridges, along them). LCS rotates the surround itself; FDA and RVU
#: rotate a copy padded by 2 px, which moves the rotation centre 2 px away from their crop, so
#: their windows sit off centre. Their outer samples then fall outside the surround: taking the
#: image there reproduces NFIQ 2's values (Spearman 0.94-0.97 per histogram bin on FVC
#: originals), black padding does not (0.69-0.89).
WINDOW_OFFSETS = {
    "lcs": (np.arange(-16, 16), np.arange(-8, 8)),
    "rvu": (np.arange(-18, 14), np.arange(-10, 6)),
    "fda": (np.arange(-13, 19), np.arange(-10, 6)),
}



def crop_near_white(image: np.ndarray) -> np.ndarray:
    """The image without its edge rows and columns whose mean grey exceeds NEAR_WHITE (an empty
    array when every row is that bright)."""
    rows = np.nonzero(image.mean(axis=1) <= NEAR_WHITE)[0]
    if rows.size == 0:
        return image[:0, :0]
    image = image[rows[0]:rows[-1] + 1]
    cols = np.nonzero(image.mean(axis=0) <= NEAR_WHITE)[0]
    if cols.size == 0:
        return image[:0, :0]
    return image[:, cols[0]:cols[-1] + 1]


def _cell_std(img: np.ndarray, size: int) -> np.ndarray:
    """Grey-level std of each size x size cell from the image corner (edge cells may be partial)."""
    h, w = img.shape
    rs, cs = np.arange(0, h, size), np.arange(0, w, size)
    counts = np.outer(np.minimum(size, h - rs), np.minimum(size, w - cs)).astype(np.float64)
    s1 = np.add.reduceat(np.add.reduceat(img, rs, axis=0), cs, axis=1)
    s2 = np.add.reduceat(np.add.reduceat(img * img, rs, axis=0), cs, axis=1)
    mean = s1 / counts
    return np.sqrt(np.maximum(s2 / counts - mean**2, 0.0))


def _gradient_moments(blocks: np.ndarray):
    """Mean gx^2, gy^2 and gx*gy of each (n, s, s) block from centred differences inside it
    (forward differences at its edges), as NFIQ 2 computes them."""
    gx = np.empty_like(blocks)
    gy = np.empty_like(blocks)
    gx[:, :, 1:-1] = (blocks[:, :, 2:] - blocks[:, :, :-2]) / 2
    gx[:, :, 0] = blocks[:, :, 1] - blocks[:, :, 0]
    gx[:, :, -1] = blocks[:, :, -1] - blocks[:, :, -2]
    gy[:, 1:-1] = (blocks[:, 2:] - blocks[:, :-2]) / 2
    gy[:, 0] = blocks[:, 1] - blocks[:, 0]
    gy[:, -1] = blocks[:, -1] - blocks[:, -2]
    return (gx * gx).mean(axis=(1, 2)), (gy * gy).mean(axis=(1, 2)), (gx * gy).mean(axis=(1, 2))


def _orientation(blocks: np.ndarray) -> np.ndarray:
    """NFIQ 2's block angle (radians, the ridge normal): atan2(c, a - b) / 2, without the usual
    factor 2 on c."""
    a, b, c = _gradient_moments(blocks)
    denom = c * c + (a - b) ** 2 + np.finfo(np.float64).eps
    return np.arctan2(c / denom, (a - b) / denom) / 2


def _shifted_grid(img: np.ndarray, size: int, border: int):
    """NFIQ 2's blocks of `size` px starting at `border` px (while a block and its border fit),
    as an (rows, cols, size, size) view, and whether each lies wholly in the foreground (cells of
    `size` px from the image corner whose std exceeds SEGMENT_STD x the image's). FDA, LCS, RVU
    and orientation flow all use 32-px blocks with a 2-px border (the NFIQ 2 build that nbis-py
    ships; older sources show 16-px blocks for orientation flow, which do not match its values)."""
    h, w = img.shape
    n_r = len(range(border, h - (size + border - 1), size))
    n_c = len(range(border, w - (size + border - 1), size))
    if n_r == 0 or n_c == 0:
        return np.zeros((0, 0, size, size)), np.zeros((0, 0), bool)
    fg = _cell_std(img, size) > SEGMENT_STD * max(float(img.std()), 1e-12)
    # a shifted block covers the cells (k, j) to (k + 1, j + 1): all four must be foreground
    # (border < size, so it never reaches a third cell)
    f = np.pad(fg, ((0, 1), (0, 1)))
    keep = f[:n_r, :n_c] & f[1:n_r + 1, :n_c] & f[:n_r, 1:n_c + 1] & f[1:n_r + 1, 1:n_c + 1]
    grid = img[border:border + n_r * size, border:border + n_c * size]
    return grid.reshape(n_r, size, n_c, size).swapaxes(1, 2), keep


def _windows(img: np.ndarray, keep: np.ndarray, angle: np.ndarray,
             names) -> dict[str, np.ndarray]:
    """Windows (n, 16, 32) of the measures `names` (keys of WINDOW_OFFSETS) for the foreground
    blocks (`keep`) of the shifted grid, each rotated by its NFIQ 2 `angle`."""
    h, w = img.shape
    kr, kc = np.nonzero(keep)
    angle = angle[kr, kc]
    # the surround's centre: 18 px into the 36 x 36 surround that starts 2 px before the block
    cy = (BORDER + kr * BLOCK + BLOCK // 2).astype(np.float64)[:, None, None]
    cx = (BORDER + kc * BLOCK + BLOCK // 2).astype(np.float64)[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    out = {}
    for name in names:
        across, along = WINDOW_OFFSETS[name]
        u = across[None, None, :].astype(np.float64)
        v = along[None, :, None].astype(np.float64)
        # nearest neighbour, rounding halves up as opencv's warpAffine does
        xs = np.floor(cx + u * cos - v * sin + 0.5).astype(np.intp)
        ys = np.floor(cy + u * sin + v * cos + 0.5).astype(np.intp)
        out[name] = img[np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)]
    return out


def _ocl(img: np.ndarray) -> np.ndarray:
    """NFIQ 2's orientation certainty of every full 32-px block from the image corner (no
    segmentation: background blocks count too; flat blocks, with no gradient, are left out)."""
    h, w = img.shape
    n_r, n_c = h // BLOCK, w // BLOCK
    if n_r == 0 or n_c == 0:
        return np.zeros(0)
    blocks = img[:n_r * BLOCK, :n_c * BLOCK].reshape(n_r, BLOCK, n_c, BLOCK).swapaxes(1, 2)
    a, b, c = _gradient_moments(blocks.reshape(-1, BLOCK, BLOCK))
    root = np.sqrt((a - b) ** 2 + 4 * c * c)
    lam_max, lam_min = (a + b + root) / 2, (a + b - root) / 2
    used = lam_max != 0
    return 1.0 - lam_min[used] / lam_max[used]


def _orientation_flow(keep: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """NFIQ 2's orientation flow values over the shifted grid: each block's mean absolute angle
    difference to its 8 neighbours (raw angles, no wrap-around; outside the map the angle is 0),
    kept where it exceeds OF_ANGLE_MIN and all 9 blocks are foreground, then scaled to
    (value - min) / (90 degrees - min)."""
    n_r, n_c = keep.shape
    padded = np.pad(angle, 1)
    mask = np.pad(keep, 1)
    diff = np.zeros_like(angle)
    all_fg = np.ones_like(keep)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            diff += np.abs(angle - padded[1 + dy:1 + dy + n_r, 1 + dx:1 + dx + n_c])
            all_fg &= mask[1 + dy:1 + dy + n_r, 1 + dx:1 + dx + n_c]
    loq = diff / 8
    lo, span = np.deg2rad(OF_ANGLE_MIN), np.deg2rad(90.0 - OF_ANGLE_MIN)
    used = all_fg & (loq > lo)
    return (loq[used] - lo) / span


def nfiq_block_measures(image: np.ndarray,
                        windows=tuple(WINDOW_OFFSETS)) -> dict[str, np.ndarray]:
    """NFIQ 2's block measures' inputs for a 2-D uint8 image at 500 ppi: the slanted windows of
    `windows` (any of "lcs", "rvu", "fda": (n, 16, 32) grey levels, 16 rows along the ridges by
    32 columns across them, `WINDOW_OFFSETS`), and the block values of "ocl" and "of"."""
    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
        raise InvalidSample("NFIQ 2's block measures need a 2-D uint8 image at 500 ppi",
                            hint="resample with biocap.imaging.to_working_resolution first")
    if max(image.shape) > MAX_SIDE:
        raise InvalidSample(f"image of {image.shape[1]}x{image.shape[0]} px exceeds the "
                            f"{MAX_SIDE}-px limit of NFIQ 2's block measures",
                            hint="crop the image to the finger area first")
    unknown = set(windows) - set(WINDOW_OFFSETS)
    if unknown:
        raise InvalidRequest(f"unknown NFIQ 2 windows {sorted(unknown)}",
                             hint=f"choose among {list(WINDOW_OFFSETS)}")
    small = min(image.shape) < BLOCK + 2 * BORDER + 2  # no block fits (nor an empty image)
    img = image[:0, :0].astype(np.float64) if small else crop_near_white(image).astype(np.float64)
    if min(img.shape) < BLOCK + 2 * BORDER + 2:
        out = {name: np.zeros((0, 16, 32)) for name in windows}
        return dict(out, ocl=np.zeros(0), of=np.zeros(0))
    grid, keep = _shifted_grid(img, BLOCK, BORDER)
    n_r, n_c = keep.shape
    angle = _orientation(grid.reshape(-1, BLOCK, BLOCK)).reshape(n_r, n_c)
    return dict(_windows(img, keep, angle, windows), ocl=_ocl(img),
                of=_orientation_flow(keep, angle))
